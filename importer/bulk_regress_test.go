package importer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/importer"
	"ctctbulk/sandbox"
)

// TestBulkUpdateWithoutLists: updates of existing contacts with no list
// (no --list, no ContactLists column) go through the contacts collection,
// since an add job needs a list, whatever --via says.
func TestBulkUpdateWithoutLists(t *testing.T) {
	for _, via := range []importer.Via{importer.ViaContacts, importer.ViaAuto} {
		t.Run(string(via), func(t *testing.T) {
			e := newEnv(t, fastJobs())
			seedAccount(t, e, generate(30, 1))
			o := e.bulkOptions(via)
			o.Lists = nil
			o.Mode = importer.ModeUpdate
			sum, err := e.run(t, context.Background(), o, generate(30, 2))
			if err != nil {
				t.Fatalf("%s: %v (summary %+v)", via, err, sum)
			}
			if sum.Updated != 30 {
				t.Errorf("%s: updated %d, want 30", via, sum.Updated)
			}
		})
	}
}

// TestBulkRepeatSettledBeforeItsJobEnds: a row that repeats an earlier
// row of its email is not settled "unchanged" before that row's job ends;
// when the job ends in ERROR, the repeat is decided by the contacts
// collection against the account as it is.
func TestBulkRepeatSettledBeforeItsJobEnds(t *testing.T) {
	input := "Email,First Name\n" +
		"a@example.com,Ann\n" +
		"a@example.com,Ann\n" +
		"b@example.com,Bob\n"
	e, o := doomedListEnv(t)
	sum, err := e.run(t, context.Background(), o, input)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.contacts(t)["a@example.com"]; ok {
		t.Fatal("setup: the job applied")
	}
	if sum.Unchanged != 0 {
		t.Errorf("no contact a@example.com exists, yet %d row(s) unchanged; report %q (summary %+v)",
			sum.Unchanged, reportLines(t, o.ReportPath), sum)
	}
}

// TestBulkResumeVerifiesWrongList: a resumed run whose journaled job went
// to list 1 and whose new job goes to list 2 verifies both jobs' rows.
func TestBulkResumeVerifiesWrongList(t *testing.T) {
	var b strings.Builder
	b.WriteString("Email,First Name,ContactLists\n")
	for i := range 80 {
		b.WriteString(fmt.Sprintf("r%03d@example.com,F%d,%d\n", i, i, 1+i/40))
	}
	full := b.String()
	first := strings.Join(strings.SplitAfter(full, "\n")[:41], "") // header + the 40 rows of list 1
	e := newEnv(t, sandbox.Options{ActivityDelay: 200 * time.Millisecond, ActivityRate: -1})
	o := e.bulkOptions(importer.ViaActivities)
	o.Lists, o.BulkRows = nil, 40
	ctx, cancel := context.WithCancel(context.Background())
	o.Sleep = hookSleep(t, e, func(*ctct.Activity) { cancel() })
	// The first run is killed after its job 1 was posted and answered
	// (it had read only the first 40 rows): same header, same lines.
	if _, err := e.run(t, ctx, o, first); !errors.Is(err, importer.ErrInterrupted) {
		t.Fatalf("first run: %v", err)
	}
	o.Resume, o.Sleep = true, nil
	sum, err := e.run(t, context.Background(), o, full)
	if err != nil {
		t.Fatal(err)
	}
	cs := e.contacts(t)
	if len(cs) != 80 {
		t.Fatalf("account holds %d contacts", len(cs))
	}
	if sum.Failed != 0 || sum.Created != 80 {
		rep := reportLines(t, o.ReportPath)
		rb, _ := os.ReadFile(o.ReportPath)
		first := ""
		if i := bytes.IndexByte(rb, '\n'); i > 0 {
			first = string(rb[i+1 : min(len(rb), i+300)])
		}
		t.Errorf("created %d failed %d (all 80 contacts are in the account as sent); %d report lines, first: %s", sum.Created, sum.Failed, len(rep), first)
	}
}

