package main

// Regression tests of the paths where rows, fields or opt-outs used to
// vanish without an error: each drives the real command line against a
// sandbox file, over HTTP, and counts what came out against what went in.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"ctctbulk/importer"
	"ctctbulk/lockfile"
)

// importEnv is a directory with a sandbox file, and the flags every import
// of a test shares.
type importEnv struct {
	t   *testing.T
	dir string
	db  string
}

func newImportEnv(t *testing.T) *importEnv {
	t.Helper()
	dir := t.TempDir()
	return &importEnv{t: t, dir: dir, db: filepath.Join(dir, "s.db")}
}

// write writes a file in the directory and returns its path.
func (e *importEnv) write(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// importCLI runs import on the sandbox file with a fast rate, and returns
// the exit code, the outputs and the JSON summary (nil when none).
func (e *importEnv) importCLI(stdin string, args ...string) (int, string, string, *importer.Summary) {
	e.t.Helper()
	sumPath := filepath.Join(e.dir, "summary.json")
	os.Remove(sumPath)
	full := append([]string{"import", "--via", "contacts", "--sandbox", e.db, "--summary-json", sumPath}, fast...)
	full = append(full, args...)
	var out, errb bytes.Buffer
	code := run(context.Background(), full, strings.NewReader(stdin), &out, &errb, func(string) string { return "" })
	var sum *importer.Summary
	if b, err := os.ReadFile(sumPath); err == nil {
		sum = new(importer.Summary)
		if err := json.Unmarshal(b, sum); err != nil {
			e.t.Fatal(err)
		}
	}
	return code, out.String(), errb.String(), sum
}

// contacts exports the sandbox and returns each contact's columns by email.
func (e *importEnv) contacts() map[string]map[string]string {
	e.t.Helper()
	out := filepath.Join(e.dir, fmt.Sprintf("export-%d.csv", time.Now().UnixNano()))
	if code, _, stderr := runCLI(e.t, nil, append([]string{"export", "--sandbox", e.db, "--via", "contacts", "--raw", "-o", out}, fast...)...); code != exitOK {
		e.t.Fatalf("export: exit %d: %s", code, stderr)
	}
	recs := readCSV(e.t, out)
	byEmail := map[string]map[string]string{}
	for _, r := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = r[i]
		}
		byEmail[row["EmailAddress"]] = row
	}
	return byEmail
}

// reportRows reads an error report as maps of column to cell.
func reportRows(t *testing.T, path string, comma rune) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := importer.NewCSVReader(bytes.NewReader(b), importer.ReaderOptions{Delimiter: comma})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for {
		row, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil || row.Err != nil {
			t.Fatalf("report row: %v %v", err, row.Err)
		}
		m := map[string]string{}
		for i, h := range rd.Header() {
			m[h] = row.Cells[i]
		}
		out = append(out, m)
	}
}

func checkAccounted(t *testing.T, s *importer.Summary) {
	t.Helper()
	if s == nil {
		t.Fatal("no summary")
	}
	if s.Finished()+s.Pending != s.Read {
		t.Errorf("counts do not add up: %+v", s)
	}
}

