package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"ctctbulk/importer"
	"ctctbulk/mapping"
	"ctctbulk/sandbox"
)

// runCLI runs the command line with buffers and a fixed environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestVersionAndUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"version"}, exitOK, "ctctbulk " + version, ""},
		{nil, exitUsage, "", "Usage:\n  ctctbulk COMMAND [flags]"},
		{[]string{"nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"lists", "--rate", "0", "--sandbox", "x.db"}, exitUsage, "", "--rate must be positive"},
		// The single-dash long flags of earlier versions still work.
		{[]string{"lists", "-rate", "0", "-sandbox", "x.db"}, exitUsage, "", "--rate must be positive"},
		{[]string{"lists", "-rate=0", "-sandbox=x.db"}, exitUsage, "", "--rate must be positive"},
		{[]string{"help", "import"}, exitOK, "Run control flags:", ""},
		{[]string{"import", "--help"}, exitOK, "Examples:\n  ctctbulk import", ""},
		{[]string{"import"}, exitUsage, "", "exactly one FILE"},
		{[]string{"import", "--mode", "merge", "f.csv"}, exitUsage, "", "--mode must be upsert, create or update"},
		{[]string{"import", "--bogus", "f.csv"}, exitUsage, "", "unknown flag: --bogus"},
		{[]string{"sandbox", "--throttle-status", "500"}, exitUsage, "", "--throttle-status must be 429, 503 or 403"},
		{[]string{"fields"}, exitOK, "EmailAddress", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("code %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestConnectionConfiguration(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"user without secret", map[string]string{"CTCT_USERNAME": "joe"}, nil, exitUsage, "has no credentials"},
		{"key without password", map[string]string{"CTCT_USERNAME": "joe", "CTCT_API_KEY": "k"}, nil, exitUsage, "no password"},
		{"secret without user", map[string]string{"CTCT_ACCESS_TOKEN": "t0ps3cret"}, nil, exitUsage, "no account name"},
		{"plain http to a remote host", map[string]string{"CTCT_USERNAME": "joe", "CTCT_ACCESS_TOKEN": "t0ps3cret", "CTCT_BASE_URL": "http://example.com"}, nil, exitUsage, "http"},
		{"explicit sandbox", nil, []string{"--sandbox", filepath.Join(dir, "s.db")}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.env, append([]string{"lists"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("code %d, stderr %q; want %d, %q", code, stderr, tt.code, tt.stderr)
			}
			if strings.Contains(stdout+stderr, "t0ps3cret") {
				t.Errorf("a secret was printed: %q %q", stdout, stderr)
			}
			if tt.code == exitOK && !strings.Contains(stdout, "General Interest") {
				t.Errorf("lists output %q", stdout)
			}
		})
	}
}

// TestSamples runs every sample file the way samples/README.md says, on a
// sandbox file of its own, and checks the outcome and the error report.
func TestSamples(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sandbox.db")
	tests := []struct {
		file    string
		args    []string
		code    int
		created int64
		failed  int64
		bad     []string // lines in the error report
	}{
		{"contacts.csv", nil, exitRowsFailed, 25, 5, []string{"28", "29", "30", "31", "32"}},
		{"cc_export.csv", []string{"--list", "Newsletter"}, exitOK, 6, 0, nil},
		{"crm_export.csv", []string{"--map", "samples/crm.map", "--list", "2"}, exitOK, 5, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			report := filepath.Join(dir, tt.file+".errors.csv")
			summary := filepath.Join(dir, tt.file+".json")
			args := append([]string{"import", "--via", "contacts", "--sandbox", db, "--rate", "1000", "--errors", report,
				"--journal", filepath.Join(dir, tt.file+".journal"), "--summary-json", summary}, tt.args...)
			code, stdout, stderr := runCLI(t, nil, append(args, filepath.Join("samples", tt.file))...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.code, stdout, stderr)
			}
			var sum importer.Summary
			b, err := os.ReadFile(summary)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Created != tt.created || sum.Failed != tt.failed || sum.Finished() != sum.Read {
				t.Errorf("summary %+v", sum)
			}
			if !strings.Contains(stdout, "rows read") {
				t.Errorf("no summary on stdout: %q", stdout)
			}
			if len(tt.bad) == 0 {
				if _, err := os.Stat(report); err == nil {
					t.Errorf("a report was written with no failed row")
				}
				return
			}
			recs := readCSV(t, report)
			var lines []string
			col := func(name string) int { return slices.Index(recs[0], name) }
			for _, r := range recs[1:] {
				lines = append(lines, r[col("_line")])
				if r[col("_status")] != "failed" || r[col("_error")] == "" {
					t.Errorf("report row %q", r)
				}
			}
			if strings.Join(lines, ",") != strings.Join(tt.bad, ",") {
				t.Errorf("report lines %v, want %v", lines, tt.bad)
			}
		})
	}
	checkSampleValues(t, db, dir)
	// Importing the file again changes nothing.
	code, stdout, _ := runCLI(t, nil, "import", "--via", "contacts", "--sandbox", db, "--rate", "1000", "--errors", filepath.Join(dir, "again.csv"),
		"--journal", filepath.Join(dir, "again.journal"), "samples/contacts.csv")
	if code != exitRowsFailed || !strings.Contains(stdout, "unchanged 25") {
		t.Errorf("second import: exit %d, %s", code, stdout)
	}
}

