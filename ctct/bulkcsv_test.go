package ctct_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"ctctbulk/ctct"
)

// TestBulkRowTags holds the tagged row type and the field table's bulk
// column together: every field with a bulk column has a BulkRow field of
// the same name tagged with it, and BulkRow has no other tagged field.
func TestBulkRowTags(t *testing.T) {
	typ := reflect.TypeFor[ctct.BulkRow]()
	seen := map[string]bool{}
	for _, f := range ctct.Fields() {
		if f.Bulk == "" {
			if _, ok := typ.FieldByName(f.Name); ok {
				t.Errorf("BulkRow has %s, which has no bulk column", f.Name)
			}
			continue
		}
		sf, ok := typ.FieldByName(f.Name)
		if !ok {
			t.Errorf("BulkRow has no field %s (bulk column %q)", f.Name, f.Bulk)
			continue
		}
		if tag := sf.Tag.Get("csv"); tag != f.Bulk {
			t.Errorf("BulkRow.%s is tagged %q, the table says %q", f.Name, tag, f.Bulk)
		}
		seen[f.Name] = true
	}
	for i := range typ.NumField() {
		if sf := typ.Field(i); !seen[sf.Name] {
			t.Errorf("BulkRow.%s is not a bulk field of the table", sf.Name)
		}
	}
	// BULK.md's table, in its order.
	want := []string{"Email Address", "Email Type", "First Name", "Middle Name", "Last Name", "Job Title", "Company Name",
		"Home Phone", "Work Phone", "Address Line 1", "Address Line 2", "Address Line 3", "City",
		"US State/CA Province", "Other State/Province", "Country", "Zip/Postal Code", "Sub Zip/Postal Code", "Notes"}
	for i := 1; i <= ctct.NumCustomFields; i++ {
		want = append(want, fmt.Sprintf("Custom Field %d", i))
	}
	var got []string
	for i, f := range ctct.BulkFields() {
		got = append(got, f.Bulk)
		// BulkRow's cells are reached by position: its fields are in the
		// table's order.
		if i < typ.NumField() && typ.Field(i).Name != f.Name {
			t.Errorf("BulkRow field %d is %s, the table's bulk field %d is %s", i, typ.Field(i).Name, i, f.Name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("bulk columns\n%q\nwant\n%q", got, want)
	}
	if f, ok := ctct.LookupField("CountryName"); !ok || f.Bulk != "" {
		t.Errorf("CountryName has a bulk column %q", f.Bulk)
	}
}

func TestLookupBulkColumn(t *testing.T) {
	tests := []struct{ name, field string }{
		{"Email Address", "EmailAddress"},
		{"  email ADDRESS ", "EmailAddress"},
		{"State/Province (US/Canada)", "StateCode"},
		{"us state/ca province", "StateCode"},
		{"State", "StateName"},
		{"Postal Code", "PostalCode"},
		{"Sub Postal Code", "SubPostalCode"},
		{"CUSTOM FIELD 15", "CustomField15"},
		{"Custom field 1", "CustomField1"},
		{"Country Name", ""},
		{"Email", ""},
		{"Custom Field 16", ""},
	}
	for _, tt := range tests {
		f, ok := ctct.LookupBulkColumn(tt.name)
		if ok != (tt.field != "") || f.Name != tt.field {
			t.Errorf("LookupBulkColumn(%q) = %q, %v; want %q", tt.name, f.Name, ok, tt.field)
		}
	}
}

func TestEncodeBulkData(t *testing.T) {
	rows := []ctct.BulkRow{
		{EmailAddress: "a@example.com", FirstName: "Ann", Note: "two\nlines, \"quoted\""},
		{EmailAddress: "b@example.com", City: "Boston", CustomField3: "gold"},
		{EmailAddress: "c@example.com"},
	}
	d, err := ctct.EncodeBulkData(rows)
	if err != nil {
		t.Fatal(err)
	}
	want := "Email Address,First Name,City,Notes,Custom Field 3\n" +
		"a@example.com,Ann,,\"two\nlines, \"\"quoted\"\"\",\n" +
		"b@example.com,,Boston,,gold\n" +
		"c@example.com,,,,\n"
	if string(d.CSV) != want {
		t.Errorf("CSV\n%q\nwant\n%q", d.CSV, want)
	}
	if !slices.Equal(d.Lines, []int{2, 4, 5}) || !slices.Equal(d.Columns, []string{"Email Address", "First Name", "City", "Notes", "Custom Field 3"}) {
		t.Errorf("lines %v columns %v", d.Lines, d.Columns)
	}
	for line, wantRow := range map[int]int{2: 0, 3: -1, 4: 1, 5: 2, 1: -1, 6: -1} {
		row, ok := d.Row(line)
		if ok != (wantRow >= 0) || (ok && row != wantRow) {
			t.Errorf("Row(%d) = %d, %v; want %d", line, row, ok, wantRow)
		}
	}
	// What the server parses is what was sent, on the lines the client
	// expects.
	_, recs, err := ctct.ParseBulkData(d.CSV)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Line != d.Lines[i] || r.Row != rows[i] {
			t.Errorf("record %d: %+v, want line %d %+v", i, r, d.Lines[i], rows[i])
		}
	}

	errs := []struct {
		name string
		rows []ctct.BulkRow
		want error
	}{
		{"none", nil, nil},
		{"control character", []ctct.BulkRow{{EmailAddress: "a@example.com"}, {EmailAddress: "b@example.com", City: "Bo\x01ston"}}, &ctct.BulkCellError{}},
		{"invalid UTF-8", []ctct.BulkRow{{EmailAddress: "a@example.com", Note: "\xff"}}, &ctct.BulkCellError{}},
		{"no email", []ctct.BulkRow{{FirstName: "x"}}, &ctct.BulkCellError{}},
		{"too many rows", make([]ctct.BulkRow, ctct.MaxActivityRows+1), ctct.ErrTooManyRows},
		{"too large", slices.Repeat([]ctct.BulkRow{{EmailAddress: "a@example.com", Note: strings.Repeat("n", 500)}}, ctct.MaxActivityData/500+1), ctct.ErrDataTooLarge},
	}
	for _, tt := range errs {
		_, err := ctct.EncodeBulkData(tt.rows)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		var ce *ctct.BulkCellError
		switch w := tt.want.(type) {
		case *ctct.BulkCellError:
			if !errors.As(err, &ce) {
				t.Errorf("%s: %v is not a *BulkCellError", tt.name, err)
			}
		case error:
			if !errors.Is(err, w) {
				t.Errorf("%s: %v, want %v", tt.name, err, w)
			}
		}
	}
	_, err = ctct.EncodeBulkData([]ctct.BulkRow{{EmailAddress: "a@example.com"}, {EmailAddress: "b@example.com", City: "Bo\x01ston"}})
	var ce *ctct.BulkCellError
	if !errors.As(err, &ce) || ce.Row != 1 || ce.Column != "City" {
		t.Errorf("cell error %+v", ce)
	}
}

func TestParseBulkData(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		cols  []string
		lines []int
		first ctct.BulkRow
		err   string // substring; "" = no error
	}{
		{"doc example", "Email Address,First Name,Last Name\na@b.com, Fred, Test\n", []string{"EmailAddress", "FirstName", "LastName"}, []int{2},
			ctct.BulkRow{EmailAddress: "a@b.com", FirstName: "Fred", LastName: "Test"}, ""},
		{"crlf, aliases, case", "EMAIL ADDRESS,postal code,State\r\nx@y.com,02139,Bavaria\r\n", []string{"EmailAddress", "PostalCode", "StateName"}, []int{2},
			ctct.BulkRow{EmailAddress: "x@y.com", PostalCode: "02139", StateName: "Bavaria"}, ""},
		{"quoted line break", "Email Address,Notes\na@b.com,\"one\r\ntwo\"\nc@d.com,\n", []string{"EmailAddress", "Note"}, []int{2, 4},
			ctct.BulkRow{EmailAddress: "a@b.com", Note: "one\ntwo"}, ""},
		{"blank lines", "Email Address\n\na@b.com\n\n\nc@d.com", []string{"EmailAddress"}, []int{3, 6}, ctct.BulkRow{EmailAddress: "a@b.com"}, ""},
		{"no final newline", "Email Address\na@b.com", []string{"EmailAddress"}, []int{2}, ctct.BulkRow{EmailAddress: "a@b.com"}, ""},
		{"empty", "", nil, nil, ctct.BulkRow{}, "empty"},
		{"unknown column", "Email Address,Shoe\na@b.com,9\n", nil, nil, ctct.BulkRow{}, `line 1: unknown column "Shoe"`},
		{"no email", "First Name\nFred\n", nil, nil, ctct.BulkRow{}, "no Email Address column"},
		{"duplicate", "Email Address,email address\na,b\n", nil, nil, ctct.BulkRow{}, "both give"},
		{"bare quote", "Email Address\na\"b@c.com\n", nil, nil, ctct.BulkRow{}, "line 2"},
		{"field count", "Email Address,City\na@b.com\n", nil, nil, ctct.BulkRow{}, "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, recs, err := ctct.ParseBulkData([]byte(tt.data))
			if tt.err != "" {
				var de *ctct.BulkDataError
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &de) {
					t.Fatalf("error %v, want a *BulkDataError with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range fields {
				names = append(names, f.Name)
			}
			var lines []int
			for _, r := range recs {
				lines = append(lines, r.Line)
			}
			if !slices.Equal(names, tt.cols) || !slices.Equal(lines, tt.lines) || recs[0].Row != tt.first {
				t.Errorf("fields %v lines %v first %+v", names, lines, recs[0].Row)
			}
		})
	}
	var b strings.Builder
	b.WriteString("Email Address\n")
	for i := range ctct.MaxActivityRows + 1 {
		fmt.Fprintf(&b, "r%d@x.com\n", i)
	}
	if _, _, err := ctct.ParseBulkData([]byte(b.String())); !errors.Is(err, ctct.ErrTooManyRows) {
		t.Errorf("over the row limit: %v", err)
	}
}

