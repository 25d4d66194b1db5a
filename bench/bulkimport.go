package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"ctctbulk/ctct"
)

// Targets of an import through bulk ADD_CONTACTS jobs: the requests of the
// whole run, polls included, and the tool's peak RSS.
const (
	maxBulkImportRequests = 500
	maxBulkImportRSS      = 64 << 20
	// bulkRowsPerJob is the import's --bulk-rows: BULK.md's most rows per
	// activity (a generated row is about 160 bytes, so 20,000 of them
	// stay under the 4 MiB limit of an activity's data).
	bulkRowsPerJob = 20_000
)

// bulkViaEnv names the environment variable that says how the bulk
// scenarios and bulk-chaos run the import: "activities" (the default:
// --via activities --bulk-rows N), "contacts" (--via contacts, the
// collection, for comparison) or "legacy" (no --via flag at all: a binary
// from before --via existed, which imports through the collection; this
// checks the harness itself, at small -rows or -scale, since the request
// budget is the bulk path's).
const bulkViaEnv = "BENCH_BULK_VIA"

// bulkVia returns the way of the bulk scenarios' import.
func bulkVia() (string, error) {
	switch v := os.Getenv(bulkViaEnv); v {
	case "":
		return "activities", nil
	case "activities", "contacts", "legacy":
		return v, nil
	default:
		return "", fmt.Errorf("%s=%q: want activities, contacts or legacy", bulkViaEnv, v)
	}
}

// bulkImportArgs are the arguments of the import of input to list 1 the
// way via says, with the summary written to summary.
func bulkImportArgs(via, input, summary string, extra ...string) []string {
	a := []string{"import", "--list", "1", "--rate", "1000", "--summary-json", summary}
	switch via {
	case "activities":
		a = append(a, "--via", "activities", "--bulk-rows", strconv.Itoa(bulkRowsPerJob))
	case "contacts":
		a = append(a, "--via", "contacts", "--workers", "16")
	default:
		a = append(a, "--workers", "16")
	}
	return append(append(a, extra...), input)
}

// prepareBulkStore makes db the account before the import of b: a copy of
// a store seeded once per (generator, rows, seed) in the cache dir.
func prepareBulkStore(ctx context.Context, e *env, b *bulkInput, db string) error {
	cached := filepath.Join(e.cache, fmt.Sprintf("bulk-seed-v%d-%d-%d.db", bulkGenVersion, b.n, b.seed))
	suffixes := []string{"", "-wal", "-shm"}
	if _, err := os.Stat(cached); err != nil {
		tmp := cached + ".tmp"
		for _, s := range suffixes {
			os.Remove(tmp + s)
		}
		if err := seedBulkStore(ctx, tmp, b); err != nil {
			return err
		}
		for _, s := range slices.Backward(suffixes) { // the main file last: its presence means complete
			if err := os.Rename(tmp+s, cached+s); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("seed store: %w", err)
			}
		}
	}
	for _, s := range suffixes {
		os.Remove(db + s)
		if err := copyFile(cached+s, db+s); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("copy the seeded store: %w", err)
		}
	}
	return nil
}

// copyFile copies src to dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// bulkOutcome is what a finished import of b did, as the harness checks it.
type bulkOutcome struct {
	diff        stateDiff
	wrongStatus int
	report      reportDiff
	contacts    int    // contacts read
	read        string // how the account was read
}

// scenBulkImport is bulk-import-10k, -100k and -1m: the import of n
// generated rows (bulkgen.go) into an account seeded with the present
// ones, through bulk jobs, against a sandbox at its default activity
// knobs; then every row's outcome, the error report and the account are
// checked exactly.
func scenBulkImport(n int) func(ctx context.Context, e *env) (*result, error) {
	return func(ctx context.Context, e *env) (*result, error) {
		n := e.rows(n)
		return bulkImportScenario(ctx, e, fmt.Sprintf("bulk-import-%d", n), n)
	}
}

