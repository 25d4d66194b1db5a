package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
		{[]string{"--via", "activities", "--state", "s.json"}, "update time"},
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
	if b, err := os.ReadFile(sumPath); err != nil || json.Unmarshal(b, &sum) != nil || sum.Rows != n || sum.Requests != n+3 {
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
	if !strings.Contains(stderr, fmt.Sprintf("contacts written %d", n)) || !strings.Contains(stderr, "requests 2 (GET 2)") {
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

// TestExportViaActivitiesCLI: with no --via, a whole-account export runs
// bulk export jobs in a few requests, says so in its summary and
// manifest, and writes the canonical header with the bulk columns equal
// to those of an export through the collection.
func TestExportViaActivitiesCLI(t *testing.T) {
	const n = 200
	db := seededDB(t, n)
	dir := t.TempDir()
	bulk, exact := filepath.Join(dir, "bulk.csv"), filepath.Join(dir, "exact.csv")
	sumPath := filepath.Join(dir, "summary.json")
	code, stdout, stderr := exportCLI(t.Context(), nil, io.Discard, append([]string{"--sandbox", db, "-o", bulk, "--summary-json", sumPath}, fast...)...)
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
	byEmail := func(path string) (map[string][]string, map[string]int) {
		recs := readCSV(t, path)
		if strings.Join(recs[0], ",") != strings.Join(mapping.ExportHeader(), ",") {
			t.Fatalf("%s: header %q", path, recs[0])
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
	got, col := byEmail(bulk)
	want, _ := byEmail(exact)
	if len(got) != n || len(want) != n {
		t.Fatalf("%d and %d contacts, want %d", len(got), len(want), n)
	}
	for email, w := range want {
		for _, f := range ctct.BulkFields() {
			if g := got[email]; g == nil || g[col[f.Name]] != w[col[f.Name]] {
				t.Errorf("%s: %s differs: %q, the collection has %q", email, f.Name, g, w[col[f.Name]])
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
func checkOnly(t *testing.T, dir, path, want string) {
	t.Helper()
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