func TestBulkRowContact(t *testing.T) {
	c := &ctct.Contact{EmailAddress: " Ann@Example.COM ", FirstName: "Ann", CountryName: "Canada", StateCode: "ON"}
	c.CustomFields[14] = "last"
	r := ctct.NewBulkRow(c)
	if r.EmailAddress != "ann@example.com" || r.FirstName != "Ann" || r.StateCode != "ON" || r.CustomField15 != "last" || r.Get("CountryName") != "" {
		t.Errorf("row %+v", r)
	}
	back := r.Contact()
	if back.FirstName != "Ann" || back.CustomFields[14] != "last" || back.CountryName != "" {
		t.Errorf("contact %+v", back)
	}
}

func TestExportReader(t *testing.T) {
	file := "email address,Email Type,List: General Interest,Customers,date added,ADDED BY,First Name,Custom field 3\r\n" +
		"a@example.com,Text,,x,05/01/2024 12:01 PM GMT,ACTION_BY_CONTACT,Ann,\"tier, \"\"gold\"\"\"\r\n" +
		"b@example.com,HTML,x,x,05/01/2024 12:00 PM GMT,ACTION_BY_CUSTOMER,Bob,\r\n"
	er, err := ctct.NewExportReader(strings.NewReader(file), "CSV")
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"Email Address", "Email Type", "List: General Interest", "List: Customers", "Date Added", "Added By", "First Name", "Custom Field 3"}
	if !slices.Equal(er.Columns, wantCols) || !slices.Equal(er.ListNames, []string{"General Interest", "Customers"}) {
		t.Errorf("columns %q lists %q", er.Columns, er.ListNames)
	}
	var rows []*ctct.ExportRow
	for {
		r, err := er.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 2 || rows[0].EmailAddress != "a@example.com" || rows[0].CustomField3 != `tier, "gold"` || rows[0].AddedBy != ctct.ActionByContact ||
		rows[0].DateAdded != "05/01/2024 12:01 PM GMT" || !slices.Equal(rows[0].Lists, []string{"Customers"}) ||
		!slices.Equal(rows[1].Lists, []string{"General Interest", "Customers"}) || rows[1].FirstName != "Bob" {
		t.Errorf("rows %+v %+v", rows[0], rows[1])
	}
	txt, err := ctct.NewExportReader(strings.NewReader("Email Address\tLast Name\r\na@x.com\tSmith\r\n"), "TXT")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := txt.Read(); err != nil || r.LastName != "Smith" {
		t.Errorf("txt row %+v %v", r, err)
	}
	for _, bad := range []string{"", "First Name\nx\n", "Email Address\n\"a\n"} {
		er, err := ctct.NewExportReader(strings.NewReader(bad), "CSV")
		if err == nil {
			_, err = er.Read()
		}
		if err == nil || err == io.EOF {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := ctct.NewExportReader(strings.NewReader(file), "XLS"); err == nil {
		t.Error("XLS accepted")
	}
}

// TestActivityFixtures decodes the recorded activity documents as they
// are.
func TestActivityFixtures(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(fixturesDir, name))
		if errors.Is(err, os.ErrNotExist) {
			t.Skipf("fixture %s not found (the shared fixtures folder is not beside the repository)", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wantErrs := []ctct.ActivityRowError{
		{LineNumber: 3, EmailAddress: "test2@test.com", Message: `Unknown US/Canadian state/prov "Test2"`},
		{LineNumber: 4, EmailAddress: "test3@test.com", Message: `Unknown US/Canadian state/prov "Test3"`},
	}
	a, err := ctct.DecodeActivityEntry(bytes.NewReader(read("activity_entry.xml")))
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != "activityname" || a.Type != ctct.ActivityAddContactDetail || a.Status != ctct.ActivityComplete || !a.Final() ||
		a.TransactionCount != 1 || a.ErrorCount != 2 || !slices.Equal(a.Errors, wantErrs) || a.FileName != "" ||
		a.RunStartTime != "2008-04-29T19:36:08.894Z" || a.RunFinishTime != "2008-04-29T19:36:10.948Z" || a.InsertTime != "2008-04-29T19:35:54.923Z" {
		t.Errorf("entry %+v", a)
	}
	f, err := ctct.DecodeFeed(bytes.NewReader(read("activities_feed.xml")))
	if err != nil {
		t.Fatal(err)
	}
	if f.Title != "Bulk Activity" || len(f.Activities) != 1 || f.Next() != "" {
		t.Fatalf("feed %+v", f)
	}
	if fa := f.Activities[0]; fa.Key() != "a07e1ffaxjxffmvj6qd" || !slices.Equal(fa.Errors, wantErrs) || fa.Updated != "2008-04-29T19:30:15.637Z" {
		t.Errorf("feed entry %+v", fa)
	}
	// Tolerated: Errors as a plain count.
	counted := strings.Replace(string(read("activities_feed.xml")), "<Errors>", "<Errors>7<!--", 1)
	counted = strings.Replace(counted, "</Errors>", "--></Errors>", 1)
	f, err = ctct.DecodeFeed(strings.NewReader(counted))
	if err != nil || len(f.Activities) != 1 || f.Activities[0].ErrorCount != 7 || len(f.Activities[0].Errors) != 0 {
		t.Errorf("Errors as a count: %+v %v", f, err)
	}
}
