package main

import (
	"bytes"
	"context"
	"ctctbulk/importer"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/mapping"
	"ctctbulk/sandbox"
)

// exportCLI runs "ctctbulk export ARGS" through run, with stderr going to
// errw as well as to the returned string.
func exportCLI(ctx context.Context, env map[string]string, errw io.Writer, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(ctx, append([]string{"export"}, args...), strings.NewReader(""), &out, io.MultiWriter(&errb, errw), getenv)
	return code, out.String(), errb.String()
}

// seededDB returns a sandbox file holding n seeded contacts.
func seededDB(t *testing.T, n int) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "sandbox.db")
	cfg := sandbox.Options{}
	cfg.DB, cfg.RandSeed = db, 3
	sb, err := sandbox.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if err := sb.Seed(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	return db
}

// fast are connection flags that take the client's rate limit out of the
// way of a test.
var fast = []string{"--rate", "100000", "--burst", "100"}

func TestExportUsage(t *testing.T) {
	// A state file with a high-water mark: its runs are incremental.
	marked := filepath.Join(t.TempDir(), "marked.state")
	if err := exporter.WriteState(marked, exporter.State{HighWaterMark: time.Now().Add(-time.Hour), Status: "all"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"extra"}, "takes no arguments"},
		{[]string{"--status", "gone"}, "--status must be"},
		{[]string{"--detail", "most"}, "--detail must be"},
		{[]string{"--since", "soon"}, "--since"},
		{[]string{"--since", "2024-01-01", "--state", "s.json"}, "exclusive"},
		{[]string{"--email", "a@example.com", "--list", "1"}, "--email cannot be combined"},
		{[]string{"--file-mode", "999"}, "--file-mode"},
		{[]string{"--file-mode", "0"}, "--file-mode"},
		{[]string{"--workers", "0"}, "--workers"},
		{[]string{"--overlap", "-1m"}, "--overlap"},
		{[]string{"--list", "active"}, "use the status"},
		{[]string{"--via", "bulk"}, "--via must be auto, contacts or activities"},
		{[]string{"--via", "activities", "--state", marked}, "update time"},
		{[]string{"--via", "activities", "--since", "2024-01-01"}, "update time"},
		{[]string{"--via", "activities", "--email", "a@example.com"}, "emails"},
		{[]string{"--via", "activities", "--detail", "summary"}, "summary"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
	}
	db := filepath.Join(t.TempDir(), "s.db")
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := exportCLI(t.Context(), nil, io.Discard, append([]string{"--sandbox", db}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.stderr) || stdout != "" {
				t.Errorf("code %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, exitUsage, tt.stderr)
			}
		})
	}
}