func bulkImportScenario(ctx context.Context, e *env, name string, n int) (*result, error) {
	via, err := bulkVia()
	if err != nil {
		return nil, err
	}
	b := newBulkInput(e.seed, n)
	input := filepath.Join(e.dir, name+".csv")
	size, lines, err := writeBulkInput(input, b)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{input + ".journal", input + ".errors.csv"} {
		os.Remove(p) // an earlier run's, with the same -dir
	}
	db := filepath.Join(e.dir, name+".db")
	seedStart := time.Now()
	if err := prepareBulkStore(ctx, e, b, db); err != nil {
		return nil, err
	}
	seedTime := time.Since(seedStart)

	sb, err := startSandbox(ctx, e, name, sandboxConfig{DB: db, RandSeed: e.seed}, startupLimit)
	if err != nil {
		return nil, err
	}
	sumPath := filepath.Join(e.dir, name+".summary.json")
	os.Remove(sumPath)
	plan, err := dryRunPlan(ctx, e, clientEnv(sb.URL), bulkImportArgs(via, input, sumPath))
	if err != nil {
		sb.Stop()
		return nil, err
	}
	before, err := sb.Stats(ctx)
	if err != nil {
		sb.Stop()
		return nil, err
	}
	r, err := runCLI(ctx, e, clientEnv(sb.URL), bulkRunLimit(n), bulkImportArgs(via, input, sumPath)...)
	if err != nil {
		sb.Stop()
		return nil, err
	}
	after, err := sb.Stats(ctx)
	if serr := sb.Stop(); err == nil {
		err = serr
	}
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
	res.comparePlan(plan, r.Elapsed, false)
	res.notef("import --via %s (%s); input %d rows, %.1f MB; account seeded with %d contacts in %s (not measured)",
		via, strings.Join(bulkImportArgs(via, "FILE", "S.json")[1:], " "), n, float64(size)/(1<<20),
		bulkCounts(n)[bulkPresentSame]+bulkCounts(n)[bulkPresentDiff]+bulkCounts(n)[bulkDoNotMail], seedTime.Round(time.Millisecond))
	res.notef("wall time %s; requests by method %v; by route %v", r.Elapsed.Round(time.Millisecond), s.ByMethod, routeDelta(before, after))

	wantExit := 0
	if bulkCounts(n)[bulkInvalid] > 0 {
		wantExit = 3
	}
	res.add("exit code", strconv.Itoa(wantExit), strconv.Itoa(r.Exit), r.Exit == wantExit)
	if r.Exit != wantExit {
		res.notef("stderr: %s", tail(r.Stderr, 400))
	}
	want := b.outcomes()
	res.add("rows read, none pending", fmt.Sprintf("%d, 0", n), fmt.Sprintf("%d, %d", s.Read, s.Pending), s.Read == int64(n) && s.Pending == 0)
	res.add("row outcomes c/u/=/s/f", outcomesString(want), outcomesString(summaryOutcomes(&s)), maps2Equal(want, summaryOutcomes(&s)))
	res.add("requests (summary, polls included)", fmt.Sprintf("<= %d", maxBulkImportRequests),
		fmt.Sprintf("%d (sandbox saw %d)", s.Requests, res.Requests), s.Requests <= maxBulkImportRequests && res.Requests <= maxBulkImportRequests)

	got, err := checkBulkResult(ctx, e, name, db, b, lines, cmpOr(s.ReportPath, input+".errors.csv"))
	if err != nil {
		return res, err
	}
	addBulkResultChecks(res.add, res.notef, got)
	res.add("peak RSS", "< 64 MB", rssText(r.PeakRSS), rssUnder(r.PeakRSS, maxBulkImportRSS))
	return res, nil
}

// maxCollectionRead is the largest account the checks read through the
// contacts collection (a GET per contact, every field, the Atom codec: a
// way independent of the bulk code under test); a larger one is read
// through a bulk export.
const maxCollectionRead = 50_000

// checkBulkResult reads the error report and the account (the store db,
// served by a sandbox of its own with no faults) and compares them with
// what b must give.
func checkBulkResult(ctx context.Context, e *env, name, db string, b *bulkInput, lines []int32, report string) (*bulkOutcome, error) {
	var o bulkOutcome
	gotReport, err := readReportEntries(report)
	if err != nil && !(errors.Is(err, os.ErrNotExist) && b.reportRows() == 0) {
		return nil, err
	}
	o.report = compareReport(gotReport, b.reportWant(lines))
	var src accountSource
	if b.n <= maxCollectionRead {
		o.read = "the contacts collection (a GET per contact)"
		sb, err := startSandbox(ctx, e, name+"-check", sandboxConfig{DB: db}, startupLimit)
		if err != nil {
			return nil, err
		}
		got, err := readAccount(ctx, sb.URL, 0)
		if serr := sb.Stop(); err == nil {
			err = serr
		}
		if err != nil {
			return nil, err
		}
		src = mapSource(got)
	} else {
		o.read = "export --via activities --status all"
		account, err := exportStore(ctx, e, name, db)
		if err != nil {
			return nil, err
		}
		src = func(f func(string, record)) (int, error) { return eachExportRecord(account, f) }
	}
	if o.contacts, o.diff, o.wrongStatus, err = compareBulkAccount(src, b, max(1, b.n/50_000)); err != nil {
		return nil, err
	}
	return &o, nil
}

