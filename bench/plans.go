package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// maxPlanRatio is how far a dry run's estimate may stand from the real
// run's wall time (either way) where a scenario holds it to a target.
const maxPlanRatio = 2.0

// dryRunPlan runs the import args with --dry-run (its own summary file)
// against the same account, before the real run, and returns its summary.
func dryRunPlan(ctx context.Context, e *env, environ []string, args []string) (*importSummary, error) {
	a := slices.Insert(slices.Clone(args), 1, "--dry-run")
	sumPath := ""
	for i := range a {
		if a[i] == "--summary-json" && i+1 < len(a) {
			a[i+1] += ".dry-run.json"
			sumPath = a[i+1]
			os.Remove(sumPath)
		}
	}
	if sumPath == "" {
		return nil, fmt.Errorf("dry run: the import args have no --summary-json")
	}
	r, err := runCLI(ctx, e, environ, runLimit, a...)
	if err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	var s importSummary
	if err := readJSON(sumPath, &s); err != nil {
		return nil, fmt.Errorf("dry run exit %d: %w (stderr: %s)", r.Exit, err, tail(r.Stderr, 400))
	}
	return &s, nil
}

// comparePlan records the dry run's estimate beside the real run's wall
// time: a check within maxPlanRatio when held, a note otherwise.
func (r *result) comparePlan(plan *importSummary, wall time.Duration, held bool) {
	if plan == nil || wall <= 0 {
		return
	}
	r.PlanSeconds = plan.PlanSeconds
	r.PlanRatio = plan.PlanSeconds / wall.Seconds()
	got := fmt.Sprintf("%.1fs estimated, %.1fs real: %.2fx", plan.PlanSeconds, wall.Seconds(), r.PlanRatio)
	if held {
		r.add("dry-run estimate vs wall time", fmt.Sprintf("within %gx either way", maxPlanRatio), got,
			r.PlanRatio >= 1/maxPlanRatio && r.PlanRatio <= maxPlanRatio)
	} else {
		r.notef("dry-run estimate vs wall time: %s", got)
	}
	r.notef("dry run planned %d requests (real %d): %d rows by activities (plan by %s, verify by %s), %d by the contacts collection",
		plan.PlannedRequests, r.Requests, plan.PlanBulkRows, cmpOr(plan.PlanBy, "-"), cmpOr(plan.VerifyBy, "-"), plan.PlanContactsRows)
}

// maxSmallIntoBig is the small-into-big target (issue: "under 60 s").
const maxSmallIntoBig = 60 * time.Second

// scenSmallIntoBig is small-into-big: 300 rows (100 of them contacts the
// account holds, every value changed) into a 100,000-contact account, the
// sandbox and the import at their defaults (--via auto, --rate 4), after a
// dry run of the same import.
func scenSmallIntoBig(ctx context.Context, e *env) (*result, error) {
	const rows, present = 300, 100
	big := e.rows(100_000)
	name := "small-into-big"
	db := filepath.Join(e.dir, name+".db")
	if err := copySeeded(ctx, e, big, db); err != nil {
		return nil, err
	}
	sb, err := startSandbox(ctx, e, name, sandboxConfig{DB: db, RandSeed: e.seed}, startupLimit)
	if err != nil {
		return nil, err
	}
	defer sb.Stop()
	setup, err := genFile(e, name+"-present.csv", present, 0)
	if err != nil {
		return nil, err
	}
	if err := setupImport(ctx, e, sb, setup, name+"-setup"); err != nil {
		return nil, err
	}
	input, err := genFile(e, name+".csv", rows, 1)
	if err != nil {
		return nil, err
	}
	return planAndImport(ctx, e, sb, name, input, rows, map[string]int64{"created": rows - present, "updated": present},
		expectedState(e.seed, rows, 1), maxSmallIntoBig)
}

