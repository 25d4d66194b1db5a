package importer_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctctbulk/ctct"
	"ctctbulk/importer"
)

// Exports of other systems, on both ways in: a row that says its person
// opted out, bounced or was cleaned never ends Active; every other row
// does. The signals are read here from the files' own columns, apart from
// the mapping that the importer uses.

const sourcesDir = "../testdata/sources"

// fixture reads a file of testdata/sources as its text and its rows as
// maps by header.
func fixture(t *testing.T, name string) (string, []map[string]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sourcesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return string(b), rows
}

func TestSourcesNeverSubscribeAnOptOut(t *testing.T) {
	tests := []struct {
		file, email string
		// optedOut says, from the row's own cells, whether its person
		// opted out.
		optedOut func(row map[string]string) bool
		// preexisting are the indexes of rows whose email the account has,
		// Active, before the import.
		preexisting []int
	}{
		{"mailchimp/subscribed_members_export_2f4a1c9e.csv", "Email Address", func(map[string]string) bool { return false }, nil},
		{"mailchimp/unsubscribed_members_export_2f4a1c9e.csv", "Email Address", func(map[string]string) bool { return true }, []int{0, 5}},
		{"mailchimp/cleaned_members_export_2f4a1c9e.csv", "Email Address", func(map[string]string) bool { return true }, []int{1}},
		{"hubspot/hubspot-crm-exports-all-contacts-2026-11-30.csv", "Email", func(r map[string]string) bool {
			return r["Unsubscribed from all email"] == "true" || r["Email hard bounce reason"] != ""
		}, []int{3, 6, 10}},
		{"salesforce/contacts_report_2026-11-30.csv", "Email", func(r map[string]string) bool { return r["Email Opt Out"] == "1" }, []int{2, 8}},
		{"salesforce/Contact.csv", "Email", func(r map[string]string) bool {
			return r["HasOptedOutOfEmail"] == "true" || r["EmailBouncedReason"] != ""
		}, []int{1, 7}},
	}
	for _, tt := range tests {
		text, rows := fixture(t, tt.file)
		for _, via := range []importer.Via{importer.ViaContacts, importer.ViaActivities} {
			t.Run(filepath.Base(tt.file)+"/"+string(via), func(t *testing.T) {
				e := newEnv(t, fastJobs())
				if len(tt.preexisting) > 0 {
					seed := "Email\n"
					for _, i := range tt.preexisting {
						seed += rows[i][tt.email] + "\n"
					}
					seedAccount(t, e, seed)
				}
				o := e.bulkOptions(via)
				o.Mapping.Truncate = true
				o.Mapping.FileName = filepath.Base(tt.file)
				sum, err := e.run(t, context.Background(), o, text)
				if err != nil {
					t.Fatal(err)
				}
				if sum.Finished() != sum.Read || sum.Read != int64(len(rows)) || sum.Failed != 0 {
					t.Errorf("summary %+v, report %q", sum, reportLines(t, o.ReportPath))
				}
				cs := e.contacts(t)
				var optOuts int64
				for i, r := range rows {
					email := strings.ToLower(r[tt.email])
					c := cs[email]
					want := ctct.StatusActive
					if tt.optedOut(r) {
						want = ctct.StatusDoNotMail
						optOuts++
					}
					if c == nil || c.Status != want {
						t.Errorf("row %d %s: %+v, want %s", i+2, email, c, want)
					}
				}
				var carried int64
				for _, n := range sum.OptOutsCarried {
					carried += n
				}
				if carried != optOuts {
					t.Errorf("summary carried %d opt-outs (%v), the file has %d", carried, sum.OptOutsCarried, optOuts)
				}
				if via == importer.ViaActivities && sum.Via == "activities" && sum.ContactsRows != optOuts {
					t.Errorf("%d rows through the contacts collection, want only the %d opt-outs", sum.ContactsRows, optOuts)
				}
			})
		}
	}
}

