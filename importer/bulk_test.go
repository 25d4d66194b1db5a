package importer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/importer"
	"ctctbulk/sandbox"
)

// bulkOptions are import options through activities with quick polls.
func (e *env) bulkOptions(via importer.Via) importer.Options {
	o := e.options()
	o.Via, o.PollFirst, o.PollMax = via, time.Millisecond, 20*time.Millisecond
	return o
}

// fastJobs is a sandbox that runs bulk jobs at once.
func fastJobs() sandbox.Options {
	return sandbox.Options{ActivityDelay: -1, ActivityRate: -1}
}

// seedAccount imports the seed rows through the contacts collection and
// opts out the emails given.
func seedAccount(t *testing.T, e *env, seed string, optOut ...string) {
	t.Helper()
	ctx := context.Background()
	o := e.options()
	o.ReportPath, o.JournalPath = filepath.Join(e.dir, "seed.errors.csv"), filepath.Join(e.dir, "seed.journal")
	if _, err := e.run(t, ctx, o, seed); err != nil {
		t.Fatal(err)
	}
	cs := e.contacts(t)
	for _, email := range optOut {
		if err := e.client.OptOut(ctx, cs[email].ID); err != nil {
			t.Fatal(err)
		}
	}
}

// reportLines returns "line status" of each report row, sorted.
func reportLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	line, status := slices.Index(recs[0], "_line"), slices.Index(recs[0], "_status")
	for _, rec := range recs[1:] {
		out = append(out, rec[line]+" "+rec[status])
	}
	slices.Sort(out)
	return out
}

// stateOf is every contact's status, lists and bulk fields, by email.
func stateOf(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for email, c := range e.contacts(t) {
		var lists []string
		for _, l := range c.Lists {
			lists = append(lists, ctct.Number(l.ID))
		}
		slices.Sort(lists)
		row := ctct.NewBulkRow(c)
		out[email] = fmt.Sprintf("%s %v %q", c.Status, lists, row.Values())
	}
	return out
}

const bulkSeed = "Email,First Name,Last Name,City,ContactLists\n" +
	"same@example.com,Sam,Same,Boston,1\n" +
	"change@example.com,Cat,Change,Austin,1\n" +
	"listed@example.com,Lee,Listed,Austin,2\n" +
	"dnm@example.com,Dan,Nomail,Seattle,1\n"

// bulkInput holds a row of every kind the two paths must decide alike.
const bulkInput = "Email,First Name,Last Name,City,Notes,Status,Country Name\n" +
	"new1@example.com,Nia,New,Boston,\"two\nlines\",,\n" +
	"same@example.com,Sam,Same,Boston,,,\n" +
	"change@example.com,Cat,Changed,Austin,,,\n" +
	"listed@example.com,Lee,Listed,Austin,,,\n" +
	"dnm@example.com,Dan,Nomail,Seattle,,,\n" +
	"bad-email,X,Y,Z,,,\n" +
	",,,,,,\n" +
	"new1@example.com,Nia,New,Boston,\"two\nlines\",,\n" +
	"new1@example.com,Nina,New,Boston,,,\n" +
	"removed@example.com,Rem,Oved,,,Removed,\n" +
	"optout@example.com,Opt,Out,,,Do Not Mail,\n" +
	"country@example.com,Cou,Ntry,,,,Atlantis\n" + // a country name no code stands for
	"country@example.com,Country,Again,,,,\n" +
	"late@example.com,Late,Comer,Boston,,,\n"

