package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ctctbulk/sandbox"
)

// Credentials of the sandbox (its defaults).
const (
	sandboxUser     = "sandbox"
	sandboxAPIKey   = "sandbox-key"
	sandboxPassword = "sandbox-password"
)

// sandboxConfig are the knobs of one sandbox subprocess; zero values are
// the sandbox's defaults (no limit, no latency, no faults).
type sandboxConfig struct {
	DB             string // file or :memory: (default :memory:)
	Seed           int
	Rate           float64
	RateBurst      int
	ThrottleStatus int
	Latency        time.Duration
	Jitter         time.Duration
	FailRate       float64
	DropRate       float64
	RandSeed       uint64
	// FastActivities runs bulk activities with no queue time and no
	// limit of rows per second (reading a store back, not measuring);
	// false keeps the sandbox's default activity knobs.
	FastActivities bool
}

func (c sandboxConfig) args() []string {
	db := c.DB
	if db == "" {
		db = ":memory:"
	}
	a := []string{"sandbox", "--addr", "127.0.0.1:0", "--db", db}
	add := func(flag, v string) { a = append(a, flag, v) }
	if c.Seed > 0 {
		add("--seed", strconv.Itoa(c.Seed))
	}
	if c.Rate > 0 {
		add("--rate", strconv.FormatFloat(c.Rate, 'f', -1, 64))
	}
	if c.RateBurst > 0 {
		add("--rate-burst", strconv.Itoa(c.RateBurst))
	}
	if c.ThrottleStatus > 0 {
		add("--throttle-status", strconv.Itoa(c.ThrottleStatus))
	}
	if c.Latency > 0 {
		add("--latency", c.Latency.String())
	}
	if c.Jitter > 0 {
		add("--jitter", c.Jitter.String())
	}
	if c.FailRate > 0 {
		add("--fail-rate", strconv.FormatFloat(c.FailRate, 'f', -1, 64))
	}
	if c.DropRate > 0 {
		add("--drop-rate", strconv.FormatFloat(c.DropRate, 'f', -1, 64))
	}
	if c.RandSeed > 0 {
		add("--rand-seed", strconv.FormatUint(c.RandSeed, 10))
	}
	if c.FastActivities {
		add("--activity-delay", "0")
		add("--activity-rate", "0")
	}
	return a
}

// sandboxStats is the JSON of GET /_sandbox/stats, decoded with the
// sandbox's own type.
type sandboxStats = sandbox.Stats

// sandboxProc is a running `ctctbulk sandbox` subprocess.
type sandboxProc struct {
	URL  string
	cmd  *exec.Cmd
	done chan error // receives Wait's result once
	log  *os.File
	hc   *http.Client
}

// startupLine is the first line the sandbox prints on stdout.
const startupLine = "ctctbulk sandbox listening on "

// startSandbox starts the sandbox with cfg, its stderr going to
// DIR/sandbox-NAME.log, and waits (at most startup) for its address line.
// Seeding a large store happens before the line, so startup must allow it.
func startSandbox(ctx context.Context, e *env, name string, cfg sandboxConfig, startup time.Duration) (*sandboxProc, error) {
	logf, err := os.Create(filepath.Join(e.dir, "sandbox-"+name+".log"))
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	cmd := exec.Command(e.bin, cfg.args()...)
	cmd.Dir = e.dir
	cmd.Env = baseEnv()
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	p := &sandboxProc{cmd: cmd, done: make(chan error, 1), log: logf, hc: &http.Client{Timeout: 30 * time.Second}}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
			// Keep draining so the child never blocks on a full pipe.
		}
		if first {
			close(lines)
		}
		p.done <- cmd.Wait()
	}()
	timer := time.NewTimer(startup)
	defer timer.Stop()
	select {
	case line, ok := <-lines:
		rest, found := strings.CutPrefix(line, startupLine)
		if !ok || !found {
			p.kill()
			return nil, fmt.Errorf("start sandbox: unexpected first line %q (see %s)", line, logf.Name())
		}
		p.URL, _, _ = strings.Cut(rest, " ")
	case <-timer.C:
		p.kill()
		return nil, fmt.Errorf("start sandbox: no address line within %s (see %s)", startup, logf.Name())
	case <-ctx.Done():
		p.kill()
		return nil, fmt.Errorf("start sandbox: %w", ctx.Err())
	}
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
		p.kill()
		return nil, fmt.Errorf("start sandbox: address %q is not loopback", p.URL)
	}
	return p, nil
}

// Stats reads GET /_sandbox/stats.
func (p *sandboxProc) Stats(ctx context.Context) (sandboxStats, error) {
	var s sandboxStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/_sandbox/stats", nil)
	if err != nil {
		return s, fmt.Errorf("sandbox stats: %w", err)
	}
	res, err := p.hc.Do(req)
	if err != nil {
		return s, fmt.Errorf("sandbox stats: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return s, fmt.Errorf("sandbox stats: status %s", res.Status)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&s); err != nil {
		return s, fmt.Errorf("sandbox stats: %w", err)
	}
	return s, nil
}

// Stop ends the sandbox with SIGTERM (a clean shutdown that closes the
// store), then SIGKILL if it has not exited within 10 seconds.
func (p *sandboxProc) Stop() error {
	defer p.log.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.kill()
		return fmt.Errorf("stop sandbox: %w", err)
	}
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return fmt.Errorf("stop sandbox: %w", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		p.kill()
		return errors.New("stop sandbox: no exit 10s after SIGTERM; killed")
	}
}

// kill ends the process at once and waits (bounded) for it.
func (p *sandboxProc) kill() {
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// baseEnv is the environment of every child: the parent's, minus any
// Constant Contact setting that could point a child at a real account.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CTCT_") {
			env = append(env, kv)
		}
	}
	return env
}

// clientEnv is the environment of a CLI run against the sandbox at url.
func clientEnv(url string) []string {
	return append(baseEnv(),
		"CTCT_BASE_URL="+url,
		"CTCT_USERNAME="+sandboxUser,
		"CTCT_API_KEY="+sandboxAPIKey,
		"CTCT_PASSWORD="+sandboxPassword,
	)
}