// Item 1: an unterminated quote swallowed every later row.
func TestImportUnterminatedQuoteLosesNoRow(t *testing.T) {
	e := newImportEnv(t)
	in := e.write("in.csv", "Email,First Name,Notes\n"+
		"m1@example.com,M1,a\n"+
		"m2@example.com,M2,\"unterminated\n"+
		"m3@example.com,M3,b\n"+
		"m4@example.com,M4,c\n"+
		"m5@example.com,\"M5\",\"quoted, fine\"\n"+
		"m6@example.com,M6,\"open again\n")
	code, stdout, _, sum := e.importCLI("", "--list", "1", in)
	if code != exitRowsFailed {
		t.Fatalf("exit %d, want 3", code)
	}
	checkAccounted(t, sum)
	if sum.Read != 6 || sum.Created != 4 || sum.Failed != 2 || sum.Unparsed != 2 {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(stdout, "unparsed lines 2") {
		t.Errorf("summary text does not count the unparsed lines: %q", stdout)
	}
	cs := e.contacts()
	for _, email := range []string{"m1@example.com", "m3@example.com", "m4@example.com", "m5@example.com"} {
		if cs[email] == nil {
			t.Errorf("%s was not imported", email)
		}
	}
	rep := reportRows(t, in+".errors.csv", ',')
	if len(rep) != 2 {
		t.Fatalf("report rows %v", rep)
	}
	if r := rep[0]; r["_line"] != "3" || r["_raw"] != `m2@example.com,M2,"unterminated` || r["Email"] != "m2@example.com" ||
		!strings.Contains(r["_error"], "line 3: a quote opens a cell that never closes") {
		t.Errorf("report row %v", r)
	}
	if r := rep[1]; r["_line"] != "7" || r["_raw"] != `m6@example.com,M6,"open again` {
		t.Errorf("report row %v", r)
	}
}

// Item 2: a resume after the file changed skipped rows with exit 0.
func TestImportResumeRefusesAnEditedInput(t *testing.T) {
	e := newImportEnv(t)
	var b strings.Builder
	b.WriteString("Email,First Name\n")
	for i := range 60 {
		fmt.Fprintf(&b, "r%d@example.com,R%d\n", i, i)
	}
	in := e.write("in.csv", b.String())
	if code, _, _, _ := e.importCLI("", "--list", "1", "--max-requests", "20", in); code != exitBudget {
		t.Fatalf("first run: exit %d, want 4", code)
	}
	// Rows inserted after the header shift every line.
	edited := strings.Replace(b.String(), "First Name\n", "First Name\nnew1@example.com,N1\nnew2@example.com,N2\n", 1)
	e.write("in.csv", edited)
	code, _, stderr, _ := e.importCLI("", "--list", "1", "--resume", in)
	if code != exitUsage || !strings.Contains(stderr, "no longer in the input as they were") || !strings.Contains(stderr, "--resume --recheck") {
		t.Fatalf("resume of an edited file: exit %d, %q", code, stderr)
	}
	if cs := e.contacts(); cs["new1@example.com"] != nil {
		t.Fatal("the refused resume sent rows")
	}
	code, _, stderr, sum := e.importCLI("", "--list", "1", "--resume", "--recheck", in)
	if code != exitOK {
		t.Fatalf("--recheck: exit %d: %s", code, stderr)
	}
	checkAccounted(t, sum)
	cs := e.contacts()
	if len(cs) != 62 || cs["new1@example.com"] == nil || cs["new2@example.com"] == nil {
		t.Errorf("%d contacts after --recheck, want 62", len(cs))
	}
	if sum.Read != 62 || sum.Created+sum.Unchanged != 62 || sum.Unchanged == 0 {
		t.Errorf("summary %+v", sum)
	}
}

// Item 2, stdin: a journal of another input is never applied.
func TestImportResumeRefusesAnotherStdin(t *testing.T) {
	e := newImportEnv(t)
	journal := filepath.Join(e.dir, "stdin.journal")
	var first strings.Builder
	first.WriteString("Email\n")
	for i := range 60 {
		fmt.Fprintf(&first, "a%d@example.com\n", i)
	}
	args := []string{"--list", "1", "--journal", journal, "--errors", filepath.Join(e.dir, "stdin.errors.csv")}
	if code, _, _, _ := e.importCLI(first.String(), append(args, "--max-requests", "10", "-")...); code != exitBudget {
		t.Fatalf("first run: exit %d", code)
	}
	other := strings.ReplaceAll(first.String(), "a", "b")
	other = strings.Replace(other, "Embil", "Email", 1)
	code, _, stderr, _ := e.importCLI(other, append(args, "--resume", "-")...)
	if code != exitUsage || !strings.Contains(stderr, "no longer in the input") {
		t.Fatalf("resume with another stdin: exit %d, %q", code, stderr)
	}
	// The same input resumes and finishes.
	code, _, stderr, sum := e.importCLI(first.String(), append(args, "--resume", "-")...)
	if code != exitOK || sum.Resumed == 0 || sum.Resumed+sum.Read != 60 {
		t.Fatalf("resume with the same stdin: exit %d, %q, %+v", code, stderr, sum)
	}
	if n := len(e.contacts()); n != 60 {
		t.Errorf("%d contacts, want 60", n)
	}
}

// Item 3, import side: a journal records its target, and a resume against
// another one is refused; the summary names the target.
func TestImportJournalBoundToTarget(t *testing.T) {
	e := newImportEnv(t)
	var b strings.Builder
	b.WriteString("Email\n")
	for i := range 60 {
		fmt.Fprintf(&b, "t%d@example.com\n", i)
	}
	in := e.write("in.csv", b.String())
	code, stdout, _, sum := e.importCLI("", "--list", "1", "--max-requests", "10", in)
	if code != exitBudget || sum.Target != sandboxTarget(e.db) || !strings.Contains(stdout, "target: sandbox "+e.db) {
		t.Fatalf("first run: exit %d, target %q, %q", code, sum.Target, stdout)
	}
	other := filepath.Join(e.dir, "other.db")
	full := append([]string{"import", "--via", "contacts", "--sandbox", other, "--list", "1", "--resume"}, fast...)
	code, _, stderr := runCLI(t, nil, append(full, in)...)
	if code != exitUsage || !strings.Contains(stderr, e.db) || !strings.Contains(stderr, other) {
		t.Fatalf("resume against another sandbox: exit %d, %q", code, stderr)
	}
}

// Item 5: a Do Not Mail row was created Active.
func TestImportCarriesOptOuts(t *testing.T) {
	e := newImportEnv(t)
	seed := e.write("seed.csv", "Email,First Name\nexisting@example.com,Ex\nkept@example.com,Kept\n")
	if code, _, stderr, _ := e.importCLI("", "--list", "1", seed); code != exitOK {
		t.Fatalf("seed: exit %d: %s", code, stderr)
	}
	in := e.write("in.csv", "EmailAddress,FirstName,Status\n"+
		"gone@example.com,Gone,Do Not Mail\n"+
		"existing@example.com,Ex,Do Not Mail\n"+
		"removed@example.com,Rem,Removed\n"+
		"active@example.com,Act,Active\n")
	code, stdout, stderr, sum := e.importCLI("", "--list", "1", in)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkAccounted(t, sum)
	if sum.Created != 2 || sum.Updated != 1 || sum.Skipped != 1 || sum.OptedOut != 2 || !strings.Contains(stdout, "opt-outs carried over (Do Not Mail) 2: Status=do not mail 2") {
		t.Errorf("summary %+v", sum)
	}
	cs := e.contacts()
	for email, want := range map[string]string{
		"gone@example.com": "Do Not Mail", "existing@example.com": "Do Not Mail", "active@example.com": "Active", "kept@example.com": "Active",
	} {
		if c := cs[email]; c == nil || c["Status"] != want {
			t.Errorf("%s: %v, want status %s", email, c, want)
		}
	}
	if cs["removed@example.com"] != nil {
		t.Error("a Removed row was imported")
	}
	rep := reportRows(t, in+".errors.csv", ',')
	if len(rep) != 1 || rep[0]["_status"] != "skipped" || !strings.Contains(rep[0]["_error"], "Removed") {
		t.Errorf("report %v", rep)
	}
	// --opt-outs skip reports the opt-out and leaves the contact alone.
	in2 := e.write("in2.csv", "EmailAddress,Status\nkept@example.com,Do Not Mail\n")
	code, _, _, sum = e.importCLI("", "--list", "1", "--opt-outs", "skip", in2)
	if code != exitOK || sum.Skipped != 1 {
		t.Errorf("--opt-outs skip: exit %d, %+v", code, sum)
	}
	if c := e.contacts()["kept@example.com"]; c["Status"] != "Active" {
		t.Errorf("--opt-outs skip changed the contact: %v", c)
	}
}

// Items 6 and 10: a run refused for a bad option wrote nothing, and an
// unknown list was found by the server row by row.
func TestImportRefusedRunWritesNothing(t *testing.T) {
	e := newImportEnv(t)
	in := e.write("in.csv", "Email\nx@example.com\nbad-email\n")
	report := in + ".errors.csv"
	const old = "earlier report\n"
	e.write("in.csv.errors.csv", old)
	for _, list := range []string{"Nope", "99"} {
		code, _, stderr, _ := e.importCLI("", "--list", list, in)
		if code != exitUsage || !strings.Contains(stderr, "no list has the number or name") {
			t.Errorf("--list %s: exit %d, %q", list, code, stderr)
		}
	}
	if b, _ := os.ReadFile(report); string(b) != old {
		t.Errorf("the earlier report was changed: %q", b)
	}
	if _, err := os.Stat(in + ".journal"); !os.IsNotExist(err) {
		t.Errorf("a refused run left a journal: %v", err)
	}
	if n := len(e.contacts()); n != 0 {
		t.Errorf("%d contacts created by refused runs", n)
	}
	// A dry run writes its own report.
	code, _, _, _ := e.importCLI("", "--dry-run", "--list", "1", in)
	if code != exitRowsFailed {
		t.Errorf("dry run: exit %d", code)
	}
	if b, _ := os.ReadFile(report); string(b) != old {
		t.Errorf("the dry run changed the real report: %q", b)
	}
	if rep := reportRows(t, filepath.Join(e.dir, "in.csv.dry-run.errors.csv"), ','); len(rep) != 1 || rep[0]["_line"] != "3" {
		t.Errorf("dry-run report %v", rep)
	}
}

// Item 7: the report dropped extra cells, blanked bad ones and lost the
// input's encoding and order.
func TestImportReportKeepsTheRealRow(t *testing.T) {
	e := newImportEnv(t)
	var b strings.Builder
	b.WriteString("Email;First Name;City\n")
	for i := range 40 {
		fmt.Fprintf(&b, "bad%d;Bad%d;Zürich\n", i, i) // invalid emails, reported in order
	}
	b.WriteString("ok@example.com;Ann;Köln;extra one;extra;two\n")
	b.WriteString("late@example.com;Late;Paris\n")
	enc, err := charmap.Windows1252.NewEncoder().String(b.String())
	if err != nil {
		t.Fatal(err)
	}
	in := e.write("in.csv", enc)
	code, _, _, sum := e.importCLI("", "--list", "1", "--encoding", "windows-1252", in)
	if code != exitRowsFailed || sum.Failed != 41 || sum.Created != 1 {
		t.Fatalf("exit %d, %+v", code, sum)
	}
	raw, err := os.ReadFile(in + ".errors.csv")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := charmap.Windows1252.NewDecoder().Bytes(raw)
	if err != nil || !bytes.Contains(raw, []byte("Z\xfcrich")) {
		t.Fatalf("the report is not in the input's encoding: %q", raw[:80])
	}
	rep := reportRows(t, e.write("decoded.csv", string(dec)), ';')
	for i, r := range rep[:40] {
		if r["_line"] != fmt.Sprint(i+2) || r["Email"] != fmt.Sprintf("bad%d", i) || r["City"] != "Zürich" {
			t.Fatalf("report row %d out of order or changed: %v", i, r)
		}
	}
	if r := rep[40]; r["Email"] != "ok@example.com" || r["_extra"] != "extra one;extra;two" || r["City"] != "Köln" {
		t.Errorf("extra cells not kept: %v", r)
	}
	// Fixed in place (in a spreadsheet: the emails), the report imports
	// with the same --encoding; its own _ columns are ignored.
	fixed := string(dec)
	for i := range 40 {
		fixed = strings.Replace(fixed, fmt.Sprintf("bad%d;Bad%d;", i, i), fmt.Sprintf("fixed%d@example.com;Bad%d;", i, i), 1)
	}
	fixedEnc, err := charmap.Windows1252.NewEncoder().String(fixed)
	if err != nil {
		t.Fatal(err)
	}
	again := e.write("fixed.csv", fixedEnc)
	code, _, stderr, sum := e.importCLI("", "--list", "1", "--encoding", "windows-1252", again)
	if code != exitOK || sum.Created != 41 || sum.Failed != 0 {
		t.Fatalf("fixed report: exit %d, %+v, %s", code, sum, stderr)
	}
	cs := e.contacts()
	if c := cs["fixed7@example.com"]; c == nil || c["FirstName"] != "Bad7" {
		t.Errorf("fixed7@example.com: %v", c)
	}
	if c := cs["ok@example.com"]; c == nil || c["City"] != "Köln" {
		t.Errorf("ok@example.com: %v", c)
	}
}

// Item 8: rows of delimiters only made a clean file exit 3.
func TestImportDelimiterOnlyRowsAreBlank(t *testing.T) {
	e := newImportEnv(t)
	in := e.write("in.csv", "Email;First Name;City;Zip\na@example.com;A;X;1\n;;;\n ; ; ;\nb@example.com;B;Y;2\n;;;\n\n")
	code, stdout, stderr, sum := e.importCLI("", "--list", "1", in)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkAccounted(t, sum)
	if sum.Read != 2 || sum.Created != 2 || sum.Blank != 4 || !strings.Contains(stdout, "blank lines 4") {
		t.Errorf("summary %+v, %q", sum, stdout)
	}
	if _, err := os.Stat(in + ".errors.csv"); !os.IsNotExist(err) {
		t.Errorf("a report was written for a clean file: %v", err)
	}
}

// Item 9: a report that cannot be written went unnoticed and its rows
// were journaled as failed.
func TestImportUnwritableReportStopsBeforeAnyRequest(t *testing.T) {
	e := newImportEnv(t)
	in := e.write("in.csv", "Email\nbad-email\nok@example.com\n")
	code, _, stderr, _ := e.importCLI("", "--list", "1", "--errors", filepath.Join(e.dir, "missing", "r.csv"), in)
	if code != exitFatal || !strings.Contains(stderr, "missing") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(in + ".journal"); !os.IsNotExist(err) {
		t.Errorf("journal written: %v", err)
	}
	if n := len(e.contacts()); n != 0 {
		t.Errorf("%d contacts created", n)
	}
}

// Item 12: a second run on a journal in use went ahead.
func TestImportJournalLocked(t *testing.T) {
	e := newImportEnv(t)
	in := e.write("in.csv", "Email\nx@example.com\n")
	lock, err := lockfile.Acquire(in + ".journal.lock")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	e.write("in.csv.journal", "")
	code, _, stderr, _ := e.importCLI("", "--list", "1", "--resume", in)
	if code != exitUsage || !strings.Contains(stderr, "in use by another run") || !strings.Contains(stderr, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	if n := len(e.contacts()); n != 0 {
		t.Errorf("%d contacts created while the journal was held", n)
	}
}

// Item 11: rows of a few repeated emails were all held in memory before
// the first request. The read stage now puts them in the run store (on
// disk, not in memory) before anything is sent; from a pipe, 6,001 rows of
// three emails are applied in file order, the last row of each winning.
func TestImportRepeatedEmailsStreamed(t *testing.T) {
	e := newImportEnv(t)
	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		io.WriteString(pw, "Email,First Name\n")
		for i := 0; i <= 6000; i++ {
			if _, err := fmt.Fprintf(pw, "dup%d@example.com,N%d\n", i%3, i); err != nil {
				return
			}
		}
	}()
	journal := filepath.Join(e.dir, "j")
	sumPath := filepath.Join(e.dir, "summary.json")
	full := append([]string{"import", "--via", "contacts", "--sandbox", e.db, "--summary-json", sumPath, "--list", "1", "--journal", journal, "--errors", filepath.Join(e.dir, "r.csv")}, fast...)
	var out, errb bytes.Buffer
	code := run(context.Background(), append(full, "-"), pr, &out, &errb, func(string) string { return "" })
	if code != exitOK || !strings.Contains(out.String(), "rows read 6001: created 3, updated 5998") {
		t.Errorf("exit %d, %q %q", code, out.String(), errb.String())
	}
	cs := e.contacts()
	for k, want := range []string{"N6000", "N5998", "N5999"} {
		if c := cs[fmt.Sprintf("dup%d@example.com", k)]; c == nil || c["FirstName"] != want {
			t.Errorf("dup%d: %v, want FirstName %s (the last row)", k, c, want)
		}
	}
}

// import --create-lists: a list that --list or a ContactLists cell names
// and the account lacks is created once, before the first row; without the
// flag it stays a usage error.
func TestImportCreateLists(t *testing.T) {
	e := newImportEnv(t)
	in := e.write("in.csv", "Email,ContactLists\na@example.com,Spring Promo;1\nb@example.com,spring promo\nc@example.com,\nd@example.com,42\n")
	code, _, stderr, _ := e.importCLI("", "--list", "VIP 2026", in)
	if code != exitUsage || !strings.Contains(stderr, `"VIP 2026"`) {
		t.Fatalf("without --create-lists: exit %d, %q", code, stderr)
	}
	code, _, stderr, sum := e.importCLI("", "--list", "VIP 2026", "--create-lists", in)
	// d@ names list 42, a number no list has: that row fails, nothing is
	// created for it.
	if code != exitRowsFailed || sum.Created != 3 || sum.Failed != 1 {
		t.Fatalf("--create-lists: exit %d, %+v, %s", code, sum, stderr)
	}
	if strings.Count(stderr, "created list") != 2 || !strings.Contains(stderr, `created list "VIP 2026"`) || !strings.Contains(stderr, `created list "Spring Promo"`) {
		t.Errorf("created lists not said once each: %q", stderr)
	}
	var out bytes.Buffer
	if code := run(context.Background(), append([]string{"lists", "--sandbox", e.db}, fast...), strings.NewReader(""), &out, io.Discard, func(string) string { return "" }); code != exitOK {
		t.Fatal("lists failed")
	}
	for _, name := range []string{"VIP 2026", "Spring Promo"} {
		if strings.Count(out.String(), name) != 1 {
			t.Errorf("list %q not there exactly once:\n%s", name, out.String())
		}
	}
	if n := strings.Count(strings.ToLower(out.String()), "spring promo"); n != 1 {
		t.Errorf("%d lists named spring promo in some case, want 1:\n%s", n, out.String())
	}
	// A second run creates nothing.
	e.write("in.csv", "Email,ContactLists\ne@example.com,Spring Promo\n")
	_, _, stderr, _ = e.importCLI("", "--list", "VIP 2026", "--create-lists", in)
	if strings.Contains(stderr, "created list") {
		t.Errorf("a list was created again: %q", stderr)
	}
}

// A second import of a file whose journal another run holds is told who
// holds it, not to delete the journal; a rejected --password-file is named;
// a run refused on the built-in sandbox leaves no sandbox file behind.
func TestSmallerOperatorPoints(t *testing.T) {
	e := newImportEnv(t)
	in := e.write("in.csv", "Email\nx@example.com\n")
	e.write("in.csv.journal", "")
	lock, err := lockfile.Acquire(in + ".journal.lock")
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr, _ := e.importCLI("", "--list", "1", in)
	lock.Release()
	if code != exitUsage || !strings.Contains(stderr, "in use by another run") || strings.Contains(stderr, "delete it") {
		t.Errorf("held journal without --resume: exit %d, %q", code, stderr)
	}

	// The password of a file the account rejects.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Error 401: unauthorized", http.StatusUnauthorized)
	}))
	defer srv.Close()
	pw := e.write("pw.txt", "wrong\n")
	env := map[string]string{"CTCT_BASE_URL": srv.URL, "CTCT_USERNAME": "joe", "CTCT_API_KEY": "k"}
	code, _, stderr = runCLI(t, env, "lists", "--password-file", pw, "--retries", "0")
	if code != exitFatal || !strings.Contains(stderr, "--password-file "+pw) || strings.Contains(stderr, "CTCT_PASSWORD") {
		t.Errorf("rejected --password-file: exit %d, %q", code, stderr)
	}

	// A failed export's --summary-json says so and names no file it did
	// not write.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Error 500: broken", http.StatusInternalServerError)
	}))
	defer broken.Close()
	sumPath := filepath.Join(e.dir, "export-summary.json")
	env = map[string]string{"CTCT_BASE_URL": broken.URL, "CTCT_USERNAME": "joe", "CTCT_API_KEY": "k", "CTCT_PASSWORD": "p"}
	code, _, stderr = runCLI(t, env, "export", "--via", "contacts", "--retries", "0", "--summary-json", sumPath, "-o", filepath.Join(e.dir, "out.csv"))
	b, err := os.ReadFile(sumPath)
	if code != exitFatal || err != nil {
		t.Fatalf("failed export: exit %d, %v: %s", code, err, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["complete"] != false || got["exit_code"] != float64(exitFatal) || got["output"] != nil || got["sha256"] != nil || got["bytes"] != nil {
		t.Errorf("summary of a failed export: %s", b)
	}

	// A refused run on the built-in sandbox (a state file of another
	// target) leaves no ./ctct-sandbox.db of its own making.
	dir := t.TempDir()
	state := filepath.Join(dir, "s.state")
	os.WriteFile(state, []byte(`{"target":"https://api.example.com account joe","high_water_mark":"2026-01-01T00:00:00.000Z"}`), 0o600)
	cmd := exec.Command(os.Args[0], "export", "--state", state, "-o", filepath.Join(dir, "out.csv"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CTCTBULK_RUN_MAIN=1")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitUsage {
		t.Fatalf("export with another target's state: exit %d: %s", cmd.ProcessState.ExitCode(), out)
	}
	if _, err := os.Stat(filepath.Join(dir, defaultSandboxDB)); err == nil {
		t.Errorf("a refused run left %s behind", defaultSandboxDB)
	}
}