// accountSource calls f with every contact of an account and its
// lower-cased email, and returns the contacts.
type accountSource func(f func(key string, r record)) (int, error)

// mapSource is an account read into memory.
func mapSource(m map[string][]record) accountSource {
	return func(f func(string, record)) (int, error) {
		n := 0
		for key, rs := range m {
			for _, r := range rs {
				f(key, r)
				n++
			}
		}
		return n, nil
	}
}

// addBulkResultChecks records the checks of the report and the account.
func addBulkResultChecks(add func(name, target, got string, ok bool), notef func(string, ...any), o *bulkOutcome) {
	add("error report _line set", "the failed and skipped rows, once each", o.report.String(), o.report.ok())
	add("account", "exact", o.diff.String(), o.diff.ok())
	notef("account read through %s", o.read)
	add("statuses (Do Not Mail kept)", "0 wrong", strconv.Itoa(o.wrongStatus), o.wrongStatus == 0)
	for _, x := range o.report.Examples {
		notef("report: %s", x)
	}
	for _, x := range o.diff.Examples {
		notef("account: %s", x)
	}
}

// summaryOutcomes are a summary's row counts by status.
func summaryOutcomes(s *importSummary) map[string]int64 {
	return map[string]int64{"created": s.Created, "updated": s.Updated, "unchanged": s.Unchanged, "skipped": s.Skipped, "failed": s.Failed}
}

// outcomesString writes counts by status in bulkOutcomes' order.
func outcomesString(m map[string]int64) string {
	parts := make([]string, len(bulkOutcomes))
	for i, s := range bulkOutcomes {
		parts[i] = strconv.FormatInt(m[s], 10)
	}
	return strings.Join(parts, "/")
}