// TestBulkDecidesAsTheContactsPath imports the same rows into two
// accounts seeded alike, one through the contacts collection and one
// through activities (jobs of 2 rows, so that the rows of one email fall
// in several jobs), and expects the same outcome for every row and the
// same account.
func TestBulkDecidesAsTheContactsPath(t *testing.T) {
	type result struct {
		sum    *importer.Summary
		report []string
		state  map[string]string
	}
	run := func(via importer.Via) result {
		e := newEnv(t, fastJobs())
		seedAccount(t, e, bulkSeed, "dnm@example.com")
		o := e.bulkOptions(via)
		o.BulkRows = 2
		sum, err := e.run(t, context.Background(), o, bulkInput)
		if err != nil {
			t.Fatalf("%s: %v", via, err)
		}
		return result{sum, reportLines(t, o.ReportPath), stateOf(t, e)}
	}
	want, got := run(importer.ViaContacts), run(importer.ViaActivities)
	counts := func(s *importer.Summary) string {
		return fmt.Sprintf("read %d created %d updated %d unchanged %d skipped %d failed %d pending %d opted out %d blank %d",
			s.Read, s.Created, s.Updated, s.Unchanged, s.Skipped, s.Failed, s.Pending, s.OptedOut, s.Blank)
	}
	t.Logf("activities: %s; contacts path rows %d, jobs %d", counts(got.sum), got.sum.ContactsRows, got.sum.BulkJobs)
	if counts(got.sum) != counts(want.sum) {
		t.Errorf("activities: %s\ncontacts:   %s", counts(got.sum), counts(want.sum))
	}
	if !slices.Equal(got.report, want.report) {
		t.Errorf("report lines: activities %q, contacts %q", got.report, want.report)
	}
	for email, w := range want.state {
		if g := got.state[email]; g != w {
			t.Errorf("%s: activities %s\n   contacts %s", email, g, w)
		}
	}
	if len(got.state) != len(want.state) {
		t.Errorf("activities leaves %d contacts, contacts %d", len(got.state), len(want.state))
	}
	s := got.sum
	if s.Via != "activities" || s.BulkRows == 0 || s.ContactsRows != 3 || s.Verified == 0 {
		t.Errorf("bulk figures: via %s, %d rows in jobs, %d through contacts, %d verified", s.Via, s.BulkRows, s.ContactsRows, s.Verified)
	}
}

// TestBulkAutoFollowsThe25Rule: auto sends fewer than 25 rows through the
// contacts collection, 25 or more in a job.
func TestBulkAutoFollowsThe25Rule(t *testing.T) {
	for _, tt := range []struct {
		rows    int
		wantVia string
	}{{24, "contacts"}, {25, "activities"}} {
		t.Run(fmt.Sprint(tt.rows), func(t *testing.T) {
			e := newEnv(t, fastJobs())
			sum, err := e.run(t, context.Background(), e.bulkOptions(importer.ViaAuto), generate(tt.rows, 1))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Via != tt.wantVia || sum.Created != int64(tt.rows) {
				t.Errorf("via %s, created %d; want via %s", sum.Via, sum.Created, tt.wantVia)
			}
			if tt.wantVia == "activities" && sum.BulkRows != int64(tt.rows) {
				t.Errorf("%d rows in jobs, want %d", sum.BulkRows, tt.rows)
			}
			checkGenerated(t, e, tt.rows, 1)
		})
	}
}

