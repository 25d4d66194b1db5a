package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/sandbox"
)

// TestMain lets a test run this test binary as the real ctctbulk command,
// so that signals reach a real process. Every run of the tests, and every
// child they start, keeps its quota ledgers in a state directory of its
// own, never the developer's.
func TestMain(m *testing.M) {
	if os.Getenv("CTCTBULK_RUN_MAIN") == "1" {
		main()
		return
	}
	state, err := os.MkdirTemp("", "ctctbulk-test-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_STATE_HOME", state)
	code := m.Run()
	os.RemoveAll(state)
	os.Exit(code)
}

// signalRig is a real sandbox behind a test handler that notes when each
// write (POST or PUT) arrives and can hold writes for a while, the
// environment to run the real binary against it, and an input file.
type signalRig struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	cfg    sandbox.Options
	input  string
	env    []string
	n      int
	hold   atomic.Int64 // nanoseconds each write waits before the sandbox sees it
	lastAt atomic.Int64 // unix nanoseconds of the last write's arrival
	writes atomic.Int64
}

func newSignalRig(t *testing.T, n int, faults bool) *signalRig {
	t.Helper()
	r := &signalRig{n: n, cfg: sandbox.Options{User: sandbox.DefaultUser, APIKey: sandbox.DefaultAPIKey, Password: sandbox.DefaultPassword}}
	r.cfg.DB = ":memory:"
	r.cfg.Latency = 3 * time.Millisecond
	r.cfg.RandSeed = 3
	if faults {
		// The chaos suite's faults: injected failures and cut connections.
		r.cfg.FailRate, r.cfg.DropRate = 0.1, 0.02
	}
	sb, err := sandbox.New(context.Background(), r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.sb = sb
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost || req.Method == http.MethodPut {
			r.lastAt.Store(time.Now().UnixNano())
			r.writes.Add(1)
			if d := time.Duration(r.hold.Load()); d > 0 {
				// Read the body first, so that the request's context ends
				// when the client goes away.
				body, err := io.ReadAll(req.Body)
				if err != nil {
					return
				}
				req.Body = io.NopCloser(bytes.NewReader(body))
				select {
				case <-time.After(d):
				case <-req.Context().Done():
					return
				}
			}
		}
		sb.ServeHTTP(w, req)
	}))
	t.Cleanup(func() {
		r.srv.Close()
		sb.Close()
	})
	dir := t.TempDir()
	r.input = filepath.Join(dir, "people.csv")
	var b strings.Builder
	b.WriteString("Email,First Name,Last Name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "sig%04d@example.com,First%d,Last%d\n", i, i, i)
	}
	if err := os.WriteFile(r.input, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env = append(os.Environ(), "CTCTBULK_RUN_MAIN=1", "CTCT_BASE_URL="+r.srv.URL, "CTCT_USERNAME="+r.cfg.User,
		"CTCT_API_KEY="+r.cfg.APIKey, "CTCT_PASSWORD="+r.cfg.Password)
	return r
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the real binary: ctctbulk import --rate R --list 1 EXTRA... FILE.
func (r *signalRig) start(t *testing.T, rate string, extra ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	args := append([]string{"import", "--via", "contacts", "--rate", rate, "--list", "1"}, extra...)
	cmd := exec.Command(os.Args[0], append(args, r.input)...)
	var stdout, stderr syncBuffer
	cmd.Env, cmd.Stdout, cmd.Stderr = r.env, &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkOnce checks that every row is in the sandbox exactly once.
func (r *signalRig) checkOnce(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(r.input + ".journal"); !os.IsNotExist(err) {
		t.Errorf("journal left after the completed run: %v", err)
	}
	c, err := ctct.NewClient(r.srv.URL, r.cfg.User, ctct.Options{APIKey: r.cfg.APIKey, Password: r.cfg.Password})
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
	if len(seen) != r.n {
		t.Errorf("%d contacts, want %d (lost %d)", len(seen), r.n, r.n-len(seen))
	}
	for email, k := range seen {
		if k != 1 {
			t.Errorf("%s appears %d times", email, k)
		}
	}
}

// TestImportSignalThenResume sends SIGINT, then SIGTERM, to real import
// processes in the middle of their run: each starts no write later than a
// second after the signal, says that it is stopping, finishes the rows in
// flight, keeps its journal and exits 130; a last --resume completes the
// file with every contact once.
func TestImportSignalThenResume(t *testing.T) {
	r := newSignalRig(t, 600, false)
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		before := r.writes.Load()
		extra := []string{}
		if i > 0 {
			extra = append(extra, "--resume")
		}
		// At 100 requests/s the file would take six seconds more.
		cmd, stdout, stderr := r.start(t, "100", extra...)
		waitFor(t, "the first writes", func() bool { return r.writes.Load() >= before+40 })
		sent := time.Now()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
			t.Fatalf("%v: exit %d (%v), want 130\nstdout %s\nstderr %s", sig, code, err, stdout, stderr)
		}
		if last := time.Unix(0, r.lastAt.Load()); last.Sub(sent) > time.Second {
			t.Errorf("%v: a write started %v after the signal, want none later than 1s", sig, last.Sub(sent))
		}
		if !strings.Contains(stdout.String(), "not finished") {
			t.Errorf("%v: the run did not stop early: stdout %q", sig, stdout)
		}
		if !strings.Contains(stdout.String(), "rows read") || !strings.Contains(stderr.String(), "--resume") ||
			!strings.Contains(stderr.String(), "requests in flight (Ctrl-C again to quit now)") {
			t.Errorf("%v: stdout %q stderr %q", sig, stdout, stderr)
		}
		if strings.Contains(stdout.String()+stderr.String(), "context canceled") {
			t.Errorf("%v: Go's \"context canceled\" reached the user: stdout %q stderr %q", sig, stdout, stderr)
		}
		if _, err := os.Stat(r.input + ".journal"); err != nil {
			t.Fatalf("%v: journal not kept: %v", sig, err)
		}
	}
	cmd, stdout, stderr := r.start(t, "200", "--resume")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("resume: %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	r.checkOnce(t)
}

// TestImportDoubleSignal: while the rows in flight are held by a slow
// server that also fails and cuts connections as the chaos suite's does, a
// second SIGINT quits at once with 130; the journal is consistent, so
// --resume ends with every row once: none lost, none duplicated.
func TestImportDoubleSignal(t *testing.T) {
	r := newSignalRig(t, 200, true)
	const held = 20 * time.Second
	cmd, stdout, stderr := r.start(t, "100", "--grace", "1m", "--retries", "10")
	waitFor(t, "the first writes", func() bool { return r.writes.Load() >= 30 })
	r.hold.Store(int64(held))
	waitFor(t, "a held write", func() bool { return r.writes.Load() >= 34 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stopping line", func() bool { return strings.Contains(stderr.String(), "stopping: waiting for") })
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d (%v), want 130\nstdout %s\nstderr %s", code, err, stdout, stderr)
	}
	// Generous: the held writes would have kept it 20 seconds.
	if took := time.Since(sent); took > held/2 {
		t.Errorf("the second signal took %v to quit", took)
	}
	r.hold.Store(0)
	cmd, stdout, stderr = r.start(t, "200", "--resume", "--retries", "10")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("resume: %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	r.checkOnce(t)
}
