package report

import (
	"fmt"
	"time"
)

// Sample returns a fixed report of a made-up bulk import of 48,213 rows
// over 21 minutes, with failures, throttles and retries: the page of the
// golden test and of the README's screenshot. It holds a cell with markup,
// which the page must show as text.
func Sample() *Report {
	start := time.Date(2026, 3, 2, 9, 14, 5, 0, time.UTC)
	end := start.Add(21*time.Minute + 37*time.Second)
	r := &Report{
		Kind: "import", Name: "crm_export_march.csv",
		Target:  "https://api.constantcontact.com account acme-marketing",
		Command: "ctctbulk import --list Customers --list Newsletter --truncate --rate 4 crm_export_march.csv",
		Start:   start, End: end,
		Status: "finished with failed rows", OK: false,
		Input: &File{Name: "crm_export_march.csv", Bytes: 9_806_142, SHA256: "5f0c8e8a3b1d9e2f47a6c0d1e9b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e"},
		Figures: []Fact{
			{"rows read", "48,213"}, {"created", "31,877"}, {"updated", "12,904"},
			{"failed", "214"}, {"requests", "4,150"}, {"duration", "21 min 37 s"},
		},
		Outcomes: []Outcome{
			{"created", "created", 31_877}, {"updated", "updated", 12_904}, {"unchanged", "unchanged", 2_611},
			{"skipped", "skipped", 187}, {"opted out", "optedout", 420}, {"failed", "failed", 214},
		},
		Whole: 48_213,
		Failures: []Failure{
			{Reason: "EmailAddress: not a valid email address: it needs exactly one @", Rows: 131, Lines: []int{88, 412, 1_907},
				Examples: []Example{
					{Line: 88, Header: sampleHeader, Cells: []string{"jane.doe#example.com", "Jane", "Doe", "Acme Ltd", "CA"}, Error: `line 88, column "Email" (EmailAddress): "jane.doe#example.com" is not a valid email address: it needs exactly one @`},
					{Line: 412, Header: sampleHeader, Cells: []string{"<script>alert(1)</script>", "Bob", "Smith", "Globex", "NY"}, Error: `line 412, column "Email" (EmailAddress): "<script>alert(1)</script>" is not a valid email address: it needs exactly one @`},
				}},
			{Reason: "StateCode: not a US state or Canadian province code", Rows: 58, Lines: []int{1_022, 5_310, 9_876},
				Examples: []Example{
					{Line: 1_022, Header: sampleHeader, Cells: []string{"li.wei@example.org", "Li", "Wei", "Initech", "ZZ"}, Error: `line 1022, column "State" (StateCode): "ZZ" is not a US state or Canadian province code`},
				}},
			{Reason: "skipped: contact is Do Not Mail: it is never re-subscribed", Rows: 187, Lines: []int{17, 230, 231}},
			{Reason: "bulk job a07e1ffaxjxffmvj6qd: Invalid email address", Rows: 25, Lines: []int{30_114, 30_977, 41_020}},
		},
		ErrorFiles: []Link{{Text: "crm_export_march.csv.errors.csv", Href: "crm_export_march.csv.errors.csv", Rows: 401}},
		Rate:       4,
		Details: []Fact{
			{"Way", "activities: 47,790 rows in 3 add jobs, 423 through the contacts collection"},
			{"Requests", "4,150 sent: 1,377 GET, 1,941 POST, 832 PUT; 10 retries, 6 throttled"},
		},
		Notes: []string{
			"a list renamed while the run ran (Newsletter): its members were checked by number",
			"verification skipped (--verify=false): the jobs' outcomes are the server's word",
		},
	}
	// Requests: 20 s buckets, near the rate, a throttled patch, a few
	// retries and failures.
	r.Requests = Requests{Start: start, Width: 20 * time.Second}
	for i := 0; i < 65; i++ {
		b := Bucket{Sent: int64(72 + (i*37)%9)}
		switch {
		case i >= 3 && i < 8:
			b.Sent = 12 // planning: export jobs running
		case i >= 24 && i < 27:
			b.Throttled, b.Retried = 2, 3
		case i == 40:
			b.Failed, b.Retried = 1, 1
		case i >= 58:
			b.Sent = int64(10 + i%3)
		}
		r.Requests.Buckets = append(r.Requests.Buckets, b)
	}
	jobs := []struct {
		typ        string
		sub, run   time.Duration
		fin        time.Duration
		rows, errs int
	}{
		{"EXPORT_CONTACTS", 40 * time.Second, 52 * time.Second, 2*time.Minute + 10*time.Second, 18_220, 0},
		{"EXPORT_CONTACTS", 41 * time.Second, 2*time.Minute + 11*time.Second, 2*time.Minute + 40*time.Second, 3_101, 0},
		{"ADD_CONTACTS", 4 * time.Minute, 4*time.Minute + 20*time.Second, 9 * time.Minute, 20_000, 11},
		{"ADD_CONTACTS", 6 * time.Minute, 9 * time.Minute, 13*time.Minute + 30*time.Second, 20_000, 14},
		{"ADD_CONTACTS", 8 * time.Minute, 13*time.Minute + 31*time.Second, 15 * time.Minute, 7_790, 0},
		{"EXPORT_CONTACTS", 15*time.Minute + 20*time.Second, 15*time.Minute + 30*time.Second, 17 * time.Minute, 49_120, 0},
	}
	for i, j := range jobs {
		r.Jobs = append(r.Jobs, Job{Key: fmt.Sprintf("a07e1ffaxjxffmvj%03d", i), Type: j.typ, Status: "COMPLETE",
			Submitted: start.Add(j.sub), Started: start.Add(j.run), Finished: start.Add(j.fin), Rows: j.rows, Errors: j.errs})
	}
	return r
}

var sampleHeader = []string{"Email", "First Name", "Last Name", "Company", "State"}
