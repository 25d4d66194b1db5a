package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/creack/pty"

	"ctctbulk/sandbox"
)

// ansi matches the terminal escapes a progress bar may write.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// screenLines splits what a terminal received into the lines it drew: a
// carriage return starts the line again, as it does on screen.
func screenLines(out string) []string {
	out = ansi.ReplaceAllString(out, "")
	return strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' })
}

// ttyRig runs the real binary with stderr on a pseudo-terminal of a given
// width, against a sandbox.
type ttyRig struct {
	env []string
	dir string
}

func newTTYRig(t *testing.T, seed int) *ttyRig {
	t.Helper()
	cfg := sandbox.Options{User: sandbox.DefaultUser, APIKey: sandbox.DefaultAPIKey, Password: sandbox.DefaultPassword}
	cfg.DB = ":memory:"
	cfg.RandSeed = 5
	sb, err := sandbox.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if seed > 0 {
		if err := sb.Seed(context.Background(), seed); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	return &ttyRig{
		env: append(os.Environ(), "CTCTBULK_RUN_MAIN=1", "CTCT_BASE_URL="+srv.URL, "CTCT_USERNAME="+cfg.User,
			"CTCT_API_KEY="+cfg.APIKey, "CTCT_PASSWORD="+cfg.Password),
		dir: t.TempDir(),
	}
}

// run runs ctctbulk ARGS with stderr on a terminal cols wide and stdout
// in a pipe; it returns both as received.
func (r *ttyRig) run(t *testing.T, cols int, args ...string) (stdout, screen string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], args...)
	var out bytes.Buffer
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = r.env, r.dir, &out, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var scr bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&scr, ptmx) // ends with EIO once the child is gone
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %v\nstdout %s\nscreen %q", args, err, out.String(), scr.String())
	}
	<-done
	return out.String(), scr.String()
}

// TestProgressInATerminal imports a file with stderr on an 80- and a
// 200-column terminal: no line the bar draws is wider than the terminal,
// and it shows a percentage and the time left.
func TestProgressInATerminal(t *testing.T) {
	r := newTTYRig(t, 0)
	const rows = 300
	percent := regexp.MustCompile(`\b\d{1,3}% \|`)
	eta := regexp.MustCompile(`\[\d+s:\d+s\]`)
	for _, cols := range []int{80, 200} {
		t.Run(fmt.Sprint(cols), func(t *testing.T) {
			input := filepath.Join(r.dir, fmt.Sprintf("people%d.csv", cols))
			var b strings.Builder
			b.WriteString("Email,First Name,Note\n")
			note := strings.Repeat("n", 480) // a file of a few read buffers
			for i := 0; i < rows; i++ {
				fmt.Fprintf(&b, "tty%d.%04d@example.com,First%d,%s\n", cols, i, i, note)
			}
			if err := os.WriteFile(input, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			stdout, screen := r.run(t, cols, "import", "--via", "contacts", "--rate", "100", "--list", "1", input)
			if !strings.Contains(stdout, fmt.Sprintf("rows read %d: created %d", rows, rows)) {
				t.Errorf("summary %q", stdout)
			}
			var bars int
			for _, l := range screenLines(screen) {
				if w := utf8.RuneCountInString(l); w > cols {
					t.Errorf("a line of %d columns on a %d-column terminal: %q", w, cols, l)
				}
				if percent.MatchString(l) {
					bars++
					if !eta.MatchString(l) {
						t.Errorf("no time left in %q", l)
					}
				}
			}
			if bars == 0 {
				t.Errorf("no progress bar with a percentage drawn: %q", screen)
			}
		})
	}
}

// TestExportToStdoutOnATerminal: with -o - and stderr on a terminal, the
// bar and the summary go to the terminal and stdout holds the CSV alone.
func TestExportToStdoutOnATerminal(t *testing.T) {
	r := newTTYRig(t, 120)
	stdout, screen := r.run(t, 80, "export", "--rate", "200", "--detail", "full", "-o", "-")
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatalf("stdout is not CSV: %v\n%q", err, stdout)
	}
	if len(recs) != 121 || recs[0][0] != "Id" {
		t.Errorf("%d records, first %q; want the header and 120 contacts", len(recs), recs[0])
	}
	if !strings.Contains(screen, "contacts written 120") {
		t.Errorf("no summary on the terminal: %q", screen)
	}
	for _, l := range screenLines(screen) {
		if w := utf8.RuneCountInString(l); w > 80 {
			t.Errorf("a line of %d columns on an 80-column terminal: %q", w, l)
		}
	}
}

// TestProgressInAPipe: with stderr in a pipe (cron), progress is one
// timestamped line per --log-every with the same figures, and with -o -
// stdout still holds the CSV alone.
func TestProgressInAPipe(t *testing.T) {
	r := newTTYRig(t, 300)
	cmd := exec.Command(os.Args[0], "export", "--rate", "300", "--log-every", "100ms", "-o", "-")
	var stdout, stderr bytes.Buffer
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = r.env, r.dir, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	recs, err := csv.NewReader(&stdout).ReadAll()
	if err != nil || len(recs) != 301 || recs[0][0] != "Id" {
		t.Fatalf("stdout is not the CSV alone: %d records, %v", len(recs), err)
	}
	line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ export: \d+%, \d+ contacts, [0-9.]+/s, [0-9.]+ requests/s`)
	if !line.MatchString(stderr.String()) {
		t.Errorf("no timestamped progress line with a percentage on stderr:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("a carriage return in plain progress lines: %q", stderr.String())
	}
}