// maps2Equal compares counts by status over bulkOutcomes.
func maps2Equal(a, b map[string]int64) bool {
	for _, s := range bulkOutcomes {
		if a[s] != b[s] {
			return false
		}
	}
	return true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exportStore exports every contact of the store db (all statuses, every
// bulk column, lists and status) --via activities to e.dir/name-account.csv,
// through a sandbox of its own on the file with no faults, no queue time
// and no row limit: reading the result back is not part of the figures,
// and at a million contacts the collection (a GET per contact) would take
// longer than the import. bulk-export-10k checks that export against the
// collection's.
func exportStore(ctx context.Context, e *env, name, db string) (string, error) {
	sb, err := startSandbox(ctx, e, name+"-check", sandboxConfig{DB: db, FastActivities: true}, startupLimit)
	if err != nil {
		return "", err
	}
	defer sb.Stop()
	out := filepath.Join(e.dir, name+"-account.csv")
	removeExport(out)
	r, err := runCLI(ctx, e, clientEnv(sb.URL), runLimit, "export", "-o", out, "--raw", "--via", "activities", "--status", "all", "--rate", "1000")
	if err != nil {
		return "", fmt.Errorf("read the account back: %w", err)
	}
	if r.Exit != 0 {
		return "", fmt.Errorf("read the account back: export exit %d: %s", r.Exit, tail(r.Stderr, 400))
	}
	return out, nil
}

// compareBulkAccount compares the account src reads with the end state b
// must give, in m buckets of emails (src read once per bucket; the
// callers take about 50,000 emails a bucket), with compareState; it also
// counts the contacts whose status is not the expected one (an export
// leaves Status empty for active contacts). It returns the contacts read.
func compareBulkAccount(src accountSource, b *bulkInput, m int) (int, stateDiff, int, error) {
	var total stateDiff
	wrongStatus, rows := 0, 0
	for k := range m {
		want := b.endState(k, m)
		got := map[string][]record{}
		var err error
		rows, err = src(func(key string, r record) {
			if bulkBucket(key, m) == k {
				got[key] = append(got[key], r)
			}
		})
		if err != nil {
			return rows, total, wrongStatus, err
		}
		exp := make(map[string]*expected, len(want))
		for email, w := range want {
			exp[email] = w.exp
			if rs := got[email]; len(rs) > 0 {
				st := cmpOr(rs[0]["Status"], ctct.StatusActive)
				if st != w.status {
					wrongStatus++
					if len(total.Examples) < 10 {
						total.Examples = append(total.Examples, fmt.Sprintf("status: row %d %s is %q, want %q", w.exp.line, email, st, w.status))
					}
				}
			}
		}
		total.merge(compareState(exp, got))
	}
	return rows, total, wrongStatus, nil
}

// merge adds the counts of a part of the account (another bucket of
// emails) to d.
func (d *stateDiff) merge(p stateDiff) {
	d.Contacts += p.Contacts
	d.Lost += p.Lost
	d.Duplicates += p.Duplicates
	d.Extra += p.Extra
	d.WrongFields += p.WrongFields
	d.WrongRows += p.WrongRows
	for _, x := range p.Examples {
		if len(d.Examples) < 10 {
			d.Examples = append(d.Examples, x)
		}
	}
}

// reportWant is the status every row of the error report must have, by
// its _line.
func (b *bulkInput) reportWant(lines []int32) map[int]string {
	out := map[int]string{}
	for i, k := range b.kinds {
		if k == bulkInvalid || k == bulkDoNotMail {
			out[int(lines[i])] = k.outcome()
		}
	}
	return out
}

// readReportEntries reads the _line and _status of every row of an import
// error report: the statuses found for each line.
func readReportEntries(path string) (map[int][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read error report: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReaderSize(f, 1<<16))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return map[int][]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read error report: %w", err)
	}
	lineCol, statusCol := slices.Index(header, "_line"), slices.Index(header, "_status")
	if lineCol < 0 || statusCol < 0 {
		return nil, fmt.Errorf("read error report: no _line or _status column in %q", header)
	}
	out := map[int][]string{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read error report: %w", err)
		}
		if lineCol >= len(rec) || statusCol >= len(rec) {
			return nil, fmt.Errorf("read error report: short record %q", rec)
		}
		line, err := strconv.Atoi(rec[lineCol])
		if err != nil {
			return nil, fmt.Errorf("read error report: _line %q: %w", rec[lineCol], err)
		}
		out[line] = append(out[line], rec[statusCol])
	}
}

// reportDiff is the comparison of an error report with the rows that
// must be in it.
type reportDiff struct {
	Rows, Missing, Extra, Twice, WrongStatus int
	Examples                                 []string
}

func (d reportDiff) ok() bool {
	return d.Missing == 0 && d.Extra == 0 && d.Twice == 0 && d.WrongStatus == 0
}

func (d reportDiff) String() string {
	return fmt.Sprintf("%d rows: missing %d, extra %d, twice %d, wrong status %d", d.Rows, d.Missing, d.Extra, d.Twice, d.WrongStatus)
}

// compareReport compares the report's lines and statuses with want.
func compareReport(got map[int][]string, want map[int]string) reportDiff {
	var d reportDiff
	example := func(format string, args ...any) {
		if len(d.Examples) < 10 {
			d.Examples = append(d.Examples, fmt.Sprintf(format, args...))
		}
	}
	lines := slices.Sorted(func(yield func(int) bool) {
		for l := range got {
			if !yield(l) {
				return
			}
		}
	})
	for _, l := range lines {
		sts := got[l]
		d.Rows += len(sts)
		w, ok := want[l]
		switch {
		case !ok:
			d.Extra++
			example("line %d in the report (%s), not a failed or skipped row", l, strings.Join(sts, ","))
			continue
		case len(sts) > 1:
			d.Twice += len(sts) - 1
			example("line %d in the report %d times", l, len(sts))
		}
		if sts[0] != w {
			d.WrongStatus++
			example("line %d: %s, want %s", l, sts[0], w)
		}
	}
	for l := range want {
		if _, ok := got[l]; !ok {
			d.Missing++
			example("line %d (%s) not in the report", l, want[l])
		}
	}
	return d
}