func TestParseFileMode(t *testing.T) {
	tests := []struct {
		in   string
		want os.FileMode
	}{
		{"0600", 0o600}, {"640", 0o640}, {"0o644", 0o644}, {"0777", 0o777},
		{"0", 0}, {"1000", 0}, {"rw", 0}, {"-1", 0}, {"", 0},
	}
	for _, tt := range tests {
		got, err := parseFileMode(tt.in)
		if (err != nil) != (tt.want == 0) || got != tt.want {
			t.Errorf("parseFileMode(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestExportToFile(t *testing.T) {
	const n = 120
	db := seededDB(t, n)
	dir := t.TempDir()
	out := filepath.Join(dir, "contacts.csv")
	sumPath := filepath.Join(dir, "summary.json")
	state := filepath.Join(dir, "state.json")
	args := append([]string{"--sandbox", db, "-o", out, "--file-mode", "0640", "--summary-json", sumPath, "--state", state}, fast...)
	code, stdout, stderr := exportCLI(t.Context(), nil, io.Discard, args...)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("contacts written %d", n)) || !strings.Contains(stdout, "output "+out) {
		t.Errorf("summary on stdout: %q", stdout)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("output: %v %v", fi, err)
	}
	m, err := exporter.VerifyFile(out)
	if err != nil || m.Rows != n || m.ToolVersion != version {
		t.Errorf("manifest %+v, %v", m, err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != n+1 || strings.Join(recs[0], ",") != strings.Join(mapping.ExportHeader(), ",") {
		t.Errorf("csv: %d records, %v", len(recs), err)
	}
	var sum exporter.Summary
	// A lists read for the progress total, one to choose the way (the
	// collection: the account is small at this rate), 3 pages, a GET per
	// contact: every request of the run is counted.
	if b, err := os.ReadFile(sumPath); err != nil || json.Unmarshal(b, &sum) != nil || sum.Rows != n || sum.Requests != n+5 || sum.Via != "contacts" {
		t.Errorf("summary json %+v: %v", sum, err)
	}
	if st, err := exporter.ReadState(state); err != nil || st == nil || st.HighWaterMark.Format("2006-01-02T15:04:05.000Z") != sum.HighWaterMark {
		t.Errorf("state %+v, %v; summary mark %s", st, err, sum.HighWaterMark)
	}

	// The next run is incremental: nothing changed, nothing exported.
	code, stdout, _ = exportCLI(t.Context(), nil, io.Discard, args...)
	if code != exitOK || !strings.Contains(stdout, "contacts written 0") || !strings.Contains(stdout, "changed since") {
		t.Errorf("incremental run: exit %d, %q", code, stdout)
	}
}

func TestExportToStdout(t *testing.T) {
	const n = 80
	db := seededDB(t, n)
	code, stdout, stderr := exportCLI(t.Context(), nil, io.Discard, append([]string{"--sandbox", db, "--detail", "summary", "--raw"}, fast...)...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(recs) != n+1 {
		t.Fatalf("stdout is not the CSV: %d records, %v\n%s", len(recs), err, stdout)
	}
	if !strings.Contains(stderr, fmt.Sprintf("contacts written %d", n)) || !strings.Contains(stderr, "requests 3 (GET 3)") { // the total, 2 pages
		t.Errorf("summary on stderr: %q", stderr)
	}
}

// cancelOnWrite cancels a context at the first write that contains want.
type cancelOnWrite struct {
	mu     sync.Mutex
	want   string
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Contains(string(p), c.want) {
		c.cancel()
	}
	return len(p), nil
}

// TestExportInterruptedCLI: interrupted while it runs (the first progress
// line cancels it), export exits 130 and leaves the previous file, and no
// other, in place, whichever way it goes.
func TestExportInterruptedCLI(t *testing.T) {
	db := seededDB(t, 300)
	for _, via := range []string{"contacts", "activities"} {
		t.Run(via, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "contacts.csv")
			if err := os.WriteFile(out, []byte("previous\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			code, _, stderr := exportCLI(ctx, nil, &cancelOnWrite{want: " export: ", cancel: cancel},
				append([]string{"--sandbox", db, "--via", via, "-o", out, "--log-every", "1ms"}, fast...)...)
			if code != exitInterrupted || !strings.Contains(stderr, "is left as it was") {
				t.Errorf("exit %d, stderr %q; want %d", code, stderr, exitInterrupted)
			}
			checkOnly(t, dir, out, "previous\n")
		})
	}
}

// TestExportViaActivitiesCLI: with no --via, a whole-account export that
// the collection would make slow runs bulk export jobs in a few requests,
// says so in its summary and manifest, and writes the canonical header
// without the columns jobs cannot fill, the bulk columns equal to those of
// an export through the collection.
func TestExportViaActivitiesCLI(t *testing.T) {
	const n = 200
	db := seededDB(t, n)
	dir := t.TempDir()
	bulk, exact := filepath.Join(dir, "bulk.csv"), filepath.Join(dir, "exact.csv")
	sumPath := filepath.Join(dir, "summary.json")
	// At 2 requests a second the collection's 204 requests would take
	// 100 s: auto takes jobs (the burst lets their few requests through
	// at once).
	code, stdout, stderr := exportCLI(t.Context(), nil, io.Discard, "--sandbox", db, "-o", bulk, "--summary-json", sumPath, "--rate", "2", "--burst", "100")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("contacts written %d (%d in the files of 3 export jobs", n, n)) {
		t.Errorf("summary on stdout: %q", stdout)
	}
	var sum exporter.Summary
	if b, err := os.ReadFile(sumPath); err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary json: %v", err)
	}
	// One lists read, three POSTs, three files, and the polls.
	if sum.Via != "activities" || sum.Jobs != 3 || sum.Requests < 7 || sum.Requests > 20 || sum.ByMethod["POST"] != 3 {
		t.Errorf("summary %+v: want 3 jobs through activities in 7 to 20 requests", sum)
	}
	if m, err := exporter.VerifyFile(bulk); err != nil || m.Via != "activities" || m.Rows != n {
		t.Errorf("manifest %+v, %v", m, err)
	}
	if code, _, stderr := exportCLI(t.Context(), nil, io.Discard, append([]string{"--sandbox", db, "--via", "contacts", "-o", exact}, fast...)...); code != exitOK {
		t.Fatalf("--via contacts: exit %d: %s", code, stderr)
	}
	byEmail := func(path string, header []string) (map[string][]string, map[string]int) {
		recs := readCSV(t, path)
		if strings.Join(recs[0], ",") != strings.Join(header, ",") {
			t.Fatalf("%s: header %q, want %q", path, recs[0], header)
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		m := map[string][]string{}
		for _, r := range recs[1:] {
			m[r[col["EmailAddress"]]] = r
		}
		return m, col
	}
	// The bulk file: the export header less the columns jobs cannot fill.
	left := map[string]bool{}
	for _, c := range exporter.BulkEmptyColumns() {
		left[c] = true
	}
	var bulkHeader []string
	for _, c := range mapping.ExportHeader() {
		if !left[c] {
			bulkHeader = append(bulkHeader, c)
		}
	}
	got, col := byEmail(bulk, bulkHeader)
	want, wcol := byEmail(exact, mapping.ExportHeader())
	if len(got) != n || len(want) != n {
		t.Fatalf("%d and %d contacts, want %d", len(got), len(want), n)
	}
	for email, w := range want {
		for _, f := range ctct.BulkFields() {
			if g := got[email]; g == nil || g[col[f.Name]] != w[wcol[f.Name]] {
				t.Errorf("%s: %s differs: %q, the collection has %q", email, f.Name, g, w[wcol[f.Name]])
				break
			}
		}
	}
}

// TestExportFailedCLI: an unreachable server is fatal (exit 1) and leaves
// the previous file in place.
func TestExportFailedCLI(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(out, []byte("previous\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CTCT_USERNAME": "joe", "CTCT_ACCESS_TOKEN": "t0ps3cret", "CTCT_BASE_URL": "http://127.0.0.1:1"}
	code, stdout, stderr := exportCLI(t.Context(), env, io.Discard, "-o", out, "--retries", "0")
	if code != exitFatal || strings.Contains(stdout+stderr, "t0ps3cret") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	checkOnly(t, dir, out, "previous\n")
}

// checkOnly checks that dir holds the file path alone, with content want.
//
// The run report beside it is the one other file: a run that stopped
// says so in it (and it is removed here).
func checkOnly(t *testing.T, dir, path, want string) {
	t.Helper()
	page := path + ".report.html"
	if b, err := os.ReadFile(page); err != nil || !bytes.Contains(b, []byte("stopped: ")) {
		t.Errorf("run report %s: %v; want one that says the run stopped", page, err)
	}
	os.Remove(page)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files: %q, want %s alone", names, filepath.Base(path))
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != want {
		t.Errorf("%s = %q, %v; want it untouched", path, b, err)
	}
}

// TestExportReimportsSafely: the default export of a big account (bulk
// jobs) imported back with --empty clear changes nothing: its file has no
// column it could not fill, so no blank cell stands for a value it never
// read (CountryName, the opt-out data), and every row goes in bulk or is
// unchanged; the account read back through the collection is the same,
// column for column.
func TestExportReimportsSafely(t *testing.T) {
	const n = 300
	db := seededDB(t, n)
	dir := t.TempDir()
	before, all, after := filepath.Join(dir, "before.csv"), filepath.Join(dir, "all.csv"), filepath.Join(dir, "after.csv")
	if code, _, stderr := exportCLI(t.Context(), nil, io.Discard, append([]string{"--sandbox", db, "--via", "contacts", "-o", before}, fast...)...); code != exitOK {
		t.Fatalf("export --via contacts: exit %d: %s", code, stderr)
	}
	sumPath := filepath.Join(dir, "export.json")
	if code, _, stderr := exportCLI(t.Context(), nil, io.Discard, "--sandbox", db, "-o", all, "--summary-json", sumPath, "--rate", "2", "--burst", "100"); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	var es exporter.Summary
	if b, err := os.ReadFile(sumPath); err != nil || json.Unmarshal(b, &es) != nil || es.Via != "activities" || !slices.Contains(es.LeftOut, "CountryName") {
		t.Fatalf("export summary %+v: want activities, CountryName left out", es)
	}

	code, stdout, stderr := runCLI(t, nil, append([]string{"import", "--sandbox", db, "--empty", "clear", "--summary-json", filepath.Join(dir, "import.json"), all}, fast...)...)
	var is importer.Summary
	if b, err := os.ReadFile(filepath.Join(dir, "import.json")); err != nil || json.Unmarshal(b, &is) != nil {
		t.Fatalf("import: exit %d: %s%s", code, stdout, stderr)
	}
	// Removed contacts are skipped (importing them would subscribe them).
	if is.Created+is.Updated != 0 || is.Unchanged+is.Skipped != n || is.Failed != 0 {
		t.Errorf("re-import: %d created, %d updated, %d unchanged, %d skipped, %d failed; want every row unchanged or skipped",
			is.Created, is.Updated, is.Unchanged, is.Skipped, is.Failed)
	}
	// Only the Do Not Mail rows take the collection (no job opts out).
	var carried int64
	for _, k := range is.OptOutsCarried {
		carried += k
	}
	if carried == 0 || is.ContactsRows != carried {
		t.Errorf("%d rows went through the contacts collection, %d opt-outs carried: only those should", is.ContactsRows, carried)
	}

	if code, _, stderr := exportCLI(t.Context(), nil, io.Discard, append([]string{"--sandbox", db, "--via", "contacts", "-o", after}, fast...)...); code != exitOK {
		t.Fatalf("export --via contacts: exit %d: %s", code, stderr)
	}
	b, a := readCSV(t, before), readCSV(t, after)
	if len(a) != len(b) {
		t.Fatalf("%d rows after, %d before", len(a)-1, len(b)-1)
	}
	last := slices.Index(b[0], "LastUpdateTime")
	changed := 0
	for i := 1; i < len(b); i++ {
		for j := range b[i] {
			if j != last && b[i][j] != a[i][j] {
				changed++
				if changed < 5 {
					t.Errorf("%s: %s was %q, is %q", b[i][slices.Index(b[0], "EmailAddress")], b[0][j], b[i][j], a[i][j])
				}
			}
		}
	}
	if changed > 0 {
		t.Errorf("%d cells changed", changed)
	}
}
