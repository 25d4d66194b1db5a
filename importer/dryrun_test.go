package importer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ctctbulk/importer"
)

// TestDryRunKnowsWhatFails dry-runs 40 rows, 10 of whose contacts the
// account holds, against the sandbox: the dry run only reads, looks the
// emails up, and with no list names the 30 new rows that will fail; the
// real run that follows fails exactly those 30. With --list it plans the
// bulk path by lookups and knows no row will fail.
func TestDryRunKnowsWhatFails(t *testing.T) {
	e := newEnv(t, fastJobs())
	ctx := context.Background()
	seedAccount(t, e, generate(10, 1))
	input := generate(40, 2)

	tests := []struct {
		name         string
		lists        []string
		wantFail     int64
		wantBulkRows int64
		wantPlanBy   string
	}{
		{"no list", nil, 30, 0, ""},
		{"a list", []string{"1"}, 0, 40, "lookups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.sb.Stats()
			o := e.bulkOptions(importer.ViaAuto)
			o.DryRun, o.Lists, o.Rate = true, tt.lists, 4
			o.ReportPath = filepath.Join(e.dir, "dry.errors.csv")
			sum, err := e.run(t, ctx, o, input)
			if err != nil {
				t.Fatal(err)
			}
			after := e.sb.Stats()
			if w := writes(after.ByMethod) - writes(before.ByMethod); w != 0 {
				t.Errorf("the dry run sent %d writes", w)
			}
			if reads := after.ByMethod["GET"] - before.ByMethod["GET"]; reads == 0 {
				t.Errorf("the dry run read nothing of the account")
			}
			if sum.PlanFailRows != tt.wantFail || sum.PlanFailAtMost {
				t.Errorf("plan fails %d rows (at most: %v), want exactly %d", sum.PlanFailRows, sum.PlanFailAtMost, tt.wantFail)
			}
			if sum.PlanBulkRows != tt.wantBulkRows || sum.PlanBy != tt.wantPlanBy {
				t.Errorf("plan: %d bulk rows by %q, want %d by %q", sum.PlanBulkRows, sum.PlanBy, tt.wantBulkRows, tt.wantPlanBy)
			}
			if sum.PlanAccount != 10 {
				t.Errorf("plan account %d contacts, want 10", sum.PlanAccount)
			}
			if sum.PlanSeconds <= 0 || sum.PlannedRequests <= 0 {
				t.Errorf("no estimate: %d requests, %.1f s", sum.PlannedRequests, sum.PlanSeconds)
			}
			var out strings.Builder
			if err := sum.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			if tt.wantFail > 0 && !strings.Contains(out.String(), fmt.Sprintf("%d rows will fail", tt.wantFail)) {
				t.Errorf("the dry run's summary does not say which rows will fail:\n%s", out.String())
			}
		})
	}

	// The real run without a list fails what the dry run said.
	o := e.options()
	o.Lists = nil
	sum, err := e.run(t, ctx, o, input)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 30 || sum.Updated != 10 {
		t.Errorf("real run: %d failed, %d updated; want the dry run's 30 failed and 10 updated", sum.Failed, sum.Updated)
	}
}

// writes sums the requests of methods that change the account.
func writes(byMethod map[string]int64) int64 {
	return byMethod["POST"] + byMethod["PUT"] + byMethod["DELETE"] + byMethod["PATCH"]
}

