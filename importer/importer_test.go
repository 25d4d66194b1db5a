package importer_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"ctctbulk/ctct"
	"ctctbulk/importer"
	"ctctbulk/mapping"
	"ctctbulk/sandbox"
)

// env is a sandbox served over HTTP under a path prefix and a client of it.
type env struct {
	sb     *sandbox.Sandbox
	client *ctct.Client
	dir    string
}

// newEnv serves a sandbox of cfg and returns a client of it with
// clientOpts, where they are zero: Basic auth, no client-side rate limit,
// short backoffs, 8 retries.
func newEnv(t testing.TB, cfg sandbox.Options, clientOpts ...ctct.Options) *env {
	t.Helper()
	if cfg.DB == "" {
		cfg.DB = ":memory:"
	}
	if cfg.User == "" {
		cfg.User, cfg.APIKey, cfg.Password, cfg.AccessToken = sandbox.DefaultUser, sandbox.DefaultAPIKey, sandbox.DefaultPassword, sandbox.DefaultAccessToken
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = sandbox.DefaultPageSize
	}
	if cfg.ThrottleStatus == 0 {
		cfg.ThrottleStatus = 429
	}
	if cfg.RandSeed == 0 {
		cfg.RandSeed = 7
	}
	sb, err := sandbox.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", sb))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	var opts ctct.Options
	if len(clientOpts) > 0 {
		opts = clientOpts[0]
	}
	opts.APIKey, opts.Password = cfg.APIKey, cfg.Password
	opts.Limiter = rate.NewLimiter(rate.Inf, 1)
	opts.MinBackoff, opts.MaxBackoff = time.Millisecond, 5*time.Millisecond
	opts.Retries = cmp.Or(opts.Retries, 8)
	c, err := ctct.NewClient(srv.URL+"/api", cfg.User, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{sb: sb, client: c, dir: t.TempDir()}
}

// options returns import options writing the report and journal in the
// test's directory.
func (e *env) options() importer.Options {
	return importer.Options{
		Lists:       []string{"1"},
		Workers:     4,
		Retries:     6,
		ReportPath:  filepath.Join(e.dir, "in.errors.csv"),
		JournalPath: filepath.Join(e.dir, "in.journal"),
	}
}

func (e *env) run(t *testing.T, ctx context.Context, opts importer.Options, input string) (*importer.Summary, error) {
	t.Helper()
	im, err := importer.New(e.client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return im.Run(ctx, strings.NewReader(input))
}

// contacts returns every contact of the sandbox by email, fully read.
func (e *env) contacts(t *testing.T) map[string]*ctct.Contact {
	t.Helper()
	ctx := context.Background()
	out := map[string]*ctct.Contact{}
	p := e.client.Contacts(ctct.ContactQuery{})
	for !p.Done() {
		f, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range f.Contacts {
			if _, dup := out[s.EmailAddress]; dup {
				t.Errorf("duplicate contact for %s", s.EmailAddress)
			}
			c, err := e.client.GetContact(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[s.EmailAddress] = c
		}
	}
	return out
}

// generate returns a CSV of n rows with every mapped value derived from
// the row number and version (so that a new version changes every value).
func generate(n, version int) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"Email", "First Name", "Last Name", "Company", "City", "State", "Country Code", "Custom Field 3", "Notes"})
	for i := 0; i < n; i++ {
		w.Write([]string{
			fmt.Sprintf("person%05d@example.com", i),
			fmt.Sprintf("First%d-v%d", i, version),
			fmt.Sprintf("Last%d-v%d", i, version),
			fmt.Sprintf("Company %d, v%d", i, version),
			fmt.Sprintf("City%d", version),
			[]string{"MA", "CA", "NY"}[version%3],
			"us",
			fmt.Sprintf("cf3-%d-%d", i, version),
			fmt.Sprintf("note %d\nversion %d", i, version),
		})
	}
	w.Flush()
	return b.String()
}

