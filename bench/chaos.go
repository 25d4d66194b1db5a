package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// chaosOptions are the flags of `bench chaos`.
type chaosOptions struct {
	killOptions
	rate    float64
	workers int
	jitter  time.Duration
	messy   bool
}

// killOptions are the flags both chaos suites take.
type killOptions struct {
	rows     int
	kills    int
	seed     uint64
	retries  int
	failRate float64
	dropRate float64
}

// define declares the flags with these defaults of rows and kills and
// this description of the kills.
func (o *killOptions) define(flags *flag.FlagSet, rows, kills int, killsUsage string) {
	flags.IntVar(&o.rows, "rows", rows, "rows imported")
	flags.IntVar(&o.kills, "kills", kills, killsUsage)
	flags.Uint64Var(&o.seed, "seed", 1, "seed of the rows, the kill moments and the sandbox's faults")
	flags.IntVar(&o.retries, "retries", 10, "--retries of the import (and the export)")
	flags.Float64Var(&o.failRate, "fail-rate", 0.1, "sandbox --fail-rate")
	flags.Float64Var(&o.dropRate, "drop-rate", 0.02, "sandbox --drop-rate")
}

// parseChaos parses the flags of `bench chaos` (before anything is built).
func parseChaos(args []string, stderr io.Writer) (chaosOptions, error) {
	var o chaosOptions
	flags := flag.NewFlagSet("chaos", flag.ContinueOnError)
	flags.SetOutput(stderr)
	o.define(flags, 10_000, 5, "SIGKILLs during the import, each followed by --resume")
	flags.Float64Var(&o.rate, "rate", 200, "--rate of the import and the export (the sandbox has no limit)")
	flags.IntVar(&o.workers, "workers", 16, "--workers of the import and the export")
	flags.DurationVar(&o.jitter, "jitter", 20*time.Millisecond, "sandbox --jitter")
	flags.BoolVar(&o.messy, "messy", true, "malformed and blank lines in the input, rows appended between kills, and once a line inserted that a resume must refuse (then --recheck)")
	if err := flags.Parse(args); err != nil {
		return o, err
	}
	if flags.NArg() > 0 || o.rows < 1 || o.kills < 0 || o.rate <= 0 || o.workers < 1 || o.retries < 0 {
		fmt.Fprintln(stderr, "bench chaos: -rows and -workers must be at least 1, -kills and -retries not negative, -rate positive; no arguments")
		return o, errors.New("bad flags")
	}
	return o, nil
}

// runChaos is `go run ./bench chaos`: an import of -rows generated rows
// against a sandbox (file store) injecting failures and dropped
// connections with latency jitter, killed with SIGKILL at -kills moments
// and resumed each time until a run completes; then an export under the
// same faults, compared with the input field by field. It returns the exit
// code: 0 when every check passed.
func runChaos(ctx context.Context, e *env, o chaosOptions, stdout, stderr io.Writer) int {
	e.seed = o.seed
	return runSuite(ctx, &chaos{e: e, o: o, suite: suite{name: "chaos", out: stdout, log: stderr}})
}

// chaosSuite is one of the chaos suites.
type chaosSuite interface {
	run(ctx context.Context) error
	report(elapsed time.Duration, err error)
	exit(ctx context.Context, err error) int
}

// runSuite runs a suite, reports what it found whatever happened, and
// returns its exit code.
func runSuite(ctx context.Context, s chaosSuite) int {
	start := time.Now()
	err := s.run(ctx)
	s.report(time.Since(start), err)
	return s.exit(ctx, err)
}

// suite is what the chaos suites share: their output, one line per import
// run, and the checks with their tally.
type suite struct {
	name   string
	out    io.Writer
	log    io.Writer
	runs   []string
	checks []check
	passed int
	failed int
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.log, s.name+": "+format+"\n", args...)
}

// record logs one line about an import run and keeps it for the report.
func (s *suite) record(line string) {
	s.runs = append(s.runs, line)
	s.logf("%s", line)
}

func (s *suite) add(name, target, got string, ok bool) {
	s.checks = append(s.checks, check{Name: name, Target: target, Got: got, OK: ok})
	if ok {
		s.passed++
	} else {
		s.failed++
	}
}

// exit prints the tally and returns the suite's exit code: 0 when every
// check passed and the suite ran to the end.
func (s *suite) exit(ctx context.Context, err error) int {
	fmt.Fprintf(s.out, "%d passed, %d failed\n", s.passed, s.failed)
	switch {
	case ctx.Err() != nil:
		return 130
	case s.failed > 0 || err != nil:
		return 1
	}
	return 0
}

