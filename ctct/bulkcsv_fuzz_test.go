package ctct_test

import (
	"errors"
	"slices"
	"testing"

	"ctctbulk/ctct"
)

// FuzzParseBulkData checks that no data parameter makes the parser panic,
// that what it accepts is within the limits with lines in order, and that
// the accepted rows, encoded again by the client, parse back to the same
// rows.
func FuzzParseBulkData(f *testing.F) {
	for _, s := range []string{
		"Email Address,First Name,Last Name\na@b.com, Fred, Test\n",
		"EMAIL ADDRESS,postal code,State\r\nx@y.com,02139,Bavaria\r\n",
		"Email Address,Notes\na@b.com,\"one\r\ntwo\"\nc@d.com,\n",
		"Email Address\n\na@b.com\n\n\nc@d.com",
		"Email Address,US State/CA Province,Custom Field 15\n\"a,\"\"b\"\"@c.com\",MA,\"x\ny\"\n",
		"Email Address,Email Address\na,b\n",
		"",
		"\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, recs, err := ctct.ParseBulkData(data)
		if err != nil {
			var de *ctct.BulkDataError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *BulkDataError", err)
			}
			return
		}
		if len(recs) > ctct.MaxActivityRows || len(fields) == 0 {
			t.Fatalf("%d records, %d fields", len(recs), len(fields))
		}
		line := 1
		rows := make([]ctct.BulkRow, 0, len(recs))
		for _, r := range recs {
			if r.Line <= line {
				t.Fatalf("line %d after line %d", r.Line, line)
			}
			line = r.Line
			rows = append(rows, r.Row)
		}
		if len(rows) == 0 {
			return
		}
		enc, err := ctct.EncodeBulkData(rows)
		if err != nil {
			return // an empty email or a character XML refuses: the client never sends it
		}
		_, again, err := ctct.ParseBulkData(enc.CSV)
		if err != nil {
			t.Fatalf("encoded rows do not parse: %v\n%q", err, enc.CSV)
		}
		got := make([]ctct.BulkRow, len(again))
		for i, r := range again {
			got[i] = r.Row
			if r.Line != enc.Lines[i] {
				t.Fatalf("row %d on line %d, the encoder says %d", i, r.Line, enc.Lines[i])
			}
		}
		if !slices.Equal(got, rows) {
			t.Fatalf("round trip\n%+v\n%+v", rows, got)
		}
	})
}