// checkGenerated checks that the sandbox holds exactly the n contacts of
// generate(n, version), field by field.
func checkGenerated(t *testing.T, e *env, n, version int) {
	t.Helper()
	got := e.contacts(t)
	if len(got) != n {
		t.Errorf("sandbox holds %d contacts, want %d", len(got), n)
	}
	wrong := 0
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("person%05d@example.com", i)
		c := got[email]
		if c == nil {
			t.Errorf("contact %s missing", email)
			continue
		}
		want := map[string]string{
			"FirstName": fmt.Sprintf("First%d-v%d", i, version), "LastName": fmt.Sprintf("Last%d-v%d", i, version),
			"CompanyName": fmt.Sprintf("Company %d, v%d", i, version), "City": fmt.Sprintf("City%d", version),
			"StateCode": []string{"MA", "CA", "NY"}[version%3], "CountryCode": "us",
			"CustomField3": fmt.Sprintf("cf3-%d-%d", i, version), "Note": fmt.Sprintf("note %d\nversion %d", i, version),
		}
		for f, v := range want {
			if c.Get(f) != v {
				wrong++
				if wrong < 5 {
					t.Errorf("%s %s = %q, want %q", email, f, c.Get(f), v)
				}
			}
		}
		if !c.HasList("1") {
			t.Errorf("%s is not on list 1", email)
		}
	}
	if wrong > 0 {
		t.Errorf("%d wrong fields", wrong)
	}
}

func requests(e *env) int64 { return e.sb.Stats().Requests }

func TestImportCreateUpdateUnchangedRequestEconomy(t *testing.T) {
	const n = 100
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()

	tests := []struct {
		name      string
		version   int
		want      func(s *importer.Summary) bool
		maxPerRow float64
		noPUT     bool
	}{
		{"new", 1, func(s *importer.Summary) bool { return s.Created == n }, 1.02, true},
		{"every value changed", 2, func(s *importer.Summary) bool { return s.Updated == n }, 2.02, false},
		{"same file again", 2, func(s *importer.Summary) bool { return s.Unchanged == n }, 1.02, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.sb.Stats()
			sum, err := e.run(t, ctx, e.options(), generate(n, tt.version))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(sum) || sum.Failed != 0 || sum.Read != n || sum.Finished() != n {
				t.Fatalf("summary %+v", sum)
			}
			after := e.sb.Stats()
			// One read of the lists per run checks --list before any row.
			if got := after.ByRoute["GET /lists"] - before.ByRoute["GET /lists"]; got != 1 {
				t.Errorf("%d reads of the lists, want 1", got)
			}
			perRow := float64(after.Requests-before.Requests-1) / n
			if perRow > tt.maxPerRow {
				t.Errorf("%.3f requests per row, want at most %.2f", perRow, tt.maxPerRow)
			}
			if puts := after.ByMethod["PUT"] - before.ByMethod["PUT"]; tt.noPUT && puts != 0 {
				t.Errorf("%d PUTs, want none", puts)
			}
			if sum.Requests != after.Requests-before.Requests {
				t.Errorf("summary says %d requests, sandbox saw %d", sum.Requests, after.Requests-before.Requests)
			}
			checkGenerated(t, e, n, tt.version)
			if _, err := os.Stat(e.options().JournalPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("journal left after a completed run: %v", err)
			}
		})
	}
}

