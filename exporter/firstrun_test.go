package exporter_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/sandbox"
)

// TestExportAutoBySize: auto writes every column exactly through the
// collection while that is cheap at the run's rate, and takes jobs (a file
// without the columns they cannot fill) when it is not.
func TestExportAutoBySize(t *testing.T) {
	tests := []struct {
		contacts int
		rate     float64
		want     string
	}{
		{40, 4, "contacts"},      // 41 requests, 10 s: not worth losing columns
		{400, 4, "activities"},   // 408 requests, 102 s against a few seconds
		{400, 100, "contacts"},   // 4 s at 100 requests a second
		{3000, 50, "activities"}, // 61 s against 40 s
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d at %g", tt.contacts, tt.rate), func(t *testing.T) {
			e := newBulkEnv(t, fastJobs(sandbox.Options{}), tt.contacts)
			data, sum := runExport(t, e.client, exporter.Options{Via: exporter.ViaAuto, Rate: tt.rate, PollFirst: time.Millisecond})
			if sum.Via != tt.want {
				t.Fatalf("auto took %s, want %s", sum.Via, tt.want)
			}
			got := parseCSV(t, data)
			if len(got.rows) != tt.contacts || sum.Rows != int64(tt.contacts) {
				t.Errorf("%d rows (summary %d), want %d", len(got.rows), sum.Rows, tt.contacts)
			}
			_, hasID := got.col["Id"]
			if hasID != (tt.want == "contacts") || (len(sum.LeftOut) > 0) == (tt.want == "contacts") {
				t.Errorf("via %s: header has Id %v, summary leaves out %v", sum.Via, hasID, sum.LeftOut)
			}
		})
	}
}

// TestExportStateFirstRunByJobs: the first run of a state file on a big
// account is one bulk export (a few requests, not a walk of a request per
// contact), its high-water mark is the run's start less the overlap, and
// the next run exports only the contacts changed since, through the
// collection (jobs cannot filter by update time, and are refused for it).
func TestExportStateFirstRunByJobs(t *testing.T) {
	const n = 600
	e := newBulkEnv(t, fastJobs(sandbox.Options{}), n)
	state := filepath.Join(t.TempDir(), "nightly.state")
	start := time.Now()
	before := e.sb.Stats().Requests
	data, sum := runExport(t, e.client, exporter.Options{StatePath: state, Via: exporter.ViaAuto, Rate: 4, Overlap: time.Minute, PollFirst: time.Millisecond})
	if sum.Via != "activities" || sum.Rows != n || len(parseCSV(t, data).rows) != n {
		t.Fatalf("first run: via %s, %d rows; want activities, %d", sum.Via, sum.Rows, n)
	}
	if req := e.sb.Stats().Requests - before; req > 20 {
		t.Errorf("first run took %d requests, want a few (3 jobs, their polls and files)", req)
	}
	st, err := exporter.ReadState(state)
	if err != nil || st == nil {
		t.Fatalf("state after the first run: %v, %v", st, err)
	}
	if d := start.Add(-time.Minute).Sub(st.HighWaterMark); d < -time.Second || d > time.Second {
		t.Errorf("high-water mark %s, want the run's start %s less the overlap", st.HighWaterMark, start)
	}

	// One contact changes; the next run exports it alone.
	ctx := context.Background()
	p := e.client.Contacts(ctct.ContactQuery{})
	f, err := p.Next(ctx)
	if err != nil || len(f.Contacts) == 0 {
		t.Fatalf("list contacts: %v", err)
	}
	c, err := e.client.GetContact(ctx, f.Contacts[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	c.FirstName = "Changed"
	if err := e.client.UpdateContact(ctx, c); err != nil {
		t.Fatal(err)
	}
	// The mark is a minute back: contacts inserted by the seed in the last
	// minute are exported again too; the changed one must be among them.
	data, sum = runExport(t, e.client, exporter.Options{StatePath: state, Via: exporter.ViaAuto, Rate: 4, Overlap: time.Minute})
	if sum.Via != "contacts" {
		t.Errorf("second run via %s, want contacts", sum.Via)
	}
	got := parseCSV(t, data)
	found := false
	for _, r := range got.rows {
		if got.get(r, "EmailAddress") == c.EmailAddress {
			found = got.get(r, "FirstName") == "Changed"
		}
	}
	if !found {
		t.Errorf("the changed contact %s is not in the second run's %d rows as changed", c.EmailAddress, len(got.rows))
	}

	ex, err := exporter.New(e.client, exporter.Options{StatePath: state, Via: exporter.ViaActivities})
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if _, err := ex.Run(ctx, &buf); err == nil || !strings.Contains(err.Error(), "update time") {
		t.Errorf("--via activities on a state with a mark: %v, want refused", err)
	}
}

// TestExportWalkSaysItsCost: a first state run that must walk the
// collection (--via contacts) on a big account says, before its first
// page, how many requests and days of the daily quota it will take.
func TestExportWalkSaysItsCost(t *testing.T) {
	const n = 1200
	e := newBulkEnv(t, fastJobs(sandbox.Options{}), n)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var warned []string
	ex, err := exporter.New(e.client, exporter.Options{
		StatePath: filepath.Join(t.TempDir(), "s.state"), Via: exporter.ViaContacts, Rate: 4,
		Warnf: func(format string, args ...any) { warned = append(warned, fmt.Sprintf(format, args...)); cancel() },
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	sum, _ := ex.Run(ctx, &buf)
	if len(warned) != 1 || !strings.Contains(warned[0], "1224 requests") || !strings.Contains(warned[0], "5m6s at --rate 4") ||
		!strings.Contains(warned[0], "0.1 days of a 10000-request daily quota") {
		t.Fatalf("warnings %q, want the walk's cost", warned)
	}
	if sum.Pages != 0 {
		t.Errorf("%d pages read before the warning", sum.Pages)
	}
}

// TestExportProgressWhileJobsRun: while an export job is queued or runs,
// the progress says which job it waits for and its state, not just "0
// contacts".
func TestExportProgressWhileJobsRun(t *testing.T) {
	e := newBulkEnv(t, sandbox.Options{ActivityDelay: 150 * time.Millisecond, ActivityRate: -1}, 200)
	ex, err := exporter.New(e.client, exporter.Options{Via: exporter.ViaActivities, PollFirst: 10 * time.Millisecond, PollMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var texts []string
	go func() {
		defer close(done)
		var buf strings.Builder
		if _, err := ex.Run(t.Context(), &buf); err != nil {
			t.Error(err)
		}
	}()
	for {
		select {
		case <-done:
			joined := strings.Join(texts, "\n")
			if !strings.Contains(joined, "export job of list active (184 contacts): ") ||
				!strings.Contains(joined, "pending") && !strings.Contains(joined, "running") && !strings.Contains(joined, "waiting") {
				t.Errorf("no progress text names the job waited for:\n%s", joined)
			}
			return
		case <-time.After(5 * time.Millisecond):
			if _, text := ex.Progress(); len(texts) == 0 || texts[len(texts)-1] != text {
				texts = append(texts, text)
			}
		}
	}
}
