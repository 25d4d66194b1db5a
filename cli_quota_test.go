package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"ctctbulk/importer"
	"ctctbulk/sandbox"
)

// quotaRig is a sandbox served over loopback HTTP, the environment of the
// runs against it (its own state directory) and a clock the test moves.
type quotaRig struct {
	t   *testing.T
	sb  *sandbox.Sandbox
	dir string
	env map[string]string
	mu  sync.Mutex
	now time.Time
}

func newQuotaRig(t *testing.T) *quotaRig {
	t.Helper()
	sb, srv := serveMemorySandbox(t)
	dir := t.TempDir()
	return &quotaRig{t: t, sb: sb, dir: dir, now: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), env: map[string]string{
		"XDG_STATE_HOME": filepath.Join(dir, "state"), "CTCT_BASE_URL": srv.URL, "CTCT_USERNAME": sandbox.DefaultUser,
		"CTCT_API_KEY": sandbox.DefaultAPIKey, "CTCT_PASSWORD": sandbox.DefaultPassword,
	}}
}

func (r *quotaRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *quotaRig) nextDay() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(24 * time.Hour)
}

// run runs the command line in this process at the rig's clock.
func (r *quotaRig) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runWith(context.Background(), args, streams{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return r.env[k] }, now: r.clock, notes: &notes{w: &errb}})
	return code, out.String(), errb.String()
}

