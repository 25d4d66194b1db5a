package exporter_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/mapping"
	"ctctbulk/sandbox"
)

// clock is a test clock shared by a sandbox and an exporter: every reading
// is one millisecond after the previous one, so that every write of the
// sandbox has its own time and "before" and "after" never depend on the
// machine's speed.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(start time.Time) *clock { return &clock{t: start} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// advance moves the clock forward by d.
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a sandbox served over loopback HTTP under a path prefix, and a
// client of it with no client-side rate limit and no real sleeps.
type env struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	client *ctct.Client
	clock  *clock
}

// startEnv opens a sandbox with cfg (its clock replaced by clk) and a
// client of it.
func startEnv(ctx context.Context, cfg sandbox.Options, clk *clock) (*env, error) {
	cfg.Now = clk.Now
	sb, err := sandbox.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", sb))
	srv := httptest.NewServer(mux)
	client, err := ctct.NewClient(srv.URL+"/api", sandbox.DefaultUser,
		ctct.Options{APIKey: sandbox.DefaultAPIKey, Password: sandbox.DefaultPassword,
			Limiter:   rate.NewLimiter(rate.Inf, 1),
			Retries:   12,
			Sleep:     func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
			UserAgent: "ctctbulk/test",
		})
	if err != nil {
		srv.Close()
		sb.Close()
		return nil, err
	}
	return &env{sb: sb, srv: srv, client: client, clock: clk}, nil
}

func (e *env) close() {
	e.srv.Close()
	e.sb.Close()
}

// newEnv starts an env for a test on its own in-memory store (or the
// store named by cfg.DB) and closes it at the end of the test.
func newEnv(t testing.TB, cfg sandbox.Options) *env {
	t.Helper()
	e, err := startEnv(t.Context(), cfg, newClock(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

// --- the shared fixture: 1,234 contacts created through the client ------

const fixtureN = 1234

// fixture is a sandbox store holding fixtureN contacts with every field
// set, non-ASCII text, embedded newlines, quotes and formula-like cells;
// some are opted out (Do Not Mail) and some removed from every list.
// Tests open copies of it.
type fixture struct {
	db   string
	want map[string]*wantContact // by email
}

// wantContact is what the fixture sent and what the server made of it.
type wantContact struct {
	sent   *ctct.Contact // editable fields and lists as created
	number string        // contact number
	status string
	lists  []string // list numbers after the status changes, sorted
}

var (
	fixtureOnce sync.Once
	fixtureVal  *fixture
	fixtureErr  error
	fixtureDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupBulk()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// sharedFixture builds the fixture once per test binary.
func sharedFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "exporter-fixture-")
		if fixtureErr == nil {
			fixtureVal, fixtureErr = buildFixture(context.Background(), filepath.Join(fixtureDir, "fixture.db"))
		}
	})
	if fixtureErr != nil {
		t.Fatalf("build fixture: %v", fixtureErr)
	}
	return fixtureVal
}

var (
	firstNames = []string{"Zoë", "José", "Jürgen", "Siobhán", "Chloé", "Ōtani", "Renée", "François", "Ana María", "Łukasz", "李", "Søren", "Ahmed"}
	lastNames  = []string{"O'Brien", "Müller", "Côté", `Smith "Smitty"`, "Nguyễn", "García-López", "=HYPERLINK(\"x\")", "van der Berg", "Tanaka", "+Plus", "@Handle", "-Dash"}
	places     = []struct{ city, stateCode, stateName, country, countryName, postal string }{
		{"Montréal", "QC", "", "ca", "Canada", "H2X 1Y4"},
		{"Springfield", "IL", "", "us", "United States", "62701"},
		{"Paris", "", "Île-de-France", "fr", "France", "75001"},
		{"Zürich", "", "Zürich", "ch", "Schweiz", "8001"},
		{"東京", "", "東京都", "jp", "日本", "100-0001"},
	}
	customSpecials = []string{"=SUM(A1:A9)", "@mention", "-42", "+33 1 23 45", "emoji 🌷 ok", `he said "hi", twice`, "multi\nline", "semi;colon", "cmd|' /C calc'!A0"}
)

