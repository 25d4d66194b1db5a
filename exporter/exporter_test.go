package exporter_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/importer"
	"ctctbulk/sandbox"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// hookClient is the real client with test choreography run before some
// calls (cancel the run, change the account during a walk...).
type hookClient struct {
	*ctct.Client
	gets       atomic.Int64
	onGet      func(n int64) // before the n-th GetContact
	onContacts func(q ctct.ContactQuery)
}

func (h *hookClient) GetContact(ctx context.Context, id string) (*ctct.Contact, error) {
	n := h.gets.Add(1)
	if h.onGet != nil {
		h.onGet(n)
	}
	return h.Client.GetContact(ctx, id)
}

func (h *hookClient) ContactPages(ctx context.Context, q ctct.ContactQuery) iter.Seq2[*ctct.Feed, error] {
	if h.onContacts != nil {
		h.onContacts(q)
	}
	return h.Client.ContactPages(ctx, q)
}

// TestExportFixture runs the fixture of 1,234 tricky contacts created
// through the client: a raw full export compared field by field, then a
// round trip through the importer.
func TestExportFixture(t *testing.T) {
	t.Parallel()
	fx := sharedFixture(t)
	var rawExport []byte

	t.Run("full", func(t *testing.T) {
		e := fx.open(t, sandbox.Options{})
		out := filepath.Join(t.TempDir(), "contacts.csv")
		ex, err := exporter.New(e.client, exporter.Options{Raw: true, Workers: 6, Version: "test", Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		var sum *exporter.Summary
		n := requests(e, func() { sum, err = ex.WriteFile(t.Context(), out, 0) })
		if err != nil {
			t.Fatal(err)
		}
		// Acceptance: a full export sends N GETs and N/50 pages.
		if want := fixtureN + pages(fixtureN); n != want || sum.Requests != want {
			t.Errorf("requests: sandbox counted %d, summary %d, want %d", n, sum.Requests, want)
		}
		if sum.Rows != fixtureN || sum.Vanished != 0 || sum.Duplicates != 0 {
			t.Errorf("summary: rows %d vanished %d duplicates %d", sum.Rows, sum.Vanished, sum.Duplicates)
		}
		st, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", st.Mode().Perm())
		}
		m, err := exporter.VerifyFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rows != fixtureN || m.ToolVersion != "test" || m.File != "contacts.csv" || m.HighWaterMark == "" || m.Requests != n {
			t.Errorf("manifest: %+v", m)
		}
		rawExport, err = os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		tb := parseCSV(t, rawExport)
		compareFixture(t, fx, tb, true)
		// Rows come in listing order: newest contact first.
		ids := tb.column("Id")
		if !slices.IsSortedFunc(ids, func(a, b string) int { return atoi(t, b) - atoi(t, a) }) {
			t.Error("rows are not in listing order")
		}
	})

	t.Run("round trip", func(t *testing.T) {
		if rawExport == nil {
			t.Skip("the full export failed")
		}
		// Import the export into a fresh sandbox: the active contacts are
		// created; the Do Not Mail ones have no list, which an import
		// refuses for a new contact; the Removed ones are skipped (an
		// import would subscribe them).
		dst := newEnv(t, sandbox.Options{})
		dir := t.TempDir()
		im, err := importer.New(dst.client, importer.Options{
			ReportPath: filepath.Join(dir, "errors.csv"), JournalPath: filepath.Join(dir, "journal"), Workers: 6,
		})
		if err != nil {
			t.Fatal(err)
		}
		isum, err := im.Run(t.Context(), bytes.NewReader(rawExport))
		if err != nil {
			t.Fatal(err)
		}
		active, removed := fx.count(exporter.StatusActive), fx.count(exporter.StatusRemoved)
		if isum.Created != int64(active) || isum.Skipped != int64(removed) || isum.Failed != int64(fixtureN-active-removed) {
			t.Fatalf("import: created %d, skipped %d, failed %d; want %d, %d and %d", isum.Created, isum.Skipped, isum.Failed, active, removed, fixtureN-active-removed)
		}
		second, _ := runExport(t, dst.client, exporter.Options{Raw: true})

		a, b := parseCSV(t, rawExport), parseCSV(t, second)
		ra, rb := a.byEmail(t), b.byEmail(t)
		if len(rb) != active {
			t.Errorf("second export has %d contacts, want %d", len(rb), active)
		}
		server := map[string]bool{"Id": true, "OptInTime": true, "InsertTime": true, "LastUpdateTime": true}
		bad := 0
		for email, r2 := range rb {
			r1, ok := ra[email]
			if !ok {
				t.Errorf("%s appeared in the round trip", email)
				continue
			}
			for name, i := range a.col {
				if server[name] {
					continue
				}
				v1, v2 := r1[i], r2[i]
				if name == "ContactLists" {
					v1, v2 = strings.Join(sortedLists(v1), ";"), strings.Join(sortedLists(v2), ";")
				}
				if v1 != v2 && bad < 20 {
					bad++
					t.Errorf("%s %s: %q then %q", email, name, v1, v2)
				}
			}
		}
	})
}

func atoi(t testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return n
}

// compareFixture checks that tb holds every fixture contact once with
// every field as created (escaped unless raw) and what the server set.
func compareFixture(t *testing.T, fx *fixture, tb *table, raw bool) {
	t.Helper()
	rows := tb.byEmail(t)
	if len(rows) != len(fx.want) {
		t.Errorf("%d contacts exported, want %d", len(rows), len(fx.want))
	}
	esc := exporter.EscapeCell
	if raw {
		esc = func(s string) string { return s }
	}
	bad := 0
	for email, w := range fx.want {
		row, ok := rows[email]
		if !ok {
			if bad < 20 {
				bad++
				t.Errorf("contact %s not exported", email)
			}
			continue
		}
		check := func(field, got, want string) {
			if got != want && bad < 20 {
				bad++
				t.Errorf("%s %s = %q, want %q", email, field, got, want)
			}
		}
		for _, f := range ctct.EditableFields() {
			check(f.Name, tb.get(row, f.Name), esc(w.sent.Get(f.Name)))
		}
		check("Id", tb.get(row, "Id"), w.number)
		check("Status", tb.get(row, "Status"), w.status)
		check("Name", tb.get(row, "Name"), esc(w.sent.FirstName+" "+w.sent.LastName))
		check("ContactLists", strings.Join(sortedLists(tb.get(row, "ContactLists")), ";"), strings.Join(w.lists, ";"))
		if w.status == ctct.StatusActive {
			check("OptInSource", tb.get(row, "OptInSource"), ctct.ActionByCustomer)
		}
		for _, f := range []string{"OptInTime", "InsertTime", "LastUpdateTime"} {
			if _, err := time.Parse(ctct.TimeLayout, tb.get(row, f)); err != nil {
				check(f, tb.get(row, f), "a time")
			}
		}
		if (tb.get(row, "OptOutTime") != "") != (w.status == ctct.StatusDoNotMail) {
			check("OptOutTime", tb.get(row, "OptOutTime"), "set for Do Not Mail only")
		}
	}
}

// seededN is the size of the seeded sandboxes of the smaller tests: more
// than five pages, a few Removed and Do Not Mail contacts.
const seededN = 260

// TestExportSummaryDetail: the fields a listing entry carries, and only
// those columns, one request per page (or per 50 searched addresses); each
// cell is the full export's. A column it did not fetch is not written at
// all: blank, it would erase the value when imported with --empty clear.
func TestExportSummaryDetail(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, seededN)
	full, _ := runExport(t, e.client, exporter.Options{})
	a := parseCSV(t, full)
	byEmail := a.byEmail(t)
	var emails []string
	for i := range 30 {
		emails = append(emails, a.get(a.rows[i*5], "EmailAddress"))
	}
	listing := []string{"Id", "Status", "EmailAddress", "EmailType", "Name", "OptInSource", "OptInTime"}
	tests := []struct {
		name     string
		opts     exporter.Options
		header   []string
		rows     int
		requests int64
	}{
		{"listing", exporter.Options{}, listing, seededN, pages(seededN)},
		{"email search", exporter.Options{Emails: emails}, append(slices.Clone(listing), "Confirmed", "InsertTime"), len(emails), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Detail = exporter.DetailSummary
			var data []byte
			n := requests(e, func() { data, _ = runExport(t, e.client, tt.opts) })
			if n != tt.requests {
				t.Errorf("summary export sent %d requests, want %d", n, tt.requests)
			}
			b := parseCSV(t, data)
			if header := parseHeader(t, data); !slices.Equal(header, tt.header) {
				t.Fatalf("header %q, want %q", header, tt.header)
			}
			if len(b.rows) != tt.rows {
				t.Fatalf("%d rows, want %d", len(b.rows), tt.rows)
			}
			for i, row := range b.rows {
				want := byEmail[b.get(row, "EmailAddress")]
				for _, name := range tt.header {
					if got := b.get(row, name); want == nil || got != a.get(want, name) {
						t.Fatalf("row %d %s = %q, want the full export's %v", i, name, got, want)
					}
				}
			}
		})
	}
}

