package importer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/importer"
	"ctctbulk/sandbox"
)

// The outcomes a review of the bulk path found untrue, one test each: every
// one failed on the importer of five stores (journal, line states, the
// deferred and reasons maps, the account index).

// faultyJobs is a sandbox that runs jobs at once and answers as faults say.
func faultyJobs(faults sandbox.JobFaults) sandbox.Options {
	o := fastJobs()
	o.JobFaults = faults
	return o
}

// reportOf returns "line status" of each report row, sorted, and the
// whole text.
func reportOf(t *testing.T, path string) ([]string, string) {
	t.Helper()
	b, _ := os.ReadFile(path)
	return reportLines(t, path), string(b)
}

// 1. A new contact sent with an empty Email Type is stored as HTML: a row
// is verified against what it sent, not against a merged picture, each
// value after its field's normalisation.
func TestPipelineServerDefaultsAreNotFailures(t *testing.T) {
	e := newEnv(t, fastJobs())
	var b strings.Builder
	b.WriteString("Email,First Name,Email Type,State,Notes\n")
	for i := range 30 {
		fmt.Fprintf(&b, "p%d@example.com,P%d,,ma,\"two\r\nlines\"\n", i, i)
	}
	o := e.bulkOptions(importer.ViaActivities)
	sum, err := e.run(t, context.Background(), o, b.String())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 30 || sum.Failed != 0 || sum.Verified != 30 {
		t.Errorf("summary %+v", sum)
	}
	if c := e.contacts(t)["p7@example.com"]; c == nil || c.EmailType != ctct.EmailTypeHTML || c.StateCode != "MA" {
		t.Errorf("p7 = %+v", c)
	}
}

// 2. Same email in two jobs, the first ending in ERROR: the later row is
// decided again (it creates the contact), with or without verification.
func TestPipelineEarlierJobErrorRedecidesLaterRow(t *testing.T) {
	for _, verify := range []bool{true, false} {
		t.Run(fmt.Sprint("verify=", verify), func(t *testing.T) {
			e := newEnv(t, faultyJobs(sandbox.JobFaults{FailEmails: []string{"trigger@example.com"}}))
			o := e.bulkOptions(importer.ViaActivities)
			o.BulkRows, o.NoVerify = 2, !verify
			input := "Email,First Name\na@example.com,Ann\ntrigger@example.com,T\nb@example.com,Bob\na@example.com,Anna\n"
			sum, err := e.run(t, context.Background(), o, input)
			if err != nil {
				t.Fatal(err)
			}
			rep, text := reportOf(t, o.ReportPath)
			if sum.Created != 2 || sum.Failed != 2 || sum.Updated != 0 || !slices.Equal(rep, []string{"2 failed", "3 failed"}) {
				t.Errorf("summary %+v, report %q", sum, rep)
			}
			if c := e.contacts(t)["a@example.com"]; c == nil || c.FirstName != "Anna" {
				t.Errorf("a@example.com = %+v, want Anna", c)
			}
			// The failed row's email was set by line 5 since: marked.
			if !strings.Contains(text, "ERROR") || !strings.Contains(text, ",5\n") {
				t.Errorf("report does not say why, or that line 5 superseded line 2:\n%s", text)
			}
		})
	}
}