// fixtureContact returns contact i of the fixture as it is created.
func fixtureContact(i int, listURI func(string) string) *ctct.Contact {
	p := places[i%len(places)]
	c := &ctct.Contact{
		EmailAddress:  fmt.Sprintf("contact.%04d+export@example.com", i),
		EmailType:     []string{ctct.EmailTypeHTML, ctct.EmailTypeText}[i%2],
		FirstName:     firstNames[i%len(firstNames)],
		LastName:      lastNames[i%len(lastNames)],
		JobTitle:      `Owner, "Chief" Florist`,
		CompanyName:   "Joe's Flowers & Co",
		HomePhone:     fmt.Sprintf("+1 555 01%02d", i%100),
		WorkPhone:     fmt.Sprintf("(555) 02%02d", i%100),
		Addr1:         fmt.Sprintf("%d Rue Saint-Denis", i+1),
		Addr2:         "Apt 4\nBack door",
		Addr3:         "Bâtiment C",
		City:          p.city,
		StateCode:     p.stateCode,
		StateName:     p.stateName,
		CountryCode:   p.country,
		CountryName:   p.countryName,
		PostalCode:    p.postal,
		SubPostalCode: fmt.Sprintf("%04d", i),
		Note:          fmt.Sprintf("Line one of %d\nLine two, \"quoted\"; ünïcödé ✓\n=1+1", i),
		OptInSource:   ctct.ActionByCustomer,
	}
	if i%3 == 0 {
		c.MiddleName = "Q."
	}
	for k := range c.CustomFields {
		c.CustomFields[k] = fmt.Sprintf("cf%d of %d", k+1, i)
	}
	c.CustomFields[i%ctct.NumCustomFields] = customSpecials[i%len(customSpecials)]
	for _, l := range []string{"1", "2", "3"}[:1+i%3] {
		c.Lists = append(c.Lists, ctct.ListMembership{ID: listURI(l)})
	}
	if i%5 == 0 { // another combination: lists 2 and 3 only
		c.Lists = []ctct.ListMembership{{ID: listURI("2")}, {ID: listURI("3")}}
	}
	return c
}

// buildFixture creates the contacts through the client, then opts some
// out and removes some from every list.
func buildFixture(ctx context.Context, db string) (*fixture, error) {
	cfg := sandbox.Options{}
	cfg.DB = db
	e, err := startEnv(ctx, cfg, newClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		return nil, err
	}
	defer e.close()
	// One contact at a time, on a clock that moves only when the sandbox
	// reads it: the store, and so every export of it, is the same on
	// every run (TestExportFixtureGolden relies on it).
	fx := &fixture{db: db, want: map[string]*wantContact{}}
	for i := range fixtureN {
		w, err := createFixtureContact(ctx, e.client, i)
		if err != nil {
			return nil, err
		}
		fx.want[w.sent.EmailAddress] = w
	}
	return fx, nil
}

// createFixtureContact creates contact i, then opts it out or removes it
// from every list for some i.
func createFixtureContact(ctx context.Context, client *ctct.Client, i int) (*wantContact, error) {
	c := fixtureContact(i, client.ListURI)
	if errs := ctct.ValidateContact(c); len(errs) > 0 {
		return nil, fmt.Errorf("fixture contact %d is invalid: %v", i, errs[0])
	}
	created, err := client.CreateContact(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("create contact %d: %w", i, err)
	}
	w := &wantContact{sent: c, number: ctct.Number(created.ID), status: ctct.StatusActive}
	for _, l := range c.Lists {
		w.lists = append(w.lists, ctct.Number(l.ID))
	}
	sort.Strings(w.lists)
	switch {
	case i%37 == 5:
		if err := client.OptOut(ctx, created.ID); err != nil {
			return nil, fmt.Errorf("opt out %d: %w", i, err)
		}
		w.status, w.lists = ctct.StatusDoNotMail, nil
	case i%41 == 7:
		full, err := client.GetContact(ctx, created.ID)
		if err != nil {
			return nil, err
		}
		full.Lists = nil
		if err := client.UpdateContact(ctx, full); err != nil {
			return nil, fmt.Errorf("remove %d: %w", i, err)
		}
		w.status, w.lists = ctct.StatusRemoved, nil
	}
	return w, nil
}

