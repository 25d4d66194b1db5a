package exporter_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/sandbox"
)

// bulkEnv is a sandbox on the real clock (a job's queue time is real
// time) and a client whose waits are real but short.
type bulkEnv struct {
	sb     *sandbox.Sandbox
	client *ctct.Client
}

func newBulkEnv(t testing.TB, cfg sandbox.Options, seed int) *bulkEnv {
	t.Helper()
	cfg.RandSeed = 11
	sb, err := sandbox.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	if err := sb.Seed(t.Context(), seed); err != nil {
		t.Fatal(err)
	}
	client, err := newBulkClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &bulkEnv{sb: sb, client: client}
}

// newBulkClient is a client of the sandbox at url with no rate limit and
// real but short waits (the job runner works in real time).
func newBulkClient(url string) (*ctct.Client, error) {
	return ctct.NewClient(url, sandbox.DefaultUser, ctct.Options{
		APIKey: sandbox.DefaultAPIKey, Password: sandbox.DefaultPassword,
		Limiter: rate.NewLimiter(rate.Inf, 1),
		Retries: 12,
		Sleep: func(ctx context.Context, d time.Duration) error {
			select {
			case <-time.After(min(d, 5*time.Millisecond)):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
}

// fastJobs are sandbox options whose jobs run at once, at full speed.
func fastJobs(o sandbox.Options) sandbox.Options {
	o.ActivityDelay, o.ActivityRate = -1, -1
	return o
}

// bulkCompareN is the size of the account both ways are compared on.
const bulkCompareN = 2000

var (
	compareOnce sync.Once
	compareEnv  *bulkEnv
	compareRef  *table // the collection export, --status all, full detail
)

// compareAccount is the seeded account of the comparisons and its
// collection export, made once for the package.
func compareAccount(t *testing.T) (*bulkEnv, *table) {
	t.Helper()
	compareOnce.Do(func() {
		// A client of its own: the account outlives the first test.
		cfg := fastJobs(sandbox.Options{DB: filepath.Join(fixtureTempDir(t), "compare.db")})
		sb, err := sandbox.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := sb.Seed(context.Background(), bulkCompareN); err != nil {
			t.Fatal(err)
		}
		sb.Close()
		e := newBulkEnvDB(cfg)
		compareEnv = e
		data, _ := runExport(t, e.client, exporter.Options{Via: exporter.ViaContacts, Workers: 8})
		compareRef = parseCSV(t, data)
	})
	if compareRef == nil {
		t.Fatal("the compared account could not be made")
	}
	return compareEnv, compareRef
}

// fixtureTempDir is a directory removed when the package's tests end.
func fixtureTempDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "bulkexport")
	if err != nil {
		t.Fatal(err)
	}
	bulkDirs = append(bulkDirs, d)
	return d
}

var bulkDirs []string

// newBulkEnvDB serves a sandbox for the rest of the package's run.
func newBulkEnvDB(cfg sandbox.Options) *bulkEnv {
	sb, err := sandbox.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(sb)
	bulkClosers = append(bulkClosers, func() { srv.Close(); sb.Close() })
	client, err := newBulkClient(srv.URL)
	if err != nil {
		panic(err)
	}
	return &bulkEnv{sb: sb, client: client}
}

var bulkClosers []func()

func cleanupBulk() {
	for _, c := range bulkClosers {
		c()
	}
	for _, d := range bulkDirs {
		os.RemoveAll(d)
	}
}

// bulkColumns are the export columns a bulk file fills from its own
// columns: every field with a bulk column.
func bulkColumns() []string {
	var out []string
	for _, f := range ctct.BulkFields() {
		out = append(out, f.Name)
	}
	return out
}

// TestBulkExportEqualsCollection: the export through activities holds the
// same contacts as the collection export of the same selection, equal on
// every bulk column and on ContactLists, Status where a system list says
// it, and OptInSource; the columns it cannot fill are empty.
func TestBulkExportEqualsCollection(t *testing.T) {
	e, ref := compareAccount(t)
	ctx := t.Context()
	lists, err := e.client.Lists(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var user ctct.List
	for _, l := range lists {
		if n := ctct.Number(l.ID); n != "" && strings.Trim(n, "0123456789") == "" && l.ContactCount > 0 {
			user = l
			break
		}
	}
	if user.ID == "" {
		t.Fatal("the seeded account has no list with members")
	}
	onList := func(r []string) bool {
		return slices.Contains(strings.Split(ref.get(r, "ContactLists"), ";"), ctct.Number(user.ID))
	}
	tests := []struct {
		name   string
		status exporter.Status
		list   string
		jobs   int64
		want   func(row []string) bool
	}{
		{"all", exporter.StatusAll, "", 3, func([]string) bool { return true }},
		{"active", exporter.StatusActive, "", 1, func(r []string) bool {
			s := ref.get(r, "Status")
			return s == ctct.StatusActive || s == ctct.StatusUnconfirmed
		}},
		{"removed", exporter.StatusRemoved, "", 1, func(r []string) bool { return ref.get(r, "Status") == ctct.StatusRemoved }},
		{"do-not-mail", exporter.StatusDoNotMail, "", 1, func(r []string) bool { return ref.get(r, "Status") == ctct.StatusDoNotMail }},
		{"list by name", exporter.StatusAll, user.Name, 1, onList},
		{"list, active", exporter.StatusActive, ctct.Number(user.ID), 2, func(r []string) bool {
			s := ref.get(r, "Status")
			return onList(r) && (s == ctct.StatusActive || s == ctct.StatusUnconfirmed)
		}},
		// Nobody: a contact that is opted out or removed is on no list
		// (BULK.md), so the join must leave out every row of the list.
		{"list, removed", exporter.StatusRemoved, ctct.Number(user.ID), 2, func(r []string) bool {
			return onList(r) && ref.get(r, "Status") == ctct.StatusRemoved
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data []byte
			var sum *exporter.Summary
			n := requestsOf(e, func() {
				data, sum = runExport(t, e.client, exporter.Options{Via: exporter.ViaActivities, Status: tt.status, List: tt.list, PollFirst: time.Millisecond})
			})
			if sum.Via != "activities" || sum.Jobs != tt.jobs {
				t.Errorf("summary via %q with %d jobs, want activities with %d", sum.Via, sum.Jobs, tt.jobs)
			}
			// Lists, one POST and one file per job, and the polls.
			if min := 1 + 2*tt.jobs; n < min || sum.Requests != n {
				t.Errorf("%d requests (summary %d), want at least %d and the summary to agree", n, sum.Requests, min)
			}
			compared := compareBulk(t, ref, parseCSV(t, data), tt.want, tt.list == "" || tt.status != exporter.StatusAll)
			if (compared == 0) != (tt.name == "list, removed") {
				t.Errorf("%d contacts compared", compared)
			}
		})
	}
}

func requestsOf(e *bulkEnv, f func()) int64 {
	before := e.sb.Stats().Requests
	f()
	return e.sb.Stats().Requests - before
}

// jobHookClient is the real client with a step run after one of its calls:
// a list deleted under a queued job, a run cancelled half way.
type jobHookClient struct {
	*ctct.Client
	afterCreate func()
	afterFile   func()
}

func (h *jobHookClient) CreateActivity(ctx context.Context, req *ctct.ActivityRequest) (*ctct.Activity, error) {
	a, err := h.Client.CreateActivity(ctx, req)
	if err == nil && h.afterCreate != nil {
		h.afterCreate()
	}
	return a, err
}

func (h *jobHookClient) ExportFile(ctx context.Context, a *ctct.Activity) (io.ReadCloser, error) {
	rc, err := h.Client.ExportFile(ctx, a)
	if err == nil && h.afterFile != nil {
		h.afterFile()
	}
	return rc, err
}

// TestBulkExportFailures: a job that ends in ERROR and a cancelled run
// both leave the previous file and its manifest as they were, and say
// why.
func TestBulkExportFailures(t *testing.T) {
	tests := []struct {
		name    string
		hook    func(e *bulkEnv, h *jobHookClient, cancel func(), list string)
		status  exporter.Status
		wantErr error
	}{
		{"job ends in ERROR", func(e *bulkEnv, h *jobHookClient, _ func(), list string) {
			h.afterCreate = func() { // the list goes while the job waits in the queue
				if err := e.client.DeleteList(context.Background(), list); err != nil {
					panic(err)
				}
			}
		}, exporter.StatusAll, exporter.ErrJobFailed},
		{"cancelled while waiting", func(_ *bulkEnv, h *jobHookClient, cancel func(), _ string) {
			h.afterCreate = cancel
		}, exporter.StatusAll, exporter.ErrInterrupted},
		{"cancelled while reading a file", func(_ *bulkEnv, h *jobHookClient, cancel func(), _ string) {
			h.afterFile = cancel
		}, exporter.StatusActive, exporter.ErrInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newBulkEnv(t, sandbox.Options{ActivityDelay: 200 * time.Millisecond, ActivityRate: -1}, 300)
			lists, err := e.client.Lists(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			list := ""
			for _, l := range lists {
				if n := ctct.Number(l.ID); strings.Trim(n, "0123456789") == "" {
					list = n
				}
			}
			out := filepath.Join(t.TempDir(), "contacts.csv")
			if err := os.WriteFile(out, []byte("previous\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(exporter.ManifestPath(out), []byte("{}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			h := &jobHookClient{Client: e.client}
			tt.hook(e, h, cancel, list)
			opts := exporter.Options{Via: exporter.ViaActivities, Status: tt.status, PollFirst: time.Millisecond}
			if tt.wantErr == exporter.ErrJobFailed {
				opts.List = list
			}
			ex, err := exporter.New(h, opts)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := ex.WriteFile(ctx, out, 0)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if sum == nil || sum.Stopped == "" {
				t.Errorf("summary %+v does not say the run stopped", sum)
			}
			for path, want := range map[string]string{out: "previous\n", exporter.ManifestPath(out): "{}\n"} {
				if b, err := os.ReadFile(path); err != nil || string(b) != want {
					t.Errorf("%s = %q, %v; want it left as %q", path, b, err, want)
				}
			}
			if m, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(m) != 2 {
				t.Errorf("files left: %q", m)
			}
		})
	}
}

// TestBulkExportOptions: what only the collection can do is refused
// through activities, and auto takes the collection for it; a state
// file's first run is a full export, which jobs can take.
func TestBulkExportOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    exporter.Options
		refused string // "" when --via activities takes it
		auto    string
	}{
		{"whole account", exporter.Options{}, "", "activities"},
		{"one status", exporter.Options{Status: exporter.StatusRemoved}, "", "activities"},
		{"a list", exporter.Options{List: "2"}, "", "activities"},
		{"a list, one status", exporter.Options{List: "2", Status: exporter.StatusActive}, "", "activities"},
		{"state file, first run", exporter.Options{StatePath: "x.state"}, "", "activities"},
		{"since", exporter.Options{Since: time.Unix(1, 0)}, "update time", "contacts"},
		{"emails", exporter.Options{Emails: []string{"a@example.com"}}, "emails", "contacts"},
		{"summary", exporter.Options{Detail: exporter.DetailSummary}, "summary", "contacts"},
	}
	e := newBulkEnv(t, fastJobs(sandbox.Options{}), 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Via = exporter.ViaActivities
			err := o.Validate()
			if (err == nil) != (tt.refused == "") || (err != nil && !strings.Contains(err.Error(), tt.refused)) {
				t.Errorf("--via activities: %v, want refused for %q", err, tt.refused)
			}
			o.Via = exporter.ViaAuto
			ex, err := exporter.New(e.client, o)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if tt.auto == "activities" {
				return // runs in TestBulkExportEqualsCollection
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel() // only the way is looked at
			sum, _ := ex.Run(ctx, &buf)
			if sum == nil || sum.Via != tt.auto {
				t.Errorf("auto took %v, want %s", sum, tt.auto)
			}
		})
	}
}

// compareBulk checks a bulk export against the collection export ref of
// the same account: the rows of ref that want selects, equal on every bulk
// column and on ContactLists, Status where a system list says it (when
// statusKnown: not for a list's file alone), OptInSource where the
// collection has one, OptInTime
// to the minute; the columns it cannot fill absent from its header (a
// blank cell re-imported with --empty clear would erase the account's
// value), every other column of the canonical header present.
func compareBulk(t *testing.T, ref, got *table, want func([]string) bool, statusKnown bool) int {
	t.Helper()
	empty := exporter.BulkEmptyColumns()
	if len(got.col) != len(ref.col)-len(empty) {
		t.Fatalf("header has %d columns, want the canonical %d less the %d it cannot fill", len(got.col), len(ref.col), len(empty))
	}
	for _, c := range empty {
		if _, ok := got.col[c]; ok {
			t.Errorf("the header has %s, which export jobs cannot fill", c)
		}
	}
	gotBy := got.byEmail(t)
	n := 0
	for _, r := range ref.rows {
		if !want(r) {
			continue
		}
		n++
		email := ref.get(r, "EmailAddress")
		g, ok := gotBy[email]
		if !ok {
			t.Errorf("%s: missing from the bulk export", email)
			continue
		}
		for _, c := range bulkColumns() {
			if a, b := got.get(g, c), ref.get(r, c); a != b {
				t.Errorf("%s: %s = %q, the collection export has %q", email, c, a, b)
			}
		}
		if a, b := sortedLists(got.get(g, "ContactLists")), sortedLists(ref.get(r, "ContactLists")); !slices.Equal(a, b) {
			t.Errorf("%s: ContactLists %q, the collection export has %q", email, a, b)
		}
		st := ref.get(r, "Status")
		if st == ctct.StatusActive || st == ctct.StatusUnconfirmed || !statusKnown {
			st = "" // the file does not say which
		}
		if a := got.get(g, "Status"); a != st {
			t.Errorf("%s: Status %q, want %q", email, a, st)
		}
		if a, b := got.get(g, "OptInSource"), ref.get(r, "OptInSource"); b != "" && a != b {
			t.Errorf("%s: OptInSource %q, the collection export has %q", email, a, b)
		}
		if a := got.get(g, "OptInTime"); a != "" && !strings.HasSuffix(a, ":00.000Z") {
			t.Errorf("%s: OptInTime %q is not to the minute", email, a)
		}
	}
	if len(got.rows) != n {
		t.Errorf("%d rows, the collection export has %d", len(got.rows), n)
	}
	return n
}

// TestBulkExportFixture: on the fixture account (every field set,
// non-ASCII text, line breaks, quotes, formula-like cells) the bulk
// export equals the collection export on every bulk column, formula-like
// cells escaped the same way.
func TestBulkExportFixture(t *testing.T) {
	fx := sharedFixture(t)
	e := fx.open(t, fastJobs(sandbox.Options{}))
	client, err := newBulkClient(e.srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	refData, _ := runExport(t, client, exporter.Options{Via: exporter.ViaContacts, Workers: 8})
	data, _ := runExport(t, client, exporter.Options{Via: exporter.ViaActivities, PollFirst: time.Millisecond})
	if n := compareBulk(t, parseCSV(t, refData), parseCSV(t, data), func([]string) bool { return true }, true); n != fixtureN {
		t.Errorf("%d contacts compared, want %d", n, fixtureN)
	}
}