// chaos is one run of the suite and its findings.
type chaos struct {
	e *env
	o chaosOptions
	suite

	survived  int // kills that hit a running import
	finalExit int
	// reportRows are the rows in the import's error report after the last
	// run (failed rows of every run of the resumed import).
	reportRows  int
	reportLines []string // "line L: status: reason" of the first few
	// malformed is the malformed lines the input holds (-messy): each must
	// be a row of the report. total is the rows at the end, appended ones
	// included; refused says whether the resume after the inserted line
	// was refused (exit 2) as it must be.
	malformed int
	total     int
	refused   string
	exportRun *cliRun
	export    exportSummary
	diff      stateDiff
	exported  int
	faults    sandboxStats
	// apiNote and apiExamples are the direct read of the account, made
	// when the export differs from the input.
	apiNote     string
	apiExamples []string
}

// killPlan returns, for each kill, the number of POSTs the sandbox must
// have received before it, and an extra delay: fractions of the rows drawn
// between 5% and 90% (sorted, so that each resumed run gets further) and
// delays up to 250 ms, all from the seed.
func killPlan(seed uint64, rows, kills int) ([]int64, []time.Duration) {
	r := rand.New(rand.NewPCG(seed, 0xc4a05))
	at := make([]int64, kills)
	delays := make([]time.Duration, kills)
	for i := range kills {
		at[i] = int64(float64(rows) * (0.05 + 0.85*r.Float64()))
		delays[i] = time.Duration(r.IntN(250)) * time.Millisecond
	}
	slices.Sort(at)
	return at, delays
}