// TestBulkInterruptedInPlanCounts: Ctrl-C while the plan exports the
// account leaves a summary whose outcomes and pending add up to the rows
// read (the invalid row is settled by the read stage), and --resume
// finishes every row.
func TestBulkInterruptedInPlanCounts(t *testing.T) {
	e := newEnv(t, fastJobs())
	o := e.bulkOptions(importer.ViaActivities)
	in := generate(600, 1)
	lines := strings.SplitAfterN(in, "\n", 2)
	in = lines[0] + "not-an-email,X,Y,Z,Boston,MA,us,cf,n\n" + lines[1]
	ctx, cancel := context.WithCancel(context.Background())
	o.Sleep = func(c context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}
	im, err := importer.New(e.client, o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := im.Run(ctx, strings.NewReader(in))
	if !errors.Is(err, importer.ErrInterrupted) {
		t.Fatalf("err %v", err)
	}
	if sum.Finished()+sum.Pending != sum.Read || sum.Read != 601 || sum.Failed != 1 || sum.Pending != 600 {
		t.Errorf("read %d, but created %d updated %d unchanged %d skipped %d failed %d pending %d",
			sum.Read, sum.Created, sum.Updated, sum.Unchanged, sum.Skipped, sum.Failed, sum.Pending)
	}
	o.Sleep, o.Resume = nil, true
	sum, err = e.run(t, context.Background(), o, in)
	if err != nil || sum.Created != 600 || sum.Resumed != 1 || sum.AllFailed() != 1 {
		t.Errorf("resume: %v, %+v", err, sum)
	}
	checkGenerated(t, e, 600, 1)
}

// heapAtSearch records the live heap when the contacts collection's pass
// looks its first rows up: the bulk rows' outcomes must not be waiting in
// memory behind them.
type heapAtSearch struct {
	*ctct.Client
	live uint64
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func (c *heapAtSearch) SearchEmails(ctx context.Context, emails []string) ([]ctct.Contact, error) {
	c.live = max(c.live, liveHeap())
	return c.Client.SearchEmails(ctx, emails)
}

// BenchmarkBulkBacklogHeap measures the live heap when the contacts
// collection's pass looks its first rows up, after 30,000 rows went in a
// job: the rows wait in the run store, not in memory, so it stays at the
// store's page cache whatever the rows. Memory is a benchmark's business
// (go test -bench BulkBacklog -benchtime 1x ./importer), and the bench
// harness gates the whole process's peak at 100,000 to 3,000,000 rows.
func BenchmarkBulkBacklogHeap(b *testing.B) {
	const n = 30000
	var live, after uint64
	for b.Loop() {
		e := newEnv(b, fastJobs())
		o := e.bulkOptions(importer.ViaActivities)
		o.NoVerify = true
		var in strings.Builder
		in.WriteString("Email,First Name,Last Name,City,Notes,Country Name\n")
		in.WriteString("first@example.com,F,L,Paris,x,Atlantis\n") // a country name no code stands for: the contacts collection
		for i := range n {
			fmt.Fprintf(&in, "p%06d@example.com,First%d,Last%d,City%d,%s,\n", i, i, i, i, strings.Repeat("n", 200))
		}
		c := &heapAtSearch{Client: e.client}
		im, err := importer.New(c, o)
		if err != nil {
			b.Fatal(err)
		}
		sum, err := im.Run(context.Background(), strings.NewReader(in.String()))
		if err != nil || sum.Created != n+1 || sum.ContactsRows != 1 {
			b.Fatalf("%v, %+v", err, sum)
		}
		live, after = c.live, liveHeap()
	}
	b.ReportMetric(float64(live)/(1<<20), "live-MB-at-lookup")
	b.ReportMetric(float64(after)/(1<<20), "live-MB-after")
}

// TestBulkResumeVerifiesAgainstItself: a run killed in its verification
// and resumed still compares the rows of its jobs with the account (not
// the account with itself): a contact changed after its job fails.
func TestBulkResumeVerifiesAgainstItself(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(fmt.Sprint("kill=", kill), func(t *testing.T) {
			e := newEnv(t, fastJobs())
			o := e.bulkOptions(importer.ViaActivities)
			ctx, cancel := context.WithCancel(context.Background())
			changed := false
			o.Sleep = func(c context.Context, d time.Duration) error {
				jobs := addJobs(t, e)
				switch {
				case len(jobs) > 0 && !changed:
					// The add job applied: another tool changes a contact.
					for !jobs[0].Final() {
						time.Sleep(5 * time.Millisecond)
						jobs = addJobs(t, e)
					}
					x := e.contacts(t)["person00003@example.com"]
					x.FirstName = "Someone else"
					if err := e.client.UpdateContact(context.Background(), x); err != nil {
						t.Error(err)
					}
					changed = true
				case changed && kill: // the verification's wait
					cancel()
				}
				return ctct.Sleep(c, d)
			}
			in := generate(30, 1)
			sum, err := e.run(t, ctx, o, in)
			if kill {
				if !errors.Is(err, importer.ErrInterrupted) {
					t.Fatalf("first run: %v", err)
				}
				o.Resume, o.Sleep = true, nil
				sum, err = e.run(t, context.Background(), o, in)
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed != 1 {
				t.Errorf("failed %d created %d verified %d, want the row of person00003 failed by the verification (its FirstName is not as sent)", sum.Failed, sum.Created, sum.Verified)
			}
		})
	}
}

// addJobs returns the account's add jobs, newest first.
func addJobs(t *testing.T, e *env) []ctct.Activity {
	t.Helper()
	feed, err := e.client.Activities().Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []ctct.Activity
	for _, a := range feed.Activities {
		if ctct.IsAddActivity(a.Type) {
			out = append(out, a)
		}
	}
	return out
}