// TestExportStatus: each kind alone, and all of them, with the request
// count of the acceptance: N + N/50 per kind walked.
func TestExportStatus(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, seededN)
	counts := kindCounts(t, e)
	if counts[exporter.StatusRemoved] == 0 || counts[exporter.StatusDoNotMail] == 0 || counts[exporter.StatusAll] != seededN {
		t.Fatalf("seeded kinds: %v", counts)
	}
	statuses := map[exporter.Status][]string{
		exporter.StatusActive:    {ctct.StatusActive, ctct.StatusUnconfirmed},
		exporter.StatusRemoved:   {ctct.StatusRemoved},
		exporter.StatusDoNotMail: {ctct.StatusDoNotMail},
		exporter.StatusAll:       {ctct.StatusActive, ctct.StatusUnconfirmed, ctct.StatusRemoved, ctct.StatusDoNotMail},
	}
	for _, s := range []exporter.Status{exporter.StatusActive, exporter.StatusRemoved, exporter.StatusDoNotMail, exporter.StatusAll} {
		t.Run(string(s), func(t *testing.T) {
			var data []byte
			n := requests(e, func() { data, _ = runExport(t, e.client, exporter.Options{Status: s}) })
			tb := parseCSV(t, data)
			count := counts[s]
			if len(tb.rows) != count {
				t.Errorf("%d rows, want %d", len(tb.rows), count)
			}
			if want := int64(count) + pages(count); n != want {
				t.Errorf("%d requests, want %d", n, want)
			}
			for _, st := range tb.column("Status") {
				if !slices.Contains(statuses[s], st) {
					t.Fatalf("status %q in an export of %s", st, s)
				}
			}
			tb.byEmail(t) // each contact once
		})
	}
}