// maxRSSSlope is the most the import's peak RSS may grow per 100,000 rows
// between bulk-import-100k and the larger bulk-import scenarios.
const maxRSSSlope = 1 << 20

// rssSlope is a result holding the peak RSS slope between
// bulk-import-100k and bulk-import-1m (and -3m) when the run measured
// them, nil otherwise.
func rssSlope(results []*result) *result {
	peak := map[int64]int64{}
	for _, r := range results {
		if strings.HasPrefix(r.Scenario, "bulk-import-") && !strings.Contains(r.Scenario, "dup") && r.PeakRSSBytes > 0 {
			peak[r.Rows] = r.PeakRSSBytes
		}
	}
	small, ok := peak[100_000]
	if !ok {
		return nil
	}
	res := &result{Scenario: "bulk-import RSS slope"}
	var parts []string
	ok = false
	worst := 0.0
	for _, n := range []int64{1_000_000, 3_000_000} {
		big, has := peak[n]
		if !has {
			continue
		}
		ok = true
		slope := float64(big-small) / float64(n-100_000) * 100_000
		worst = max(worst, slope)
		parts = append(parts, fmt.Sprintf("100k -> %dk: %+.2f MB per 100k rows (%.1f MB -> %.1f MB)", n/1000, slope/(1<<20), float64(small)/(1<<20), float64(big)/(1<<20)))
	}
	if !ok {
		return nil
	}
	res.add("peak RSS slope", "< 1 MB per 100k rows", "bulk-import RSS slope: "+strings.Join(parts, "; "), worst < maxRSSSlope)
	res.finish()
	return res
}

// scenBulkDup3 is bulk-import-1m-dup3: 1,000,000 rows of 3 emails, each
// row a new first name, through jobs: every row is applied in order (the
// jobs wait for each other), the last of each email stands, and the
// process's memory does not grow with the rows of one email.
func scenBulkDup3(ctx context.Context, e *env) (*result, error) {
	n := e.rows(1_000_000)
	input := filepath.Join(e.dir, "bulk-import-1m-dup3.csv")
	f, err := os.Create(input)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	w.WriteString("Email,First Name,Last Name\n")
	for i := range n {
		fmt.Fprintf(w, "dup%d@example.com,First%d,Same\n", i%3, i)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return nil, err
	}
	return importAndCheckLast(ctx, e, "bulk-import-1m-dup3", input, n, map[string]int64{"created": 3, "updated": int64(n - 3)},
		func(get func(email string) map[string]string) []string {
			var bad []string
			for k := range 3 {
				last := n - 1 - ((n - 1 - k) % 3)
				if c := get(fmt.Sprintf("dup%d@example.com", k)); c == nil || c["FirstName"] != fmt.Sprintf("First%d", last) {
					bad = append(bad, fmt.Sprintf("dup%d: %v, want First%d", k, c, last))
				}
			}
			return bad
		})
}

// scenMailchimp500k is mailchimp-500k: a Mailchimp subscribed-members
// export of 500,000 rows (every column of the real export, the one-cell
// Address) through jobs into an empty account.
func scenMailchimp500k(ctx context.Context, e *env) (*result, error) {
	n := e.rows(500_000)
	input := filepath.Join(e.dir, "subscribed_members_export_500k.csv")
	f, err := os.Create(input)
	if err != nil {
		return nil, err
	}
	w := csv.NewWriter(bufio.NewWriter(f))
	w.Write([]string{"Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday", "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP",
		"CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS"})
	cities := []string{"Springfield  IL  62701", "Austin  TX  73301", "Portland  Oregon  97204", "Toronto  ON  M5H 2N2"}
	for i := range n {
		w.Write([]string{fmt.Sprintf("member%07d@example.com", i), fmt.Sprintf("First%d", i), "Member",
			fmt.Sprintf("%d Main St  %s  %s", i%9999+1, cities[i%len(cities)], []string{"US", "US", "US", "CA"}[i%4]),
			fmt.Sprintf("(555) 01%d-%04d", i%10, i%10000), "", "4", "2021-03-04 10:22:11", "203.0.113.9", "2021-03-04 10:22:11", "203.0.113.9",
			"41.8", "-87.6", "-6", "-5", "America/Chicago", "US", "IL", "2026-11-30 00:00:00", fmt.Sprint(100000000 + i), fmt.Sprintf("%08x", i), "", `"Newsletter"`})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return nil, err
	}
	return importAndCheckLast(ctx, e, "mailchimp-500k", input, n, map[string]int64{"created": int64(n)},
		func(get func(email string) map[string]string) []string {
			var bad []string
			for _, i := range []int{0, 1, 2, 3, n / 2, n - 1} {
				c := get(fmt.Sprintf("member%07d@example.com", i))
				wantState := []string{"IL", "TX", "OR", "ON"}[i%4]
				if c == nil || c["Status"] != "Active" || c["StateCode"] != wantState || c["Addr1"] != fmt.Sprintf("%d Main St", i%9999+1) {
					bad = append(bad, fmt.Sprintf("member %d: %v", i, c))
				}
			}
			return bad
		})
}