func TestImportSameEmailInFileOrder(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	// Rows of one email far apart (other batches between) and close by:
	// applied in file order, the last row wins, one contact.
	var b strings.Builder
	b.WriteString("Email,First Name,Custom Field 1\n")
	for i := 0; i < 130; i++ {
		fmt.Fprintf(&b, "filler%d@example.com,F%d,\n", i, i)
		if i%40 == 0 {
			fmt.Fprintf(&b, "Same@Example.com,Version%d,cf%d\n", i, i)
		}
	}
	b.WriteString("same@example.com,Final,\n")
	sum, err := e.run(t, context.Background(), e.options(), b.String())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || sum.Created != 131 || sum.Updated != 4 {
		t.Errorf("summary %+v, want 131 created and 4 updated", sum)
	}
	c := e.contacts(t)["same@example.com"]
	if c == nil || c.FirstName != "Final" || c.CustomFields[0] != "cf120" {
		t.Errorf("same@example.com = %+v, want FirstName Final and CustomField1 cf120 (empty cell kept)", c)
	}
}

func TestImportModesEmptyListsAndDoNotMail(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	seed := "Email,First Name,Last Name,ContactLists\nkeep@example.com,Kim,Keep,2\ndnm@example.com,Dan,Nomail,1\n"
	if _, err := e.run(t, ctx, e.options(), seed); err != nil {
		t.Fatal(err)
	}
	dnm := e.contacts(t)["dnm@example.com"]
	if err := e.client.OptOut(ctx, dnm.ID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		mutate func(o *importer.Options)
		input  string
		check  func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact)
	}{
		{"keep empties, lists additive", func(o *importer.Options) { o.Lists = []string{"3"} },
			"Email,First Name,Last Name\nkeep@example.com,Kimberly,\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				c := cs["keep@example.com"]
				if s.Updated != 1 || c.FirstName != "Kimberly" || c.LastName != "Keep" || !c.HasList("2") || !c.HasList("3") {
					t.Errorf("summary %+v contact %+v", s, c)
				}
			}},
		{"clear empties", func(o *importer.Options) { o.Empty = mapping.EmptyClear },
			"Email,First Name,Last Name\nkeep@example.com,Kimberly,\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				if c := cs["keep@example.com"]; s.Updated != 1 || c.LastName != "" || c.FirstName != "Kimberly" {
					t.Errorf("summary %+v contact %+v", s, c)
				}
			}},
		{"create mode skips existing", func(o *importer.Options) { o.Mode = importer.ModeCreate },
			"Email,First Name\nkeep@example.com,Other\nfresh@example.com,Fresh\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				if s.Skipped != 1 || s.Created != 1 || cs["keep@example.com"].FirstName != "Kimberly" || cs["fresh@example.com"] == nil {
					t.Errorf("summary %+v", s)
				}
			}},
		{"update mode creates none", func(o *importer.Options) { o.Mode = importer.ModeUpdate },
			"Email,First Name\nkeep@example.com,Updated\nnobody@example.com,Nobody\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				if s.Skipped != 1 || s.Updated != 1 || cs["nobody@example.com"] != nil || cs["keep@example.com"].FirstName != "Updated" {
					t.Errorf("summary %+v", s)
				}
			}},
		{"do not mail is skipped", nil,
			"Email,First Name\ndnm@example.com,Again\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				c := cs["dnm@example.com"]
				if s.Skipped != 1 || c.Status != ctct.StatusDoNotMail || c.FirstName != "Dan" || len(c.Lists) != 0 {
					t.Errorf("summary %+v contact %+v", s, c)
				}
			}},
		{"list by name", func(o *importer.Options) { o.Lists = []string{"Newsletter"} },
			"Email\nnamed@example.com\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				if s.Created != 1 || !cs["named@example.com"].HasList("3") {
					t.Errorf("summary %+v", s)
				}
			}},
		{"canadian contact", nil,
			"Email,Country Code,State\ncanada@example.com,CA,on\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				if c := cs["canada@example.com"]; s.Created != 1 || c.CountryCode != "ca" || c.StateCode != "ON" {
					t.Errorf("summary %+v contact %+v", s, c)
				}
			}},
		{"state against the kept country fails before any PUT", nil,
			"Email,State\ncanada@example.com,MA\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				// The lists, the search and the GET; no PUT.
				if s.Failed != 1 || s.Requests != 3 || cs["canada@example.com"].StateCode != "ON" {
					t.Errorf("summary %+v", s)
				}
			}},
		{"new contact without list fails", func(o *importer.Options) { o.Lists = nil },
			"Email\nlonely@example.com\n",
			func(t *testing.T, s *importer.Summary, cs map[string]*ctct.Contact) {
				if s.Failed != 1 || cs["lonely@example.com"] != nil {
					t.Errorf("summary %+v", s)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := e.options()
			if tt.mutate != nil {
				tt.mutate(&opts)
			}
			sum, err := e.run(t, ctx, opts, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, sum, e.contacts(t))
		})
	}
}