// scenIntoEmpty20k is into-empty-20k: 20,000 new rows into an empty
// account, the sandbox and the import at their defaults, after a dry run.
func scenIntoEmpty20k(ctx context.Context, e *env) (*result, error) {
	rows := e.rows(20_000)
	name := "into-empty-20k"
	sb, err := startSandbox(ctx, e, name, sandboxConfig{RandSeed: e.seed}, startupLimit)
	if err != nil {
		return nil, err
	}
	defer sb.Stop()
	input, err := genFile(e, name+".csv", rows, 0)
	if err != nil {
		return nil, err
	}
	return planAndImport(ctx, e, sb, name, input, rows, map[string]int64{"created": int64(rows)},
		expectedState(e.seed, rows, 0), 0)
}

// planAndImport dry-runs then imports input at the CLI's defaults into
// the account sb serves, and checks the outcomes, the estimate (within
// maxPlanRatio), the wall time (under limit, when set) and every row's
// contact.
func planAndImport(ctx context.Context, e *env, sb *sandboxProc, name, input string, rows int, want map[string]int64,
	exp map[string]*expected, limit time.Duration) (*result, error) {
	sumPath := filepath.Join(e.dir, name+".summary.json")
	for _, p := range []string{sumPath, input + ".journal", input + ".errors.csv"} {
		os.Remove(p)
	}
	args := []string{"import", "--summary-json", sumPath, input}
	plan, err := dryRunPlan(ctx, e, clientEnv(sb.URL), args)
	if err != nil {
		return nil, err
	}
	before, err := sb.Stats(ctx)
	if err != nil {
		return nil, err
	}
	r, err := runCLI(ctx, e, clientEnv(sb.URL), runLimit, args...)
	if err != nil {
		return nil, err
	}
	after, err := sb.Stats(ctx)
	if err != nil {
		return nil, err
	}
	var s importSummary
	if err := readJSON(sumPath, &s); err != nil {
		return nil, fmt.Errorf("import exit %d: %w (stderr: %s)", r.Exit, err, tail(r.Stderr, 400))
	}
	res := &result{}
	res.measure(before, after, s.Read, r.Elapsed, 0)
	res.Retries, res.PeakRSSBytes = s.Retries, r.PeakRSS
	res.notef("import at the CLI's defaults (%s); way %s, plan by %s, verify by %s; %d jobs, %d export jobs; requests by method %v",
		"--via auto --rate 4", cmpOr(s.Via, "contacts"), cmpOr(s.PlanBy, "-"), cmpOr(s.VerifyBy, "-"), s.BulkJobs, s.ExportJobs, s.ByMethod)
	res.add("exit code", "0", strconv.Itoa(r.Exit), r.Exit == 0)
	if r.Exit != 0 {
		res.notef("stderr: %s", tail(r.Stderr, 400))
	}
	res.add("row outcomes c/u/=/s/f", outcomesString(want), outcomesString(summaryOutcomes(&s)), maps2Equal(want, summaryOutcomes(&s)))
	if limit > 0 {
		res.add("wall time", "< "+limit.String(), r.Elapsed.Round(100*time.Millisecond).String(), r.Elapsed < limit)
	}
	res.comparePlan(plan, r.Elapsed, true)
	emails := make([]string, 0, len(exp))
	for email := range exp {
		emails = append(emails, email)
	}
	got := map[string][]record{}
	for part := range slices.Chunk(emails, 50) {
		found, err := readContacts(ctx, sb.URL, part)
		if err != nil {
			return res, err
		}
		for k, c := range found {
			got[k] = append(got[k], c)
		}
	}
	d := compareState(exp, got)
	res.add("the rows' contacts", "exact", d.String(), d.ok())
	for _, x := range d.Examples {
		res.notef("account: %s", x)
	}
	return res, nil
}

// copySeeded makes db a copy of the seeded store of n contacts in the
// cache (made once), for a scenario that writes to it.
func copySeeded(ctx context.Context, e *env, n int, db string) error {
	cfg := seededStore(e, n)
	if cfg.Seed > 0 {
		sb, err := startSandbox(ctx, e, fmt.Sprintf("seed-%d", n), cfg, startupLimit)
		if err != nil {
			return err
		}
		if err := sb.Stop(); err != nil {
			return err
		}
	}
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(db + s)
		if err := copyFile(cfg.DB+s, db+s); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("copy the seeded store: %w", err)
		}
	}
	return nil
}

