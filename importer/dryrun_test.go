package importer_test

import (
	"context"
	"fmt"
	"path/filepath"
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