// seededEnv is an in-memory sandbox with n contacts made by its Seed
// (realistic data, about 5% Removed and 3% Do Not Mail).
func seededEnv(t testing.TB, n int) *env {
	t.Helper()
	e := newEnv(t, sandbox.Options{RandSeed: 7})
	if err := e.sb.Seed(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	return e
}

// kindCounts reads the number of contacts of each kind from the system
// lists.
func kindCounts(t testing.TB, e *env) map[exporter.Status]int {
	t.Helper()
	lists, err := e.client.Lists(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[exporter.Status]int{}
	for _, l := range lists {
		switch k := exporter.Status(ctct.Number(l.ID)); k {
		case exporter.StatusActive, exporter.StatusRemoved, exporter.StatusDoNotMail:
			m[k] = l.ContactCount
			m[exporter.StatusAll] += l.ContactCount
		}
	}
	return m
}

// open copies the fixture's store into the test's directory and starts a
// sandbox on the copy with cfg's knobs.
func (fx *fixture) open(t testing.TB, cfg sandbox.Options) *env {
	t.Helper()
	db := filepath.Join(t.TempDir(), "sandbox.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(fx.db + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(db+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg.DB = db
	return newEnv(t, cfg)
}

// count returns how many fixture contacts have a status of kind s.
func (fx *fixture) count(s exporter.Status) int {
	n := 0
	for _, w := range fx.want {
		switch {
		case s == exporter.StatusAll,
			s == exporter.StatusActive && w.status == ctct.StatusActive,
			s == exporter.StatusRemoved && w.status == ctct.StatusRemoved,
			s == exporter.StatusDoNotMail && w.status == ctct.StatusDoNotMail:
			n++
		}
	}
	return n
}

// --- CSV helpers ---------------------------------------------------------

// table is a parsed export: the header's column index and the rows.
type table struct {
	col  map[string]int
	rows [][]string
}

func parseCSV(t testing.TB, data []byte) *table {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse export: %v", err)
	}
	if len(recs) == 0 {
		t.Fatal("export has no header")
	}
	// The full header, or the columns of a summary export: some of it, in
	// its order.
	full, h := mapping.ExportHeader(), recs[0]
	for _, name := range full {
		if len(h) > 0 && h[0] == name {
			h = h[1:]
		}
	}
	if len(h) > 0 || len(recs[0]) < 2 {
		t.Fatalf("header = %q\nwant %q or some of it in that order", recs[0], full)
	}
	tb := &table{col: map[string]int{}, rows: recs[1:]}
	for i, h := range recs[0] {
		tb.col[h] = i
	}
	return tb
}

func (tb *table) get(row []string, name string) string {
	i, ok := tb.col[name]
	if !ok {
		panic("the export has no column " + name)
	}
	return row[i]
}

// column returns one column of every row.
func (tb *table) column(name string) []string {
	out := make([]string, len(tb.rows))
	for i, r := range tb.rows {
		out[i] = tb.get(r, name)
	}
	return out
}

// byEmail indexes the rows by email, failing on duplicates.
func (tb *table) byEmail(t testing.TB) map[string][]string {
	t.Helper()
	m := make(map[string][]string, len(tb.rows))
	for _, r := range tb.rows {
		e := tb.get(r, "EmailAddress")
		if _, dup := m[e]; dup {
			t.Errorf("contact %s exported twice", e)
		}
		m[e] = r
	}
	return m
}

// runExport runs an export into a buffer and fails the test on error.
func runExport(t testing.TB, client exporter.Client, opts exporter.Options) ([]byte, *exporter.Summary) {
	t.Helper()
	ex, err := exporter.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sum, err := ex.Run(t.Context(), &buf)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if sum.Stopped != "" {
		t.Errorf("summary says stopped: %s", sum.Stopped)
	}
	return buf.Bytes(), sum
}

// requests returns the sandbox's request count after f minus before.
func requests(e *env, f func()) int64 {
	before := e.sb.Stats().Requests
	f()
	return e.sb.Stats().Requests - before
}

func pages(n int) int64 { return int64(max(1, (n+49)/50)) }

func sortedLists(cell string) []string {
	if cell == "" {
		return nil
	}
	ls := strings.Split(cell, ";")
	sort.Strings(ls)
	return ls
}

// parseHeader returns the header of an export.
func parseHeader(t testing.TB, data []byte) []string {
	t.Helper()
	h, err := csv.NewReader(bytes.NewReader(data)).Read()
	if err != nil {
		t.Fatalf("read header: %v", err)
	}
	return h
}