// Targets of first-state-export: the first run of a state file on a big
// account takes a bulk export (a few requests, not a walk of one per
// contact), and the next run only the changes.
const (
	maxFirstStateRequests = 20
	maxNextStateRequests  = 10
)

// scenFirstStateExport is first-state-export: `export --state S -o F` at
// the CLI's defaults (--rate 4) on a 100,000-contact account, twice: the
// first run seeds the state with one bulk export whose high-water mark is
// the run's start; the second exports the contacts changed since (none).
func scenFirstStateExport(ctx context.Context, e *env) (*result, error) {
	n := e.rows(100_000)
	name := "first-state-export"
	sb, err := startSandbox(ctx, e, name, seededStore(e, n), startupLimit)
	if err != nil {
		return nil, err
	}
	defer sb.Stop()
	state := filepath.Join(e.dir, name+".state")
	os.Remove(state)
	res := &result{}
	for i, run := range []struct {
		tag     string
		want    int
		maxReq  int64
		wantVia string
	}{{"first", n, maxFirstStateRequests, "activities"}, {"next", 0, maxNextStateRequests, "contacts"}} {
		out := filepath.Join(e.dir, name+"-"+run.tag+".csv")
		sumPath := filepath.Join(e.dir, name+"-"+run.tag+".summary.json")
		removeExport(out)
		before, err := sb.Stats(ctx)
		if err != nil {
			return res, err
		}
		start := time.Now()
		r, err := runCLI(ctx, e, clientEnv(sb.URL), runLimit, "export", "--state", state, "-o", out, "--summary-json", sumPath)
		if err != nil {
			return res, err
		}
		after, err := sb.Stats(ctx)
		if err != nil {
			return res, err
		}
		var s struct {
			exportSummary
			Via           string   `json:"via"`
			LeftOut       []string `json:"columns_left_out"`
			HighWaterMark string   `json:"high_water_mark"`
		}
		if err := readJSON(sumPath, &s); err != nil {
			return res, fmt.Errorf("export exit %d: %w (stderr: %s)", r.Exit, err, tail(r.Stderr, 400))
		}
		if i == 0 {
			res.measure(before, after, s.Rows, r.Elapsed, 0)
			res.PeakRSSBytes = r.PeakRSS
		}
		_, rows, err := countCSV(out)
		if err != nil {
			return res, err
		}
		req := after.Requests - before.Requests
		res.add(run.tag+" run: exit code, way", "0, "+run.wantVia, fmt.Sprintf("%d, %s", r.Exit, s.Via), r.Exit == 0 && s.Via == run.wantVia)
		res.add(run.tag+" run: contacts written", strconv.Itoa(run.want), fmt.Sprintf("%d (file %d rows)", s.Rows, rows), s.Rows == int64(run.want) && rows == run.want)
		res.add(run.tag+" run: requests", fmt.Sprintf("<= %d", run.maxReq), strconv.FormatInt(req, 10), req <= run.maxReq)
		res.notef("%s run: %s, requests by route %v, columns left out %v", run.tag, r.Elapsed.Round(100*time.Millisecond), routeDelta(before, after), s.LeftOut)
		if i == 0 {
			mark, err := time.Parse(time.RFC3339Nano, s.HighWaterMark)
			ok := err == nil && !mark.After(start) && start.Sub(mark) < 10*time.Minute
			res.add("first run: high-water mark", "the run's start less the overlap", s.HighWaterMark, ok)
		}
	}
	res.notef("a walk of the collection would take about %d requests (%.0f h at --rate 4, %.0f days of a 10,000-request quota)",
		int64(n)+pagesFor(n), float64(int64(n)+pagesFor(n))/4/3600, float64(int64(n)+pagesFor(n))/10000)
	return res, nil
}