// TestSourcesNamesToCodes: a HubSpot export's state and country names
// become codes (other regions StateName), and its long job titles are cut
// with --truncate and named in the report's _cut column; without it they
// fail, saying --truncate.
func TestSourcesNamesToCodes(t *testing.T) {
	text, rows := fixture(t, "hubspot/hubspot-crm-exports-all-contacts-2026-11-30.csv")
	e := newEnv(t, fastJobs())
	o := e.bulkOptions(importer.ViaActivities)
	o.OptOuts = importer.OptOutsSkip
	sum, err := e.run(t, context.Background(), o, text)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(o.ReportPath)
	if sum.Failed == 0 || !strings.Contains(string(b), "--truncate cuts such values") {
		t.Errorf("long job titles did not fail with the way out: %+v\n%s", sum, b)
	}
	e = newEnv(t, fastJobs())
	o = e.bulkOptions(importer.ViaActivities)
	o.OptOuts = importer.OptOutsSkip
	o.Mapping.Truncate = true
	sum, err = e.run(t, context.Background(), o, text)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || sum.ContactsRows != 0 || sum.CutRows == 0 || sum.Cut["JobTitle"] != sum.CutRows {
		t.Errorf("summary %+v", sum)
	}
	cs := e.contacts(t)
	want := map[string][4]string{ // Record ID's row: StateCode, StateName, CountryCode, CountryName
		"California": {"CA", "", "us", ""}, "New York": {"NY", "", "us", ""}, "Ontario": {"ON", "", "ca", ""},
		"Bavaria": {"", "Bavaria", "de", ""}, "Greater London": {"", "Greater London", "gb", ""}, "Île-de-France": {"", "Île-de-France", "fr", ""},
	}
	checked := 0
	for _, r := range rows {
		w, ok := want[r["State/Region"]]
		c := cs[strings.ToLower(r["Email"])]
		if !ok || c == nil {
			continue
		}
		checked++
		if got := [4]string{c.StateCode, c.StateName, c.CountryCode, c.CountryName}; got != w {
			t.Errorf("%s (%s, %s): %q, want %q", r["Email"], r["State/Region"], r["Country/Region"], got, w)
		}
		if len([]rune(r["Job Title"])) > 50 && len([]rune(c.JobTitle)) != 50 {
			t.Errorf("%s: job title %q not cut to 50", r["Email"], c.JobTitle)
		}
	}
	if checked < 10 {
		t.Errorf("only %d rows checked", checked)
	}
	recs, err := csv.NewReader(strings.NewReader(mustRead(t, o.ReportPath))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for i, h := range recs[0] {
		if h == "_cut" {
			col = i
		}
	}
	cut := 0
	for _, r := range recs[1:] {
		if strings.HasPrefix(r[col], "JobTitle ") {
			cut++
		}
	}
	if int64(cut) != sum.CutRows {
		t.Errorf("report names %d cut rows, summary %d", cut, sum.CutRows)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSupersededReportRowsSkipped: fixing the report and importing it
// again keeps file order: a failed row whose email a later row set is
// marked, and skipped when the report comes back, unless asked.
func TestSupersededReportRowsSkipped(t *testing.T) {
	for _, via := range []importer.Via{importer.ViaContacts, importer.ViaActivities} {
		t.Run(string(via), func(t *testing.T) {
			e := newEnv(t, fastJobs())
			o := e.bulkOptions(via)
			input := "Email,First Name,Email Type\n" +
				"a@example.com,Old,pdf\n" + // fails: a bad email type
				"b@example.com,Bob,pdf\n" + // fails, and nothing later sets b
				"a@example.com,New,HTML\n"
			sum, err := e.run(t, context.Background(), o, input)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed != 2 || sum.Superseded != 1 {
				t.Fatalf("summary %+v", sum)
			}
			report := mustRead(t, o.ReportPath)
			if !strings.Contains(report, "_superseded_by") || !strings.Contains(report, ",4\n") {
				t.Fatalf("report:\n%s", report)
			}
			fixed := strings.ReplaceAll(report, "pdf", "Text")
			again := o
			again.ReportPath, again.JournalPath = filepath.Join(e.dir, "again.errors.csv"), filepath.Join(e.dir, "again.journal")
			sum, err = e.run(t, context.Background(), again, fixed)
			if err != nil {
				t.Fatal(err)
			}
			cs := e.contacts(t)
			if sum.Skipped != 1 || sum.Created != 1 || cs["a@example.com"].FirstName != "New" || cs["b@example.com"] == nil {
				t.Errorf("report imported again: %+v; a = %q", sum, cs["a@example.com"].FirstName)
			}
			if !strings.Contains(mustRead(t, again.ReportPath), "superseded") {
				t.Error("the skipped row does not say why")
			}
			// Asked otherwise, the older row goes in.
			again.ImportSuperseded = true
			again.JournalPath = filepath.Join(e.dir, "third.journal")
			if _, err := e.run(t, context.Background(), again, fixed); err != nil {
				t.Fatal(err)
			}
			if got := e.contacts(t)["a@example.com"].FirstName; got != "Old" {
				t.Errorf("--import-superseded: a = %q, want Old", got)
			}
		})
	}
}