// TestExportAllOnceWhileMoving: with a since time, all walks the three
// kinds; a contact that moves to another kind during the run is written
// once.
func TestExportAllOnceWhileMoving(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, seededN)
	counts := kindCounts(t, e)
	moved := false
	hc := &hookClient{Client: e.client}
	hc.onContacts = func(q ctct.ContactQuery) {
		if q.ListType != ctct.ListTypeRemoved || moved {
			return
		}
		// The active walk is over: remove its newest contact from every
		// list, so that the removed walk lists it again.
		f, err := e.client.Contacts(ctct.ContactQuery{ListType: ctct.ListTypeActive}).Next(t.Context())
		if err != nil {
			t.Error(err) // not Fatal: this runs on the exporter's goroutine
			return
		}
		c, err := e.client.GetContact(t.Context(), f.Contacts[0].ID)
		if err != nil {
			t.Error(err) // not Fatal: this runs on the exporter's goroutine
			return
		}
		c.Lists = nil
		if err := e.client.UpdateContact(t.Context(), c); err != nil {
			t.Error(err)
			return
		}
		moved = true
	}
	data, sum := runExport(t, hc, exporter.Options{Since: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)})
	tb := parseCSV(t, data)
	rows := tb.byEmail(t)
	if len(rows) != seededN || sum.Rows != seededN {
		t.Errorf("%d rows (summary %d), want %d", len(rows), sum.Rows, seededN)
	}
	if sum.Duplicates != 1 || !moved {
		t.Errorf("duplicates %d, moved %v: want the moved contact listed twice, written once", sum.Duplicates, moved)
	}
	want := pages(counts[exporter.StatusActive]) + pages(counts[exporter.StatusRemoved]+1) + pages(counts[exporter.StatusDoNotMail])
	if sum.Pages != want {
		t.Errorf("%d pages, want %d", sum.Pages, want)
	}
}