func (c *chaos) run(ctx context.Context) (err error) {
	e, o := c.e, c.o
	input := filepath.Join(e.dir, fmt.Sprintf("chaos-%d.csv", o.rows))
	c.total = o.rows
	if o.messy {
		if c.malformed, err = writeMessyInput(input, o.seed, o.rows); err != nil {
			return err
		}
	} else if _, err := writeInput(input, o.seed, o.rows, 0); err != nil {
		return err
	}
	cfg := sandboxConfig{DB: filepath.Join(e.dir, "chaos.db"), FailRate: o.failRate, DropRate: o.dropRate,
		Jitter: o.jitter, RandSeed: o.seed}
	sb, err := startSandbox(ctx, e, "chaos", cfg, startupLimit)
	if err != nil {
		return err
	}
	defer sb.Stop()
	c.logf("%d rows, %d kills, sandbox %s --fail-rate %g --drop-rate %g --jitter %s (store %s)",
		o.rows, o.kills, sb.URL, o.failRate, o.dropRate, o.jitter, cfg.DB)

	at, delays := killPlan(o.seed, o.rows, o.kills)
	rate := strconv.FormatFloat(o.rate, 'f', -1, 64)
	base := []string{"import", "--via", "contacts", "--rate", rate, "--workers", strconv.Itoa(o.workers), "--retries", strconv.Itoa(o.retries)}
	c.finalExit = -1
	// One run per kill, then the run that must complete; a run that ends
	// before its kill moment is the completing one.
	for i := 0; i <= o.kills; i++ {
		args := slices.Clone(base)
		if i > 0 {
			args = append(args, "--resume")
			if o.messy {
				extra, err := c.edit(ctx, sb, input, i, base)
				if err != nil {
					return err
				}
				args = append(args, extra...)
			}
		}
		args = append(args, "--summary-json", filepath.Join(e.dir, fmt.Sprintf("chaos-run%d.json", i)), input)
		p, err := startCLI(e, clientEnv(sb.URL), args...)
		if err != nil {
			return err
		}
		if i < o.kills {
			posts, err := waitPosts(ctx, sb, p, at[i], runLimit)
			if err != nil {
				p.Kill()
				return err
			}
			if !p.Exited() {
				select {
				case <-time.After(delays[i]):
				case <-ctx.Done():
				}
			}
			if p.Kill() {
				c.survived++
				r, err := p.Wait(ctx, time.Minute)
				if err != nil {
					return err
				}
				line := fmt.Sprintf("run %d: killed (SIGKILL) after %s, the sandbox had %d POSTs (target %d + %s)",
					i+1, r.Elapsed.Round(time.Millisecond), posts, at[i], delays[i])
				c.record(line)
				continue
			}
		}
		r, err := p.Wait(ctx, runLimit)
		if err != nil {
			return err
		}
		c.finalExit = r.Exit
		var s importSummary
		sumErr := readJSON(filepath.Join(e.dir, fmt.Sprintf("chaos-run%d.json", i)), &s)
		line := fmt.Sprintf("run %d: completed, exit %d in %s", i+1, r.Exit, r.Elapsed.Round(time.Millisecond))
		if sumErr == nil {
			line += fmt.Sprintf(": read %d, resumed %d, created %d, updated %d, unchanged %d, failed %d; %d requests, %d retries",
				s.Read, s.Resumed, s.Created, s.Updated, s.Unchanged, s.Failed, s.Requests, s.Retries)
		}
		if r.Exit != 0 {
			line += "; stderr: " + tail(r.Stderr, 300)
		}
		c.record(line)
		break
	}

	if c.faults, err = sb.Stats(ctx); err != nil {
		return err
	}
	// The report accumulates over resumed runs: rows that failed in a
	// killed run are journaled as done and not retried by the next one.
	if c.reportRows, c.reportLines, err = readReport(input + ".errors.csv"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	out := filepath.Join(e.dir, "chaos-export.csv")
	sumPath := filepath.Join(e.dir, "chaos-export.json")
	c.logf("export under the same faults to %s", out)
	removeExport(out) // an earlier run's, from a sandbox on another port
	c.exportRun, err = runCLI(ctx, e, clientEnv(sb.URL), runLimit, "export", "-o", out, "--raw", "--detail", "full", "--via", "contacts",
		"--rate", rate, "--workers", strconv.Itoa(o.workers), "--retries", strconv.Itoa(o.retries), "--summary-json", sumPath)
	if err != nil {
		return err
	}
	if c.exportRun.Exit != 0 {
		return fmt.Errorf("export: exit %d: %s", c.exportRun.Exit, tail(c.exportRun.Stderr, 400))
	}
	if err := readJSON(sumPath, &c.export); err != nil {
		return err
	}
	if c.faults, err = sb.Stats(ctx); err != nil {
		return err
	}
	got, rows, err := readExportCSV(out)
	if err != nil {
		return err
	}
	c.exported = rows
	want := expectedState(o.seed, c.total, 0)
	c.diff = compareState(want, got)
	if !c.diff.ok() {
		// Tell the importer's losses from the exporter's: read the account
		// directly through the API client (same faults, more retries).
		c.logf("differences found; reading the account through the API to tell import from export")
		direct, err := readAccount(ctx, sb.URL, 0)
		if err != nil {
			c.apiNote = "direct read of the account failed: " + err.Error()
			return nil
		}
		d := compareState(want, direct)
		c.apiNote = "the account read directly through the API: " + d.String()
		c.apiExamples = d.Examples
	}
	return nil
}

// edit changes the input before resumed run i (-messy): rows appended at
// the end every time; before the first resume, a blank line inserted
// after the header, which a resume must refuse; the run then goes on with
// --recheck, whose extra arguments edit returns.
func (c *chaos) edit(ctx context.Context, sb *sandboxProc, input string, i int, base []string) ([]string, error) {
	add := max(c.o.rows/20, 1)
	if err := appendRows(input, c.o.seed, c.total, c.total+add); err != nil {
		return nil, err
	}
	c.total += add
	c.logf("appended %d rows before run %d (%d rows now)", add, i+1, c.total)
	if i != 1 {
		return nil, nil
	}
	if err := insertBlankLine(input); err != nil {
		return nil, err
	}
	if _, err := os.Stat(input + ".journal"); err != nil {
		// The kill landed after the run had finished its rows and removed
		// its journal: there is nothing to refuse.
		c.refused = "not applicable: the killed run had finished its rows"
		c.logf("a blank line inserted after the header; %s", c.refused)
		return nil, nil
	}
	r, err := runCLI(ctx, c.e, clientEnv(sb.URL), runLimit, append(slices.Clone(base), "--resume", input)...)
	if err != nil {
		return nil, err
	}
	c.refused = fmt.Sprintf("exit %d", r.Exit)
	if r.Exit == 2 && strings.Contains(r.Stderr, "--recheck") {
		c.refused = "refused, exit 2"
	}
	c.logf("a blank line inserted after the header: the resume %s; going on with --recheck", c.refused)
	return []string{"--recheck"}, nil
}

// report prints the findings and counts the checks.
func (c *chaos) report(elapsed time.Duration, err error) {
	w := c.out
	fmt.Fprintf(w, "chaos: %d rows, %d kills planned, seed %d, sandbox --fail-rate %g --drop-rate %g --jitter %s; import and export --rate %g --workers %d --retries %d\n",
		c.o.rows, c.o.kills, c.o.seed, c.o.failRate, c.o.dropRate, c.o.jitter, c.o.rate, c.o.workers, c.o.retries)
	for _, l := range c.runs {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if c.exportRun != nil {
		fmt.Fprintf(w, "  export: exit %d in %s: %d rows, %d requests, %d retries\n",
			c.exportRun.Exit, c.exportRun.Elapsed.Round(time.Millisecond), c.export.Rows, c.export.Requests, c.export.Retries)
	}
	fmt.Fprintf(w, "  sandbox faults over the whole run: %d injected failures, %d dropped connections, %d requests\n",
		c.faults.InjectedFailures, c.faults.Dropped, c.faults.Requests)
	if err != nil {
		c.add("suite ran to the end", "yes", "no (see below)", false)
	} else {
		wantExit := 0
		if c.malformed > 0 {
			wantExit = 3 // the malformed lines are failed rows
		}
		c.add("import completed", fmt.Sprintf("last run exit %d", wantExit), strconv.Itoa(c.finalExit), c.finalExit == wantExit)
		c.add("rows in the error report", fmt.Sprintf("%d (the malformed lines)", c.malformed), strconv.Itoa(c.reportRows), c.reportRows == c.malformed)
		if c.o.messy && c.o.kills > 0 {
			c.add("resume of an edited input", "refused, exit 2", c.refused, c.refused == "refused, exit 2" || strings.HasPrefix(c.refused, "not applicable"))
		}
		c.add("kills survived", strconv.Itoa(c.o.kills), strconv.Itoa(c.survived), c.survived == c.o.kills)
		c.add("export rows", strconv.Itoa(c.total), strconv.Itoa(c.exported), c.exported == c.total)
		c.add("lost rows", "0", strconv.Itoa(c.diff.Lost), c.diff.Lost == 0)
		c.add("duplicate contacts", "0", strconv.Itoa(c.diff.Duplicates), c.diff.Duplicates == 0)
		c.add("wrong fields", "0", fmt.Sprintf("%d (in %d contacts)", c.diff.WrongFields, c.diff.WrongRows), c.diff.WrongFields == 0)
		c.add("contacts never imported", "0", strconv.Itoa(c.diff.Extra), c.diff.Extra == 0)
		c.add("faults injected", "> 0 failures and drops", fmt.Sprintf("%d failures, %d drops", c.faults.InjectedFailures, c.faults.Dropped),
			(c.o.failRate == 0 || c.faults.InjectedFailures > 0) && (c.o.dropRate == 0 || c.faults.Dropped > 0))
	}
	for _, ch := range c.checks {
		ch.write(w, 24, 24)
	}
	for _, x := range c.reportLines {
		fmt.Fprintf(w, "  error report: %s\n", x)
	}
	for _, x := range c.diff.Examples {
		fmt.Fprintf(w, "  export: %s\n", x)
	}
	if c.apiNote != "" {
		fmt.Fprintf(w, "  %s\n", c.apiNote)
		for _, x := range c.apiExamples {
			fmt.Fprintf(w, "  account: %s\n", x)
		}
	}
	if err != nil {
		fmt.Fprintf(w, "chaos: incomplete after %s: %s\n", elapsed.Round(100*time.Millisecond), tail(err.Error(), 300))
		return
	}
	fmt.Fprintf(w, "chaos: lost %d, duplicates %d, wrong fields %d, kills survived %d of %d; %s\n",
		c.diff.Lost, c.diff.Duplicates, c.diff.WrongFields, c.survived, c.o.kills, elapsed.Round(100*time.Millisecond))
}

// readReport reads an import error report: its row count and, for the
// first ten rows, "line L: status: reason".
func readReport(path string) (int, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("read error report: %w", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return 0, nil, fmt.Errorf("read error report: %w", err)
	}
	if len(recs) == 0 {
		return 0, nil, nil
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	cell := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var lines []string
	for _, rec := range recs[1:min(len(recs), 11)] {
		lines = append(lines, fmt.Sprintf("line %s %s: %s: %s", cell(rec, "_line"), cell(rec, "EmailAddress"), cell(rec, "_status"), cell(rec, "_error")))
	}
	return len(recs) - 1, lines, nil
}
