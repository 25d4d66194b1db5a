package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/sandbox"
)

// TestMain lets a test run this test binary as the real ctctbulk command,
// so that signals reach a real process.
func TestMain(m *testing.M) {
	if os.Getenv("CTCTBULK_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestImportSignalThenResume sends SIGINT, then SIGTERM, to real import
// processes in the middle of their run: each stops reading, finishes the
// rows in flight, keeps its journal and exits 130; a last --resume
// completes the file with every contact once.
func TestImportSignalThenResume(t *testing.T) {
	const n = 300
	cfg := sandbox.Options{}
	cfg.DB = ":memory:"
	cfg.Latency = 3 * time.Millisecond
	cfg.RandSeed = 3
	sb, err := sandbox.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	dir := t.TempDir()
	input := filepath.Join(dir, "people.csv")
	var b strings.Builder
	b.WriteString("Email,First Name,Last Name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "sig%04d@example.com,First%d,Last%d\n", i, i, i)
	}
	if err := os.WriteFile(input, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "CTCTBULK_RUN_MAIN=1", "CTCT_BASE_URL="+srv.URL, "CTCT_USERNAME="+sandbox.DefaultUser,
		"CTCT_API_KEY="+sandbox.DefaultAPIKey, "CTCT_PASSWORD="+sandbox.DefaultPassword)
	start := func(extra ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		args := append([]string{"import", "--rate", "200", "--list", "1"}, extra...)
		cmd := exec.Command(os.Args[0], append(args, input)...)
		var stdout, stderr bytes.Buffer
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stdout, &stderr
	}
	posts := func() int64 { return sb.Stats().ByMethod["POST"] }

	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		before := posts()
		extra := []string{}
		if i > 0 {
			extra = append(extra, "--resume")
		}
		cmd, stdout, stderr := start(extra...)
		deadline := time.Now().Add(time.Minute)
		for posts() < before+40 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
			t.Fatalf("%v: exit %d (%v), want 130\nstdout %s\nstderr %s", sig, code, err, stdout, stderr)
		}
		if !strings.Contains(stdout.String(), "rows read") || !strings.Contains(stderr.String(), "--resume") {
			t.Errorf("%v: stdout %q stderr %q", sig, stdout, stderr)
		}
		if _, err := os.Stat(input + ".journal"); err != nil {
			t.Fatalf("%v: journal not kept: %v", sig, err)
		}
	}
	cmd, stdout, stderr := start("--resume")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("resume: %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	if _, err := os.Stat(input + ".journal"); !os.IsNotExist(err) {
		t.Errorf("journal left after the completed run: %v", err)
	}
	// Every row is in the sandbox exactly once.
	c, err := ctct.NewClient(srv.URL, sandbox.DefaultUser, ctct.Options{APIKey: sandbox.DefaultAPIKey, Password: sandbox.DefaultPassword})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	p := c.Contacts(ctct.ContactQuery{})
	for !p.Done() {
		f, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range f.Contacts {
			seen[ct.EmailAddress]++
		}
	}
	if len(seen) != n {
		t.Errorf("%d contacts, want %d", len(seen), n)
	}
	for email, k := range seen {
		if k != 1 {
			t.Errorf("%s appears %d times", email, k)
		}
	}
}
