package lockfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAcquireExcludesAnotherProcess locks a file here, then asks a child
// process (this test binary) to take the same lock: it must be refused and
// told who holds it. flock is per open file, so a second open in this
// process would be refused too, but a real second process is the case
// that matters.
func TestAcquireExcludesAnotherProcess(t *testing.T) {
	if path := os.Getenv("LOCKFILE_CHILD"); path != "" {
		_, err := Acquire(path)
		var held *HeldError
		if errors.As(err, &held) {
			os.Stdout.WriteString("held: " + held.Holder)
			os.Exit(0)
		}
		os.Stdout.WriteString("acquired")
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "j.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	child := func() string {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestAcquireExcludesAnotherProcess$")
		cmd.Env = append(os.Environ(), "LOCKFILE_CHILD="+path)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		return string(out)
	}
	if got := child(); !strings.HasPrefix(got, "held: pid ") || !strings.Contains(got, " since ") {
		t.Errorf("child while locked: %q, want held: pid ... since ...", got)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after Release: %v", err)
	}
	if got := child(); got != "acquired" {
		t.Errorf("child after release: %q, want acquired", got)
	}
}