// TestBulkRequestsAndUnchanged: a second import of the same rows sends
// no job, and an edited file sends only the changed rows.
func TestBulkRequestsAndUnchanged(t *testing.T) {
	const n = 300
	e := newEnv(t, fastJobs())
	o := e.bulkOptions(importer.ViaActivities)
	o.BulkRows = 100
	sum, err := e.run(t, context.Background(), o, generate(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != n || sum.BulkRows != n || sum.Verified != n {
		t.Fatalf("first run %+v", sum)
	}
	checkGenerated(t, e, n, 1)
	before := requests(e)
	sum, err = e.run(t, context.Background(), o, generate(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unchanged != n || sum.BulkRows != 0 {
		t.Errorf("second run %+v", sum)
	}
	// The plan: one search that finds every email there (so reading them
	// would cost more than exports), then three export jobs, their files
	// and polls; nothing else.
	if got := requests(e) - before; got > 13 {
		t.Errorf("an import of unchanged rows took %d requests", got)
	}
	sum, err = e.run(t, context.Background(), o, generate(n, 2))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Updated != n || sum.BulkRows != n {
		t.Errorf("third run %+v", sum)
	}
	checkGenerated(t, e, n, 2)
}

// hookSleep returns a Sleep that calls f (once) at the first wait after
// an add job was created.
func hookSleep(t *testing.T, e *env, f func(a *ctct.Activity)) func(context.Context, time.Duration) error {
	var once sync.Once
	return func(ctx context.Context, d time.Duration) error {
		p := e.client.Activities()
		feed, err := p.Next(ctx)
		if err != nil {
			t.Error(err)
		}
		for i := range feed.Activities {
			if a := &feed.Activities[i]; ctct.IsAddActivity(a.Type) {
				once.Do(func() { f(a) })
			}
		}
		return ctct.Sleep(ctx, d)
	}
}

// TestBulkReconcilesServerErrors: a row the server refuses (its contact
// opted out while the job waited) fails with the server's message on its
// own input line, after a row whose note spans two lines; a job that ends
// in ERROR (its list deleted while it waited) fails all its rows.
func TestBulkReconcilesServerErrors(t *testing.T) {
	input := "Email,First Name,Notes\n" +
		"a@example.com,Ann,\"line one\nline two\"\n" +
		"b@example.com,Bob,\n" +
		"c@example.com,Cid,\n"
	t.Run("row error", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{ActivityDelay: 300 * time.Millisecond, ActivityRate: -1})
		ctx := context.Background()
		seedAccount(t, e, "Email,First Name\nb@example.com,Robert\n")
		o := e.bulkOptions(importer.ViaActivities)
		o.Sleep = hookSleep(t, e, func(*ctct.Activity) {
			if err := e.client.OptOut(ctx, e.contacts(t)["b@example.com"].ID); err != nil {
				t.Error(err)
			}
		})
		sum, err := e.run(t, ctx, o, input)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != 2 || sum.Failed != 1 {
			t.Errorf("summary %+v", sum)
		}
		rep := reportLines(t, o.ReportPath)
		if !slices.Equal(rep, []string{"4 failed"}) {
			t.Errorf("report %q, want line 4 failed", rep)
		}
		if b, _ := os.ReadFile(o.ReportPath); !strings.Contains(string(b), "Do Not Mail") {
			t.Errorf("report does not give the server's reason:\n%s", b)
		}
	})
	t.Run("job error", func(t *testing.T) {
		e, o := doomedListEnv(t)
		sum, err := e.run(t, context.Background(), o, input)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failed != 3 || sum.Created != 0 {
			t.Errorf("summary %+v", sum)
		}
		if rep := reportLines(t, o.ReportPath); !slices.Equal(rep, []string{"2 failed", "4 failed", "5 failed"}) {
			t.Errorf("report %q", rep)
		}
	})
}

// TestBulkInterruptedThenResumed stops a run while its jobs wait on the
// server, then resumes it: the journaled jobs are polled, not sent again,
// and every row has one outcome across the two runs.
func TestBulkInterruptedThenResumed(t *testing.T) {
	const n = 120
	e := newEnv(t, sandbox.Options{ActivityDelay: 200 * time.Millisecond, ActivityRate: -1})
	o := e.bulkOptions(importer.ViaActivities)
	o.BulkRows = 40
	input := generate(n, 1)
	ctx, cancel := context.WithCancel(context.Background())
	o.Sleep = hookSleep(t, e, func(*ctct.Activity) { cancel() })
	sum, err := e.run(t, ctx, o, input)
	if !errors.Is(err, importer.ErrInterrupted) {
		t.Fatalf("err = %v, want interrupted (summary %+v)", err, sum)
	}
	if sum.Finished()+sum.Pending != sum.Read || sum.Created != 0 {
		t.Errorf("first run %+v", sum)
	}
	o.Resume, o.Sleep = true, nil
	adds := func() int {
		k := 0
		p := e.client.Activities()
		for !p.Done() {
			f, err := p.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range f.Activities {
				if ctct.IsAddActivity(a.Type) {
					k++
				}
			}
		}
		return k
	}
	before := adds()
	sum2, err := e.run(t, context.Background(), o, input)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Created+sum2.Resumed != n || sum2.Failed != 0 || sum2.Unchanged != 0 {
		t.Errorf("resumed run %+v", sum2)
	}
	if got := adds(); got != n/o.BulkRows || before == 0 {
		t.Errorf("%d add jobs in all (%d before the resume), want %d: a journaled job was sent again", got, before, n/o.BulkRows)
	}
	checkGenerated(t, e, n, 1)
}

// TestBulkDryRunPlansEachPath: a dry run says which rows each way takes
// and the jobs they need.
func TestBulkDryRunPlansEachPath(t *testing.T) {
	input := "Email,First Name,Status,Country Name\n"
	for i := range 60 {
		input += fmt.Sprintf("p%d@example.com,P,,\n", i)
	}
	input += "dnm@example.com,D,Do Not Mail,\nfr@example.com,F,,Atlantis\nbad,X,,\n"
	tests := []struct {
		via                  importer.Via
		bulkRows             int
		wantBulk, wantJobs   int64
		wantContacts, wantOK int64
	}{
		{importer.ViaContacts, 0, 0, 0, 62, 62},
		{importer.ViaActivities, 25, 60, 3, 2, 62},
		{importer.ViaAuto, 0, 60, 1, 2, 62},
	}
	for _, tt := range tests {
		t.Run(string(tt.via), func(t *testing.T) {
			dir := t.TempDir()
			im, err := importer.New(nil, importer.Options{DryRun: true, Via: tt.via, BulkRows: tt.bulkRows, Lists: []string{"1"}, ReportPath: filepath.Join(dir, "r.csv")})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := im.Run(context.Background(), strings.NewReader(input))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Valid != tt.wantOK || sum.PlanBulkRows != tt.wantBulk || sum.PlanJobs != tt.wantJobs || sum.PlanContactsRows != tt.wantContacts {
				t.Errorf("valid %d, bulk %d in %d jobs, contacts %d; want %d, %d in %d, %d",
					sum.Valid, sum.PlanBulkRows, sum.PlanJobs, sum.PlanContactsRows, tt.wantOK, tt.wantBulk, tt.wantJobs, tt.wantContacts)
			}
			var out bytes.Buffer
			if err := sum.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			if tt.wantBulk > 0 && !strings.Contains(out.String(), fmt.Sprintf("activities: %d rows in %d job", tt.wantBulk, tt.wantJobs)) {
				t.Errorf("summary does not give the bulk plan:\n%s", out.String())
			}
		})
	}
}

// TestBulkUnderFaultsExactState imports through activities against a
// sandbox that fails a fifth of the requests and drops the answer of a
// third of the writes (a job created, its answer lost): every row is
// created once, the account is exact, and a second run finds every row
// unchanged.
func TestBulkUnderFaultsExactState(t *testing.T) {
	const n = 150
	e := newEnv(t, sandbox.Options{ActivityDelay: -1, ActivityRate: -1, FailRate: 0.2, DropRate: 0.3})
	o := e.bulkOptions(importer.ViaActivities)
	o.BulkRows = 30
	sum, err := e.run(t, context.Background(), o, generate(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != n || sum.Failed != 0 || sum.Verified != n {
		t.Errorf("summary %+v", sum)
	}
	if st := e.sb.Stats(); st.InjectedFailures == 0 || st.Dropped == 0 {
		t.Errorf("faults not exercised: %+v", st)
	}
	checkGenerated(t, e, n, 1)
	sum, err = e.run(t, context.Background(), o, generate(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unchanged != n {
		t.Errorf("second run %+v", sum)
	}
}

// doomedListEnv is a sandbox whose jobs wait 300 ms, and bulk import
// options that add every row to a list deleted at the first wait after
// the first add job was created: that job ends in ERROR.
func doomedListEnv(t *testing.T) (*env, importer.Options) {
	t.Helper()
	e := newEnv(t, sandbox.Options{ActivityDelay: 300 * time.Millisecond, ActivityRate: -1})
	ctx := context.Background()
	made, err := e.client.CreateList(ctx, &ctct.List{Name: "Doomed", OptInDefault: "false"})
	if err != nil {
		t.Fatal(err)
	}
	o := e.bulkOptions(importer.ViaActivities)
	o.Lists = []string{"Doomed"}
	o.Sleep = hookSleep(t, e, func(*ctct.Activity) {
		if err := e.client.DeleteList(ctx, ctct.Number(made.ID)); err != nil {
			t.Error(err)
		}
	})
	return e, o
}