func TestImportErrorReportFedBack(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	input := "Email;First Name;Notes\n" +
		"good@example.com;Good;fine\n" +
		"bad-email;Bad;\"multi\nline\"\n" +
		"toolong@example.com;" + strings.Repeat("x", 51) + ";\n" +
		"bro\"ken@example.com;Broken;x\n" +
		"also.good@example.com;Also;\n"
	opts := e.options()
	sum, err := e.run(t, ctx, opts, input)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 2 || sum.Failed != 3 || sum.Read != 5 {
		t.Fatalf("summary %+v", sum)
	}
	f, err := os.Open(opts.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	if st.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v, want 0600", st.Mode().Perm())
	}
	r := csv.NewReader(f)
	r.Comma = ';'
	recs, err := r.ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "Email,First Name,Notes,_line,_status,_error,_extra,_raw,_cut,_superseded_by" {
		t.Errorf("report header %q", got)
	}
	lines := map[string]string{}
	for _, rec := range recs[1:] {
		lines[rec[3]] = rec[5]
	}
	if !strings.Contains(lines["3"], "Email") || !strings.Contains(lines["5"], "First Name") || lines["6"] == "" || len(lines) != 3 {
		t.Errorf("report rows by line: %q", lines)
	}

	// Fix the two bad values in the report and feed it back.
	fixed, err := os.ReadFile(opts.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(fixed), "bad-email", "bad@example.com", 1)
	text = strings.Replace(text, strings.Repeat("x", 51), "Short", 1)
	opts.ReportPath = filepath.Join(e.dir, "again.errors.csv")
	opts.JournalPath = filepath.Join(e.dir, "again.journal")
	sum, err = e.run(t, ctx, opts, text)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 3 || sum.Created != 2 || sum.Failed != 1 {
		t.Errorf("fed-back summary %+v, want 3 read, 2 created, 1 failed", sum)
	}
}