// 3. A repeat is not settled "unchanged" before its earlier row is
// verified: when the verification fails that row, the repeat is decided
// against the account as it is.
func TestPipelineRepeatWaitsForVerification(t *testing.T) {
	e := newEnv(t, fastJobs())
	ctx := context.Background()
	o := e.bulkOptions(importer.ViaActivities)
	var once sync.Once
	o.Sleep = hookSleep(t, e, func(job *ctct.Activity) {
		// Another tool changes the contact once the job applied it, before
		// the run reads the job's end.
		once.Do(func() {
			for !job.Final() {
				time.Sleep(5 * time.Millisecond)
				var err error
				if job, err = e.client.GetActivity(ctx, job.ID); err != nil {
					t.Error(err)
					return
				}
			}
			a := e.contacts(t)["a@example.com"]
			a.FirstName = "Zed"
			if err := e.client.UpdateContact(ctx, a); err != nil {
				t.Error(err)
			}
		})
	})
	// Jobs of one row: the earlier row's job has ended (not yet verified)
	// when the repeat is decided.
	o.BulkRows = 1
	input := "Email,First Name\na@example.com,Ann\nf1@example.com,F\nf2@example.com,F\nf3@example.com,F\na@example.com,Ann\n"
	sum, err := e.run(t, ctx, o, input)
	if err != nil {
		t.Fatal(err)
	}
	rep, text := reportOf(t, o.ReportPath)
	if sum.Unchanged != 0 || sum.Failed != 1 || sum.Updated != 1 || sum.Created != 3 || !slices.Equal(rep, []string{"2 failed"}) {
		t.Errorf("summary %+v, report %q\n%s", sum, rep, text)
	}
	if !strings.Contains(text, `FirstName is \"Zed\" in the account`) && !strings.Contains(text, `FirstName is ""Zed"" in the account`) {
		t.Errorf("report:\n%s", text)
	}
	if c := e.contacts(t)["a@example.com"]; c.FirstName != "Ann" {
		t.Errorf("a@example.com = %q, want the file's last row, Ann", c.FirstName)
	}
}

// optOutB returns a Sleep that opts b@example.com out once an add job
// exists: the job then refuses its row.
func optOutB(t *testing.T, e *env) func(context.Context, time.Duration) error {
	return hookSleep(t, e, func(*ctct.Activity) {
		if err := e.client.OptOut(context.Background(), e.contacts(t)["b@example.com"].ID); err != nil {
			t.Error(err)
		}
	})
}

const abcInput = "Email,First Name\na@example.com,Ann\nb@example.com,Bob\nc@example.com,Cid\n"

// 4. An Error is matched to its row by email too: a server that counts
// lines another way fails the row it names, not its neighbour.
func TestPipelineErrorMatchedByEmail(t *testing.T) {
	e := newEnv(t, sandbox.Options{ActivityDelay: 300 * time.Millisecond, ActivityRate: -1, JobFaults: sandbox.JobFaults{LineShift: 1}})
	seedAccount(t, e, "Email,First Name\nb@example.com,Robert\n")
	o := e.bulkOptions(importer.ViaActivities)
	o.Sleep = optOutB(t, e)
	sum, err := e.run(t, context.Background(), o, abcInput)
	if err != nil {
		t.Fatal(err)
	}
	rep, text := reportOf(t, o.ReportPath)
	if sum.Created != 2 || sum.Failed != 1 || !slices.Equal(rep, []string{"3 failed"}) || !strings.Contains(text, "b@example.com is on the Do Not Mail list") {
		t.Errorf("summary %+v, report %q\n%s", sum, rep, text)
	}
}

// 5. Errors given as a count, or a short TransactionCount: the job's rows
// are checked, never assumed, with or without --verify.
func TestPipelineCountsThatDoNotAddUp(t *testing.T) {
	tests := []struct {
		name   string
		faults sandbox.JobFaults
		optOut bool
		verify bool
	}{
		{"errors as a count", sandbox.JobFaults{ErrorsAsCount: true}, true, true},
		{"errors as a count, no verification", sandbox.JobFaults{ErrorsAsCount: true}, true, false},
		{"short transaction count", sandbox.JobFaults{ShortCount: 1}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sandbox.Options{ActivityDelay: 300 * time.Millisecond, ActivityRate: -1, JobFaults: tt.faults}
			e := newEnv(t, cfg)
			seedAccount(t, e, "Email,First Name\nb@example.com,Robert\n")
			o := e.bulkOptions(importer.ViaActivities)
			o.NoVerify = !tt.verify
			wantFailed, wantUpdated := int64(0), int64(1)
			if tt.optOut {
				o.Sleep = optOutB(t, e)
				wantFailed, wantUpdated = 1, 0
			}
			sum, err := e.run(t, context.Background(), o, abcInput)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Created != 2 || sum.Failed != wantFailed || sum.Updated != wantUpdated || sum.Verified != 2+wantUpdated {
				t.Errorf("summary %+v", sum)
			}
			if tt.optOut {
				if rep, text := reportOf(t, o.ReportPath); !slices.Equal(rep, []string{"3 failed"}) || !strings.Contains(text, "not applied") {
					t.Errorf("report %q\n%s", rep, text)
				}
			}
		})
	}
}