// importAndCheckLast imports input (n rows) --via activities into an
// empty sandbox, checks the summary's outcomes, the requests and the
// process's peak RSS, and checks a few contacts with check.
func importAndCheckLast(ctx context.Context, e *env, name, input string, n int, want map[string]int64,
	check func(get func(email string) map[string]string) []string) (*result, error) {
	db := filepath.Join(e.dir, name+".db")
	for _, p := range []string{db, input + ".journal", input + ".errors.csv"} {
		os.Remove(p)
	}
	sb, err := startSandbox(ctx, e, name, sandboxConfig{DB: db, RandSeed: e.seed}, startupLimit)
	if err != nil {
		return nil, err
	}
	sumPath := filepath.Join(e.dir, name+".summary.json")
	plan, err := dryRunPlan(ctx, e, clientEnv(sb.URL), bulkImportArgs("activities", input, sumPath))
	if err != nil {
		sb.Stop()
		return nil, err
	}
	before, err := sb.Stats(ctx)
	if err != nil {
		sb.Stop()
		return nil, err
	}
	r, err := runCLI(ctx, e, clientEnv(sb.URL), runLimit, bulkImportArgs("activities", input, sumPath)...)
	if err != nil {
		sb.Stop()
		return nil, err
	}
	after, err := sb.Stats(ctx)
	if err != nil {
		sb.Stop()
		return nil, err
	}
	var s importSummary
	if err := readJSON(sumPath, &s); err != nil {
		sb.Stop()
		return nil, fmt.Errorf("import exit %d: %w (stderr: %s)", r.Exit, err, tail(r.Stderr, 400))
	}
	res := &result{}
	res.measure(before, after, s.Read, r.Elapsed, 0)
	res.Retries, res.PeakRSSBytes = s.Retries, r.PeakRSS
	res.comparePlan(plan, r.Elapsed, false)
	res.notef("wall time %s; %d jobs, %d export jobs, %d rows verified; requests by method %v", r.Elapsed.Round(time.Millisecond), s.BulkJobs, s.ExportJobs, s.Verified, s.ByMethod)
	res.add("exit code", "0", strconv.Itoa(r.Exit), r.Exit == 0)
	if r.Exit != 0 {
		res.notef("stderr: %s", tail(r.Stderr, 400))
	}
	res.add("rows read, none pending", fmt.Sprintf("%d, 0", n), fmt.Sprintf("%d, %d", s.Read, s.Pending), s.Read == int64(n) && s.Pending == 0)
	res.add("row outcomes c/u/=/s/f", outcomesString(want), outcomesString(summaryOutcomes(&s)), maps2Equal(want, summaryOutcomes(&s)))
	res.add("requests (summary, polls included)", "<= 130", strconv.FormatInt(s.Requests, 10), s.Requests <= 130)
	var emails []string
	check(func(email string) map[string]string { emails = append(emails, email); return nil })
	contacts, err := readContacts(ctx, sb.URL, emails)
	if serr := sb.Stop(); err == nil {
		err = serr
	}
	if err != nil {
		return res, err
	}
	bad := check(func(email string) map[string]string {
		if c, ok := contacts[email]; ok {
			return c
		}
		return nil
	})
	res.add("contacts checked", "as the file's last rows", fmt.Sprintf("%d wrong", len(bad)), len(bad) == 0)
	for _, b := range bad {
		res.notef("%s", b)
	}
	res.add("peak RSS", "< 64 MB", rssText(r.PeakRSS), rssUnder(r.PeakRSS, maxBulkImportRSS))
	return res, nil
}
