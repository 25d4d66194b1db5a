// Command bench measures ctctbulk: it builds the real binary, starts the
// sandbox with the knobs each scenario needs, generates deterministic
// inputs, runs the CLI as a subprocess and prints, per scenario, the rows,
// elapsed time, achieved requests/s against --rate, requests per row by
// method, throttled responses, retries, the child's peak RSS and PASS/FAIL
// against the targets of DESIGN.md.
//
//	go run ./bench                       every default scenario
//	go run ./bench import-new rate-over  some scenarios
//	go run ./bench -list                 the scenarios and their targets
//	go run ./bench -json out.json ...    also write the results as JSON
//	go run ./bench chaos [-rows 10000 -kills 5 -seed 1]
//	go run ./bench bulk-chaos [-rows 50000 -kills 3 -seed 1]
//	BENCH_BULK_VIA=legacy go run ./bench -scale 0.1 bulk-import-10k
//	                                     the bulk scenarios through a binary that has no --via
//	go run ./bench csvread FILE          encoding/csv-only read (the dry-run baseline)
//
// Only loopback addresses are used; every wait is bounded.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// env is what every scenario runs with.
type env struct {
	repo    string // module root
	bin     string // the ctctbulk binary under test
	self    string // this harness's executable (for csvread)
	dir     string // work dir, removed at the end unless -keep
	cache   string // seeded stores reused across scenarios (and runs, with -cache)
	seed    uint64 // seed of generated inputs and sandbox faults
	scale   float64
	verbose bool
}

