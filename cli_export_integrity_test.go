package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

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
		base := []string{"import", "--sandbox", db, "--errors", filepath.Join(dir, "errors.csv"), "--journal", filepath.Join(dir, "journal")}
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

	code, stdout, stderr := runCLI(t, nil, append([]string{"export", "--sandbox", db, "--raw"}, fast...)...)
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