// writeInput writes n rows of people whose emails start with prefix.
func (r *quotaRig) writeInput(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("Email,First Name,Last Name\n")
	for i := range n {
		fmt.Fprintf(&b, "%s%03d@example.com,%sFirst%d,Last%d\n", prefix, i, prefix, i, i)
	}
	p := filepath.Join(r.dir, prefix+".csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// quotaUse runs ctctbulk quota --json.
func (r *quotaRig) quotaUse() quotaReport {
	code, stdout, stderr := r.run("quota", "--json")
	if code != exitOK {
		r.t.Fatalf("quota: exit %d: %s", code, stderr)
	}
	var rep quotaReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		r.t.Fatalf("quota --json: %v: %s", err, stdout)
	}
	return rep
}

// TestTwoImportsShareTheDailyQuota starts two imports together on one key
// with --daily-quota 300, each of a file too big for a day's quota alone:
// between them they send at most 300 requests a day (the sandbox's count),
// each ends with exit 4 or 0, the ledger holds exactly what was sent, and
// lists and export on the same key stop at the spent quota with exit 4,
// saying what was spent and by which runs. On the next days (the injected
// clock) --resume finishes both, within the quota each day, and the
// account holds every row as the inputs say, once.
func TestTwoImportsShareTheDailyQuota(t *testing.T) {
	r := newQuotaRig(t)
	const rows = 320 // over 300 requests each
	inputs := []string{r.writeInput("ann", rows), r.writeInput("bob", rows)}
	args := func(input string, extra ...string) []string {
		a := append([]string{"import", "--via", "contacts", "--list", "1", "--daily-quota", "300"}, fast...)
		return append(append(a, extra...), input)
	}
	// runDay runs the imports not finished yet together and returns the
	// requests the sandbox received.
	done := make([]bool, len(inputs))
	runDay := func(day int) int64 {
		before := r.sb.Stats().Requests
		codes := make([]int, len(inputs))
		var wg sync.WaitGroup
		for i, in := range inputs {
			if done[i] {
				continue
			}
			extra := []string{}
			if day > 1 {
				extra = append(extra, "--resume")
			}
			wg.Go(func() {
				var stdout, stderr string
				codes[i], stdout, stderr = r.run(args(in, extra...)...)
				switch codes[i] {
				case exitOK:
					done[i] = true
				case exitBudget:
					if !strings.Contains(stderr, "stopped at the daily quota: the daily quota of 300 requests") {
						t.Errorf("day %d, %s: stderr %q does not name the quota", day, in, stderr)
					}
					if !strings.Contains(stdout, "stopped: daily request quota reached") {
						t.Errorf("day %d, %s: the summary %q does not say the quota stopped the run", day, in, stdout)
					}
				default:
					t.Errorf("day %d, %s: exit %d, want 4 or 0: %s", day, in, codes[i], stderr)
				}
			})
		}
		wg.Wait()
		sent := r.sb.Stats().Requests - before
		t.Logf("day %d: exit codes %v, %d requests", day, codes, sent)
		if sent > 300 {
			t.Fatalf("day %d: the imports sent %d requests, over the quota of 300", day, sent)
		}
		return sent
	}

	if sent := runDay(1); sent != 300 || done[0] || done[1] {
		t.Fatalf("day 1: %d requests, finished %v; want both stopped at 300 requests", sent, done)
	}
	day1 := r.quotaUse()
	if len(day1.Keys) != 1 || day1.Keys[0].Days[0].Requests != 300 || day1.Keys[0].Days[0].ByKind["import"] != 300 {
		t.Fatalf("ledger %+v, want today's 300 requests, all import", day1.Keys)
	}
	// Other kinds of run on the key stop too, and say why.
	for _, cmd := range [][]string{
		{"lists", "--daily-quota", "300"},
		{"export", "--via", "contacts", "--daily-quota", "300", "-o", filepath.Join(r.dir, "out.csv")},
	} {
		code, _, stderr := r.run(cmd...)
		if code != exitBudget || !strings.Contains(stderr, "the daily quota of 300 requests") || !strings.Contains(stderr, "import 300") ||
			!strings.Contains(stderr, "starts again at 2026-12-01 00:00 UTC, in 14h0m") {
			t.Errorf("%s at the spent quota: exit %d, stderr %q", cmd[0], code, stderr)
		}
	}
	if got := r.sb.Stats().Requests; got != 300 {
		t.Errorf("runs at the spent quota sent %d requests", got-300)
	}

	for day := 2; !done[0] || !done[1]; day++ {
		if day > 5 {
			t.Fatalf("not finished after %d days", day-1)
		}
		r.nextDay()
		runDay(day)
	}

	out := filepath.Join(r.dir, "account.csv")
	if code, _, stderr := r.run(append([]string{"export", "--via", "contacts", "--raw", "-o", out}, fast...)...); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	recs := readCSV(t, out)
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	got := map[string][]string{}
	for _, rec := range recs[1:] {
		email := rec[col["EmailAddress"]]
		if _, dup := got[email]; dup {
			t.Errorf("%s is in the account twice", email)
		}
		got[email] = []string{rec[col["FirstName"]], rec[col["LastName"]], rec[col["ContactLists"]]}
	}
	if len(got) != 2*rows {
		t.Errorf("the account holds %d contacts, want %d", len(got), 2*rows)
	}
	for _, prefix := range []string{"ann", "bob"} {
		for i := range rows {
			email := fmt.Sprintf("%s%03d@example.com", prefix, i)
			want := []string{fmt.Sprintf("%sFirst%d", prefix, i), fmt.Sprintf("Last%d", i), "1"}
			if g := got[email]; fmt.Sprint(g) != fmt.Sprint(want) {
				t.Errorf("%s: %q, want %q", email, g, want)
			}
		}
	}
	last := r.quotaUse()
	if d := last.Keys[0].Days[0]; d.ByKind["export"] == 0 {
		t.Errorf("ledger of today %+v: want the export", d)
	}
	for _, d := range last.Keys[0].Days {
		if d.Day == "2026-11-30" && d.Requests != 300 {
			t.Errorf("ledger of the first day: %+v, want 300 requests", d)
		}
	}
	code, stdout, _ := r.run("quota")
	if code != exitOK || !strings.Contains(stdout, "TARGET") || !strings.Contains(stdout, "2026-11-30") || !strings.Contains(stdout, "import") {
		t.Errorf("quota: exit %d:\n%s", code, stdout)
	}
}

// TestDryRunCountsTodaysSpentQuota checks that the dry run's days count
// what today's runs already spent on the key: 150 rows against a quota of
// 100 a day, some of it spent, need 2 days.
func TestDryRunCountsTodaysSpentQuota(t *testing.T) {
	r := newQuotaRig(t)
	in := r.writeInput("cat", 150)
	if code, _, stderr := r.run("lists", "--daily-quota", "100"); code != exitOK {
		t.Fatalf("lists: exit %d: %s", code, stderr)
	}
	sumPath := filepath.Join(r.dir, "sum.json")
	code, stdout, stderr := r.run(append([]string{"import", "--dry-run", "--via", "contacts", "--list", "1", "--daily-quota", "100",
		"--summary-json", sumPath}, append(fast, in)...)...)
	if code != exitOK {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	var sum importer.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	spent := r.sb.Stats().Requests // the lists run's and the dry run's reads
	if sum.QuotaSpent != spent || sum.DailyQuota != 100 || sum.PlanDays != 2 {
		t.Errorf("summary: spent %d of %d, %d days; want %d spent, 2 days", sum.QuotaSpent, sum.DailyQuota, sum.PlanDays, spent)
	}
	want := fmt.Sprintf("it needs 2 days: %d of today's 100 are already spent", spent)
	if !strings.Contains(stdout, want) {
		t.Errorf("dry run summary lacks %q:\n%s", want, stdout)
	}
}

// TestQuotaLimit checks the daily quota a run keeps to by target.
func TestQuotaLimit(t *testing.T) {
	tests := []struct {
		name        string
		flag        []string
		sandboxLike bool
		want        int64
	}{
		{"an account", nil, false, defaultDailyQuota},
		{"a sandbox", nil, true, 0},
		{"an account, given", []string{"--daily-quota", "2,500"}, false, 2500},
		{"a sandbox, given", []string{"--daily-quota", "300"}, true, 300},
		{"no limit, given", []string{"--daily-quota", "0"}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o connOptions
			fs := pflag.NewFlagSet("lists", pflag.ContinueOnError)
			o.register(fs)
			if err := fs.Parse(tt.flag); err != nil {
				t.Fatal(err)
			}
			got := o.quotaLimit(tt.sandboxLike)
			if got != tt.want {
				t.Errorf("quota %d, want %d", got, tt.want)
			}
		})
	}
	for url, want := range map[string]bool{"http://127.0.0.1:8080": true, "http://localhost:1/x": true, "http://[::1]:80": true,
		"https://api.constantcontact.com": false, "https://127.example.com": false} {
		if got := isLoopbackURL(url); got != want {
			t.Errorf("isLoopbackURL(%s) = %v", url, got)
		}
	}
}
