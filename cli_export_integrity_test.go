package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ctctbulk/exporter"
	"ctctbulk/sandbox"
)

// serveSandbox serves a sandbox of n seeded contacts over loopback HTTP,
// as a real account, and returns the CTCT_* environment of it and its
// target.
func serveSandbox(t *testing.T, n int) (env map[string]string, target string) {
	t.Helper()
	cfg := sandbox.Options{DB: filepath.Join(t.TempDir(), "account.db"), RandSeed: 5}
	sb, err := sandbox.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	if err := sb.Seed(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	env = map[string]string{"CTCT_BASE_URL": srv.URL, "CTCT_USERNAME": sandbox.DefaultUser, "CTCT_API_KEY": sandbox.DefaultAPIKey, "CTCT_PASSWORD": sandbox.DefaultPassword}
	return env, accountTarget(srv.URL, sandbox.DefaultUser)
}

// snapshot returns the content of every file in dir by name.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[de.Name()] = string(b)
	}
	return files
}

// TestExportCronWrongTarget is the cron job of issue 8 item 3: a nightly
// "export --state s.state -o out.csv" ran against the account; one night
// the CTCT_* variables are missing and the run falls back to the built-in
// sandbox. It must refuse (exit 2) and name both targets, with the state,
// the output and its manifest as they were, so that the next run against
// the account still exports every change.
func TestExportCronWrongTarget(t *testing.T) {
	env, account := serveSandbox(t, 30)
	work := t.TempDir()
	t.Chdir(work) // the built-in sandbox is ./ctct-sandbox.db
	args := append([]string{"--state", "s.state", "-o", "out.csv", "--summary-json", "summary.json"}, fast...)
	code, stdout, stderr := exportCLI(t.Context(), env, io.Discard, args...)
	if code != exitOK {
		t.Fatalf("run against the account: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "target: "+account+"\n") {
		t.Errorf("summary %q does not start with the target %q", stdout, account)
	}
	if st, err := exporter.ReadState("s.state"); err != nil || st.Target != account {
		t.Errorf("state %+v, %v: want target %q", st, err, account)
	}
	before := snapshot(t, work)

	code, stdout, stderr = exportCLI(t.Context(), nil, io.Discard, args...)
	builtin := sandboxTarget(filepath.Join(work, defaultSandboxDB))
	if code != exitUsage {
		t.Errorf("run with no CTCT_* variables: exit %d, want %d\nstdout %q\nstderr %q", code, exitUsage, stdout, stderr)
	}
	for _, s := range []string{"built-in sandbox", account, builtin, "another state file", "state file is unchanged", "CTCT_USERNAME"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr does not say %q:\n%s", s, stderr)
		}
	}
	after := snapshot(t, work)
	for name, content := range before {
		if after[name] != content {
			t.Errorf("%s changed:\n%s\nwas:\n%s", name, after[name], content)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && !strings.HasPrefix(name, defaultSandboxDB) {
			t.Errorf("new file %s", name)
		}
	}

	// Back on the account, the state is still this account's.
	if code, stdout, stderr = exportCLI(t.Context(), env, io.Discard, args...); code != exitOK || !strings.Contains(stdout, "changed since") {
		t.Errorf("next run against the account: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestExportNamesTarget: every export summary (text on stdout or, when the
// CSV goes to stdout, on stderr; JSON) and the lists command name the
// target; an output whose manifest names another target is not replaced.
func TestExportNamesTarget(t *testing.T) {
	db := seededDB(t, 20)
	target := sandboxTarget(db)
	dir := t.TempDir()
	out, js := filepath.Join(dir, "out.csv"), filepath.Join(dir, "summary.json")
	tests := []struct {
		name   string
		args   []string
		stdout string
		stderr string
	}{
		{"to a file", []string{"export", "--sandbox", db, "-o", out, "--summary-json", js}, "target: " + target + "\n", ""},
		{"to stdout", []string{"export", "--sandbox", db, "--summary-json", js}, "Id,", "target: " + target + "\n"},
		{"lists", []string{"lists", "--sandbox", db}, "General Interest", "target: " + target + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(js)
			code, stdout, stderr := runCLI(t, nil, append(tt.args, fast...)...)
			if code != exitOK || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q and %q", code, stdout, stderr, tt.stdout, tt.stderr)
			}
			if tt.args[0] != "export" {
				return
			}
			var sum exporter.Summary
			if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &sum) != nil || sum.Target != target {
				t.Errorf("JSON summary target %q (%v), want %q", sum.Target, err, target)
			}
		})
	}

	// out.csv came from db: an export from another sandbox into it is
	// refused, and says what to do.
	before := snapshot(t, dir)
	other := seededDB(t, 5)
	code, stdout, stderr := runCLI(t, nil, append([]string{"export", "--sandbox", other, "-o", out}, fast...)...)
	if code != exitUsage || !strings.Contains(stderr, target) || !strings.Contains(stderr, sandboxTarget(other)) ||
		!strings.Contains(stderr, "remove "+out) || stdout != "" {
		t.Errorf("export over another target's file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if after := snapshot(t, dir); !maps.Equal(before, after) {
		t.Errorf("files changed by a refused export")
	}
}

// TestSummaryExportReimport is issue 8 item 4: a summary export imported
// again with --empty clear leaves the fields it never fetched alone,
// because it does not write their columns.
func TestSummaryExportReimport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	seed := filepath.Join(dir, "seed.csv")
	const fields = "EmailAddress,FirstName,LastName,HomePhone,WorkPhone,City,CustomField3\n"
	const row = "ann@example.com,Ann,Lee,+1 555 0100,+1 555 0101,Lyon,gold\n"
	if err := os.WriteFile(seed, []byte(fields+row), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := func(args ...string) {
		t.Helper()
		base := []string{"import", "--via", "contacts", "--sandbox", db, "--errors", filepath.Join(dir, "errors.csv"), "--journal", filepath.Join(dir, "journal")}
		if code, stdout, stderr := runCLI(t, nil, append(append(base, fast...), args...)...); code != exitOK {
			t.Fatalf("import %v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
	}
	imp("--list", "1", seed)

	summary := filepath.Join(dir, "summary.csv")
	if code, _, stderr := runCLI(t, nil, append([]string{"export", "--sandbox", db, "--detail", "summary", "-o", summary}, fast...)...); code != exitOK {
		t.Fatalf("summary export: exit %d: %s", code, stderr)
	}
	if h := readCSV(t, summary)[0]; slices.Contains(h, "FirstName") || !slices.Contains(h, "EmailAddress") {
		t.Errorf("summary export header %q", h)
	}
	imp("--empty", "clear", summary)

	code, stdout, stderr := runCLI(t, nil, append([]string{"export", "--sandbox", db, "--via", "contacts", "--raw"}, fast...)...)
	if code != exitOK {
		t.Fatalf("full export: exit %d: %s", code, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("full export: %d records, %v", len(recs), err)
	}
	want, _ := csv.NewReader(bytes.NewReader([]byte(fields + row))).ReadAll()
	for i, name := range want[0] {
		if j := slices.Index(recs[0], name); j < 0 || recs[1][j] != want[1][i] {
			t.Errorf("%s = %q after the re-import, want %q", name, recs[1][max(j, 0)], want[1][i])
		}
	}
}

// TestExportStaleTempCLI is issue 8 item 13 at the command line: the
// temporary file a killed export left beside its output is removed by the
// next export of that file, which says so on stderr in one line.
func TestExportStaleTempCLI(t *testing.T) {
	db := seededDB(t, 10)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.csv")
	stale := filepath.Join(dir, ".out.csv.2718281828.tmp")
	if err := os.WriteFile(stale, []byte("Id,Status\n1,Act"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, nil, append([]string{"export", "--sandbox", db, "-o", out}, fast...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, stale) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "removed") {
		t.Errorf("stderr %q: want one line that says %s was removed", stderr, stale)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", stale, err)
	}
}
