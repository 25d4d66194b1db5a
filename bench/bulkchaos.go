package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"ctctbulk/ctct"
)

// `go run ./bench bulk-chaos`: the bulk import of -rows rows of
// bulkgen.go's generator into a seeded account, against a sandbox that
// fails 10% of requests and drops 2% of write answers at its default
// activity knobs, killed with SIGKILL -kills times at moments spread over
// the run (while it plans, while its jobs run, while it verifies) and
// resumed each time until it exits 0 or 3; then the account and the
// accounting of every row across the runs are checked.

// bulkChaosOptions are the flags of `bench bulk-chaos`.
type bulkChaosOptions struct{ killOptions }

func parseBulkChaos(args []string, stderr io.Writer) (bulkChaosOptions, error) {
	var o bulkChaosOptions
	flags := flag.NewFlagSet("bulk-chaos", flag.ContinueOnError)
	flags.SetOutput(stderr)
	o.define(flags, 50_000, 3, "SIGKILLs during the import, each followed by --resume (the first while it plans, the second while its jobs run, the third while it verifies, and so on)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags] bulk-chaos [-rows N -kills K -seed S]\n\n"+
			"%s=legacy runs today's import (no --via flag; kills by POST count as chaos does)\n\nflags:\n", bulkViaEnv)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return o, err
	}
	if flags.NArg() > 0 || o.rows < 1 || o.kills < 0 || o.retries < 0 {
		fmt.Fprintln(stderr, "bench bulk-chaos: -rows must be at least 1, -kills and -retries not negative; no arguments")
		return o, errors.New("bad flags")
	}
	return o, nil
}

// The moments of a bulk import a kill aims at, in the order the kills
// take them.
const (
	phasePlan   = "plan"   // export jobs of this run, no add job yet
	phaseJobs   = "jobs"   // an add job of this run not finished
	phaseVerify = "verify" // every add job finished, an export job after them
)

var bulkPhases = []string{phasePlan, phaseJobs, phaseVerify}

// bulkKillPlan returns, for each kill, the phase it waits for and the
// delay after the phase is seen (up to 1.5 s, 3 s in the jobs phase),
// from the seed.
func bulkKillPlan(seed uint64, kills int) ([]string, []time.Duration) {
	r := rand.New(rand.NewPCG(seed, 0xb0c4a05))
	phases := make([]string, kills)
	delays := make([]time.Duration, kills)
	for i := range kills {
		phases[i] = bulkPhases[i%len(bulkPhases)]
		limit := 1500
		if phases[i] == phaseJobs {
			limit = 3000
		}
		delays[i] = time.Duration(r.IntN(limit)) * time.Millisecond
	}
	return phases, delays
}

// activityWatch reads the sandbox's activities feed to tell which phase
// a run of the import is in. Its requests go through the same faults as
// the import's, retried.
type activityWatch struct {
	c      *ctct.Client
	before map[string]bool // jobs that existed before the run
}

func newActivityWatch(url string) (*activityWatch, error) {
	c, err := ctct.NewClient(url, sandboxUser, ctct.Options{
		APIKey: sandboxAPIKey, Password: sandboxPassword, Limiter: rate.NewLimiter(rate.Inf, 1),
		Retries: 30, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		UserAgent: "ctctbulk-bench-watch",
	})
	if err != nil {
		return nil, fmt.Errorf("watch activities: %w", err)
	}
	return &activityWatch{c: c}, nil
}

// newest is the first page of the feed: the 50 newest jobs, newest first.
func (w *activityWatch) newest(ctx context.Context) ([]ctct.Activity, error) {
	f, err := w.c.Activities().Next(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch activities: %w", err)
	}
	return f.Activities, nil
}

// mark remembers the jobs that exist now: the next run's are the others.
func (w *activityWatch) mark(ctx context.Context) error {
	as, err := w.newest(ctx)
	if err != nil {
		return err
	}
	w.before = map[string]bool{}
	for _, a := range as {
		w.before[a.ID] = true
	}
	return nil
}