// TestExportList: a list by number or name, with a status filter.
func TestExportList(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, seededN)
	lists, err := e.client.Lists(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var id, name string
	var members int
	for _, l := range lists {
		if n := ctct.Number(l.ID); n == "2" {
			id, name, members = n, l.Name, l.ContactCount
		}
	}
	if members == 0 {
		t.Fatalf("list 2 has no member: %+v", lists)
	}
	tests := []struct {
		list   string
		status exporter.Status
		want   int
	}{
		{id, exporter.StatusAll, members},
		{name, exporter.StatusAll, members},
		{id, exporter.StatusActive, members},
		{id, exporter.StatusRemoved, 0},
	}
	for _, tt := range tests {
		t.Run(tt.list+"/"+string(tt.status), func(t *testing.T) {
			data, sum := runExport(t, e.client, exporter.Options{List: tt.list, Status: tt.status})
			tb := parseCSV(t, data)
			if len(tb.rows) != tt.want || sum.List != id {
				t.Errorf("%d rows of list %q, want %d of list %s", len(tb.rows), sum.List, tt.want, id)
			}
			for _, l := range tb.column("ContactLists") {
				if !slices.Contains(sortedLists(l), id) {
					t.Fatalf("a contact of lists %q in the export of list %s", l, id)
				}
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		ex, err := exporter.New(e.client, exporter.Options{List: "No Such List"})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := ex.Run(t.Context(), &buf); !errors.Is(err, exporter.ErrUnknownList) {
			t.Errorf("err = %v, want ErrUnknownList", err)
		}
		if buf.Len() != 0 {
			t.Errorf("wrote %q before failing", buf.String())
		}
	})
}

// TestExportEmails: the given addresses, in the given order, each once.
func TestExportEmails(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, seededN)
	all, _ := runExport(t, e.client, exporter.Options{Detail: exporter.DetailSummary})
	tb := parseCSV(t, all)
	var emails []string
	for i := range 60 {
		emails = append(emails, tb.get(tb.rows[(i*7)%len(tb.rows)], "EmailAddress"))
	}
	given := append(slices.Clone(emails), "nobody@example.com", strings.ToUpper(emails[0]))
	var warnings []string
	var data []byte
	var sum *exporter.Summary
	n := requests(e, func() {
		data, sum = runExport(t, e.client, exporter.Options{Emails: given, Warnf: func(f string, a ...any) {
			warnings = append(warnings, fmt.Sprintf(f, a...))
		}})
	})
	got := parseCSV(t, data)
	if g := got.column("EmailAddress"); !slices.Equal(g, emails) {
		t.Errorf("emails = %q\nwant %q", g, emails)
	}
	if want := int64(len(emails)) + 2; n != want { // 60 GETs, two searches
		t.Errorf("%d requests, want %d", n, want)
	}
	if sum.EmailsNotFound != 1 || len(warnings) != 1 || !strings.Contains(warnings[0], "nobody@example.com") {
		t.Errorf("not found %d, warnings %q", sum.EmailsNotFound, warnings)
	}

	data, _ = runExport(t, e.client, exporter.Options{Emails: given, Status: exporter.StatusActive, Detail: exporter.DetailSummary})
	for _, s := range parseCSV(t, data).column("Status") {
		if s != ctct.StatusActive && s != ctct.StatusUnconfirmed {
			t.Errorf("status %q in an export of active contacts", s)
		}
	}
}

// TestExportIncremental: a full run with a state file, three changes, an
// incremental run exports exactly those three; a run with no change
// exports none.
func TestExportIncremental(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, seededN)
	dir := t.TempDir()
	state := filepath.Join(dir, "export.state")
	out := filepath.Join(dir, "contacts.csv")
	export := func(opts exporter.Options) (*exporter.Summary, *table) {
		t.Helper()
		opts.StatePath, opts.Now = state, e.clock.Now
		ex, err := exporter.New(e.client, opts)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := ex.WriteFile(t.Context(), out, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exporter.VerifyFile(out); err != nil {
			t.Error(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return sum, parseCSV(t, data)
	}

	sum, tb := export(exporter.Options{})
	if len(tb.rows) != seededN || sum.Since != "" {
		t.Fatalf("first run: %d rows since %q, want a full export of %d", len(tb.rows), sum.Since, seededN)
	}
	st, err := exporter.ReadState(state)
	if err != nil || st == nil {
		t.Fatalf("state after the first run: %v %v", st, err)
	}
	if st.HighWaterMark.Format(ctct.TimeLayout) != sum.HighWaterMark || st.Status != "all" {
		t.Errorf("state %+v, summary mark %s", st, sum.HighWaterMark)
	}

	// Change three active contacts: a field, an opt-out, a removal.
	e.clock.advance(time.Minute)
	ctx := t.Context()
	var active []string
	for _, r := range tb.rows {
		if tb.get(r, "Status") == ctct.StatusActive {
			active = append(active, tb.get(r, "Id"))
		}
	}
	changed := map[string]string{active[0]: ctct.StatusActive, active[1]: ctct.StatusDoNotMail, active[2]: ctct.StatusRemoved}
	c, err := e.client.GetContact(ctx, active[0])
	if err != nil {
		t.Fatal(err)
	}
	c.JobTitle = "=changed"
	if err := e.client.UpdateContact(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := e.client.OptOut(ctx, active[1]); err != nil {
		t.Fatal(err)
	}
	if c, err = e.client.GetContact(ctx, active[2]); err != nil {
		t.Fatal(err)
	}
	c.Lists = nil
	if err := e.client.UpdateContact(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Minute)

	var sum2 *exporter.Summary
	n := requests(e, func() { sum2, tb = export(exporter.Options{}) })
	got := map[string]string{}
	for _, r := range tb.rows {
		got[tb.get(r, "Id")] = tb.get(r, "Status")
		if tb.get(r, "Id") == active[0] && tb.get(r, "JobTitle") != "'=changed" {
			t.Errorf("changed job title exported as %q", tb.get(r, "JobTitle"))
		}
	}
	if len(tb.rows) != 3 || !maps.Equal(got, changed) {
		t.Errorf("incremental run: %d rows %v, want exactly the three changed contacts %v", len(tb.rows), got, changed)
	}
	if n != 3+3 { // three GETs, one page per kind
		t.Errorf("incremental run sent %d requests, want 6", n)
	}
	if sum2.Since != sum.HighWaterMark {
		t.Errorf("second run since %s, want the first run's mark %s", sum2.Since, sum.HighWaterMark)
	}
	m, err := exporter.ReadManifest(out)
	if err != nil || m.Since != sum.HighWaterMark || m.HighWaterMark != sum2.HighWaterMark || m.Rows != 3 {
		t.Errorf("manifest %+v, %v", m, err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("file mode: %v %v", fi.Mode(), err)
	}

	e.clock.advance(time.Minute)
	if _, tb = export(exporter.Options{}); len(tb.rows) != 0 {
		t.Errorf("a run with no change exported %d rows", len(tb.rows))
	}

	// The overlap moves the mark back: after a run with a day of overlap
	// the next run exports what changed in that day again.
	export(exporter.Options{Overlap: 24 * time.Hour})
	if _, tb = export(exporter.Options{}); len(tb.rows) != 3 {
		t.Errorf("after a day of overlap: %d rows, want the 3 changed contacts again", len(tb.rows))
	}

	// The state belongs to --status all.
	ex, err := exporter.New(e.client, exporter.Options{StatePath: state, Status: exporter.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Run(ctx, &bytes.Buffer{}); !errors.Is(err, exporter.ErrStateMismatch) {
		t.Errorf("another status with the same state: %v, want ErrStateMismatch", err)
	}
}

// TestExportFailRate: with 10% injected failures the export is complete
// and byte for byte the export of a healthy sandbox with the same data.
func TestExportFailRate(t *testing.T) {
	t.Parallel()
	const n = seededN
	clean, _ := runExport(t, seededEnv(t, n).client, exporter.Options{})
	e := newEnv(t, sandbox.Options{RandSeed: 7, FailRate: 0.1})
	if err := e.sb.Seed(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	faulty, sum := runExport(t, e.client, exporter.Options{Workers: 6})
	if !bytes.Equal(clean, faulty) || sum.Rows != n {
		t.Errorf("the export under injected failures (%d rows) differs from the healthy one", sum.Rows)
	}
	stats := e.sb.Stats()
	if stats.InjectedFailures == 0 || sum.Retries != stats.InjectedFailures {
		t.Errorf("injected %d failures, the client retried %d times", stats.InjectedFailures, sum.Retries)
	}
	if want := n + pages(n) + stats.InjectedFailures; sum.Requests != want {
		t.Errorf("%d requests, want %d", sum.Requests, want)
	}
}

// TestExportInterrupted: a cancelled export leaves the previous file, its
// manifest and the state as they were, and no temporary file; what its
// walk wrote is kept beside them for the next run (FILE.partial and its
// checkpoint), and the next run of the same export continues it: its file
// is byte for byte the one an uninterrupted run writes, its manifest's
// digest that of the file, in fewer requests than a whole walk.
func TestExportInterrupted(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, seededN)
	dir := t.TempDir()
	out := filepath.Join(dir, "contacts.csv")
	state := filepath.Join(dir, "state.json")
	previous := map[string]string{out: "previous export\n", exporter.ManifestPath(out): "{}\n", state: `{"high_water_mark": "2020-01-01T00:00:00.000Z", "status": "all"}` + "\n"}
	for p, s := range previous {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hc := &hookClient{Client: e.client, onGet: func(n int64) {
		if n == 100 {
			cancel()
		}
	}}
	ex, err := exporter.New(hc, exporter.Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ex.WriteFile(ctx, out, 0)
	if !errors.Is(err, exporter.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrInterrupted and context.Canceled", err)
	}
	if sum == nil || sum.Stopped == "" || sum.Rows >= seededN || sum.Partial != exporter.PartialPath(out) {
		t.Errorf("summary %+v", sum)
	}
	kept := maps.Clone(previous)
	for _, p := range []string{exporter.PartialPath(out), exporter.PartialPath(out) + ".json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("the interrupted walk kept no %s: %v", filepath.Base(p), err)
		}
		kept[p] = string(b)
	}
	checkUntouched(t, dir, kept)

	// The same export again continues the walk.
	before := e.sb.Stats().Requests
	ex, err = exporter.New(e.client, exporter.Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := ex.WriteFile(t.Context(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	resumedReq := e.sb.Stats().Requests - before
	if resumed.Resumed == 0 || resumed.Resumed > sum.Rows {
		t.Errorf("resumed from %d contacts, the interrupted run wrote %d", resumed.Resumed, sum.Rows)
	}
	if _, err := os.Stat(exporter.PartialPath(out)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the partial file is still there after the resumed run completed: %v", err)
	}
	if _, err := exporter.VerifyFile(out); err != nil {
		t.Errorf("the resumed file does not verify against its manifest: %v", err)
	}
	whole := filepath.Join(t.TempDir(), "whole.csv")
	before = e.sb.Stats().Requests
	ex, err = exporter.New(e.client, exporter.Options{Since: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.WriteFile(t.Context(), whole, 0); err != nil {
		t.Fatal(err)
	}
	wholeReq := e.sb.Stats().Requests - before
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(whole)
	if !bytes.Equal(a, b) {
		t.Errorf("the resumed file (%d bytes) differs from an uninterrupted export (%d bytes)", len(a), len(b))
	}
	if resumedReq >= wholeReq {
		t.Errorf("the resumed run took %d requests, a whole walk %d", resumedReq, wholeReq)
	}
}

// TestExportFailed: an export that fails (the server keeps failing) leaves
// the previous file as it was.
func TestExportFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{FailRate: 1})
	dir := t.TempDir()
	out := filepath.Join(dir, "contacts.csv")
	previous := map[string]string{out: "previous export\n"}
	if err := os.WriteFile(out, []byte(previous[out]), 0o600); err != nil {
		t.Fatal(err)
	}
	ex, err := exporter.New(e.client, exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ex.WriteFile(t.Context(), out, 0)
	if err == nil || errors.Is(err, exporter.ErrInterrupted) {
		t.Fatalf("err = %v, want a failure", err)
	}
	checkUntouched(t, dir, previous)
}

// checkUntouched checks that dir holds exactly the files of previous with
// their content.
func checkUntouched(t *testing.T, dir string, previous map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(previous) {
		var names []string
		for _, de := range entries {
			names = append(names, de.Name())
		}
		t.Errorf("files left: %q, want only the %d previous ones", names, len(previous))
	}
	for p, want := range previous {
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want it untouched: %q", filepath.Base(p), b, err, want)
		}
	}
}

// TestExportVanished: contacts deleted between the listing and their GET
// are skipped and counted, not fatal.
func TestExportVanished(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, seededN)
	hc := &hookClient{Client: e.client, onGet: func(n int64) {
		if n == 60 {
			if err := e.sb.Reset(t.Context()); err != nil {
				t.Error(err)
			}
		}
	}}
	data, sum := runExport(t, hc, exporter.Options{Workers: 3})
	tb := parseCSV(t, data)
	if sum.Vanished == 0 || sum.Rows+sum.Vanished != sum.Listed || int64(len(tb.rows)) != sum.Rows || sum.Rows < 50 {
		t.Errorf("rows %d (%d in the file), vanished %d, listed %d", sum.Rows, len(tb.rows), sum.Vanished, sum.Listed)
	}
}

// TestExportGolden pins the CSV shape of a few tricky contacts.
func TestExportGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	ctx := t.Context()
	contacts := []*ctct.Contact{
		{EmailAddress: "zoe@example.com", FirstName: "Zoë", LastName: "O'Brien", Note: "two\nlines, \"quoted\"", HomePhone: "+1 555 0100",
			CustomFields: [15]string{"=1+1", "@x", "-3", "\ttab", "plain"}},
		{EmailAddress: "jose@example.org", EmailType: ctct.EmailTypeText, FirstName: "José", CompanyName: "Ünïcode, Inc.", City: "Montréal",
			StateCode: "QC", CountryCode: "ca", PostalCode: "H2X 1Y4"},
		{EmailAddress: "dnm@example.net", FirstName: "Gone"},
	}
	for i, c := range contacts {
		c.OptInSource = ctct.ActionByCustomer
		c.Lists = []ctct.ListMembership{{ID: e.client.ListURI(strconv.Itoa(1 + i))}}
		created, err := e.client.CreateContact(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if err := e.client.OptOut(ctx, created.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, detail := range []exporter.Detail{exporter.DetailFull, exporter.DetailSummary} {
		t.Run(string(detail), func(t *testing.T) {
			got, _ := runExport(t, e.client, exporter.Options{Detail: detail})
			checkGolden(t, "export_"+string(detail)+".csv", got)
		})
	}
}

// BenchmarkExport measures an export of a seeded sandbox over loopback
// HTTP; requests/op is read from the sandbox.
func BenchmarkExport(b *testing.B) {
	const n = 2000
	e := seededEnv(b, n)
	for _, detail := range []exporter.Detail{exporter.DetailFull, exporter.DetailSummary} {
		b.Run(string(detail), func(b *testing.B) {
			before := e.sb.Stats().Requests
			runs := 0
			for b.Loop() {
				ex, err := exporter.New(e.client, exporter.Options{Detail: detail, Workers: 8})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ex.Run(b.Context(), discard{}); err != nil {
					b.Fatal(err)
				}
				runs++
			}
			b.ReportMetric(float64(e.sb.Stats().Requests-before)/float64(runs), "requests/op")
			b.ReportMetric(n, "contacts/op")
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