// rows scales a scenario's row count (never below 50).
func (e *env) rows(n int) int {
	return max(50, int(float64(n)*e.scale))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		list    = fs.Bool("list", false, "list the scenarios and their targets")
		jsonOut = fs.String("json", "", "also write the results as JSON to this file")
		dir     = fs.String("dir", "", "work dir (default: a new dir under the system temp dir, removed at the end)")
		keep    = fs.Bool("keep", false, "keep the work dir")
		cache   = fs.String("cache", "", "dir of seeded sandbox stores, kept across runs (default: inside the work dir)")
		bin     = fs.String("bin", "", "ctctbulk binary to measure (default: go build the module)")
		seed    = fs.Uint64("seed", 1, "seed of the generated inputs and of the sandbox's faults")
		scale   = fs.Float64("scale", 1, "multiply every scenario's row count (e.g. 0.1 for a quick try of the harness; figures are then not comparable)")
		verbose = fs.Bool("v", false, "print every command run")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags] [scenario...]\n"+
			"       go run ./bench [flags] chaos [-rows N -kills K -seed S]\n"+
			"       go run ./bench [flags] bulk-chaos [-rows N -kills K -seed S]\n"+
			"       go run ./bench csvread FILE\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nscenarios (default: all but the optional ones):\n")
		printScenarios(stderr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *list {
		printScenarios(stdout)
		return 0
	}
	rest := fs.Args()
	if len(rest) > 0 && rest[0] == "csvread" {
		return csvReadMain(rest[1:], stdout, stderr)
	}
	if *scale <= 0 || *scale > 10 {
		fmt.Fprintln(stderr, "bench: -scale must be in (0, 10]")
		return 2
	}

	isChaos := len(rest) > 0 && rest[0] == "chaos"
	isBulkChaos := len(rest) > 0 && rest[0] == "bulk-chaos"
	var selected []scenario
	var chaosOpts chaosOptions
	var bulkChaosOpts bulkChaosOptions
	if isBulkChaos {
		var err error
		if bulkChaosOpts, err = parseBulkChaos(rest[1:], stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
	} else if isChaos {
		var err error
		if chaosOpts, err = parseChaos(rest[1:], stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
	} else {
		var err error
		if selected, err = selectScenarios(rest); err != nil {
			fmt.Fprintf(stderr, "bench: %v (see -list)\n", err)
			return 2
		}
	}

	e, cleanup, err := setup(ctx, *dir, *keep, *cache, *bin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	defer cleanup()
	e.seed, e.scale, e.verbose = *seed, *scale, *verbose

	if isChaos {
		return runChaos(ctx, e, chaosOpts, stdout, stderr)
	}
	if isBulkChaos {
		return runBulkChaos(ctx, e, bulkChaosOpts, stdout, stderr)
	}

	m := machineInfo()
	fmt.Fprintf(stdout, "machine: %s\n", m)
	var results []*result
	for _, s := range selected {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stderr, "== %s: %s\n", s.name, s.desc)
		start := time.Now()
		r, err := s.run(ctx, e)
		if r == nil {
			r = &result{}
		}
		r.Scenario = s.name
		if err != nil {
			r.Error = err.Error()
		}
		r.finish()
		fmt.Fprintf(stderr, "   %s in %s\n", r.verdict(), time.Since(start).Round(100*time.Millisecond))
		results = append(results, r)
	}
	m.LoadAfter = loadAvg()
	printTable(stdout, results)
	if slope := rssSlope(results); slope != nil {
		fmt.Fprintln(stdout, slope.Checks[0].Got)
		results = append(results, slope)
	}
	passed, failed := 0, 0
	for _, r := range results {
		if r.Pass {
			passed++
		} else {
			failed++
		}
	}
	if *jsonOut != "" {
		doc := struct {
			Machine machine   `json:"machine"`
			Results []*result `json:"results"`
			Passed  int       `json:"passed"`
			Failed  int       `json:"failed"`
		}{m, results, passed, failed}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "bench: write %s: %v\n", *jsonOut, err)
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if ctx.Err() != nil {
		return 130
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// setup makes the work dir and builds (or finds) the binary.
func setup(ctx context.Context, dir string, keep bool, cache, bin string, stderr io.Writer) (*env, func(), error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return nil, nil, errors.New("run the harness from inside the ctctbulk module (go run ./bench)")
	}
	e := &env{repo: filepath.Dir(gomod)}
	created := false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ctctbulk-bench-"); err != nil {
			return nil, nil, fmt.Errorf("work dir: %w", err)
		}
		created = true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("work dir: %w", err)
	}
	if e.dir, err = filepath.Abs(dir); err != nil {
		return nil, nil, fmt.Errorf("work dir: %w", err)
	}
	cleanup := func() {
		if created && !keep {
			os.RemoveAll(e.dir)
		} else {
			fmt.Fprintf(stderr, "bench: work dir kept: %s\n", e.dir)
		}
	}
	e.cache = cache
	if e.cache == "" {
		e.cache = filepath.Join(e.dir, "cache")
	}
	if err := os.MkdirAll(e.cache, 0o755); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("cache dir: %w", err)
	}
	if e.self, err = os.Executable(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("own executable: %w", err)
	}
	if bin != "" {
		if e.bin, err = filepath.Abs(bin); err != nil {
			cleanup()
			return nil, nil, err
		}
		return e, cleanup, nil
	}
	e.bin = filepath.Join(e.dir, "ctctbulk")
	fmt.Fprintf(stderr, "bench: go build -o %s .\n", e.bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", e.bin, ".")
	build.Dir = e.repo
	build.Stdout, build.Stderr = stderr, stderr
	if err := build.Run(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("go build: %w", err)
	}
	return e, cleanup, nil
}

// check is one target of a scenario.
type check struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Got    string `json:"got"`
	OK     bool   `json:"ok"`
}

// write prints the check as one line of a report, its name and target
// padded to the given widths.
func (c check) write(w io.Writer, nameWidth, targetWidth int) {
	mark := "ok  "
	if !c.OK {
		mark = "MISS"
	}
	fmt.Fprintf(w, "  %s %-*s %-*s got %s\n", mark, nameWidth, c.Name, targetWidth, c.Target, c.Got)
}

