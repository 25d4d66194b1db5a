package mapping

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctctbulk/ctct"
)

// sourcesDir holds exports shaped like Mailchimp's, HubSpot's and
// Salesforce's (see testdata/sources/README.md).
const sourcesDir = "../testdata/sources"

// readHeader returns the header of a fixture file.
func readHeader(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(sourcesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := csv.NewReader(f).Read()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRecogniseSources(t *testing.T) {
	tests := []struct {
		file, from       string
		source, kind     string
		fileSignal       string
		want             map[string]string // header -> field
		unmappedContains string
	}{
		{file: "mailchimp/subscribed_members_export_2f4a1c9e.csv", source: SourceMailchimp, kind: "subscribed export",
			want:             map[string]string{"Email Address": "EmailAddress", "Address": FieldFullAddress, "Phone Number": "HomePhone", "NOTES": "Note", "CC": "", "REGION": ""},
			unmappedContains: "MEMBER_RATING"},
		{file: "mailchimp/unsubscribed_members_export_2f4a1c9e.csv", source: SourceMailchimp, kind: "unsubscribed export",
			fileSignal: "Mailchimp unsubscribed export", want: map[string]string{"UNSUB_TIME": FieldOptOutWhenSet, "UNSUB_REASON": ""}},
		{file: "mailchimp/cleaned_members_export_2f4a1c9e.csv", source: SourceMailchimp, kind: "cleaned export",
			fileSignal: "Mailchimp cleaned export", want: map[string]string{"CLEAN_TIME": FieldOptOutWhenSet}},
		{file: "hubspot/hubspot-crm-exports-all-contacts-2026-11-30.csv", source: SourceHubSpot, kind: "contacts export",
			want: map[string]string{"Email": "EmailAddress", "Phone Number": "WorkPhone", "Mobile Phone Number": "HomePhone",
				"Street Address": "Addr1", "Street Address 2": "Addr2", "State/Region": "StateCode", "Country/Region": "CountryName",
				"Company Name": "CompanyName", "Job Title": "JobTitle", "Unsubscribed from all email": FieldOptOut,
				"Email hard bounce reason": FieldOptOutWhenSet, "Lead Status": "", "IP State/Region": "", "IP Country": ""}},
		{file: "salesforce/contacts_report_2026-11-30.csv", source: SourceSalesforce, kind: "contact report",
			want: map[string]string{"Email": "EmailAddress", "Title": "JobTitle", "Account Name": "CompanyName", "Phone": "WorkPhone",
				"Mobile": "HomePhone", "Mailing Street": FieldStreetLines, "Mailing City": "City", "Mailing State/Province": "StateCode",
				"Mailing Zip/Postal Code": "PostalCode", "Mailing Country": "CountryName", "Email Opt Out": FieldOptOut, "Do Not Call": ""}},
		{file: "salesforce/Contact.csv", source: SourceSalesforce, kind: "data export",
			want: map[string]string{"Id": "", "Email": "EmailAddress", "MailingStreet": FieldStreetLines, "MobilePhone": "HomePhone",
				"HasOptedOutOfEmail": FieldOptOut, "EmailBouncedReason": FieldOptOutWhenSet, "DoNotCall": ""}},
		// --from none: no source's names, but opt-out columns are still
		// recognised: an opt-out is never left to a flag.
		{file: "hubspot/hubspot-crm-exports-all-contacts-2026-11-30.csv", from: FromNone,
			want: map[string]string{"Email": "EmailAddress", "Phone Number": "HomePhone", "Mobile Phone Number": "", "State/Region": "",
				"Unsubscribed from all email": FieldOptOut, "Email hard bounce reason": FieldOptOutWhenSet}},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.from, func(t *testing.T) {
			m, warns, err := Resolve(readHeader(t, tt.file), Options{From: tt.from, FileName: filepath.Base(tt.file)})
			if err != nil {
				t.Fatal(err)
			}
			src, kind := m.Source()
			if name := ""; src != nil {
				name = src.Name
				if name != tt.source || kind != tt.kind {
					t.Errorf("recognised %s %q, want %s %q", name, kind, tt.source, tt.kind)
				}
			} else if tt.source != "" {
				t.Errorf("not recognised, want %s", tt.source)
			}
			if m.FileSignal() != tt.fileSignal {
				t.Errorf("file signal %q, want %q", m.FileSignal(), tt.fileSignal)
			}
			got := map[string]string{}
			for _, c := range m.Columns() {
				got[c.Header] = c.Field
			}
			for h, f := range tt.want {
				if got[h] != f {
					t.Errorf("column %q taken as %q, want %q", h, got[h], f)
				}
			}
			if len(warns) > 1 {
				t.Errorf("%d warnings, want at most one line: %q", len(warns), warns)
			}
			if tt.unmappedContains != "" && (len(warns) == 0 || !strings.Contains(warns[0], tt.unmappedContains)) {
				t.Errorf("warnings %q do not name %s", warns, tt.unmappedContains)
			}
		})
	}
}

// TestRecognisedLine: the one line that says what was recognised and what
// each column was taken as, word for word.
func TestRecognisedLine(t *testing.T) {
	m, warns, err := Resolve(readHeader(t, "mailchimp/unsubscribed_members_export_2f4a1c9e.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `recognised a Mailchimp unsubscribed export: "Email Address"=EmailAddress "First Name"=FirstName "Last Name"=LastName ` +
		`Address=FullAddress "Phone Number"=HomePhone UNSUB_TIME=opt-out NOTES=Note (every row is carried over as an opt-out: the file is of opt-outs)`
	if got := m.Recognised(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	wantWarn := "not imported: 20 columns match no contact field: Birthday, MEMBER_RATING, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP, LATITUDE, LONGITUDE, " +
		"GMTOFF, DSTOFF, TIMEZONE, CC, REGION, UNSUB_CAMPAIGN_TITLE, UNSUB_CAMPAIGN_ID, UNSUB_REASON, UNSUB_REASON_OTHER, LAST_CHANGED, LEID, EUID, TAGS " +
		"(map one with --col 'Header=Field')"
	if len(warns) != 1 || warns[0] != wantWarn {
		t.Errorf("warnings %q\nwant %q", warns, wantWarn)
	}
	// A file of no known source says nothing of a source.
	plain, _, err := Resolve([]string{"Email", "First Name"}, Options{})
	if err != nil || plain.Recognised() != "" {
		t.Errorf("plain file: %q, %v", plain.Recognised(), err)
	}
	// The table names every column.
	rows := m.Table()
	if len(rows) != 1+len(readHeader(t, "mailchimp/unsubscribed_members_export_2f4a1c9e.csv"))+1 || rows[4][1] != "Address" || !strings.HasPrefix(rows[4][2], "Addr1-3") {
		t.Errorf("table %q", rows[:6])
	}
}

func TestSourcePreferenceAndExplicitMappings(t *testing.T) {
	header := []string{"Contact ID", "Account Name", "Email", "Phone", "Home Phone", "Mobile", "Mailing Street"}
	m, warns, err := Resolve(header, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cols := m.Columns()
	if cols[4].Field != "HomePhone" || cols[5].Field != "" || !strings.Contains(cols[5].Reason, `HomePhone comes from column 5 "Home Phone"`) {
		t.Errorf("Home Phone %+v, Mobile %+v", cols[4], cols[5])
	}
	if len(warns) != 1 || !strings.Contains(warns[0], `Mobile (HomePhone comes from column 5 "Home Phone")`) {
		t.Errorf("warnings %q", warns)
	}
	// An explicit mapping wins over the source's names, which yield.
	m, _, err = Resolve(header, Options{Cols: []string{"Mobile=HomePhone", "Phone=-"}})
	if err != nil {
		t.Fatal(err)
	}
	cols = m.Columns()
	if cols[5].Field != "HomePhone" || cols[4].Field != "" || cols[3].Reason != ReasonMappedOut || cols[5].By != "--col" {
		t.Errorf("explicit: %+v", cols)
	}
	// --from names a source the header does not show; an unknown one is an error.
	m, _, err = Resolve([]string{"Email", "Phone"}, Options{From: "salesforce"})
	if err != nil || m.Columns()[1].Field != "WorkPhone" {
		t.Errorf("--from salesforce: %v %+v", err, m)
	}
	if _, _, err := Resolve([]string{"Email"}, Options{From: "excel"}); err == nil || !strings.Contains(err.Error(), `--from "excel": not a source ctctbulk knows`) {
		t.Errorf("--from excel: %v", err)
	}
}

func TestOptOutSignals(t *testing.T) {
	header := []string{"Email", "Status", "Email Opt Out", "UNSUB_TIME", "No Email"}
	m, _, err := Resolve(header, Options{Cols: []string{"No Email=OptOut"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		status, optOut, unsub, noEmail string
		signal                         string
		removed                        bool
		errField, errMsg               string
	}{
		{signal: ""},
		{status: "Active", optOut: "0", noEmail: "no"},
		{status: "subscribed", optOut: "false", noEmail: "FALSE"},
		{status: "Unconfirmed"},
		{status: "Do Not Mail", signal: "Status=do not mail"},
		{status: "unsubscribed", signal: "Status=unsubscribed"},
		{status: "Opted Out", signal: "Status=opted out"},
		{status: "opted-out", signal: "Status=opted-out"},
		{status: "cleaned", signal: "Status=cleaned"},
		{status: "Bounced", signal: "Status=bounced"},
		{status: "Hard Bounce", signal: "Status=hard bounce"},
		{status: "Removed", removed: true},
		{status: "true", errField: "Status", errMsg: `"true" is not a status ctctbulk knows`},
		{status: "pending", errField: "Status", errMsg: `"pending" is not a status ctctbulk knows`},
		{optOut: "1", signal: "Email Opt Out"},
		{optOut: "TRUE", signal: "Email Opt Out"},
		{optOut: "x", signal: "Email Opt Out"},
		{optOut: "maybe", errField: "OptOut", errMsg: `"maybe" is neither yes nor no`},
		{unsub: "2026-04-23 10:00:00", signal: "UNSUB_TIME"},
		{noEmail: "yes", signal: "No Email"},
		{noEmail: "opted out", signal: "No Email"},
		// A known opt-out wins over an unreadable cell, and over Removed:
		// the person is never subscribed either way.
		{status: "pending", optOut: "1", signal: "Email Opt Out"},
		{status: "Removed", unsub: "2026-01-01", signal: "UNSUB_TIME"},
	}
	for _, tt := range tests {
		cells := []string{"a@b.co", tt.status, tt.optOut, tt.unsub, tt.noEmail}
		rec, err := m.Convert(cells, 9)
		if tt.errMsg != "" {
			var re *RowError
			if !errors.As(err, &re) || re.Field != tt.errField || !strings.Contains(err.Error(), tt.errMsg) || re.Line != 9 {
				t.Errorf("%q: error %v, want %s: %s", cells, err, tt.errField, tt.errMsg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", cells, err)
			continue
		}
		if rec.OptOut != tt.signal || rec.Removed != tt.removed {
			t.Errorf("%q: opt-out %q removed %v, want %q %v", cells, rec.OptOut, rec.Removed, tt.signal, tt.removed)
		}
		facts, err := m.Check(cells, 9)
		if err != nil || facts.OptOut != tt.signal || facts.Removed != tt.removed {
			t.Errorf("%q: Check says %+v, %v", cells, facts, err)
		}
	}
}

// TestFileOfOptOuts: every row of Mailchimp's unsubscribed export is an
// opt-out, whatever its cells; the file name of a ZIP member says it too.
func TestFileOfOptOuts(t *testing.T) {
	header := readHeader(t, "mailchimp/subscribed_members_export_2f4a1c9e.csv")
	m, _, err := Resolve(header, Options{FileName: "audience/unsubscribed_members_export_2f4a1c9e.csv"})
	if err != nil {
		t.Fatal(err)
	}
	cells := make([]string, len(header))
	cells[0] = "x@example.com"
	rec, err := m.Convert(cells, 2)
	if err != nil || rec.OptOut != "Mailchimp unsubscribed export" {
		t.Errorf("%+v %v", rec, err)
	}
	m, _, _ = Resolve(header, Options{FileName: "subscribed_members_export_2f4a1c9e.csv"})
	if rec, err := m.Convert(cells, 2); err != nil || rec.OptOut != "" {
		t.Errorf("subscribed: %+v %v", rec, err)
	}
}

// TestOptOutKeepsBadValuesOut: an opt-out row with a value that breaks a
// field rule is carried over without it, never failed (and so never left
// to be subscribed by a later row); a bad email still fails it.
func TestOptOutKeepsBadValuesOut(t *testing.T) {
	m, _, err := Resolve([]string{"Email", "First Name", "Job Title", "Unsubscribed"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("t", 60)
	rec, err := m.Convert([]string{"a@b.co", "Ann", long, "true"}, 3)
	if err != nil || rec.OptOut != "Unsubscribed" || rec.Dropped == nil || rec.Contact.JobTitle != "" || rec.Contact.FirstName != "Ann" {
		t.Fatalf("%+v %v", rec, err)
	}
	dst := &ctct.Contact{EmailAddress: "a@b.co", JobTitle: "Boss"}
	rec.Apply(dst, EmptyClear)
	if dst.JobTitle != "Boss" || dst.FirstName != "Ann" {
		t.Errorf("a dropped value was applied: %+v", dst)
	}
	if _, err := m.Convert([]string{"a@b", "Ann", long, "true"}, 3); err == nil {
		t.Error("an opt-out with a bad email passes")
	}
	if _, err := m.Convert([]string{"a@b.co", "Ann", long, "false"}, 3); err == nil || !strings.Contains(err.Error(), "--truncate cuts such values") {
		t.Errorf("a row that did not opt out: %v", err)
	}
}

func TestCountryCode(t *testing.T) {
	tests := map[string]string{
		"United States": "us", "united states of america": "us", "USA": "us", "U.S.": "us", "U.S.A.": "us", "us": "us", "US": "us",
		"UK": "gb", "U.K.": "gb", "Great Britain": "gb", "United Kingdom": "gb", "England": "gb", "gb": "gb", "GBR": "gb",
		"Deutschland": "de", "Germany": "de", "Allemagne": "de", "DEU": "de", "The Netherlands": "nl", "Holland": "nl", "Nederland": "nl",
		"Côte d'Ivoire": "ci", "Cote d’Ivoire": "ci", "Ivory Coast": "ci", "Saint Kitts and Nevis": "kn", "St. Kitts & Nevis": "kn",
		"Korea, Republic of": "kr", "South Korea": "kr", "España": "es", "Brasil": "br", "Schweiz": "ch", "Suisse": "ch",
		"Canada": "ca", "  canada ": "ca", "México": "mx", "Mexico": "mx", "Czech Republic": "cz", "Czechia": "cz",
		"Narnia": "", "Atlantis": "", "": "", "XX": "", "EU": "", "Europe": "",
	}
	for in, want := range tests {
		got, ok := CountryCode(in)
		if got != want || ok != (want != "") {
			t.Errorf("CountryCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestNamesToCodes(t *testing.T) {
	m, _, err := Resolve([]string{"Email", "State", "State Name", "Country", "Country Code"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		state, stateName, country, code string
		want                            [4]string // StateCode, StateName, CountryCode, CountryName
		moved                           []string
		err                             string
	}{
		{state: "California", want: [4]string{"CA", "", "us", ""}},
		{state: "california", country: "United States", want: [4]string{"CA", "", "us", ""}, moved: []string{"CountryName"}},
		{state: "Québec", want: [4]string{"QC", "", "ca", ""}},
		{state: "Quebec", country: "Canada", want: [4]string{"QC", "", "ca", ""}, moved: []string{"CountryName"}},
		{state: "District of Columbia", want: [4]string{"DC", "", "us", ""}},
		{state: "Bavaria", country: "Germany", want: [4]string{"", "Bavaria", "de", ""}, moved: []string{"StateCode", "CountryName"}},
		{state: "NSW", code: "AU", want: [4]string{"", "NSW", "au", ""}, moved: []string{"StateCode"}},
		{state: "WA", code: "au", want: [4]string{"", "WA", "au", ""}, moved: []string{"StateCode"}},
		{state: "Bavaria", want: [4]string{"", "Bavaria", "", ""}, moved: []string{"StateCode"}},
		{stateName: "Ontario", want: [4]string{"ON", "", "ca", ""}, moved: []string{"StateName"}},
		{stateName: "Lombardia", code: "it", want: [4]string{"", "Lombardia", "it", ""}},
		{stateName: "SP", want: [4]string{"", "SP", "", ""}},
		{country: "Atlantis", want: [4]string{"", "", "", "Atlantis"}},
		{country: "Canada", code: "ca", want: [4]string{"", "", "ca", "Canada"}},
		{country: "UK", want: [4]string{"", "", "gb", ""}, moved: []string{"CountryName"}},
		{state: "Texas", code: "ca", err: `"Texas" is a US state or province but CountryCode is "ca"`},
		{state: "ZZ", err: `"ZZ" is not a US state or Canadian province code`},
	}
	for _, tt := range tests {
		cells := []string{"a@b.co", tt.state, tt.stateName, tt.country, tt.code}
		rec, err := m.Convert(cells, 5)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", cells, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", cells, err)
			continue
		}
		c := rec.Contact
		if got := [4]string{c.StateCode, c.StateName, c.CountryCode, c.CountryName}; got != tt.want {
			t.Errorf("%q: %q, want %q", cells, got, tt.want)
		}
		if strings.Join(rec.Moved, ",") != strings.Join(tt.moved, ",") {
			t.Errorf("%q: moved %q, want %q", cells, rec.Moved, tt.moved)
		}
	}
	// A derived CountryCode fills in a contact's empty country, never
	// replaces one; a moved value clears the stale one whatever the policy.
	rec, err := m.Convert([]string{"a@b.co", "Bavaria", "", "Germany", ""}, 2)
	if err != nil {
		t.Fatal(err)
	}
	dst := &ctct.Contact{StateCode: "CA", CountryCode: "us", CountryName: "United States"}
	if !rec.Apply(dst, EmptyKeep) || dst.StateCode != "" || dst.StateName != "Bavaria" || dst.CountryCode != "de" || dst.CountryName != "" {
		t.Errorf("moved values: %+v", dst)
	}
	plain, _, _ := Resolve([]string{"Email", "State"}, Options{})
	rec, _ = plain.Convert([]string{"a@b.co", "Texas"}, 2)
	dst = &ctct.Contact{StateCode: "ON", CountryCode: "ca"}
	rec.Apply(dst, EmptyClear)
	if dst.CountryCode != "ca" || dst.StateCode != "TX" {
		t.Errorf("derived country replaced the contact's: %+v", dst)
	}
	if errs := ctct.ValidateContact(dst); len(errs) == 0 {
		t.Error("TX in Canada validates")
	}
}

func TestOneCellAddresses(t *testing.T) {
	tests := []struct {
		field, cell string
		want        map[string]string
	}{
		{FieldFullAddress, "123 Main St  Apt 4  Springfield  IL  62701  US",
			map[string]string{"Addr1": "123 Main St", "Addr2": "Apt 4", "City": "Springfield", "StateCode": "IL", "PostalCode": "62701", "CountryCode": "us"}},
		{FieldFullAddress, "9 Elm St  Austin  Texas  73301",
			map[string]string{"Addr1": "9 Elm St", "City": "Austin", "StateCode": "TX", "PostalCode": "73301", "CountryCode": "us"}},
		{FieldFullAddress, "42 Ocean Ave, Santa Monica, CA 90401",
			map[string]string{"Addr1": "42 Ocean Ave", "City": "Santa Monica", "StateCode": "CA", "PostalCode": "90401", "CountryCode": "us"}},
		{FieldFullAddress, "Flat 2, 10 Downing Street  London  Greater London  SW1A 2AA  GB",
			map[string]string{"Addr1": "Flat 2, 10 Downing Street", "City": "London", "StateName": "Greater London", "PostalCode": "SW1A 2AA", "CountryCode": "gb"}},
		{FieldFullAddress, "somewhere over the rainbow",
			map[string]string{"Addr1": "somewhere over the rainbow", "City": ""}},
		{FieldStreetLines, "500 Boylston St\nFloor 8\r\nAttn: Accounts Payable",
			map[string]string{"Addr1": "500 Boylston St", "Addr2": "Floor 8", "Addr3": "Attn: Accounts Payable"}},
		{FieldStreetLines, "a\nb\nc\nd", map[string]string{"Addr1": "a", "Addr2": "b", "Addr3": "c, d"}},
	}
	for _, tt := range tests {
		m, _, err := Resolve([]string{"Email", "Where"}, Options{Cols: []string{"Where=" + tt.field}})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := m.Convert([]string{"a@b.co", tt.cell}, 2)
		if err != nil {
			t.Errorf("%q: %v", tt.cell, err)
			continue
		}
		for f, v := range tt.want {
			if got := rec.Contact.Get(f); got != v {
				t.Errorf("%q: %s = %q, want %q", tt.cell, f, got, v)
			}
		}
	}
	// A field the file maps itself is never overwritten by a one-cell address.
	m, _, err := Resolve([]string{"Email", "Where", "City"}, Options{Cols: []string{"Where=FullAddress"}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := m.Convert([]string{"a@b.co", "1 A St  Austin  TX  73301", "Round Rock"}, 2)
	if err != nil || rec.Contact.City != "Round Rock" || rec.Contact.Addr1 != "1 A St" {
		t.Errorf("%+v %v", rec, err)
	}
}

func TestTruncate(t *testing.T) {
	header := []string{"Email", "Job Title", "Notes", "Zip", "First Name"}
	long := strings.Repeat("é", 48) + "xyz"
	cells := []string{"a@b.co", long, strings.Repeat("n", 612), "123456789012345678901234567", "Ann"}
	m, _, err := Resolve(header, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Convert(cells, 4); err == nil {
		t.Fatal("no error without --truncate")
	}
	m, _, err = Resolve(header, Options{Truncate: true})
	if err != nil {
		t.Fatal(err)
	}
	// A postal code is never cut: the cut value would be another code.
	if _, err := m.Convert(cells, 4); err == nil || !strings.Contains(err.Error(), "PostalCode") {
		t.Fatalf("postal code: %v", err)
	}
	cells[3] = "62701"
	rec, err := m.Convert(cells, 4)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Contact.JobTitle != strings.Repeat("é", 48)+"xy" || len([]rune(rec.Contact.Note)) != 500 {
		t.Errorf("cut to %q and %d characters", rec.Contact.JobTitle, len([]rune(rec.Contact.Note)))
	}
	if got := rec.CutText(); got != "JobTitle 51 to 50 characters; Note 612 to 500 characters" {
		t.Errorf("CutText %q", got)
	}
	if f, err := m.Check(cells, 4); err != nil || f.Cuts != 2 {
		t.Errorf("Check: %+v %v", f, err)
	}
}
