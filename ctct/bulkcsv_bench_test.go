package ctct_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"testing"

	"ctctbulk/ctct"
)

// benchRows are n realistic bulk rows.
func benchRows(n int) []ctct.BulkRow {
	rows := make([]ctct.BulkRow, n)
	for i := range rows {
		rows[i] = ctct.BulkRow{
			EmailAddress: fmt.Sprintf("first.last%d@example.com", i), FirstName: "Chloé", LastName: "O'Brien",
			CompanyName: "Harbor Coffee Roasters", Addr1: fmt.Sprintf("%d Main St", i), City: "Montréal",
			StateCode: "QC", CountryCode: "ca", PostalCode: "H2X 1Y4", HomePhone: "514-555-0100",
			Note: "Met at the spring trade show, \"VIP\"", CustomField1: "Gold",
		}
	}
	return rows
}

// BenchmarkEncodeBulkData encodes a 20,000-row data parameter (the most
// one activity takes).
func BenchmarkEncodeBulkData(b *testing.B) {
	rows := benchRows(ctct.MaxActivityRows)
	d, err := ctct.EncodeBulkData(rows)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(d.CSV)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ctct.EncodeBulkData(rows); err != nil {
			b.Fatal(err)
		}
	}
}

// exportFile writes an n-row export file shaped like the sandbox's.
func exportFile(n int) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	_ = w.Write([]string{"Email Address", "Email Type", "List: General Interest", "List: Customers", "Date Added", "Added By",
		"First Name", "Last Name", "Company Name", "Address Line 1", "City", "US State/CA Province", "Country", "Zip/Postal Code", "Notes", "Custom Field 1"})
	for i, r := range benchRows(n) {
		_ = w.Write([]string{r.EmailAddress, "HTML", "x", "", "05/01/2024 12:01 PM GMT", ctct.ActionByCustomer,
			r.FirstName, r.LastName, r.CompanyName, r.Addr1, r.City, r.StateCode, r.CountryCode, r.PostalCode, r.Note, fmt.Sprint(i % 7)})
	}
	w.Flush()
	return buf.Bytes()
}

// BenchmarkDecodeExport decodes a 100,000-row export file with
// ExportReader (time and allocations per file).
func BenchmarkDecodeExport(b *testing.B) {
	file := exportFile(100_000)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		er, err := ctct.NewExportReader(bytes.NewReader(file), ctct.FileTypeCSV)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := er.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("%d rows", n)
		}
	}
}