// TestImportBudgetExitCodes checks the exit codes around a journal: 4 at
// the request budget, 2 when starting again without --resume, and 3 when
// resumed to the end, for the bad row the first run reported.
func TestImportBudgetExitCodes(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("Email,First Name\nnot-an-email,Bad\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, "budget%d@example.com,Name\n", i)
	}
	if err := os.WriteFile(input, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"import", "--via", "contacts", "--sandbox", filepath.Join(dir, "s.db"), "--rate", "1000", "--list", "1"}
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--max-requests", "30"}, exitBudget, "not finished", "--resume"},
		{nil, exitUsage, "", "add --resume to continue it"},
		// The row that failed in the first run still decides the exit code.
		{[]string{"--resume"}, exitRowsFailed, "failed 1\n", "1 row failed"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, nil, append(append(append([]string{}, base...), tt.args...), input)...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
}

// checkSampleValues exports the sandbox and checks that every valid row of
// samples/contacts.csv is there with each of its mapped values.
func checkSampleValues(t *testing.T, db, dir string) {
	t.Helper()
	out := filepath.Join(dir, "export.csv")
	if code, _, stderr := runCLI(t, nil, "export", "--sandbox", db, "--via", "contacts", "--rate", "1000", "--raw", "-o", out); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	exported := readCSV(t, out)
	col := map[string]int{}
	for i, h := range exported[0] {
		col[h] = i
	}
	byEmail := map[string][]string{}
	for _, r := range exported[1:] {
		byEmail[r[col["EmailAddress"]]] = r
	}
	sample := readCSV(t, filepath.Join("samples", "contacts.csv"))
	m, _, err := mapping.Resolve(sample[0], mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	valid := 0
	for i, cells := range sample[1:] {
		rec, err := m.Convert(cells, i+2)
		if err != nil {
			continue
		}
		got := byEmail[rec.Contact.EmailAddress]
		if got == nil {
			continue // the row without a list fails at the API
		}
		valid++
		for _, f := range rec.Mapped {
			if want := rec.Contact.Get(f); got[col[f]] != want {
				t.Errorf("%s %s = %q, want %q", rec.Contact.EmailAddress, f, got[col[f]], want)
			}
		}
		if lists := strings.Join(rec.Lists, ";"); got[col["ContactLists"]] != lists {
			t.Errorf("%s ContactLists = %q, want %q", rec.Contact.EmailAddress, got[col["ContactLists"]], lists)
		}
	}
	if valid != 25 {
		t.Errorf("%d valid sample rows found in the export, want 25", valid)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestSandboxSeedsAnEmptyStoreOnly(t *testing.T) {
	ctx := context.Background()
	cfg := sandbox.Options{}
	cfg.DB = filepath.Join(t.TempDir(), "seed.db")
	for i, want := range []int{7, 7} {
		sb, err := sandbox.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		if err := seedIfEmpty(ctx, sb, 7, &stderr); err != nil {
			t.Fatal(err)
		}
		n, err := sb.ContactCount(ctx)
		sb.Close()
		if err != nil || n != want {
			t.Errorf("start %d: %d contacts (%v), want %d", i+1, n, err, want)
		}
		if i == 1 && !strings.Contains(stderr.String(), "--seed ignored") {
			t.Errorf("second start said %q", stderr.String())
		}
	}
}

// TestSamplesRoundTripAndIncremental imports every sample, exports the
// account (formula cells escaped, as by default), imports that export into
// a fresh sandbox and exports again: the same contacts with the same
// values. Then it changes three contacts and runs incrementally: exactly
// those three.
func TestSamplesRoundTripAndIncremental(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.db"), filepath.Join(dir, "second.db")
	cli := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != exitOK && code != exitRowsFailed {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		return stdout
	}
	importInto := func(db, file string, extra ...string) {
		base := filepath.Base(file)
		cli(append(append([]string{"import", "--via", "contacts", "--sandbox", db, "--rate", "1000", "--errors", filepath.Join(dir, base+".errors.csv"),
			"--journal", filepath.Join(dir, base+".journal")}, extra...), file)...)
	}
	importInto(first, "samples/contacts.csv")
	importInto(first, "samples/cc_export.csv", "--list", "Newsletter")
	importInto(first, "samples/crm_export.csv", "--map", "samples/crm.map", "--list", "2")

	exp1 := filepath.Join(dir, "export1.csv")
	cli("export", "--sandbox", first, "--via", "contacts", "--rate", "1000", "-o", exp1)
	importInto(second, exp1)
	exp2 := filepath.Join(dir, "export2.csv")
	cli("export", "--sandbox", second, "--via", "contacts", "--rate", "1000", "-o", exp2)

	// Ids and server times differ between the two accounts; every other
	// column must be equal.
	serverSide := map[string]bool{"Id": true, "OptInTime": true, "InsertTime": true, "LastUpdateTime": true}
	rows := func(path string) map[string]map[string]string {
		recs := readCSV(t, path)
		out := map[string]map[string]string{}
		for _, r := range recs[1:] {
			m := map[string]string{}
			for i, h := range recs[0] {
				if !serverSide[h] {
					m[h] = r[i]
				}
			}
			out[m["EmailAddress"]] = m
		}
		return out
	}
	a, b := rows(exp1), rows(exp2)
	if len(a) != 36 || len(b) != len(a) {
		t.Fatalf("%d and %d exported contacts, want 36 each", len(a), len(b))
	}
	for email, ra := range a {
		for col, va := range ra {
			if vb := b[email][col]; vb != va {
				t.Errorf("%s %s: %q after the round trip, %q before", email, col, vb, va)
			}
		}
	}

	// The export's ' before a formula-like cell did not become data.
	raw := filepath.Join(dir, "raw.csv")
	cli("export", "--sandbox", second, "--rate", "1000", "--raw", "--email", "ada.lovelace@example.com", "-o", raw)
	if got := rows(raw)["ada.lovelace@example.com"]["WorkPhone"]; got != "+44 20 7946 0001" {
		t.Errorf("WorkPhone after the round trip = %q, want +44 20 7946 0001", got)
	}

	// Incremental: a first run with state exports everything and records the
	// mark; after three changes the next run exports exactly those three.
	state := filepath.Join(dir, "nightly.state")
	inc := filepath.Join(dir, "changes.csv")
	cli("export", "--sandbox", first, "--rate", "1000", "--state", state, "--overlap", "0s", "-o", inc)
	if got := len(readCSV(t, inc)) - 1; got != 36 {
		t.Fatalf("first incremental run: %d rows, want 36", got)
	}
	// Server times have millisecond precision: make sure the changes come
	// strictly after the mark.
	time.Sleep(20 * time.Millisecond)
	changes := filepath.Join(dir, "changes-in.csv")
	if err := os.WriteFile(changes, []byte("Email,Job Title\nada.lovelace@example.com,Countess\nmia.lopez@example.com,Chef\nliam.oconnor@example.com,Captain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	importInto(first, changes)
	cli("export", "--sandbox", first, "--rate", "1000", "--state", state, "--overlap", "0s", "-o", inc)
	got := rows(inc)
	if len(got) != 3 || got["ada.lovelace@example.com"]["JobTitle"] != "Countess" || got["mia.lopez@example.com"]["JobTitle"] != "Chef" ||
		got["liam.oconnor@example.com"]["JobTitle"] != "Captain" {
		t.Errorf("incremental run exported %v, want exactly the three changed contacts", got)
	}
}

// TestReadmeFirstCommand runs what the README's first command runs, as a
// real process in a copy of the samples, and checks the exit code the
// README promises: a newcomer sees what it says.
func TestReadmeFirstCommand(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(b), "```sh\n")
	first, _, _ := strings.Cut(block, "\n")
	const want = "go build -o ctctbulk . && ./ctctbulk import samples/contacts.csv"
	if !strings.HasPrefix(first, want) || !strings.Contains(first, "exit 3") {
		t.Fatalf("the README's first command is %q: update this test with it", first)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "samples"), 0o755); err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile(filepath.Join("samples", "contacts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "samples", "contacts.csv"), sample, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "import", "samples/contacts.csv")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CTCTBULK_RUN_MAIN=1")
	for _, k := range []string{"CTCT_BASE_URL", "CTCT_USERNAME", "CTCT_API_KEY", "CTCT_PASSWORD", "CTCT_ACCESS_TOKEN"} {
		cmd.Env = append(cmd.Env, k+"=")
	}
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != exitRowsFailed {
		t.Errorf("exit %d, want 3\n%s", code, out)
	}
	for _, s := range []string{"built-in sandbox", "created 25", "failed 5", "failed rows by reason, with the first line of each:"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// TestHelp: every command's help fits an 80-column terminal, groups its
// flags, and ends with two or three examples; 'help CMD' is 'CMD --help'.
func TestHelp(t *testing.T) {
	for _, name := range []string{"import", "export", "lists", "fields", "sandbox", "version"} {
		t.Run(name, func(t *testing.T) {
			code, help, stderr := runCLI(t, nil, name, "--help")
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if _, again, _ := runCLI(t, nil, "help", name); again != help {
				t.Errorf("'help %s' differs from '%s --help'", name, name)
			}
			for _, l := range strings.Split(help, "\n") {
				if n := utf8.RuneCountInString(l); n > 80 {
					t.Errorf("a help line of %d columns: %q", n, l)
				}
			}
			_, examples, ok := strings.Cut(help, "\nExamples:\n")
			if !ok {
				t.Fatalf("no examples at the end:\n%s", help)
			}
			lines := strings.Split(strings.TrimRight(examples, "\n"), "\n")
			if len(lines) < 2 || len(lines) > 3 {
				t.Errorf("%d examples, want 2 or 3:\n%s", len(lines), examples)
			}
			for _, l := range lines {
				if !strings.HasPrefix(strings.TrimSpace(l), "ctctbulk "+name) && !strings.Contains(l, " ctctbulk "+name) {
					t.Errorf("example %q does not run ctctbulk %s", l, name)
				}
			}
			for _, l := range strings.Split(help, "\n") {
				if strings.Count(l, "(default") > 1 {
					t.Errorf("two defaults in one line: %q", l)
				}
			}
		})
	}
	// Every flag a command defines is in its help (a group the help's
	// order forgot once hid --via, --bulk-rows and --verify).
	root := newRootCmd(context.Background(), streams{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		getenv: func(string) string { return "" }, notes: &notes{w: io.Discard}})
	for _, cmd := range root.Commands() {
		help := helpText(cmd)
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !strings.Contains(help, "--"+f.Name+" ") && !strings.Contains(help, "--"+f.Name+"\n") {
				t.Errorf("%s --help does not list --%s", cmd.Name(), f.Name)
			}
		})
	}
	// An environment value is not shown as a second default.
	env := map[string]string{"CTCT_BASE_URL": "https://example.com", "CTCT_USERNAME": "joe"}
	_, help, _ := runCLI(t, env, "lists", "--help")
	if strings.Contains(help, "example.com") || strings.Contains(help, "joe") {
		t.Errorf("help shows the environment's values:\n%s", help)
	}
}

// TestImportViaActivities runs the bulk path from the command line: the
// rows go in jobs, the budget stops it cleanly, --resume finishes it, and
// wrong --via and --bulk-rows values are usage errors.
func TestImportViaActivities(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("Email,First Name\nnot-an-email,Bad\n")
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&b, "bulk%d@example.com,Name %d\n", i, i)
	}
	if err := os.WriteFile(input, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	sumPath := filepath.Join(dir, "s.json")
	base := []string{"import", "--via", "activities", "--poll-first", "20ms", "--bulk-rows", "25",
		"--sandbox", filepath.Join(dir, "s.db"), "--rate", "1000", "--list", "1", "--summary-json", sumPath}
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--via", "bulk"}, exitUsage, "", "--via must be auto, contacts or activities"},
		{[]string{"--bulk-rows", "20001"}, exitUsage, "", "--bulk-rows must be between 1 and 20000"},
		// The budget stops it cleanly, wherever it is.
		{[]string{"--max-requests", "12"}, exitBudget, "stopped: request budget reached", "--resume"},
		{[]string{"--resume"}, exitRowsFailed, "bulk: ", "1 row failed"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, nil, append(append(append([]string{}, base...), tt.args...), input)...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
	var sum struct {
		Via      string           `json:"via"`
		Created  int64            `json:"created"`
		Resumed  int64            `json:"resumed"`
		Earlier  map[string]int64 `json:"earlier_runs"`
		BulkRows int64            `json:"bulk_rows"`
	}
	data, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Via != "activities" || sum.Created+sum.Earlier["created"] != 60 {
		t.Errorf("summary of the resumed run: %+v", sum)
	}
}
