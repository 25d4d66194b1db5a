package exporter

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"hash"
	"io"

	"github.com/gocarina/gocsv"
)

// record is the canonical row of an export file: one cell per field of the
// ctct field table, in its order. Its csv tags are the header, a contract
// with every spreadsheet that reads an export; TestRecordHeader holds them
// to the field table. gocsv marshals it.
type record struct {
	ID             string `csv:"Id"`
	Status         string `csv:"Status"`
	EmailAddress   string `csv:"EmailAddress"`
	EmailType      string `csv:"EmailType"`
	Name           string `csv:"Name"`
	FirstName      string `csv:"FirstName"`
	MiddleName     string `csv:"MiddleName"`
	LastName       string `csv:"LastName"`
	JobTitle       string `csv:"JobTitle"`
	CompanyName    string `csv:"CompanyName"`
	HomePhone      string `csv:"HomePhone"`
	WorkPhone      string `csv:"WorkPhone"`
	Addr1          string `csv:"Addr1"`
	Addr2          string `csv:"Addr2"`
	Addr3          string `csv:"Addr3"`
	City           string `csv:"City"`
	StateCode      string `csv:"StateCode"`
	StateName      string `csv:"StateName"`
	CountryCode    string `csv:"CountryCode"`
	CountryName    string `csv:"CountryName"`
	PostalCode     string `csv:"PostalCode"`
	SubPostalCode  string `csv:"SubPostalCode"`
	Note           string `csv:"Note"`
	CustomField1   string `csv:"CustomField1"`
	CustomField2   string `csv:"CustomField2"`
	CustomField3   string `csv:"CustomField3"`
	CustomField4   string `csv:"CustomField4"`
	CustomField5   string `csv:"CustomField5"`
	CustomField6   string `csv:"CustomField6"`
	CustomField7   string `csv:"CustomField7"`
	CustomField8   string `csv:"CustomField8"`
	CustomField9   string `csv:"CustomField9"`
	CustomField10  string `csv:"CustomField10"`
	CustomField11  string `csv:"CustomField11"`
	CustomField12  string `csv:"CustomField12"`
	CustomField13  string `csv:"CustomField13"`
	CustomField14  string `csv:"CustomField14"`
	CustomField15  string `csv:"CustomField15"`
	ContactLists   string `csv:"ContactLists"`
	OptInSource    string `csv:"OptInSource"`
	OptInTime      string `csv:"OptInTime"`
	OptOutTime     string `csv:"OptOutTime"`
	OptOutSource   string `csv:"OptOutSource"`
	OptOutReason   string `csv:"OptOutReason"`
	Confirmed      string `csv:"Confirmed"`
	InsertTime     string `csv:"InsertTime"`
	LastUpdateTime string `csv:"LastUpdateTime"`
}

// newRecord puts the cells of mapping.ExportRow, which are in field table
// order, into a record.
func newRecord(row []string) record {
	return record{
		row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
		row[8], row[9], row[10], row[11], row[12], row[13], row[14], row[15],
		row[16], row[17], row[18], row[19], row[20], row[21], row[22], row[23],
		row[24], row[25], row[26], row[27], row[28], row[29], row[30], row[31],
		row[32], row[33], row[34], row[35], row[36], row[37], row[38], row[39],
		row[40], row[41], row[42], row[43], row[44], row[45], row[46],
	}
}

// recordBatch is how many records one gocsv call writes.
const recordBatch = 50

// rowWriter is the gocsv.CSVWriter of an export: encoding/csv's quoting,
// cells that a spreadsheet would run as formulas escaped unless raw, and
// the byte count and SHA-256 of what reached the underlying writer. Not
// safe for concurrent use.
type rowWriter struct {
	cw  *csv.Writer
	sum *hashCounter
	raw bool
	buf []string
}

func newRowWriter(w io.Writer, raw bool) *rowWriter {
	hc := &hashCounter{w: w, h: sha256.New()}
	return &rowWriter{cw: csv.NewWriter(hc), sum: hc, raw: raw}
}

// writeHeader writes the header: the csv tags of record (gocsv writes the
// header of an empty slice).
func (rw *rowWriter) writeHeader() error { return gocsv.MarshalCSV([]record{}, rw) }

// writeRecords writes records without a header and flushes them.
func (rw *rowWriter) writeRecords(rs []record) error {
	return gocsv.MarshalCSVWithoutHeaders(rs, rw)
}

// Write writes one CSV record, escaping formula-like cells unless raw.
func (rw *rowWriter) Write(cells []string) error {
	if !rw.raw {
		rw.buf = rw.buf[:0]
		for _, c := range cells {
			rw.buf = append(rw.buf, EscapeCell(c))
		}
		cells = rw.buf
	}
	return rw.cw.Write(cells)
}

// Flush writes what is buffered to the underlying writer.
func (rw *rowWriter) Flush() { rw.cw.Flush() }

// Error reports the first error of a Write or Flush.
func (rw *rowWriter) Error() error { return rw.cw.Error() }

// EscapeCell defuses a cell that a spreadsheet would run as a formula
// (OWASP "CSV injection"): one that starts with = + - @ tab or carriage
// return gets a leading '. Other cells are returned unchanged.
func EscapeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// hashCounter passes writes through, counting and hashing them.
type hashCounter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hc *hashCounter) Write(p []byte) (int, error) {
	n, err := hc.w.Write(p)
	hc.h.Write(p[:n])
	hc.n += int64(n)
	return n, err
}

// sha256Hex is the hex SHA-256 of what was written.
func (hc *hashCounter) sha256Hex() string { return hex.EncodeToString(hc.h.Sum(nil)) }