// TestDryRunBatchesKeepFileOrder: the dry run checks rows in batches on
// several goroutines; its counts, report and reasons stay those of the
// file in order, and a read error part way counts the rows before it
// (in the batch it ends, too) and stops there.
func TestDryRunBatchesKeepFileOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("Email,First Name\n")
	const n = 1000
	for i := range n {
		if i%97 == 5 {
			fmt.Fprintf(&b, "bad-%d,X\n", i) // invalid: line i+2
			continue
		}
		fmt.Fprintf(&b, "p%d@example.com,P\n", i)
	}
	clean := b.String()
	tests := []struct {
		name      string
		input     string
		wantRead  int64
		wantError bool
	}{
		{"whole file", clean, n, false},
		{"a bad byte on line 602", strings.Replace(clean, "p600@example.com,P", "p600@example.com,P\xff", 1), 600, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			im, err := importer.New(nil, importer.Options{DryRun: true, Lists: []string{"1"}, ReportPath: filepath.Join(dir, "r.csv")})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := im.Run(context.Background(), strings.NewReader(tt.input))
			if (err != nil) != tt.wantError {
				t.Fatalf("err %v, want an error: %v", err, tt.wantError)
			}
			wantBad := int64(0)
			for i := 0; int64(i) < tt.wantRead; i++ {
				if i%97 == 5 {
					wantBad++
				}
			}
			if sum.Read != tt.wantRead || sum.Failed != wantBad || sum.Valid != tt.wantRead-wantBad {
				t.Errorf("read %d, failed %d, valid %d; want %d, %d, %d", sum.Read, sum.Failed, sum.Valid, tt.wantRead, wantBad, tt.wantRead-wantBad)
			}
			if len(sum.Reasons) == 0 || sum.Reasons[0].FirstLine != 7 {
				t.Errorf("reasons %+v, want the first bad row at line 7", sum.Reasons)
			}
			data, err := os.ReadFile(filepath.Join(dir, "r.csv"))
			if err != nil {
				t.Fatal(err)
			}
			rep := string(data)
			var lines []int
			for _, l := range strings.Split(strings.TrimSpace(rep), "\n")[1:] {
				k, err := strconv.Atoi(strings.Split(l, ",")[2])
				if err != nil {
					t.Fatalf("report row %q: %v", l, err)
				}
				lines = append(lines, k)
			}
			if !slices.IsSorted(lines) {
				t.Errorf("report lines out of file order: %v", lines)
			}
			if int64(len(lines)) != wantBad {
				t.Errorf("report has %d rows, want %d", len(lines), wantBad)
			}
		})
	}
}

// TestBulkSaysContactsRowsBeforeSending: a bulk import whose rows the
// contacts collection must carry (a Country Name no code stands for) says
// so, with the count and the reason, before its first request to the
// account's contacts; then it sends them.
func TestBulkSaysContactsRowsBeforeSending(t *testing.T) {
	e := newEnv(t, fastJobs())
	var b strings.Builder
	b.WriteString("Email,First Name,Country\n")
	for i := range 40 {
		fmt.Fprintf(&b, "far%d@example.com,F,Atlantis\n", i)
	}
	for i := range 30 {
		fmt.Fprintf(&b, "near%d@example.com,N,Canada\n", i)
	}
	o := e.bulkOptions(importer.ViaActivities)
	var warned []string
	var writesAtWarning int64 = -1
	o.Warnf = func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if strings.Contains(msg, "through the contacts collection") && writesAtWarning < 0 {
			st := e.sb.Stats()
			writesAtWarning = writes(st.ByMethod) + st.ByRoute["GET /contacts"] + st.ByRoute["GET /contacts/{id}"]
		}
		warned = append(warned, msg)
	}
	sum, err := e.run(t, context.Background(), o, b.String())
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warned, "\n")
	if !strings.Contains(joined, "40 rows will go through the contacts collection") || !strings.Contains(joined, "Country Name no ISO code stands for") {
		t.Fatalf("warnings %q", joined)
	}
	if writesAtWarning != 0 {
		t.Errorf("%d requests to the contacts before the warning", writesAtWarning)
	}
	if sum.Created != 70 || sum.ContactsRows != 40 || sum.BulkRows != 30 {
		t.Errorf("created %d, %d through the collection, %d in jobs; want 70, 40, 30", sum.Created, sum.ContactsRows, sum.BulkRows)
	}
}
