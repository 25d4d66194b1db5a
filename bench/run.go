package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"ctctbulk/importer"
)

// cliRun is the outcome of one CLI subprocess.
type cliRun struct {
	Args    []string
	Exit    int  // exit code; -1 when ended by a signal
	Killed  bool // ended by SIGKILL from the harness
	Elapsed time.Duration
	// PeakRSS is the child's own peak resident set size in bytes: its
	// VmHWM, read from /proc while it runs. getrusage's ru_maxrss is not
	// it: on Linux a child starts from its parent's high-water mark (exec
	// keeps it; Go spawns with CLONE_VM|CLONE_VFORK), so after a big
	// scenario the harness's own peak would be reported for every later
	// child. -1 when it cannot be told: the child ended before a reading,
	// and its ru_maxrss does not rise above the harness's own peak.
	PeakRSS int64
	Stdout  string
	Stderr  string
}

// cliProc is a CLI subprocess that has been started and not yet waited for.
type cliProc struct {
	cmd    *exec.Cmd
	start  time.Time
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	done   chan struct{}
	res    *cliRun
	killed bool
}

// startCLI starts the ctctbulk binary with args in the work dir, with env
// (nil: baseEnv). Its output is kept in memory (tail-bounded when read).
func startCLI(e *env, environ []string, args ...string) (*cliProc, error) {
	if environ == nil {
		environ = baseEnv()
	}
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	// The runs' quota ledgers stay in the work dir, never the user's.
	cmd.Env = append(slices.Clip(environ), "XDG_STATE_HOME="+filepath.Join(e.dir, "state"))
	p := &cliProc{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if e.verbose {
		fmt.Fprintf(os.Stderr, "  $ ctctbulk %v\n", args)
	}
	p.start = time.Now()
	harnessPeak := selfMaxRSS()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ctctbulk %s: %w", args[0], err)
	}
	hwm := watchHWM(cmd.Process.Pid, p.done)
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		r := &cliRun{Args: args, Elapsed: time.Since(p.start), Stdout: p.stdout.String(), Stderr: p.stderr.String()}
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
		default:
			r.Stderr += "\nbench: wait: " + err.Error()
		}
		if st := cmd.ProcessState; st != nil {
			r.Exit = st.ExitCode()
			r.PeakRSS = -1
			if peak := hwm.Load(); peak > 0 {
				r.PeakRSS = peak
			} else if ru, ok := st.SysUsage().(*syscall.Rusage); ok && ru.Maxrss*1024 > harnessPeak {
				r.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux; above the harness's, so the child's own
			}
		} else {
			r.Exit = -1
		}
		p.res = r
	}()
	return p, nil
}

// Wait waits for the process, at most limit; past it (or when ctx ends)
// the process is killed and an error returned with what it printed.
func (p *cliProc) Wait(ctx context.Context, limit time.Duration) (*cliRun, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	var why error
	select {
	case <-p.done:
		p.res.Killed = p.killed
		return p.res, nil
	case <-t.C:
		why = fmt.Errorf("still running after %s; killed", limit)
	case <-ctx.Done():
		why = ctx.Err()
	}
	p.Kill()
	if !p.Exited() {
		return nil, fmt.Errorf("ctctbulk %s: %w; not reaped", p.cmd.Args[1], why)
	}
	p.res.Killed = true
	return p.res, fmt.Errorf("ctctbulk %s: %w (stderr: %s)", p.cmd.Args[1], why, tail(p.res.Stderr, 400))
}

// Exited reports whether the process has ended.
func (p *cliProc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to be reaped (bounded).
// It reports whether the process was still running when killed.
func (p *cliProc) Kill() bool {
	if p.Exited() {
		return false
	}
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
	return true
}

// runCLI runs the binary to completion (at most limit).
func runCLI(ctx context.Context, e *env, environ []string, limit time.Duration, args ...string) (*cliRun, error) {
	p, err := startCLI(e, environ, args...)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx, limit)
}

// readJSON decodes the JSON file at path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// importSummary is import's --summary-json, decoded with the importer's
// own type so that the two cannot drift apart.
type importSummary = importer.Summary

// exportSummary is the part of export's --summary-json the harness reads.
type exportSummary struct {
	Rows           int64            `json:"rows"`
	Listed         int64            `json:"listed"`
	Pages          int64            `json:"pages"`
	Duplicates     int64            `json:"duplicates"`
	Requests       int64            `json:"requests"`
	ByMethod       map[string]int64 `json:"requests_by_method"`
	Retries        int64            `json:"retries"`
	Throttled      int64            `json:"throttled"`
	ElapsedSeconds float64          `json:"elapsed_seconds"`
	Stopped        string           `json:"stopped"`
}

// hwmPoll is how often a child's high-water mark is read.
const hwmPoll = 10 * time.Millisecond

// watchHWM reads the VmHWM of process pid from /proc every hwmPoll until
// done is closed, and returns the largest reading, in bytes (0 while none).
func watchHWM(pid int, done <-chan struct{}) *atomic.Int64 {
	var peak atomic.Int64
	path := fmt.Sprintf("/proc/%d/status", pid)
	read := func() {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err == nil && kb*1024 > peak.Load() {
					peak.Store(kb * 1024)
				}
			}
		}
	}
	go func() {
		t := time.NewTicker(hwmPoll)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return &peak
}

// selfMaxRSS is the harness's own peak resident set size, in bytes.
func selfMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// rssText writes a peak RSS figure, "not measurable" when it is not.
func rssText(b int64) string {
	if b < 0 {
		return "not measurable"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
}

// rssUnder reports whether a measured peak is under limit; an unmeasurable
// one is not a pass.
func rssUnder(b, limit int64) bool { return b >= 0 && b < limit }
