package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mailchimpZip builds Mailchimp's audience export, one ZIP of its three
// member files, from testdata/sources, with one member given extra lines.
func mailchimpZip(t *testing.T, dir string, extra map[string]string) string {
	t.Helper()
	p := filepath.Join(dir, "audience_export_2f4a1c9e.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, name := range []string{"cleaned_members_export_2f4a1c9e.csv", "subscribed_members_export_2f4a1c9e.csv", "unsubscribed_members_export_2f4a1c9e.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "sources", "mailchimp", name))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(append(b, extra[name]...))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportMailchimpZip: the audience ZIP imports in one run, its
// unsubscribed and cleaned members carried over as opt-outs (one of them
// already Active in the account), one error report per member file that
// has a failed row, named after it.
func TestImportMailchimpZip(t *testing.T) {
	e := newImportEnv(t)
	seed := e.write("seed.csv", "Email\nliam.davis31@example.com\n")
	if code, _, stderr, _ := e.importCLI("", "--list", "1", seed); code != exitOK {
		t.Fatalf("seed: exit %d: %s", code, stderr)
	}
	bad := `"not-an-email","Bad","Row","","","","1","","","","","","","","","","","","","","","","",""` + "\n"
	z := mailchimpZip(t, e.dir, map[string]string{"subscribed_members_export_2f4a1c9e.csv": bad})
	for _, via := range []string{"contacts", "activities"} {
		t.Run(via, func(t *testing.T) {
			code, stdout, stderr, sum := e.importCLI("", "--list", "1", "--via", via, z)
			if code != exitRowsFailed || sum == nil {
				t.Fatalf("exit %d: %s\n%s", code, stdout, stderr)
			}
			if sum.Read != 49 || sum.Finished() != 49 || sum.AllFailed() != 1 {
				t.Errorf("summary %+v", sum)
			}
			if !strings.Contains(stderr, "recognised a Mailchimp unsubscribed export") || !strings.Contains(stderr, "recognised a Mailchimp cleaned export") {
				t.Errorf("stderr does not say what was recognised:\n%s", stderr)
			}
			report := z + ".subscribed_members_export_2f4a1c9e.errors.csv"
			if rows := reportRows(t, report, ','); len(rows) != 1 || rows[0]["_line"] != "32" {
				t.Errorf("report %s: %v", report, rows)
			}
			if _, err := os.Stat(z + ".unsubscribed_members_export_2f4a1c9e.errors.csv"); err == nil {
				t.Error("a report for a member with no failed row")
			}
			cs := e.contacts()
			count := map[string]int{}
			for email, c := range cs {
				switch {
				case strings.HasSuffix(email, "@bounced.example.net"):
					count["cleaned "+c["Status"]]++
				default:
					count[c["Status"]]++
				}
			}
			// 30 subscribed Active; 12 unsubscribed (one of them Active
			// before) and 6 cleaned, all Do Not Mail.
			if count["Active"] != 30 || count["Do Not Mail"] != 12 || count["cleaned Do Not Mail"] != 6 || len(cs) != 48 {
				t.Errorf("statuses %v", count)
			}
			if c := cs["liam.davis31@example.com"]; c["Status"] != "Do Not Mail" {
				t.Errorf("an Active contact who unsubscribed in Mailchimp is %s", c["Status"])
			}
			if !strings.Contains(stdout, "opt-outs carried over") {
				t.Errorf("summary:\n%s", stdout)
			}
		})
	}
}