// 6. The rows of a job that ended in ERROR are checked like any other: a
// server that applied them and said ERROR all the same does not make them
// failures.
func TestPipelineErrorJobRowsChecked(t *testing.T) {
	e := newEnv(t, faultyJobs(sandbox.JobFaults{FailEmails: []string{"b@example.com"}, ErrorAfterApply: true}))
	o := e.bulkOptions(importer.ViaActivities)
	sum, err := e.run(t, context.Background(), o, abcInput)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 3 || sum.Failed != 0 || sum.Verified != 3 {
		t.Errorf("summary %+v, report %q", sum, reportLines(t, o.ReportPath))
	}
}

// 7. The account changes while the run runs: a list renamed, another
// tool's job. The summary says what could not be checked, and the rows
// are checked under the list's new name.
func TestPipelineAccountChangesDuringTheRun(t *testing.T) {
	e := newEnv(t, sandbox.Options{ActivityDelay: 200 * time.Millisecond, ActivityRate: -1})
	ctx := context.Background()
	o := e.bulkOptions(importer.ViaActivities)
	o.Sleep = hookSleep(t, e, func(*ctct.Activity) {
		lists, err := e.client.Lists(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		l, err := ctct.FindList(lists, "1")
		if err != nil {
			t.Error(err)
			return
		}
		l.Name = "Renamed while importing"
		if err := e.client.UpdateList(ctx, &l); err != nil {
			t.Error(err)
		}
		other := &ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: []string{"2"}, Rows: []ctct.BulkRow{{EmailAddress: "other@example.com"}}}
		if _, err := e.client.CreateActivity(ctx, other); err != nil {
			t.Error(err)
		}
	})
	sum, err := e.run(t, ctx, o, abcInput)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(sum.NotChecked, "\n")
	if sum.Created != 3 || sum.Failed != 0 || !strings.Contains(notes, "renamed") || !strings.Contains(notes, "another tool's ADD_CONTACTS job") {
		t.Errorf("summary %+v; not checked: %q", sum, notes)
	}
}

// 8. A lone CR inside a cell is exported as stored, so the row verifies.
func TestPipelineLoneCRVerifies(t *testing.T) {
	e := newEnv(t, fastJobs())
	o := e.bulkOptions(importer.ViaActivities)
	sum, err := e.run(t, context.Background(), o, "Email,Notes\na@example.com,\"one\rtwo\"\nb@example.com,plain\n")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 2 || sum.Failed != 0 || sum.Verified != 2 {
		t.Errorf("summary %+v, report %q", sum, reportLines(t, o.ReportPath))
	}
}

