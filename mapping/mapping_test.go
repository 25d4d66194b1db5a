package mapping

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"ctctbulk/ctct"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestNormalizeHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"EmailAddress", "emailaddress"},
		{"E-mail Address", "emailaddress"},
		{"  email_address ", "emailaddress"},
		{"\uFEFFEmail", "email"},
		{"\u00ef\u00bb\u00bfEmail", "email"},
		{"State/Province (US/Canada)", "stateprovinceuscanada"},
		{"Zip+4", "zip+4"},
		{"Custom field 7", "customfield7"},
		{"Addr.1", "addr1"},
		{"First\u00a0Name", "firstname"},
		{"Prénom", "prénom"},
		{"", ""},
		{"___", ""},
	}
	for _, tt := range tests {
		if got := NormalizeHeader(tt.in); got != tt.want {
			t.Errorf("NormalizeHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// ccExportNames are the column names of Constant Contact's own export files.
var ccExportNames = map[string]string{
	"Email Address":              "EmailAddress",
	"Email Type":                 "EmailType",
	"First Name":                 "FirstName",
	"Middle Name":                "MiddleName",
	"Last Name":                  "LastName",
	"Job Title":                  "JobTitle",
	"Company Name":               "CompanyName",
	"Home Phone":                 "HomePhone",
	"Work Phone":                 "WorkPhone",
	"Address Line 1":             "Addr1",
	"Address Line 2":             "Addr2",
	"Address Line 3":             "Addr3",
	"City":                       "City",
	"State/Province (US/Canada)": "StateCode",
	"State/Province (Other)":     "StateName",
	"Zip/Postal Code":            "PostalCode",
	"Sub Zip/Postal Code":        "SubPostalCode",
	"Country":                    "CountryName",
	"Notes":                      "Note",
}

func init() {
	for i := 1; i <= ctct.NumCustomFields; i++ {
		ccExportNames[fmt.Sprintf("Custom field %d", i)] = fmt.Sprintf("CustomField%d", i)
	}
}

func TestResolveAliases(t *testing.T) {
	aliases := map[string]string{
		"Email": "EmailAddress", "E-mail": "EmailAddress", "E-mail Address": "EmailAddress", "EMAIL_ADDRESS": "EmailAddress",
		"Email Format": "EmailType", "Given Name": "FirstName", "Surname": "LastName", "Family Name": "LastName",
		"Title": "JobTitle", "Company": "CompanyName", "Organization": "CompanyName", "Phone": "HomePhone",
		"Address": "Addr1", "Address 1": "Addr1", "Street": "Addr1", "Address 2": "Addr2", "Address 3": "Addr3",
		"Town": "City", "State": "StateCode", "State Code": "StateCode", "Province": "StateCode",
		"State/Province": "StateCode", "State Name": "StateName", "Country Code": "CountryCode",
		"Country Name": "CountryName", "Zip": "PostalCode", "Zip Code": "PostalCode", "Postcode": "PostalCode",
		"Postal Code": "PostalCode", "Zip+4": "SubPostalCode", "Note": "Note", "CF1": "CustomField1",
		"Custom Field 15": "CustomField15", "custom_field_3": "CustomField3",
		"Lists": "ContactLists", "List": "ContactLists", "Contact Lists": "ContactLists", "List IDs": "ContactLists",
	}
	for h, f := range ccExportNames {
		aliases[h] = f
	}
	for _, f := range ctct.EditableFields() {
		aliases[f.Name] = f.Name
	}
	aliases[ListsField] = ListsField
	for h, want := range aliases {
		header := []string{h}
		if want != "EmailAddress" {
			header = []string{"EmailAddress", h}
		}
		m, warns, err := Resolve(header, Options{})
		if err != nil {
			t.Errorf("Resolve(%q): %v", header, err)
			continue
		}
		cols := m.Columns()
		if got := cols[len(cols)-1].Field; got != want {
			t.Errorf("header %q maps to %q, want %q", h, got, want)
		}
		if len(warns) != 0 {
			t.Errorf("header %q: warnings %q", h, warns)
		}
	}
}

func TestResolveCCExportFile(t *testing.T) {
	var header []string
	for h := range ccExportNames {
		header = append(header, h)
	}
	slices.Sort(header)
	m, warns, err := Resolve(header, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %q", warns)
	}
	// CountryCode is not a column of the file, but filled from Country.
	if got, want := len(m.mapped), len(ccExportNames)+1; got != want {
		t.Errorf("%d fields mapped, want %d: %q", got, want, m.mapped)
	}
}

func TestResolve(t *testing.T) {
	type col struct{ field, reason string }
	tests := []struct {
		name     string
		header   []string
		opts     Options
		want     []col    // per column, when no error
		warnings []string // exact
		errs     []string // substrings of the error; nil = no error
	}{
		{
			name:   "aliases, ignored columns, warnings",
			header: []string{"Email", "_line", "Foo", "Status", "First Name", "", "_error"},
			want: []col{{"EmailAddress", ""}, {"", ReasonUnderscore}, {"", ReasonUnknown}, {"Status", ""},
				{"FirstName", ""}, {"", ReasonUnknown}, {"", ReasonUnderscore}},
			warnings: []string{`not imported: 2 columns match no contact field: Foo, column 6 (no name) (map one with --col 'Header=Field')`},
		},
		{
			name:   "export header: read-only fields ignored silently",
			header: []string{"Id", "EmailAddress", "Name", "OptInSource", "OptInTime", "OptOutTime", "OptOutSource", "OptOutReason", "Confirmed", "InsertTime", "LastUpdateTime"},
			want:   []col{{"", ReasonReadOnly}, {"EmailAddress", ""}, {"", ReasonReadOnly}, {"", ReasonReadOnly}, {"", ReasonReadOnly}, {"", ReasonReadOnly}, {"", ReasonReadOnly}, {"", ReasonReadOnly}, {"", ReasonReadOnly}, {"", ReasonReadOnly}, {"", ReasonReadOnly}},
		},
		{
			name:   "--col wins over mapfile, which wins over aliases",
			header: []string{"Email", "Work Email", "Org", "Company", "Foo"},
			opts: Options{
				MapFile: map[string]string{"Email": "-", "Work Email": "FirstName", "Org": "CompanyName", "Company": "-"},
				Cols:    []string{"Work Email=EmailAddress", "Foo = Custom Field 2"},
			},
			want: []col{{"", ReasonMappedOut}, {"EmailAddress", ""}, {"CompanyName", ""}, {"", ReasonMappedOut}, {"CustomField2", ""}},
		},
		{
			name:   "explicit mapping of an underscore column",
			header: []string{"_mail", "\uFEFF_x"},
			opts:   Options{Cols: []string{"_mail=Email"}},
			want:   []col{{"EmailAddress", ""}, {"", ReasonUnderscore}},
		},
		{
			name:   "--col header matched loosely and by last '='",
			header: []string{"E=mail", "first name"},
			opts:   Options{Cols: []string{"E=mail=EmailAddress", "First Name=LastName"}},
			want:   []col{{"EmailAddress", ""}, {"LastName", ""}},
		},
		{
			name:   "same --col twice is fine",
			header: []string{"x"},
			opts:   Options{Cols: []string{"x=Email", "x=EmailAddress"}},
			want:   []col{{"EmailAddress", ""}},
		},
		{
			name:   "duplicate field",
			header: []string{"Email", "First Name", "E-mail Address", "Given Name"},
			errs:   []string{`columns 1 "Email", 3 "E-mail Address" all map to EmailAddress`, `columns 2 "First Name", 4 "Given Name" all map to FirstName`},
		},
		{
			name:   "duplicate ContactLists",
			header: []string{"Email", "Lists", "List IDs"},
			errs:   []string{`columns 2 "Lists", 3 "List IDs" all map to ContactLists`},
		},
		{
			name:     "no email",
			header:   []string{"First Name", "Foo"},
			errs:     []string{`no column maps to EmailAddress (header: "First Name", "Foo")`},
			warnings: []string{`not imported: 1 column matches no contact field: Foo (map one with --col 'Header=Field')`},
		},
		{
			name:   "email mapped out",
			header: []string{"Email"},
			opts:   Options{Cols: []string{"Email=-"}},
			errs:   []string{"no column maps to EmailAddress"},
		},
		{
			name:   "--col errors",
			header: []string{"Email", "A", "B", "A"},
			opts:   Options{Cols: []string{"nothing", "B=Bogus", "Missing=FirstName", "Email=InsertTime", "A=FirstName", "=Note", "B="}},
			errs: []string{
				`--col "nothing": "nothing": want Header = Field`,
				`--col "B=Bogus": "Bogus" is not a contact field`,
				`--col "Missing=FirstName": column "Missing" is not in the file's header ("Email", "A", "B", "A")`,
				`--col "Email=InsertTime": InsertTime is read-only`,
				`--col "A=FirstName": column "A" is ambiguous: columns 2, 4 match it`,
				`--col "=Note": "=Note": the column name is empty`,
				`--col "B=": "B=": the field name is empty`,
			},
			warnings: []string{`not imported: 3 columns match no contact field: A, B, A (map one with --col 'Header=Field')`},
		},
		{
			name:   "conflicting --col for one column",
			header: []string{"Email", "X"},
			opts:   Options{Cols: []string{"X=FirstName", "x=LastName"}},
			errs:   []string{`--col "x=LastName": column 2 "X" is already mapped by --col "X=FirstName"`},
		},
		{
			name:   "mapfile entries naming one column",
			header: []string{"Email", "Name"},
			opts:   Options{MapFile: map[string]string{"Name": "FirstName", "name": "LastName"}},
			errs:   []string{`mapping file entry "name = LastName": column 2 "Name" is already mapped by mapping file entry "Name = FirstName"`},
		},
		{
			name:   "mapfile errors",
			header: []string{"Email"},
			opts:   Options{MapFile: map[string]string{"Nope": "FirstName", "Email": "Bogus"}},
			errs: []string{
				`mapping file entry "Email = Bogus": "Bogus" is not a contact field`,
				`mapping file entry "Nope = FirstName": column "Nope" is not in the file's header`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, warns, err := Resolve(tt.header, tt.opts)
			if !slices.Equal(warns, tt.warnings) {
				t.Errorf("warnings = %q, want %q", warns, tt.warnings)
			}
			if tt.errs != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, s := range tt.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q\ndoes not contain %q", err, s)
					}
				}
				if m != nil {
					t.Error("mapping returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.header, tt.header) {
				t.Errorf("Header() = %q", m.header)
			}
			cols := m.Columns()
			if len(cols) != len(tt.want) {
				t.Fatalf("%d columns, want %d", len(cols), len(tt.want))
			}
			for i, c := range cols {
				if c.Index != i || c.Header != tt.header[i] || c.Field != tt.want[i].field || c.Reason != tt.want[i].reason {
					t.Errorf("column %d = %+v, want field %q reason %q", i, c, tt.want[i].field, tt.want[i].reason)
				}
			}
		})
	}
}

func TestParseMapFile(t *testing.T) {
	tests := []struct {
		name string
		text string
		want map[string]string
		errs []string
	}{
		{
			name: "valid",
			text: "\uFEFF# my mapping\r\n\r\nE-mail = EmailAddress\r\n  Vorname=First Name  \n\"Zip = code\" = zip\nJunk = -\nWho=Lists\n   # indented comment\n",
			want: map[string]string{"E-mail": "EmailAddress", "Vorname": "FirstName", "Zip = code": "PostalCode", "Junk": "-", "Who": "ContactLists"},
		},
		{name: "empty", text: "", want: map[string]string{}},
		{
			name: "errors name their lines",
			text: "Email = EmailAddress\nno equals sign\n\nA = Bogus\n = FirstName\nB =\nEmail = Note\nC = OptInTime\n",
			errs: []string{
				`line 2: "no equals sign": want Header = Field`,
				`line 4: "Bogus" is not a contact field`,
				`line 5: "= FirstName": the column name is empty`,
				`line 6: "B =": the field name is empty`,
				`line 7: column "Email" is already mapped on line 1`,
				`line 8: OptInTime is read-only`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMapFile(tt.text)
			if tt.errs != nil {
				if err == nil {
					t.Fatalf("no error, got %v", got)
				}
				for _, s := range tt.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q\ndoes not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%q -> %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestParseMapFileFeedsResolve(t *testing.T) {
	mf, err := ParseMapFile("Courriel = Email\nSociété = Company\n")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := Resolve([]string{"Courriel", "Société"}, Options{MapFile: mf})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.mapped; !slices.Equal(got, []string{"EmailAddress", "CompanyName"}) {
		t.Errorf("Mapped() = %q", got)
	}
}

var convertHeader = []string{"Email", "Format", "First Name", "Last Name", "State", "Country Code", "Zip", "Note", "Custom Field 1", "Lists", "Ignored"}

func TestConvert(t *testing.T) {
	m, _, err := Resolve(convertHeader, Options{Cols: []string{"Format=EmailType"}})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 51)
	tests := []struct {
		name  string
		cells []string          // cells after the email; missing ones are empty
		email string            // default "a@b.co"
		want  map[string]string // field -> value
		lists []string
		// error expectations
		errCol, errField, errMsg string
	}{
		{
			name:  "normalised",
			email: "  John.Doe@Example.COM ",
			cells: []string{" html ", "  Ann ", "O'Neil\nSecond line ", "on", "CA", "  K1A 0B1", "line1\r\nline2", "", " 7 ; Newsletter;;  ", "whatever"},
			want: map[string]string{"EmailAddress": "john.doe@example.com", "EmailType": "HTML", "FirstName": "Ann",
				"LastName": "O'Neil\nSecond line", "StateCode": "ON", "CountryCode": "ca", "PostalCode": "K1A 0B1", "Note": "line1\r\nline2"},
			lists: []string{"7", "Newsletter"},
		},
		{name: "email type text", cells: []string{"TEXT"}, want: map[string]string{"EmailType": "Text"}},
		{name: "export's formula protection undone", cells: []string{"", "'=SUM(A1)", "'-5", "", "", "", "'plain"},
			want: map[string]string{"FirstName": "=SUM(A1)", "LastName": "-5", "Note": "'plain"}},
		{name: "all empty but email", want: map[string]string{"FirstName": "", "EmailType": ""}},
		{name: "50 characters pass, multibyte", cells: []string{"", strings.Repeat("é", 50)}, want: map[string]string{"FirstName": strings.Repeat("é", 50)}},
		{name: "US state without country", cells: []string{"", "", "", "ny"}, want: map[string]string{"StateCode": "NY"}},
		{name: "too long", cells: []string{"", long}, errCol: "First Name", errField: "FirstName", errMsg: "51 characters, at most 50 allowed"},
		{name: "51 multibyte characters", cells: []string{"", "", strings.Repeat("ü", 51)}, errCol: "Last Name", errField: "LastName", errMsg: "51 characters, at most 50 allowed"},
		{name: "postal code 26", cells: []string{"", "", "", "", "", strings.Repeat("1", 26)}, errCol: "Zip", errField: "PostalCode", errMsg: "26 characters, at most 25 allowed"},
		{name: "note 501", cells: []string{"", "", "", "", "", "", strings.Repeat("n", 501)}, errCol: "Note", errField: "Note", errMsg: "501 characters, at most 500 allowed"},
		{name: "custom field 51", cells: []string{"", "", "", "", "", "", "", long}, errCol: "Custom Field 1", errField: "CustomField1", errMsg: "51 characters"},
		{name: "bad email type", cells: []string{"pdf"}, errCol: "Format", errField: "EmailType", errMsg: `"pdf" is not one of HTML, Text`},
		{name: "empty email", email: "  ", errCol: "Email", errField: "EmailAddress", errMsg: "email address is required"},
		{name: "bad email", email: "john@localhost", errCol: "Email", errField: "EmailAddress", errMsg: "the domain has no dot"},
		{name: "two @", email: "a@b@c.com", errCol: "Email", errField: "EmailAddress", errMsg: "exactly one @"},
		{name: "email 81", email: strings.Repeat("a", 75) + "@b.com", errCol: "Email", errField: "EmailAddress", errMsg: "81 characters, at most 80 allowed"},
		{name: "unknown state", cells: []string{"", "", "", "ZZ"}, errCol: "State", errField: "StateCode", errMsg: `"ZZ" is not a US state or Canadian province code`},
		{name: "province name without country", cells: []string{"", "", "", "Ontario"}, want: map[string]string{"StateCode": "ON", "CountryCode": "ca"}},
		{name: "state name with its country", cells: []string{"", "", "", "new york", "United States"}, want: map[string]string{"StateCode": "NY", "CountryCode": "us"}},
		{name: "region of another country", cells: []string{"", "", "", "Bavaria"}, want: map[string]string{"StateCode": "", "StateName": "Bavaria"}},
		{name: "state vs country", cells: []string{"", "", "", "ON", "US"}, errCol: "State", errField: "StateCode", errMsg: `"ON" is a CA code but CountryCode is "us"`},
		{name: "province name vs country", cells: []string{"", "", "", "Quebec", "us"}, errCol: "State", errField: "StateCode", errMsg: `"Quebec" is a CA state or province but CountryCode is "us"`},
		{name: "unknown US state name", cells: []string{"", "", "", "Californa", "us"}, errCol: "State", errField: "StateCode", errMsg: `"Californa" is not a US state or Canadian province`},
		{name: "state with other country", cells: []string{"", "", "", "NY", "fr"}, want: map[string]string{"StateCode": "", "StateName": "NY", "CountryCode": "fr"}},
		{name: "bad country code", cells: []string{"", "", "", "", "u1"}, errCol: "Country Code", errField: "CountryCode", errMsg: "not a two-letter"},
		{name: "alpha-3 country code", cells: []string{"", "", "", "", "USA"}, want: map[string]string{"CountryCode": "us"}},
		{name: "country name in the code column", cells: []string{"", "", "", "", "Deutschland"}, want: map[string]string{"CountryCode": "de"}},
		{name: "unknown country name", cells: []string{"", "", "", "", "Narnia"}, errCol: "Country Code", errField: "CountryCode", errMsg: `"Narnia" is neither a two-letter ISO 3166-1 code nor a country name`},
		{name: "XML control character", cells: []string{"", "A\x01B"}, errCol: "First Name", errField: "FirstName", errMsg: "U+0001"},
		{name: "XML control in email", email: "a\x02@b.co", errCol: "Email", errField: "EmailAddress", errMsg: "U+0002"},
		{name: "invalid UTF-8", cells: []string{"", "", "\xff"}, errCol: "Last Name", errField: "LastName", errMsg: "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells := make([]string, len(convertHeader))
			cells[0] = "a@b.co"
			if tt.email != "" {
				cells[0] = tt.email
			}
			copy(cells[1:], tt.cells)
			rec, err := m.Convert(cells, 42)
			if verr := m.Validate(cells, 42); fmt.Sprint(verr) != fmt.Sprint(err) {
				t.Errorf("Validate = %v, Convert = %v", verr, err)
			}
			if tt.errMsg != "" {
				var re *RowError
				if !errors.As(err, &re) {
					t.Fatalf("error %v (%T), want *RowError", err, err)
				}
				if rec != nil {
					t.Error("record returned with an error")
				}
				if re.Line != 42 || re.Column != tt.errCol || re.Field != tt.errField || !strings.Contains(re.Err.Error(), tt.errMsg) {
					t.Errorf("got %+v (%v), want column %q field %q message %q", re, re, tt.errCol, tt.errField, tt.errMsg)
				}
				if !strings.HasPrefix(err.Error(), fmt.Sprintf("line 42, column %q (%s): ", tt.errCol, tt.errField)) {
					t.Errorf("message %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Line != 42 {
				t.Errorf("Line = %d", rec.Line)
			}
			for f, v := range tt.want {
				if got := rec.Contact.Get(f); got != v {
					t.Errorf("%s = %q, want %q", f, got, v)
				}
			}
			if !slices.Equal(rec.Lists, tt.lists) {
				t.Errorf("Lists = %q, want %q", rec.Lists, tt.lists)
			}
			want := []string{"EmailAddress", "EmailType", "FirstName", "LastName", "StateCode", "StateName", "CountryCode", "CountryName", "PostalCode", "Note", "CustomField1"}
			if !slices.Equal(rec.Mapped, want) {
				t.Errorf("Mapped = %q", rec.Mapped)
			}
			if errs := ctct.ValidateContact(&rec.Contact); errs != nil {
				t.Errorf("ValidateContact disagrees: %v", errs)
			}
		})
	}
}

func TestConvertCellCount(t *testing.T) {
	m, _, err := Resolve([]string{"Email", "First Name", "Last Name"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cells []string
		want  string
	}{
		{[]string{"a@b.co", "x"}, "line 7: 2 cells, the header has 3"},
		{[]string{"a@b.co", "x", "y", ""}, "line 7: 4 cells, the header has 3"},
		{nil, "line 7: 0 cells, the header has 3"},
	}
	for _, tt := range tests {
		if verr := m.Validate(tt.cells, 7); verr == nil || verr.Error() != tt.want {
			t.Errorf("Validate(%q) = %v, want %q", tt.cells, verr, tt.want)
		}
		_, err := m.Convert(tt.cells, 7)
		var re *RowError
		if !errors.As(err, &re) || err.Error() != tt.want || re.Column != "" || re.Line != 7 {
			t.Errorf("Convert(%q) = %v, want %q", tt.cells, err, tt.want)
		}
	}
}

func TestRowErrorMessage(t *testing.T) {
	m, _, err := Resolve([]string{"Email", "First Name", "State", "Country Code"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Convert([]string{"nope", strings.Repeat("a", 51), "ON", "us"}, 12)
	want := `line 12, column "Email" (EmailAddress): "nope" is not a valid email address: it needs exactly one @; ` +
		`column "First Name" (FirstName): 51 characters, at most 50 allowed (--truncate cuts such values); ` +
		`column "State" (StateCode): "ON" is a CA code but CountryCode is "us"`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	var re *RowError
	if !errors.As(err, &re) || len(re.More) != 2 || re.Value != "nope" || re.More[0].Value != strings.Repeat("a", 51) {
		t.Errorf("RowError = %+v", re)
	}
	if errors.Unwrap(err) == nil || errors.Unwrap(err) != re.Err {
		t.Error("Unwrap does not return Err")
	}
	single := &RowError{Line: 12, Column: "First Name", Field: "FirstName", Err: errors.New("51 characters, at most 50 allowed")}
	if got := single.Error(); got != `line 12, column "First Name" (FirstName): 51 characters, at most 50 allowed` {
		t.Errorf("single: %s", got)
	}
}

// TestConvertMatchesValidateContact checks that the per-column validation
// finds exactly the fields ctct.ValidateContact finds.
func TestConvertMatchesValidateContact(t *testing.T) {
	m, _, err := Resolve([]string{"Email", "State", "Country Code", "Email Type", "Zip"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vals := [][]string{
		{"a@b.co", "", "nobody@x", "a@b@c", ""},
		{"", "ON", "NY", "zz", "Texas"},
		{"", "us", "ca", "fr", "USA", "1"},
		{"", "html", "Text", "mime"},
		{"", "12345", strings.Repeat("9", 26)},
	}
	n := 0
	for _, e := range vals[0] {
		for _, s := range vals[1] {
			for _, c := range vals[2] {
				for _, ty := range vals[3] {
					for _, z := range vals[4] {
						compareWithValidate(t, m, []string{e, s, c, ty, z})
						n++
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("nothing compared")
	}
}

func compareWithValidate(t *testing.T, m *Mapping, cells []string) {
	t.Helper()
	rec, rerr := m.convert(cells, 1)
	if rec == nil {
		if rerr == nil {
			t.Fatalf("%q: no record and no error", cells)
		}
		return
	}
	var got []string
	if rerr != nil {
		got = append(got, rerr.Field)
		for _, o := range rerr.More {
			got = append(got, o.Field)
		}
	}
	var want []string
	for _, fe := range ctct.ValidateContact(&rec.Contact) {
		want = append(want, fe.Field)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%q: bad fields %q, ValidateContact says %q", cells, got, want)
	}
}

func TestApply(t *testing.T) {
	m, _, err := Resolve([]string{"Email", "First Name", "Last Name", "Company"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	existing := func() *ctct.Contact {
		return &ctct.Contact{ID: "http://api.constantcontact.com/ws/customers/joe/contacts/2", Status: ctct.StatusActive,
			EmailAddress: "a@b.co", FirstName: "Ann", LastName: "Lee", CompanyName: "Acme", City: "Paris", Note: "keep me",
			Lists: []ctct.ListMembership{{ID: "http://api.constantcontact.com/ws/customers/joe/lists/1"}}}
	}
	tests := []struct {
		name    string
		cells   []string
		empty   EmptyPolicy
		changed bool
		want    map[string]string
	}{
		{"keep: same values", []string{"a@b.co", "Ann", "Lee", "Acme"}, EmptyKeep, false, map[string]string{"FirstName": "Ann"}},
		{"keep: empty cells leave values", []string{"a@b.co", "", "", ""}, EmptyKeep, false, map[string]string{"FirstName": "Ann", "LastName": "Lee", "CompanyName": "Acme"}},
		{"keep: new value", []string{"a@b.co", "Anna", "", ""}, EmptyKeep, true, map[string]string{"FirstName": "Anna", "LastName": "Lee"}},
		{"clear: empty cells clear", []string{"a@b.co", "Ann", "", "Acme"}, EmptyClear, true, map[string]string{"FirstName": "Ann", "LastName": "", "CompanyName": "Acme"}},
		{"clear: same values", []string{"a@b.co", "Ann", "Lee", "Acme"}, EmptyClear, false, map[string]string{"LastName": "Lee"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := m.Convert(tt.cells, 2)
			if err != nil {
				t.Fatal(err)
			}
			dst := existing()
			if got := rec.Apply(dst, tt.empty); got != tt.changed {
				t.Errorf("changed = %v, want %v", got, tt.changed)
			}
			for f, v := range tt.want {
				if got := dst.Get(f); got != v {
					t.Errorf("%s = %q, want %q", f, got, v)
				}
			}
			// Unmapped fields, lists and read-only fields are never touched.
			if dst.City != "Paris" || dst.Note != "keep me" || dst.Status != ctct.StatusActive || len(dst.Lists) != 1 || dst.ID == "" {
				t.Errorf("unmapped data changed: %+v", dst)
			}
		})
	}

	// A Record whose Mapped was changed by its user applies what it says.
	rec, err := m.Convert([]string{"a@b.co", "Zoe", "Kay", "Corp"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	rec.Mapped = []string{"LastName", "FirstName"}
	dst := existing()
	if !rec.Apply(dst, EmptyKeep) || dst.FirstName != "Zoe" || dst.LastName != "Kay" || dst.CompanyName != "Acme" {
		t.Errorf("changed Mapped: %+v", dst)
	}

	// A Record built by hand (no cached accessors) works too, and ignores
	// names that are not editable fields.
	hand := &Record{Mapped: []string{"FirstName", "Status", "Bogus"}}
	hand.Contact.FirstName = "Zed"
	hand.Contact.Status = ctct.StatusRemoved
	dst = existing()
	if !hand.Apply(dst, EmptyClear) || dst.FirstName != "Zed" || dst.Status != ctct.StatusActive {
		t.Errorf("hand-built record: %+v", dst)
	}
}

func TestExportHeader(t *testing.T) {
	want := "Id, Status, EmailAddress, EmailType, Name, FirstName, MiddleName, LastName, " +
		"JobTitle, CompanyName, HomePhone, WorkPhone, Addr1, Addr2, Addr3, City, StateCode, StateName, " +
		"CountryCode, CountryName, PostalCode, SubPostalCode, Note"
	for i := 1; i <= 15; i++ {
		want += fmt.Sprintf(", CustomField%d", i)
	}
	want += ", ContactLists, OptInSource, OptInTime, OptOutTime, OptOutSource, OptOutReason, Confirmed, InsertTime, LastUpdateTime"
	if got := strings.Join(ExportHeader(), ", "); got != want {
		t.Errorf("ExportHeader() =\n%s\nwant\n%s", got, want)
	}
	h := ExportHeader()
	h[0] = "changed"
	if ExportHeader()[0] != "Id" {
		t.Error("ExportHeader shares its slice")
	}
}

func fullContact() *ctct.Contact {
	c := &ctct.Contact{
		ID: "http://api.constantcontact.com/ws/customers/joe/contacts/42", Status: ctct.StatusActive,
		EmailAddress: "jane.doe+x@example.com", EmailType: ctct.EmailTypeText, Name: "Jane Doe",
		FirstName: "Jane", MiddleName: "Q", LastName: "Doe", JobTitle: "CTO", CompanyName: "Acme, Inc.",
		HomePhone: "+1 555 0100", WorkPhone: "555-0101", Addr1: "1 Main St", Addr2: "Suite \"9\"", Addr3: "Bldg 3",
		City: "Québec", StateCode: "QC", StateName: "Québec", CountryCode: "ca", CountryName: "Canada",
		PostalCode: "G1R 4P5", SubPostalCode: "1234", Note: "multi\nline; note",
		Lists: []ctct.ListMembership{
			{ID: "http://api.constantcontact.com/ws/customers/joe/lists/3", OptInSource: ctct.ActionByCustomer, OptInTime: "2009-01-01T00:00:00.000Z"},
			{ID: "http://api.constantcontact.com/ws/customers/joe/lists/17"},
		},
		OptInSource: ctct.ActionByContact, OptInTime: "2008-01-01T00:00:00.000Z",
		Confirmed: "false", InsertTime: "2008-01-01T00:00:00.000Z", LastUpdateTime: "2010-02-02T10:00:00.000Z",
		Full: true,
	}
	for i := range c.CustomFields {
		c.CustomFields[i] = fmt.Sprintf("custom %d", i+1)
	}
	return c
}

func TestExportRow(t *testing.T) {
	c := fullContact()
	row := ExportRow(c, "", "")
	h := ExportHeader()
	if len(row) != len(h) {
		t.Fatalf("%d cells, %d header names", len(row), len(h))
	}
	get := func(row []string, name string) string { return row[slices.Index(h, name)] }
	checks := map[string]string{
		"Id": "42", "Status": "Active", "EmailAddress": "jane.doe+x@example.com", "Name": "Jane Doe", "CustomField15": "custom 15",
		"ContactLists": "3;17", "OptInSource": ctct.ActionByContact, "OptInTime": "2008-01-01T00:00:00.000Z",
		"LastUpdateTime": "2010-02-02T10:00:00.000Z", "Note": "multi\nline; note", "OptOutTime": "",
	}
	for f, v := range checks {
		if got := get(row, f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	row = ExportRow(c, ctct.ActionByCustomer, "2011-01-01T00:00:00.000Z")
	if get(row, "OptInSource") != ctct.ActionByCustomer || get(row, "OptInTime") != "2011-01-01T00:00:00.000Z" {
		t.Errorf("listing opt-in not used: %q %q", get(row, "OptInSource"), get(row, "OptInTime"))
	}
	row = ExportRow(&ctct.Contact{EmailAddress: "x@y.zz"}, "", "")
	if get(row, "Id") != "" || get(row, "ContactLists") != "" {
		t.Errorf("empty contact: Id %q ContactLists %q", get(row, "Id"), get(row, "ContactLists"))
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	c := fullContact()
	m, warns, err := Resolve(ExportHeader(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %q", warns)
	}
	rec, err := m.Convert(ExportRow(c, "", ""), 2)
	if err != nil {
		t.Fatal(err)
	}
	var editable []string
	for _, f := range ctct.EditableFields() {
		editable = append(editable, f.Name)
		if got, want := rec.Contact.Get(f.Name), c.Get(f.Name); got != want {
			t.Errorf("%s = %q, want %q", f.Name, got, want)
		}
	}
	if !slices.Equal(rec.Mapped, editable) {
		t.Errorf("Mapped = %q", rec.Mapped)
	}
	if !slices.Equal(rec.Lists, []string{"3", "17"}) {
		t.Errorf("Lists = %q", rec.Lists)
	}
	if rec.Contact.Status != "" || rec.Contact.Name != "" || rec.Contact.ID != "" || rec.Contact.InsertTime != "" {
		t.Errorf("read-only fields imported: %+v", rec.Contact)
	}
	// Applied onto the same contact, nothing changes.
	if rec.Apply(c.Clone(), EmptyClear) {
		t.Error("round trip changes the contact")
	}
}

func TestDocsGolden(t *testing.T) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tLIMIT\tALIASES")
	docs := Docs()
	for _, d := range docs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, d.Limit(), strings.Join(d.Aliases, ", "))
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "fields.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("Docs() differs from %s (run go test -update):\n%s", golden, b.String())
	}
	// Every documented alias resolves to its field.
	for _, d := range docs {
		for _, a := range append([]string{d.Name}, d.Aliases...) {
			if tg, ok := lookup(a); !ok || tg.name != d.Name {
				t.Errorf("alias %q of %s resolves to %+v", a, d.Name, tg)
			}
		}
		if d.Limit() == "" {
			t.Errorf("%s has no limit", d.Name)
		}
	}
}

func TestConvertConcurrent(t *testing.T) {
	m, _, err := Resolve([]string{"Email", "First Name", "Lists"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				email := fmt.Sprintf("u%d.%d@example.com", g, i)
				if err := m.Validate([]string{email, "N", "1;2"}, i+2); err != nil {
					errs <- err
					return
				}
				if err := m.Validate([]string{"bad", "N", "1;2"}, i+2); err == nil {
					errs <- errors.New("Validate accepts a bad email")
					return
				}
				rec, err := m.Convert([]string{email, "N", "1;2"}, i+2)
				if err != nil {
					errs <- err
					return
				}
				if rec.Contact.EmailAddress != email || len(rec.Lists) != 2 {
					errs <- fmt.Errorf("wrong record %+v", rec)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzConvert resolves a header and converts a record, both taken from the
// fuzz input (first line = header, second = record, cells split on ','):
// no panic, errors are *RowError, and the verdict agrees with
// ctct.ValidateContact.
func FuzzConvert(f *testing.F) {
	f.Add("Email,First Name,State,Country Code\na@b.co,Ann,ON,ca")
	f.Add("Email,State,Country\n x@Y.com ,ny,United States")
	f.Add("E-mail,Note,Lists\nbad@,\x01,1;;2")
	f.Add("Email,Format,Zip+4\na@b.co,text,12345678901234567890123456")
	f.Add("Email\n")
	f.Add("Email,_x\na@b.co")
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.SplitN(s, "\n", 3)
		header := strings.Split(lines[0], ",")
		m, _, err := Resolve(header, Options{})
		if err != nil {
			if m != nil {
				t.Fatal("mapping with error")
			}
			return
		}
		var cells []string
		if len(lines) > 1 {
			cells = strings.Split(lines[1], ",")
		}
		rec, err := m.Convert(cells, 2)
		if verr := m.Validate(cells, 2); fmt.Sprint(verr) != fmt.Sprint(err) {
			t.Fatalf("Validate = %v, Convert = %v", verr, err)
		}
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v is not a *RowError", err, err)
			}
			if rec != nil {
				t.Fatal("record with error")
			}
			_ = err.Error()
		} else if errs := ctct.ValidateContact(&rec.Contact); errs != nil {
			t.Fatalf("converted %q but ValidateContact says %v", cells, errs)
		}
		if len(cells) == len(header) {
			compareWithValidate(t, m, cells)
		}
	})
}

var (
	benchHeader = []string{"Email", "First Name", "Last Name", "Company", "City", "State", "Country Code", "Zip", "Custom Field 1", "Lists"}
	benchCells  = []string{"John.Smith@example.com", "John", "Smith", "Acme Widgets, Inc.", "Springfield", "il", "us", "62701", "gold", "1;2"}
)

func BenchmarkConvert(b *testing.B) {
	m, _, err := Resolve(benchHeader, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Convert(benchCells, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	m, _, err := Resolve(benchHeader, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Validate(benchCells, 2); err != nil {
			b.Fatal(err)
		}
	}
}