// result is the figures and verdict of one scenario.
type result struct {
	Scenario       string  `json:"scenario"`
	Rows           int64   `json:"rows"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Requests are the API requests the sandbox received during the
	// measured run (retries included).
	Requests          int64   `json:"requests"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Rate is the tool's --rate (0: not a rate scenario); RateRatio is
	// RequestsPerSecond / Rate.
	Rate      float64 `json:"rate,omitempty"`
	RateRatio float64 `json:"rate_ratio,omitempty"`
	// PerRow is requests per row by method (POST, GET, PUT...).
	PerRow         map[string]float64 `json:"requests_per_row_by_method,omitempty"`
	RequestsPerRow float64            `json:"requests_per_row"`
	Throttled      int64              `json:"throttled"`
	Retries        int64              `json:"retries"`
	PeakRSSBytes   int64              `json:"peak_rss_bytes"`
	// PlanSeconds is the dry run's estimate of the measured import, and
	// PlanRatio that estimate over the real wall time (0: no dry run).
	PlanSeconds float64  `json:"dry_run_estimate_seconds,omitempty"`
	PlanRatio   float64  `json:"dry_run_ratio,omitempty"`
	Checks      []check  `json:"checks"`
	Notes       []string `json:"notes,omitempty"`
	Error       string   `json:"error,omitempty"`
	Pass        bool     `json:"pass"`
}

// add records a check.
func (r *result) add(name, target, got string, ok bool) {
	r.Checks = append(r.Checks, check{Name: name, Target: target, Got: got, OK: ok})
}

func (r *result) notef(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// measure fills the request figures from the sandbox's stats delta over a
// run of rows rows that took elapsed, at the tool's --rate (0: none).
func (r *result) measure(before, after sandboxStats, rows int64, elapsed time.Duration, toolRate float64) {
	r.Rows = rows
	r.ElapsedSeconds = elapsed.Seconds()
	r.Requests = after.Requests - before.Requests
	r.Throttled = after.Throttled - before.Throttled
	if elapsed > 0 {
		r.RequestsPerSecond = float64(r.Requests) / elapsed.Seconds()
	}
	if toolRate > 0 {
		r.Rate = toolRate
		r.RateRatio = r.RequestsPerSecond / toolRate
	}
	if rows > 0 {
		r.RequestsPerRow = float64(r.Requests) / float64(rows)
		r.PerRow = map[string]float64{}
		for m, n := range after.ByMethod {
			if d := n - before.ByMethod[m]; d > 0 {
				r.PerRow[m] = float64(d) / float64(rows)
			}
		}
	}
}

// finish sets the verdict: every check passed and no error.
func (r *result) finish() {
	r.Pass = r.Error == "" && len(r.Checks) > 0
	for _, c := range r.Checks {
		r.Pass = r.Pass && c.OK
	}
}

func (r *result) verdict() string {
	if r.Pass {
		return "PASS"
	}
	return "FAIL"
}

// printTable writes the results table and, under it, every check.
func printTable(w io.Writer, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trows\telapsed\tdry-run est.\treq/s\tratio\treq/row\tPOST/row\tGET/row\tPUT/row\tthrottled\tretries\tpeak RSS\tresult\t")
	for _, r := range results {
		ratio := "-"
		if r.Rate > 0 {
			ratio = fmt.Sprintf("%.3f", r.RateRatio)
		}
		est := "-"
		if r.PlanRatio > 0 {
			est = fmt.Sprintf("%.1fs (%.2fx)", r.PlanSeconds, r.PlanRatio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1fs\t%s\t%.1f\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%s\t%s\t\n",
			r.Scenario, r.Rows, r.ElapsedSeconds, est, r.RequestsPerSecond, ratio, r.RequestsPerRow,
			r.PerRow["POST"], r.PerRow["GET"], r.PerRow["PUT"], r.Throttled, r.Retries,
			rssText(r.PeakRSSBytes), r.verdict())
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "%s: %s\n", r.Scenario, r.verdict())
		for _, c := range r.Checks {
			c.write(w, 34, 16)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", r.Error)
		}
	}
	fmt.Fprintln(w)
}

// machine describes where the figures came from.
type machine struct {
	CPUs       int    `json:"cpus"`
	Model      string `json:"cpu_model"`
	Go         string `json:"go"`
	OS         string `json:"os"`
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after,omitempty"`
	Time       string `json:"time"`
}

func (m machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %s %s, load %s, %s", m.CPUs, m.Model, m.Go, m.OS, m.LoadBefore, m.Time)
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		LoadBefore: loadAvg(), Time: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg is the first three fields of /proc/loadavg ("" elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