// phase says which phase the jobs created since mark show ("" for none
// yet).
func (w *activityWatch) phase(ctx context.Context) (string, error) {
	as, err := w.newest(ctx)
	if err != nil {
		return "", err
	}
	var run []ctct.Activity
	for _, a := range as {
		if !w.before[a.ID] {
			run = append(run, a)
		}
	}
	return runPhase(run), nil
}

// runPhase is the phase a run's jobs (newest first) show.
func runPhase(run []ctct.Activity) string {
	adds, open, newestAdd := 0, 0, -1
	for i, a := range run {
		if ctct.IsAddActivity(a.Type) {
			adds++
			if !a.Final() {
				open++
			}
			if newestAdd < 0 {
				newestAdd = i
			}
		}
	}
	switch {
	case len(run) == 0:
		return ""
	case adds == 0:
		return phasePlan
	case open > 0:
		return phaseJobs
	case newestAdd > 0: // an export newer than every add job
		return phaseVerify
	}
	return phaseJobs // the last add job finished, no export yet
}

// waitPhase polls until the run is in phase (or has exited, or limit
// passes) and reports whether the phase was seen.
func (w *activityWatch) waitPhase(ctx context.Context, p *cliProc, phase string, limit time.Duration) (bool, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && !p.Exited() {
		got, err := w.phase(ctx)
		if err != nil {
			return false, err
		}
		if got == phase {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return false, nil
}

// bulkChaos is one run of the suite and its findings.
type bulkChaos struct {
	e   *env
	o   bulkChaosOptions
	via string
	b   *bulkInput
	suite

	survived int
	odd      int // runs that ended with neither 0 nor 3 (resumed again)
	final    *cliRun
	summary  importSummary
	outcome  *bulkOutcome
	faults   sandboxStats
	notes    []string
}

func (c *bulkChaos) notef(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// runBulkChaos is `go run ./bench bulk-chaos`; it returns the exit code: 0
// when every check passed.
func runBulkChaos(ctx context.Context, e *env, o bulkChaosOptions, stdout, stderr io.Writer) int {
	e.seed = o.seed
	return runSuite(ctx, &bulkChaos{e: e, o: o, suite: suite{name: "bulk-chaos", out: stdout, log: stderr}})
}

// maxOddRuns bounds the extra resumes after runs that end with neither 0
// nor 3 (a fatal error under the faults, say; 2, a usage error or a
// refused resume, ends the suite at once).
const maxOddRuns = 5

func (c *bulkChaos) run(ctx context.Context) error {
	e, o := c.e, c.o
	var err error
	if c.via, err = bulkVia(); err != nil {
		return err
	}
	c.b = newBulkInput(o.seed, o.rows)
	name := fmt.Sprintf("bulk-chaos-%d", o.rows)
	input := filepath.Join(e.dir, name+".csv")
	_, lines, err := writeBulkInput(input, c.b)
	if err != nil {
		return err
	}
	for _, p := range []string{input + ".journal", input + ".errors.csv"} {
		os.Remove(p)
	}
	db := filepath.Join(e.dir, name+".db")
	if err := prepareBulkStore(ctx, e, c.b, db); err != nil {
		return err
	}
	cfg := sandboxConfig{DB: db, FailRate: o.failRate, DropRate: o.dropRate, RandSeed: o.seed}
	sb, err := startSandbox(ctx, e, "bulk-chaos", cfg, startupLimit)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			sb.Stop()
		}
	}()
	c.logf("%d rows, %d kills, import --via %s, sandbox %s --fail-rate %g --drop-rate %g (store %s)",
		o.rows, o.kills, c.via, sb.URL, o.failRate, o.dropRate, db)
	watch, err := newActivityWatch(sb.URL)
	if err != nil {
		return err
	}
	phases, delays := bulkKillPlan(o.seed, o.kills)
	posts, postDelays := killPlan(o.seed, o.rows, o.kills) // the collection's way: by POST count

	lastSum := ""
	for i := 0; ; i++ {
		if i > o.kills+maxOddRuns {
			return fmt.Errorf("no run ended with 0 or 3 after %d runs", i)
		}
		lastSum = filepath.Join(e.dir, fmt.Sprintf("%s-run%d.json", name, i))
		os.Remove(lastSum)
		var extra []string
		if i > 0 {
			extra = []string{"--resume"}
		}
		extra = append(extra, "--retries", strconv.Itoa(o.retries))
		if c.via == "activities" {
			if err := watch.mark(ctx); err != nil {
				return err
			}
		}
		p, err := startCLI(e, clientEnv(sb.URL), bulkImportArgs(c.via, input, lastSum, extra...)...)
		if err != nil {
			return err
		}
		if i < o.kills {
			var what string
			if c.via == "activities" {
				seen, err := watch.waitPhase(ctx, p, phases[i], runLimit)
				if err != nil {
					p.Kill()
					return err
				}
				what = fmt.Sprintf("phase %s seen: %v, then %s", phases[i], seen, delays[i])
				sleepCtx(ctx, p, delays[i])
			} else {
				n, err := waitPosts(ctx, sb, p, posts[i], runLimit)
				if err != nil {
					p.Kill()
					return err
				}
				what = fmt.Sprintf("%d POSTs (target %d), then %s", n, posts[i], postDelays[i])
				sleepCtx(ctx, p, postDelays[i])
			}
			if p.Kill() {
				c.survived++
				r, err := p.Wait(ctx, time.Minute)
				if err != nil {
					return err
				}
				line := fmt.Sprintf("run %d: killed (SIGKILL) after %s: %s", i+1, r.Elapsed.Round(time.Millisecond), what)
				c.record(line)
				continue
			}
			c.logf("run %d ended before its kill (%s)", i+1, what)
		}
		r, err := p.Wait(ctx, runLimit)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("run %d: exit %d in %s", i+1, r.Exit, r.Elapsed.Round(time.Millisecond))
		var s importSummary
		if err := readJSON(lastSum, &s); err == nil {
			line += fmt.Sprintf(": read %d, resumed %d (%v), created %d, updated %d, unchanged %d, skipped %d, failed %d, pending %d; %d requests, %d retries",
				s.Read, s.Resumed, s.Earlier, s.Created, s.Updated, s.Unchanged, s.Skipped, s.Failed, s.Pending, s.Requests, s.Retries)
		}
		if r.Exit != 0 && r.Exit != 3 {
			line += "; stderr: " + tail(r.Stderr, 300)
		}
		c.record(line)
		if r.Exit == 2 {
			// A usage error, or a resume refused: no later run can do better.
			return fmt.Errorf("run %d: exit 2: %s", i+1, tail(r.Stderr, 300))
		}
		if r.Exit != 0 && r.Exit != 3 {
			c.odd++
			continue
		}
		c.final = r
		break
	}
	if err := readJSON(lastSum, &c.summary); err != nil {
		return err
	}
	if c.faults, err = sb.Stats(ctx); err != nil {
		return err
	}
	stopped = true
	if err := sb.Stop(); err != nil {
		return err
	}
	c.logf("reading the account back")
	c.outcome, err = checkBulkResult(ctx, e, name, db, c.b, lines, cmpOr(c.summary.ReportPath, input+".errors.csv"))
	return err
}

// sleepCtx waits d, or less when the process exits or ctx ends.
func sleepCtx(ctx context.Context, p *cliProc, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for !p.Exited() {
		select {
		case <-t.C:
			return
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// runTotals are a resumed import's rows by status: the last run's and the
// earlier runs' (summary.Earlier) added.
func runTotals(s *importSummary) map[string]int64 {
	out := summaryOutcomes(s)
	for k, v := range s.Earlier {
		out[k] += v
	}
	return out
}

func (c *bulkChaos) report(elapsed time.Duration, err error) {
	w, o := c.out, c.o
	fmt.Fprintf(w, "bulk-chaos: %d rows, %d kills planned, seed %d, import --via %s --retries %d, sandbox --fail-rate %g --drop-rate %g at its default activity knobs\n",
		o.rows, o.kills, o.seed, c.via, o.retries, o.failRate, o.dropRate)
	for _, l := range c.runs {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "  sandbox faults over the runs: %d injected failures, %d dropped connections, %d requests (activity watch included)\n",
		c.faults.InjectedFailures, c.faults.Dropped, c.faults.Requests)
	if err != nil || c.final == nil || c.outcome == nil {
		c.add("suite ran to the end", "yes", "no (see below)", false)
	} else {
		s := &c.summary
		want := c.b.outcomes()
		wantExit := 0
		if want["failed"] > 0 {
			wantExit = 3
		}
		c.add("import completed", fmt.Sprintf("last run exit %d", wantExit), strconv.Itoa(c.final.Exit), c.final.Exit == wantExit)
		c.add("kills landed", strconv.Itoa(o.kills), strconv.Itoa(c.survived), c.survived == o.kills)
		totals := runTotals(s)
		var sum, earlier int64
		for _, st := range bulkOutcomes {
			sum += totals[st]
		}
		for _, v := range s.Earlier {
			earlier += v
		}
		c.add("outcomes over the runs", fmt.Sprintf("add up to %d rows, 0 pending", o.rows),
			fmt.Sprintf("%d (last run %d read, %d resumed = earlier runs' %d), %d pending", sum, s.Read, s.Resumed, earlier, s.Pending),
			sum == int64(o.rows) && s.Pending == 0 && s.Resumed == earlier && s.Read+s.Resumed == int64(o.rows))
		c.add("failed, skipped over the runs", fmt.Sprintf("%d, %d", want["failed"], want["skipped"]),
			fmt.Sprintf("%d, %d", totals["failed"], totals["skipped"]), totals["failed"] == want["failed"] && totals["skipped"] == want["skipped"])
		applied := func(m map[string]int64) int64 { return m["created"] + m["updated"] + m["unchanged"] }
		c.add("created+updated+unchanged", strconv.FormatInt(applied(want), 10), strconv.FormatInt(applied(totals), 10), applied(totals) == applied(want))
		addBulkResultChecks(c.add, c.notef, c.outcome)
		d := c.outcome.diff
		c.add("lost", "0", strconv.Itoa(d.Lost), d.Lost == 0)
		c.add("duplicated", "0", strconv.Itoa(d.Duplicates), d.Duplicates == 0)
		c.add("wrong", "0", fmt.Sprintf("%d fields (in %d contacts), %d extra, %d statuses", d.WrongFields, d.WrongRows, d.Extra, c.outcome.wrongStatus),
			d.WrongFields == 0 && d.Extra == 0 && c.outcome.wrongStatus == 0)
		// Drops are rolled on successful writes, and a bulk import makes a
		// few dozen (its jobs' POSTs): at 0.02 most runs see none, so they
		// are shown, not required (the importer's own tests drop POSTs at
		// a high rate: TestBulkUnderFaultsExactState).
		c.add("faults injected", "> 0 failures", fmt.Sprintf("%d failures, %d drops", c.faults.InjectedFailures, c.faults.Dropped),
			o.failRate == 0 || c.faults.InjectedFailures > 0)
		// A row a killed run's job applied before the run could journal
		// it may be found unchanged by the next run: the split between
		// created, updated and unchanged is shown, not a target.
		c.notef("rows by status over the runs %s (c/u/=/s/f), an uninterrupted run %s", outcomesString(totals), outcomesString(want))
		if c.odd > 0 {
			c.notef("%d runs ended with neither 0 nor 3 and were resumed again", c.odd)
		}
	}
	for _, ch := range c.checks {
		ch.write(w, 30, 32)
	}
	for _, n := range c.notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if err != nil {
		fmt.Fprintf(w, "bulk-chaos: incomplete after %s: %s\n", elapsed.Round(100*time.Millisecond), tail(err.Error(), 300))
		return
	}
	fmt.Fprintf(w, "bulk-chaos: %s\n", elapsed.Round(100*time.Millisecond))
}
