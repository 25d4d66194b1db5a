package main

import (
	"encoding/csv"
	"errors"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
	"ctctbulk/sandbox"
)

// TestBulkCounts checks the shares of each kind of row.
func TestBulkCounts(t *testing.T) {
	tests := []struct {
		n    int
		want [numBulkKinds]int // new, invalid, dup same, dup diff, present same, present diff, Do Not Mail
	}{
		{50, [numBulkKinds]int{46, 0, 0, 0, 2, 2, 0}},
		{1000, [numBulkKinds]int{875, 10, 5, 5, 50, 50, 5}},
		{10_000, [numBulkKinds]int{8750, 100, 50, 50, 500, 500, 50}},
		{50_000, [numBulkKinds]int{43750, 500, 250, 250, 2500, 2500, 250}},
		{1_000_000, [numBulkKinds]int{875_000, 10_000, 5000, 5000, 50_000, 50_000, 5000}},
		{1001, [numBulkKinds]int{876, 10, 5, 5, 50, 50, 5}},
	}
	for _, tt := range tests {
		if got := bulkCounts(tt.n); got != tt.want {
			t.Errorf("bulkCounts(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

// TestNewBulkInput checks that the kinds are drawn with exact counts,
// deterministically, and that each duplicate repeats one earlier row that
// ends as a contact of its own, no row being repeated twice.
func TestNewBulkInput(t *testing.T) {
	for _, tt := range []struct {
		seed uint64
		n    int
	}{{1, 50}, {1, 1000}, {7, 1000}, {3, 20_000}} {
		b := newBulkInput(tt.seed, tt.n)
		var got [numBulkKinds]int
		for _, k := range b.kinds {
			got[k]++
		}
		if want := bulkCounts(tt.n); got != want {
			t.Errorf("seed %d n %d: kinds %v, want %v", tt.seed, tt.n, got, want)
		}
		again := newBulkInput(tt.seed, tt.n)
		if !slices.Equal(b.kinds, again.kinds) || !maps.Equal(b.dupOf, again.dupOf) {
			t.Errorf("seed %d n %d: not deterministic", tt.seed, tt.n)
		}
		dups := 0
		for i, k := range b.kinds {
			j, ok := b.dupOf[i]
			if isDup := k == bulkDupSame || k == bulkDupDiff; isDup != ok {
				t.Fatalf("seed %d row %d: kind %d, dupOf %d %v", tt.seed, i, k, j, ok)
			}
			if !ok {
				continue
			}
			dups++
			if j >= i || !dupTarget(b.kinds[j]) || b.dupedBy[j] != i {
				t.Errorf("seed %d row %d repeats row %d of kind %d (repeated by %d)", tt.seed, i, j, b.kinds[j], b.dupedBy[j])
			}
		}
		if dups != len(b.dupedBy) {
			t.Errorf("seed %d n %d: %d duplicates, %d rows repeated", tt.seed, tt.n, dups, len(b.dupedBy))
		}
		var sum int64
		for _, v := range b.outcomes() {
			sum += v
		}
		if sum != int64(tt.n) {
			t.Errorf("seed %d n %d: outcomes add up to %d", tt.seed, tt.n, sum)
		}
	}
	// The duplicates are spread over the file, not bunched after the
	// rows they repeat.
	b := newBulkInput(1, 20_000)
	far := 0
	for i, j := range b.dupOf {
		if i-j > 1000 {
			far++
		}
	}
	if far < len(b.dupOf)/2 {
		t.Errorf("only %d of %d duplicates are more than 1000 rows after the row they repeat", far, len(b.dupOf))
	}
}

// TestBulkOutcomes checks the expected statuses of an input of 10,000
// rows.
func TestBulkOutcomes(t *testing.T) {
	want := map[string]int64{"created": 8750, "updated": 550, "unchanged": 550, "skipped": 50, "failed": 100}
	b := newBulkInput(1, 10_000)
	if got := b.outcomes(); !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if got := b.reportRows(); got != 150 {
		t.Errorf("report rows %d, want 150", got)
	}
}

// TestBulkRecord checks each kind of row against the importer's own
// validation and against what the account holds before the import.
func TestBulkRecord(t *testing.T) {
	m, warnings, err := mapping.Resolve(bulkHeader, mapping.Options{})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("resolve the bulk header: %v %v", err, warnings)
	}
	b := newBulkInput(5, 4000)
	seen := map[bulkKind]int{}
	for i, k := range b.kinds {
		rec := b.record(i)
		r, err := m.Convert(rec, i+2)
		if (err != nil) != (k == bulkInvalid) {
			t.Fatalf("row %d kind %d %q: validation error %v", i, k, rec, err)
		}
		seen[k]++
		if k == bulkInvalid {
			continue
		}
		for f, name := range bulkHeader {
			if got := r.Contact.Get(name); got != rec[f] {
				t.Errorf("row %d: %s normalised to %q from %q", i, name, got, rec[f])
			}
		}
		seed, present := b.seeded(i)
		var other []string // the values to compare the row with
		switch k {
		case bulkDupSame, bulkDupDiff:
			other = b.record(b.dupOf[i])
		case bulkPresentSame, bulkPresentDiff, bulkDoNotMail:
			if !present {
				t.Fatalf("row %d kind %d: not in the account", i, k)
			}
			other = seed
			c := &ctct.Contact{}
			for f, name := range bulkHeader {
				if err := c.Set(name, seed[f]); err != nil {
					t.Fatal(err)
				}
			}
			if errs := ctct.ValidateContact(c); len(errs) > 0 {
				t.Fatalf("row %d: seeded contact invalid: %v", i, errs)
			}
		default:
			if present {
				t.Errorf("row %d kind %d: in the account", i, k)
			}
			continue
		}
		same := k == bulkDupSame || k == bulkPresentSame
		for f, name := range bulkHeader {
			if eq := rec[f] == other[f]; eq != (same || name == "EmailAddress") {
				t.Errorf("row %d kind %d: %s %q vs %q", i, k, name, rec[f], other[f])
			}
		}
	}
	for k := range numBulkKinds {
		if seen[k] == 0 {
			t.Errorf("no row of kind %d", k)
		}
	}
}

// TestBulkEndState checks the expected account: its buckets partition
// it, and each email holds the values of the last row that has it.
func TestBulkEndState(t *testing.T) {
	b := newBulkInput(2, 3000)
	all := b.endState(0, 1)
	c := bulkCounts(3000)
	if want := 3000 - c[bulkInvalid] - c[bulkDupSame] - c[bulkDupDiff]; len(all) != want {
		t.Fatalf("%d emails, want %d", len(all), want)
	}
	union := 0
	for k := range 4 {
		part := b.endState(k, 4)
		union += len(part)
		for email := range part {
			if all[email] == nil || bulkBucket(email, 4) != k {
				t.Errorf("bucket %d: %s", k, email)
			}
		}
	}
	if union != len(all) {
		t.Errorf("buckets hold %d emails, the whole %d", union, len(all))
	}
	for i, k := range b.kinds {
		email := genEmail(i)
		end := all[email]
		var want []string
		status := ctct.StatusActive
		switch k {
		case bulkInvalid, bulkDupSame, bulkDupDiff:
			if k == bulkInvalid && end != nil {
				t.Errorf("row %d: an invalid row has a contact", i)
			}
			continue
		case bulkDoNotMail:
			want, _ = b.seeded(i)
			status = ctct.StatusDoNotMail
		default:
			want = genRecord(2, i, 0)
			if d, ok := b.dupedBy[i]; ok && b.kinds[d] == bulkDupDiff {
				want = genRecord(2, i, 1)
			}
		}
		if end == nil {
			t.Fatalf("row %d: no end state", i)
		}
		if end.status != status || end.exp.lists["1"] != (k != bulkDoNotMail) {
			t.Errorf("row %d: status %q lists %v", i, end.status, end.exp.lists)
		}
		for f, name := range bulkHeader {
			if end.exp.fields[name] != want[f] {
				t.Errorf("row %d: %s = %q, want %q", i, name, end.exp.fields[name], want[f])
			}
		}
	}
}

// TestWriteBulkInput reads a generated file back and checks the records
// and the physical line each starts on.
func TestWriteBulkInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.csv")
	b := newBulkInput(4, 600)
	_, lines, err := writeBulkInput(path, b)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil || !slices.Equal(header, bulkHeader) {
		t.Fatalf("header %q %v", header, err)
	}
	multiline := 0
	for i := 0; ; i++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			if i != 600 {
				t.Fatalf("%d rows", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if line, _ := cr.FieldPos(0); line != int(lines[i]) {
			t.Errorf("row %d starts on line %d, said %d", i, line, lines[i])
		}
		if !slices.Equal(rec, b.record(i)) {
			t.Errorf("row %d: %q, want %q", i, rec, b.record(i))
		}
		if i > 0 && lines[i]-lines[i-1] > 1 {
			multiline++
		}
	}
	if multiline == 0 {
		t.Error("no row spans two lines: the line numbers are not exercised")
	}
	if got := b.reportLines(lines); len(got) != b.reportRows() || !slices.IsSorted(got) {
		t.Errorf("report lines %v, want %d sorted", got, b.reportRows())
	}
}

// TestCompareBulkAccount checks that every kind of difference between an
// export of the account and the end state is found, whatever the number
// of buckets.
func TestCompareBulkAccount(t *testing.T) {
	b := newBulkInput(3, 400)
	end := b.endState(0, 1)
	var dnm, active string
	for email, w := range end {
		if w.status == ctct.StatusDoNotMail && dnm == "" {
			dnm = email
		}
		if w.status == ctct.StatusActive && active == "" {
			active = email
		}
	}
	header := append(append([]string{"Status"}, bulkHeader...), "ContactLists")
	row := func(email string) []string {
		w := end[email]
		st := w.status
		if st == ctct.StatusActive {
			st = "" // as an export --via activities writes it
		}
		out := []string{st}
		for _, name := range bulkHeader {
			out = append(out, w.exp.fields[name])
		}
		lists := ""
		if w.exp.lists["1"] {
			lists = "1"
		}
		return append(out, lists)
	}
	tests := []struct {
		name        string
		change      func(rows map[string][][]string)
		want        stateDiff
		wrongStatus int
	}{
		{"exact", func(map[string][][]string) {}, stateDiff{}, 0},
		{"lost", func(r map[string][][]string) { delete(r, active) }, stateDiff{Lost: 1}, 0},
		{"twice", func(r map[string][][]string) { r[active] = append(r[active], r[active][0]) }, stateDiff{Duplicates: 1}, 0},
		{"wrong city", func(r map[string][][]string) { r[active][0][1+slices.Index(bulkHeader, "City")] = "Nowhere" },
			stateDiff{WrongFields: 1, WrongRows: 1}, 0},
		{"not on list 1", func(r map[string][][]string) { r[active][0][len(header)-1] = "2" }, stateDiff{WrongFields: 1, WrongRows: 1}, 0},
		{"Do Not Mail lost", func(r map[string][][]string) { r[dnm][0][0] = "" }, stateDiff{}, 1},
		{"re-subscribed", func(r map[string][][]string) { r[dnm][0][0], r[dnm][0][len(header)-1] = "", "1" }, stateDiff{}, 1},
		{"invalid row imported", func(r map[string][][]string) {
			for i, k := range b.kinds {
				if k == bulkInvalid && i%2 == 1 { // a valid email, a bad state
					r[genEmail(i)] = [][]string{append([]string{""}, append(b.record(i), "1")...)}
					return
				}
			}
			t.Fatal("no invalid row with a valid email")
		}, stateDiff{Extra: 1}, 0},
	}
	for _, tt := range tests {
		for _, m := range []int{1, 3} {
			rows := map[string][][]string{}
			for email := range end {
				rows[email] = [][]string{row(email)}
			}
			tt.change(rows)
			path := filepath.Join(t.TempDir(), "account.csv")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := csv.NewWriter(f)
			w.Write(header)
			for _, rs := range rows {
				w.WriteAll(rs)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			src := func(f func(string, record)) (int, error) { return eachExportRecord(path, f) }
			n, d, wrongStatus, err := compareBulkAccount(src, b, m)
			if err != nil {
				t.Fatal(err)
			}
			contacts := len(rows)
			if n < contacts || d.Contacts != contacts {
				t.Errorf("%s, %d buckets: %d rows, %d contacts, want %d", tt.name, m, n, d.Contacts, contacts)
			}
			if len(d.Examples) == 0 != (tt.want.ok() && tt.wrongStatus == 0) {
				t.Errorf("%s, %d buckets: examples %q", tt.name, m, d.Examples)
			}
			if d.String() != tt.want.String() || wrongStatus != tt.wrongStatus {
				t.Errorf("%s, %d buckets: %s, %d wrong statuses; want %s, %d", tt.name, m, d, wrongStatus, tt.want, tt.wrongStatus)
			}
		}
	}
}

// TestCompareReport checks the comparison of an error report's lines and
// statuses with the failed and skipped rows.
func TestCompareReport(t *testing.T) {
	want := map[int]string{3: "failed", 9: "skipped", 12: "failed"}
	tests := []struct {
		name string
		got  map[int][]string
		diff reportDiff
	}{
		{"exact", map[int][]string{3: {"failed"}, 9: {"skipped"}, 12: {"failed"}}, reportDiff{Rows: 3}},
		{"missing", map[int][]string{3: {"failed"}, 12: {"failed"}}, reportDiff{Rows: 2, Missing: 1}},
		{"extra", map[int][]string{3: {"failed"}, 9: {"skipped"}, 12: {"failed"}, 20: {"failed"}}, reportDiff{Rows: 4, Extra: 1}},
		{"twice", map[int][]string{3: {"failed", "failed"}, 9: {"skipped"}, 12: {"failed"}}, reportDiff{Rows: 4, Twice: 1}},
		{"wrong status", map[int][]string{3: {"failed"}, 9: {"failed"}, 12: {"failed"}}, reportDiff{Rows: 3, WrongStatus: 1}},
	}
	for _, tt := range tests {
		d := compareReport(tt.got, want)
		if len(d.Examples) == 0 != tt.diff.ok() {
			t.Errorf("%s: examples %q", tt.name, d.Examples)
		}
		d.Examples = nil
		if d.String() != tt.diff.String() || d.ok() != tt.diff.ok() {
			t.Errorf("%s: %s, want %s", tt.name, d, tt.diff)
		}
	}
}

// TestReadReportEntries reads the lines and statuses of a report whose
// cells hold line breaks.
func TestReadReportEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.csv.errors.csv")
	text := "EmailAddress,Note,_line,_status,_error\n" +
		"a.at.example.com,\"two\nlines\",3405,failed,bad email\n" +
		"b@example.com,x,3672,skipped,Do Not Mail\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readReportEntries(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(got[3405], []string{"failed"}) || !slices.Equal(got[3672], []string{"skipped"}) {
		t.Errorf("got %v", got)
	}
}

// TestRunPhase checks the phase a run's jobs (newest first) show.
func TestRunPhase(t *testing.T) {
	exp := func(status string) ctct.Activity {
		return ctct.Activity{Type: ctct.ActivityExportContacts, Status: status}
	}
	add := func(status string) ctct.Activity {
		return ctct.Activity{Type: ctct.ActivityAddContactDetail, Status: status}
	}
	tests := []struct {
		name string
		run  []ctct.Activity
		want string
	}{
		{"nothing yet", nil, ""},
		{"plan", []ctct.Activity{exp(ctct.ActivityPending), exp(ctct.ActivityComplete)}, phasePlan},
		{"jobs", []ctct.Activity{add(ctct.ActivityRunning), add(ctct.ActivityComplete), exp(ctct.ActivityComplete)}, phaseJobs},
		{"jobs done, no export yet", []ctct.Activity{add(ctct.ActivityComplete), exp(ctct.ActivityComplete)}, phaseJobs},
		{"verify", []ctct.Activity{exp(ctct.ActivityQueued), add(ctct.ActivityComplete), add(ctct.ActivityError), exp(ctct.ActivityComplete)}, phaseVerify},
		{"an add job left running", []ctct.Activity{exp(ctct.ActivityQueued), add(ctct.ActivityRunning), exp(ctct.ActivityComplete)}, phaseJobs},
	}
	for _, tt := range tests {
		if got := runPhase(tt.run); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestBulkKillPlan checks that the kills take the phases in turn with
// deterministic delays in range.
func TestBulkKillPlan(t *testing.T) {
	phases, delays := bulkKillPlan(4, 5)
	p2, d2 := bulkKillPlan(4, 5)
	if !slices.Equal(phases, p2) || !slices.Equal(delays, d2) {
		t.Fatal("not deterministic")
	}
	if want := []string{phasePlan, phaseJobs, phaseVerify, phasePlan, phaseJobs}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	for i, d := range delays {
		if d < 0 || d >= 3*time.Second {
			t.Errorf("kill %d: delay %s", i, d)
		}
	}
}

// TestBulkImportArgs checks the import's arguments for each way.
func TestBulkImportArgs(t *testing.T) {
	tests := []struct {
		via  string
		want []string
	}{
		{"activities", []string{"--via", "activities", "--bulk-rows", "20000"}},
		{"contacts", []string{"--via", "contacts", "--workers", "16"}},
		{"legacy", []string{"--workers", "16"}},
	}
	for _, tt := range tests {
		got := bulkImportArgs(tt.via, "in.csv", "s.json", "--resume")
		base := []string{"import", "--list", "1", "--rate", "1000", "--summary-json", "s.json"}
		want := append(append(append(base, tt.want...), "--resume"), "in.csv")
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", tt.via, got, want)
		}
	}
}

// TestSeedBulkStore seeds a small store through the sandbox's Go API and
// reads it back: the present rows with their seeded values, on list 1,
// the Do Not Mail ones opted out, nothing else.
func TestSeedBulkStore(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a sandbox store")
	}
	b := newBulkInput(6, 600)
	path := filepath.Join(t.TempDir(), "seed.db")
	if err := seedBulkStore(t.Context(), path, b); err != nil {
		t.Fatal(err)
	}
	s, err := sandbox.New(t.Context(), sandbox.Options{DB: path})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer s.Close()
	defer srv.Close()
	got, err := readAccount(t.Context(), srv.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := bulkCounts(600)
	if want := c[bulkPresentSame] + c[bulkPresentDiff] + c[bulkDoNotMail]; len(got) != want {
		t.Fatalf("%d contacts, want %d", len(got), want)
	}
	for i := range b.n {
		rec, ok := b.seeded(i)
		rs := got[genEmail(i)]
		if !ok {
			if len(rs) > 0 && b.kinds[i] != bulkInvalid {
				t.Errorf("row %d kind %d: in the account", i, b.kinds[i])
			}
			continue
		}
		if len(rs) != 1 {
			t.Fatalf("row %d: %d contacts", i, len(rs))
		}
		for f, name := range bulkHeader {
			if rs[0][name] != rec[f] {
				t.Errorf("row %d: %s = %q, want %q", i, name, rs[0][name], rec[f])
			}
		}
		if b.kinds[i] != bulkDoNotMail && rs[0]["ContactLists"] != "1" {
			t.Errorf("row %d: lists %q", i, rs[0]["ContactLists"])
		}
	}
}

// TestActivityWatch reads the phases off a sandbox's real feed: jobs
// made before mark are not the run's.
func TestActivityWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("opens sandboxes")
	}
	ctx := t.Context()
	open := func(delay time.Duration) (*activityWatch, *ctct.Client) {
		s, err := sandbox.New(ctx, sandbox.Options{DB: filepath.Join(t.TempDir(), "s.db"), ActivityDelay: delay, ActivityRate: -1})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(func() { srv.Close(); s.Close() })
		w, err := newActivityWatch(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return w, w.c
	}
	phase := func(w *activityWatch, want string) {
		t.Helper()
		if got, err := w.phase(ctx); err != nil || got != want {
			t.Fatalf("phase %q %v, want %q", got, err, want)
		}
	}
	create := func(c *ctct.Client, req *ctct.ActivityRequest) *ctct.Activity {
		t.Helper()
		a, err := c.CreateActivity(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	export := &ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: &ctct.ExportOptions{List: "active"}}
	add := &ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: []string{"1"},
		Rows: []ctct.BulkRow{{EmailAddress: "a@example.com"}}}

	// Jobs that wait an hour: the plan, then the add jobs.
	w, c := open(time.Hour)
	create(c, export) // an earlier run's
	if err := w.mark(ctx); err != nil {
		t.Fatal(err)
	}
	phase(w, "")
	create(c, export)
	phase(w, phasePlan)
	create(c, add)
	phase(w, phaseJobs)

	// Jobs that run at once: the verify after the add jobs.
	w, c = open(-1)
	if err := w.mark(ctx); err != nil {
		t.Fatal(err)
	}
	a := create(c, add)
	if _, err := c.WaitActivity(ctx, a.ID, ctct.WaitOptions{First: 5 * time.Millisecond, Max: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	phase(w, phaseJobs)
	create(c, export)
	phase(w, phaseVerify)
}