// 9. An input that stops decoding part way sends nothing: the read stage
// reads it to its end first, the summary counts exactly the rows read, and
// the message names the line and the byte.
func TestPipelineUndecodableInputSendsNothing(t *testing.T) {
	e := newEnv(t, fastJobs())
	var b strings.Builder
	b.WriteString("Email,First Name\n")
	for i := range 40 {
		if i == 30 {
			b.WriteString("bad@example.com,B\xffd\n")
			continue
		}
		fmt.Fprintf(&b, "p%d@example.com,P\n", i)
	}
	for _, via := range []importer.Via{importer.ViaContacts, importer.ViaActivities} {
		t.Run(string(via), func(t *testing.T) {
			o := e.bulkOptions(via)
			before := e.sb.Stats()
			sum, err := e.run(t, context.Background(), o, b.String())
			var encErr *importer.EncodingError
			if !errors.As(err, &encErr) || encErr.Line != 32 || !strings.Contains(err.Error(), "0xFF") {
				t.Fatalf("err %v, want an encoding error at line 32 naming the byte", err)
			}
			after := e.sb.Stats()
			if w := after.ByMethod["POST"] + after.ByMethod["PUT"] + after.ByMethod["DELETE"] - before.ByMethod["POST"] - before.ByMethod["PUT"] - before.ByMethod["DELETE"]; w != 0 {
				t.Errorf("%d writes sent from a file that cannot be read to its end", w)
			}
			if sum == nil || sum.Read != 30 || sum.Pending != 30 || sum.Finished() != 0 || sum.Stopped != importer.StopFatal {
				t.Errorf("summary %+v", sum)
			}
			os.Remove(o.JournalPath)
		})
	}
}

// TestPlanByLookups: a few rows into a bigger account, with requests
// cheap, are planned and checked by lookups instead of exports of the
// account, and every row ends as the contacts collection would end it;
// with requests dear (the same rows into an account of as many contacts
// again) the plan exports the account.
func TestPlanByLookups(t *testing.T) {
	type result struct {
		sum    *importer.Summary
		report []string
		state  map[string]string
	}
	run := func(via importer.Via, rate float64) result {
		e := newEnv(t, fastJobs())
		var seed strings.Builder
		seed.WriteString(bulkSeed)
		for i := range 400 {
			fmt.Fprintf(&seed, "filler%d@example.com,F,L,Paris,1\n", i)
		}
		seedAccount(t, e, seed.String(), "dnm@example.com")
		o := e.bulkOptions(via)
		o.BulkRows, o.Rate = 2, rate
		sum, err := e.run(t, context.Background(), o, bulkInput)
		if err != nil {
			t.Fatal(err)
		}
		return result{sum, reportLines(t, o.ReportPath), stateOf(t, e)}
	}
	want, got := run(importer.ViaContacts, 0), run(importer.ViaActivities, 1000)
	if got.sum.PlanBy != "lookups" || got.sum.VerifyBy != "lookups" || got.sum.ExportJobs != 0 || got.sum.BulkJobs == 0 {
		t.Fatalf("plan by %q, verified by %q, %d export jobs, %d add jobs", got.sum.PlanBy, got.sum.VerifyBy, got.sum.ExportJobs, got.sum.BulkJobs)
	}
	counts := func(s *importer.Summary) string {
		return fmt.Sprintf("created %d updated %d unchanged %d skipped %d failed %d", s.Created, s.Updated, s.Unchanged, s.Skipped, s.Failed)
	}
	if counts(got.sum) != counts(want.sum) || !slices.Equal(got.report, want.report) {
		t.Errorf("by lookups: %s %q\ncontacts:   %s %q", counts(got.sum), got.report, counts(want.sum), want.report)
	}
	for email, w := range want.state {
		if g := got.state[email]; g != w {
			t.Errorf("%s: by lookups %s\n   contacts %s", email, g, w)
		}
	}

	// 300 rows into an account of 300: reading them all would cost more
	// than three exports at 4 requests a second.
	e := newEnv(t, fastJobs())
	seedAccount(t, e, generate(300, 1))
	o := e.bulkOptions(importer.ViaActivities)
	sum, err := e.run(t, context.Background(), o, generate(300, 2))
	if err != nil {
		t.Fatal(err)
	}
	if sum.PlanBy != "export" || sum.Updated != 300 {
		t.Errorf("plan by %q, %+v", sum.PlanBy, sum)
	}
}