func TestImportUnderFaultsExactState(t *testing.T) {
	const n = 200
	e := newEnv(t, sandbox.Options{FailRate: 0.1, DropRate: 0.02})
	sum, err := e.run(t, context.Background(), e.options(), generate(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || sum.Created+sum.Updated+sum.Unchanged != n {
		t.Errorf("summary %+v", sum)
	}
	st := e.sb.Stats()
	if st.InjectedFailures == 0 || st.Dropped == 0 {
		t.Errorf("faults not exercised: %+v", st)
	}
	checkGenerated(t, e, n, 1)
	// And the same file with every value changed, under the same faults.
	if _, err := e.run(t, context.Background(), e.options(), generate(n, 2)); err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, e, n, 2)
}

func TestImportBudgetThenResume(t *testing.T) {
	const n = 240
	e := newEnv(t, sandbox.Options{FailRate: 0.05}, ctct.Options{MaxRequests: 100})
	opts := e.options()
	input := generate(n, 1)
	sum, err := e.run(t, context.Background(), opts, input)
	if !errors.Is(err, ctct.ErrBudgetExhausted) {
		t.Fatalf("err = %v, want the budget", err)
	}
	if sum.Finished()+sum.Pending != sum.Read || sum.Finished() == 0 || sum.Finished() >= n {
		t.Fatalf("summary %+v", sum)
	}
	if requests(e) > 100 {
		t.Errorf("%d requests sent with a budget of 100", requests(e))
	}
	// Starting again without resume is refused while the journal exists.
	if _, err := e.run(t, context.Background(), opts, input); !errors.Is(err, importer.ErrJournalExists) {
		t.Fatalf("err = %v, want ErrJournalExists", err)
	}
	// Resume with a fresh budget through a new client of the same sandbox.
	e2 := *e
	e2.client = newClientLike(t, e)
	opts.Resume = true
	sum2, err := e2.run(t, context.Background(), opts, input)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Finished()+sum2.Finished() < n || sum2.Resumed != sum.Finished() {
		t.Errorf("first %+v then %+v", sum, sum2)
	}
	checkGenerated(t, &e2, n, 1)
}

func TestImportInterruptedThenResumed(t *testing.T) {
	const n = 400
	e := newEnv(t, sandbox.Options{Latency: 2 * time.Millisecond})
	opts := e.options()
	input := generate(n, 1)
	ctx, cancel := context.WithCancel(context.Background())
	im, err := importer.New(e.client, opts)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if done, _ := im.Progress(); done >= 60 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	sum, err := im.Run(ctx, strings.NewReader(input))
	if !errors.Is(err, importer.ErrInterrupted) {
		t.Fatalf("err = %v, want interrupted (summary %+v)", err, sum)
	}
	if sum.Finished()+sum.Pending != sum.Read || sum.Finished() >= n {
		t.Errorf("summary %+v", sum)
	}
	opts.Resume = true
	sum2, err := e.run(t, context.Background(), opts, input)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Resumed != sum.Finished() || sum2.Resumed+sum2.Finished() != n {
		t.Errorf("resumed %+v after %+v", sum2, sum)
	}
	checkGenerated(t, e, n, 1)
}

func TestImportDryRun(t *testing.T) {
	dir := t.TempDir()
	opts := importer.Options{DryRun: true, ReportPath: filepath.Join(dir, "r.csv")}
	im, err := importer.New(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	input := generate(120, 1) + "bad-email,x,y,,,,,,\n"
	sum, err := im.Run(context.Background(), strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	// No account: planned as an empty one, 3 searches and a POST per
	// valid row, each of which would fail for want of a list.
	if sum.Read != 121 || sum.Valid != 120 || sum.Failed != 1 || sum.PlannedRequests != 3+120 {
		t.Errorf("summary %+v", sum)
	}
	if sum.PlanFailRows != 120 || !sum.PlanFailAtMost {
		t.Errorf("plan fails %d rows (at most: %v), want up to 120", sum.PlanFailRows, sum.PlanFailAtMost)
	}
}

func TestImportFatalOnDeadServer(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	dead, err := ctct.NewClient("http://127.0.0.1:1/api", "sandbox", ctct.Options{APIKey: "k", Password: "p",
		Limiter: rate.NewLimiter(rate.Inf, 1), Retries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	im, err := importer.New(dead, e.options())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := im.Run(context.Background(), strings.NewReader(generate(10, 1)))
	if err == nil || strings.Contains(err.Error(), "sandbox-password") {
		t.Fatalf("err = %v, want a connection error without secrets", err)
	}
	// The lists are read before the first row: the run stops there, with
	// nothing written and no row started.
	if sum != nil {
		t.Errorf("summary %+v, want none", sum)
	}
	for _, p := range []string{e.options().JournalPath, e.options().ReportPath} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written by a run that could not start: %v", p, err)
		}
	}
}

// newClientLike returns a client of e's sandbox with no budget.
func newClientLike(t *testing.T, e *env) *ctct.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", e.sb))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := ctct.NewClient(srv.URL+"/api", sandbox.DefaultUser, ctct.Options{APIKey: sandbox.DefaultAPIKey, Password: sandbox.DefaultPassword,
		Limiter: rate.NewLimiter(rate.Inf, 1), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Retries: 8})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
