package ctct

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gocarina/gocsv"
)

// Limits of one activity (BULK.md, a decision of this project: the server
// refuses more with 400 before applying anything).
const (
	MaxActivityRows = 20000   // data rows, the header not counted
	MaxActivityData = 4 << 20 // bytes of the data parameter
)

// Columns of an export file that are not contact fields (BULK.md).
const (
	ExportDateAdded  = "Date Added"
	ExportAddedBy    = "Added By"
	ExportListPrefix = "List: "
)

// BulkRow is one contact as a line of the bulk CSV: the data parameter of
// an add or remove activity and the rows of an export file. Each field is
// named like the Contact field it holds and tagged with the field table's
// bulk column (Field.Bulk); a test holds the two together. An empty cell
// means "leave the stored value" to the server.
type BulkRow struct {
	EmailAddress  string `csv:"Email Address"`
	EmailType     string `csv:"Email Type"`
	FirstName     string `csv:"First Name"`
	MiddleName    string `csv:"Middle Name"`
	LastName      string `csv:"Last Name"`
	JobTitle      string `csv:"Job Title"`
	CompanyName   string `csv:"Company Name"`
	HomePhone     string `csv:"Home Phone"`
	WorkPhone     string `csv:"Work Phone"`
	Addr1         string `csv:"Address Line 1"`
	Addr2         string `csv:"Address Line 2"`
	Addr3         string `csv:"Address Line 3"`
	City          string `csv:"City"`
	StateCode     string `csv:"US State/CA Province"`
	StateName     string `csv:"Other State/Province"`
	CountryCode   string `csv:"Country"`
	PostalCode    string `csv:"Zip/Postal Code"`
	SubPostalCode string `csv:"Sub Zip/Postal Code"`
	Note          string `csv:"Notes"`
	CustomField1  string `csv:"Custom Field 1"`
	CustomField2  string `csv:"Custom Field 2"`
	CustomField3  string `csv:"Custom Field 3"`
	CustomField4  string `csv:"Custom Field 4"`
	CustomField5  string `csv:"Custom Field 5"`
	CustomField6  string `csv:"Custom Field 6"`
	CustomField7  string `csv:"Custom Field 7"`
	CustomField8  string `csv:"Custom Field 8"`
	CustomField9  string `csv:"Custom Field 9"`
	CustomField10 string `csv:"Custom Field 10"`
	CustomField11 string `csv:"Custom Field 11"`
	CustomField12 string `csv:"Custom Field 12"`
	CustomField13 string `csv:"Custom Field 13"`
	CustomField14 string `csv:"Custom Field 14"`
	CustomField15 string `csv:"Custom Field 15"`
}

// bulkField ties a row of the field table to its BulkRow struct field.
type bulkField struct {
	Field
	index int // field index in BulkRow
}

// bulkFields are the fields of the table that have a bulk column, in
// table order, with their BulkRow index. Built once, never modified.
var bulkFields = buildBulkFields()

func buildBulkFields() []bulkField {
	var out []bulkField
	for _, f := range fieldTable {
		if f.Bulk != "" {
			out = append(out, bulkField{Field: f, index: len(out)})
		}
	}
	return out
}

// numBulkFields is the number of BulkRow fields, one per bulk column.
const numBulkFields = 34

// cells returns pointers to the row's cells in the order of its fields,
// which is the field table's order of the bulk columns (bulkField.index);
// TestBulkRowMatchesFieldTable holds the two together.
func (r *BulkRow) cells() [numBulkFields]*string {
	return [numBulkFields]*string{
		&r.EmailAddress, &r.EmailType, &r.FirstName, &r.MiddleName, &r.LastName, &r.JobTitle,
		&r.CompanyName, &r.HomePhone, &r.WorkPhone, &r.Addr1, &r.Addr2, &r.Addr3, &r.City,
		&r.StateCode, &r.StateName, &r.CountryCode, &r.PostalCode, &r.SubPostalCode, &r.Note,
		&r.CustomField1, &r.CustomField2, &r.CustomField3, &r.CustomField4, &r.CustomField5,
		&r.CustomField6, &r.CustomField7, &r.CustomField8, &r.CustomField9, &r.CustomField10,
		&r.CustomField11, &r.CustomField12, &r.CustomField13, &r.CustomField14, &r.CustomField15,
	}
}

// BulkFields returns the fields that have a bulk column, in the table's
// order (which is also the order of an export file's field columns).
func BulkFields() []Field {
	out := make([]Field, len(bulkFields))
	for i, b := range bulkFields {
		out[i] = b.Field
	}
	return out
}

// LookupBulkColumn finds the field of a bulk column name: the canonical
// name or an alias, in any case, surrounding spaces ignored.
func LookupBulkColumn(name string) (Field, bool) {
	name = strings.TrimSpace(name)
	for _, b := range bulkFields {
		if strings.EqualFold(b.Bulk, name) {
			return b.Field, true
		}
		for _, a := range b.BulkAliases {
			if strings.EqualFold(a, name) {
				return b.Field, true
			}
		}
	}
	return Field{}, false
}

// cell returns a pointer to the row's cell of bulk field b.
func (r *BulkRow) cell(b bulkField) *string { return r.cells()[b.index] }

// NewBulkRow returns the bulk row of a contact: every field that has a
// bulk column. The email is trimmed and lower-cased.
func NewBulkRow(c *Contact) BulkRow {
	var r BulkRow
	for _, b := range bulkFields {
		*r.cell(b) = c.Get(b.Name)
	}
	r.EmailAddress = strings.ToLower(strings.TrimSpace(r.EmailAddress))
	return r
}

// Contact returns the contact a row describes (no id, no lists).
func (r *BulkRow) Contact() *Contact {
	c := &Contact{}
	for _, b := range bulkFields {
		_ = c.Set(b.Name, *r.cell(b)) // names come from the field table
	}
	return c
}

// Get returns the cell of the named contact field ("" when the field has
// no bulk column).
func (r *BulkRow) Get(field string) string {
	for _, b := range bulkFields {
		if b.Name == field {
			return *r.cell(b)
		}
	}
	return ""
}

// Values returns the row's cells in the order of BulkFields.
func (r *BulkRow) Values() []string {
	out := make([]string, 0, numBulkFields)
	for _, p := range r.cells() {
		out = append(out, *p)
	}
	return out
}

// SetValues sets the row's cells from vals, in the order of BulkFields
// (missing values are empty).
func (r *BulkRow) SetValues(vals []string) {
	for i, p := range r.cells() {
		*p = ""
		if i < len(vals) {
			*p = vals[i]
		}
	}
}

// PhysicalLines returns the lines the row takes in a data parameter: one,
// plus one per line break inside its cells.
func (r *BulkRow) PhysicalLines() int {
	n := 1
	for _, p := range r.cells() {
		n += strings.Count(*p, "\n")
	}
	return n
}

// EncodedSize returns at most the bytes the row takes in a data parameter
// that writes every column: each cell, a delimiter, quotes and doubled
// quotes where needed, the line end.
func (r *BulkRow) EncodedSize() int {
	n := 0
	for _, p := range r.cells() {
		n += len(*p) + 1
		if strings.ContainsAny(*p, ",\"\r\n") || (*p != "" && (*p)[0] == ' ') {
			n += 2 + strings.Count(*p, `"`)
		}
	}
	return n + 1
}

// trim removes the surrounding spaces of every cell, as the server does.
func (r *BulkRow) trim() {
	for _, p := range r.cells() {
		if *p != "" {
			*p = strings.TrimSpace(*p)
		}
	}
}

// BulkCellError is a cell that cannot be sent: the row (0-based index in
// the rows given), the column and the reason.
type BulkCellError struct {
	Row    int
	Column string
	Err    error
}

func (e *BulkCellError) Error() string {
	return fmt.Sprintf("row %d, column %s: %v", e.Row+1, e.Column, e.Err)
}

func (e *BulkCellError) Unwrap() error { return e.Err }

// BulkData is an encoded data parameter.
type BulkData struct {
	// CSV is the text: a header naming the columns, then one line per row,
	// LF line ends, RFC 4180 quoting.
	CSV []byte
	// Columns are the header's names: Email Address, then the bulk columns
	// that at least one row fills, in the table's order.
	Columns []string
	// Lines[i] is the physical line of rows[i] in CSV, counted from 1 with
	// the header as line 1, the way the server numbers an Error's
	// LineNumber (a line break inside a quoted cell starts a new line).
	Lines []int
}

// Row returns the index of the row whose first physical line is line, and
// false when no row starts there. Lines is sorted, so this is a binary
// search.
func (d *BulkData) Row(line int) (int, bool) {
	lo, hi := 0, len(d.Lines)
	for lo < hi {
		m := (lo + hi) / 2
		if d.Lines[m] < line {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(d.Lines) && d.Lines[lo] == line {
		return lo, true
	}
	return 0, false
}

// ErrTooManyRows and ErrDataTooLarge report a payload over the limits of
// one activity.
var (
	ErrTooManyRows  = fmt.Errorf("more than %d rows in one activity", MaxActivityRows)
	ErrDataTooLarge = fmt.Errorf("data larger than %d bytes in one activity", MaxActivityData)
)

// EncodeBulkData encodes rows as the data parameter of an activity with
// gocsv: the header holds Email Address and only the columns some row
// fills (so that an email-only load is an ADD_CONTACTS job, and empty
// columns cost no bytes). It refuses, before anything is sent, an empty
// email, a cell holding a character XML 1.0 forbids (*BulkCellError), more
// than MaxActivityRows rows (ErrTooManyRows) and a text over
// MaxActivityData bytes (ErrDataTooLarge).
func EncodeBulkData(rows []BulkRow) (*BulkData, error) {
	if len(rows) == 0 {
		return nil, errors.New("encode bulk data: no rows")
	}
	if len(rows) > MaxActivityRows {
		return nil, fmt.Errorf("encode bulk data: %d rows: %w", len(rows), ErrTooManyRows)
	}
	used := make([]bool, len(bulkFields))
	lines := make([]int, len(rows))
	line := 2
	for i := range rows {
		r := &rows[i]
		lines[i] = line
		for j, b := range bulkFields {
			v := *r.cell(b)
			if v == "" {
				if b.Name == "EmailAddress" {
					return nil, fmt.Errorf("encode bulk data: %w", &BulkCellError{Row: i, Column: b.Bulk, Err: errors.New("empty email address")})
				}
				continue
			}
			if err := CheckXMLText(v); err != nil {
				return nil, fmt.Errorf("encode bulk data: %w", &BulkCellError{Row: i, Column: b.Bulk, Err: err})
			}
			used[j] = true
		}
		line += r.PhysicalLines()
	}
	keep := make([]int, 0, len(bulkFields))
	cols := make([]string, 0, len(bulkFields))
	for j, b := range bulkFields {
		if used[j] || b.Name == "EmailAddress" {
			keep = append(keep, j)
			cols = append(cols, b.Bulk)
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(rows) * 16 * len(keep))
	w := &columnWriter{w: csv.NewWriter(&buf), keep: keep, out: make([]string, len(keep))}
	if err := gocsv.MarshalCSV(rows, w); err != nil {
		return nil, fmt.Errorf("encode bulk data: %w", err)
	}
	if buf.Len() > MaxActivityData {
		return nil, fmt.Errorf("encode bulk data: %d bytes: %w", buf.Len(), ErrDataTooLarge)
	}
	return &BulkData{CSV: buf.Bytes(), Columns: cols, Lines: lines}, nil
}

// columnWriter is the gocsv.CSVWriter of EncodeBulkData: it writes only
// the kept columns of each record gocsv hands it (gocsv writes every
// tagged field, in struct order, which is the table's order).
type columnWriter struct {
	w    *csv.Writer
	keep []int
	out  []string
}

func (c *columnWriter) Write(rec []string) error {
	for i, j := range c.keep {
		c.out[i] = rec[j]
	}
	return c.w.Write(c.out)
}

func (c *columnWriter) Flush()       { c.w.Flush() }
func (c *columnWriter) Error() error { return c.w.Error() }

// BulkRecord is one parsed contact line of a data parameter.
type BulkRecord struct {
	Line int // physical line where the record starts; the header is line 1
	Row  BulkRow
}

// BulkDataError is a data parameter the server refuses as a whole.
type BulkDataError struct {
	Line int // 0 when the error is not about one line
	Err  error
}

func (e *BulkDataError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("data line %d: %v", e.Line, e.Err)
	}
	return "data: " + e.Err.Error()
}

func (e *BulkDataError) Unwrap() error { return e.Err }

// ParseBulkData parses a data parameter the way the server does: the
// first line names the columns (bulk column names or aliases, any case;
// Email Address required; an unknown or repeated column is an error),
// each later line is one contact, cells trimmed of surrounding spaces,
// LF or CRLF line ends, RFC 4180 quoting, blank lines skipped. It returns
// the columns' fields in header order and the records, or a
// *BulkDataError; more than MaxActivityRows records or more than
// MaxActivityData bytes are errors (ErrTooManyRows, ErrDataTooLarge).
func ParseBulkData(data []byte) ([]Field, []BulkRecord, error) {
	if len(data) > MaxActivityData {
		return nil, nil, &BulkDataError{Err: fmt.Errorf("%d bytes: %w", len(data), ErrDataTooLarge)}
	}
	cr := newCSVReader(bytes.NewReader(data), ',')
	um, err := gocsv.NewUnmarshaller(cr, BulkRow{})
	if err == io.EOF {
		return nil, nil, &BulkDataError{Err: errors.New("empty: the first line must name the columns")}
	}
	if err != nil {
		return nil, nil, csvError(err)
	}
	fields, canon, err := resolveDataHeader(um.Headers)
	if err != nil {
		return nil, nil, &BulkDataError{Line: 1, Err: err}
	}
	if err := renameHeader(um, canon); err != nil {
		return nil, nil, &BulkDataError{Line: 1, Err: err}
	}
	var recs []BulkRecord
	for {
		v, err := um.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, csvError(err)
		}
		if len(recs) == MaxActivityRows {
			return nil, nil, &BulkDataError{Err: fmt.Errorf("more than %d rows: %w", MaxActivityRows, ErrTooManyRows)}
		}
		row := v.(BulkRow)
		row.trim()
		line, _ := cr.FieldPos(0)
		recs = append(recs, BulkRecord{Line: line, Row: row})
	}
	return fields, recs, nil
}

func newCSVReader(r io.Reader, comma rune) *csv.Reader {
	cr := csv.NewReader(r)
	cr.Comma = comma
	cr.ReuseRecord = true
	return cr
}

// csvError turns a csv.ParseError into a *BulkDataError on its line.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &BulkDataError{Line: pe.StartLine, Err: pe.Err}
	}
	return &BulkDataError{Err: err}
}

// resolveDataHeader maps a data header to fields and to the canonical
// names gocsv matches against BulkRow's tags.
func resolveDataHeader(header []string) ([]Field, []string, error) {
	fields := make([]Field, len(header))
	canon := make([]string, len(header))
	seen := map[string]string{}
	for i, h := range header {
		f, ok := LookupBulkColumn(h)
		if !ok {
			return nil, nil, fmt.Errorf("unknown column %q", strings.TrimSpace(h))
		}
		if prev, dup := seen[f.Name]; dup {
			return nil, nil, fmt.Errorf("columns %q and %q both give %s", prev, strings.TrimSpace(h), f.Bulk)
		}
		seen[f.Name] = strings.TrimSpace(h)
		fields[i], canon[i] = f, f.Bulk
	}
	if _, ok := seen["EmailAddress"]; !ok {
		return nil, nil, errors.New("no Email Address column")
	}
	return fields, canon, nil
}

// renameHeader makes um match the header as canon names it (the
// canonical spellings: gocsv matches tags exactly, and this package never
// touches gocsv's package-level normaliser).
func renameHeader(um *gocsv.Unmarshaller, canon []string) error {
	if err := um.RenormalizeHeaders(func([]string) []string { return canon }); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	return nil
}

// ExportRow is one contact line of an export file.
type ExportRow struct {
	BulkRow
	DateAdded string `csv:"Date Added"` // MM/dd/yyyy hh:mm AM GMT, with exportOptDate
	AddedBy   string `csv:"Added By"`   // ACTION_BY_CUSTOMER or ACTION_BY_CONTACT, with exportOptSource
	// Lists are the names of the lists whose column holds a value for this
	// contact, in header order (with exportListName).
	Lists []string `csv:"-"`
}

// ExportReader decodes an export file as it streams: one row in memory at
// a time. It tolerates header names in any case and list columns without
// the "List: " prefix (any column that is neither a bulk column nor Date
// Added nor Added By is a list). Not safe for concurrent use.
type ExportReader struct {
	cr *csv.Reader
	um *gocsv.Unmarshaller
	// Columns are the header's names in canonical spelling: bulk columns,
	// Date Added, Added By, and "List: {name}" for list columns.
	Columns []string
	// ListNames are the lists of the list columns, in header order.
	ListNames []string
	listCols  []string // canonical names of the list columns
}

// NewExportReader reads the header of an export file of the given type
// ("CSV", or "TXT" for tab-separated) from r.
func NewExportReader(r io.Reader, fileType string) (*ExportReader, error) {
	comma := ','
	switch strings.ToUpper(fileType) {
	case FileTypeCSV:
	case FileTypeTXT:
		comma = '\t'
	default:
		return nil, fmt.Errorf("export file: file type %q is not %s or %s", fileType, FileTypeCSV, FileTypeTXT)
	}
	cr := newCSVReader(r, comma)
	um, err := gocsv.NewUnmarshaller(cr, ExportRow{})
	if err != nil {
		return nil, fmt.Errorf("export file header: %w", csvError(err))
	}
	er := &ExportReader{cr: cr, um: um}
	for _, h := range um.Headers {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if f, ok := LookupBulkColumn(h); ok {
			er.Columns = append(er.Columns, f.Bulk)
			continue
		}
		switch {
		case strings.EqualFold(h, ExportDateAdded):
			er.Columns = append(er.Columns, ExportDateAdded)
		case strings.EqualFold(h, ExportAddedBy):
			er.Columns = append(er.Columns, ExportAddedBy)
		default:
			name := h
			if len(h) >= len(ExportListPrefix) && strings.EqualFold(h[:len(ExportListPrefix)], ExportListPrefix) {
				name = strings.TrimSpace(h[len(ExportListPrefix):])
			}
			er.ListNames = append(er.ListNames, name)
			er.listCols = append(er.listCols, ExportListPrefix+name)
			er.Columns = append(er.Columns, ExportListPrefix+name)
		}
	}
	if len(er.Columns) == 0 || er.Columns[0] != "Email Address" {
		return nil, errors.New("export file header: the first column is not Email Address")
	}
	if err := renameHeader(um, er.Columns); err != nil {
		return nil, fmt.Errorf("export file %w", err)
	}
	return er, nil
}

// Read returns the next row, or io.EOF after the last one. A malformed
// line is a *BulkDataError naming it.
func (er *ExportReader) Read() (*ExportRow, error) {
	var (
		v         any
		unmatched map[string]string
		err       error
	)
	if len(er.listCols) > 0 {
		v, unmatched, err = er.um.ReadUnmatched()
	} else {
		v, err = er.um.Read()
	}
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, csvError(err)
	}
	row := v.(ExportRow)
	row.trim()
	row.DateAdded, row.AddedBy = strings.TrimSpace(row.DateAdded), strings.TrimSpace(row.AddedBy)
	for i, col := range er.listCols {
		if strings.TrimSpace(unmatched[col]) != "" {
			row.Lists = append(row.Lists, er.ListNames[i])
		}
	}
	return &row, nil
}

// BulkEncoder builds the data parameter of an add job row by row, with a
// fixed set of columns (Email Address and the bulk columns of the fields
// given), so that a job being filled is held once, as its encoded text,
// never as rows. Not safe for concurrent use.
type BulkEncoder struct {
	buf   bytes.Buffer
	w     *columnWriter
	cols  []string
	lines []int
	next  int // physical line of the next row
	one   []BulkRow
}

// NewBulkEncoder returns an encoder whose data holds Email Address and the
// bulk columns of fields (canonical field names; fields with no bulk
// column are left out), in the table's order. The header is written at
// once.
func NewBulkEncoder(fields []string) *BulkEncoder {
	want := map[string]bool{"EmailAddress": true}
	for _, f := range fields {
		want[f] = true
	}
	e := &BulkEncoder{next: 2, one: make([]BulkRow, 1)}
	var keep []int
	for j, b := range bulkFields {
		if want[b.Name] {
			keep = append(keep, j)
			e.cols = append(e.cols, b.Bulk)
		}
	}
	e.w = &columnWriter{w: csv.NewWriter(&e.buf), keep: keep, out: make([]string, len(keep))}
	_ = e.w.w.Write(e.cols) // a bytes.Buffer does not fail
	e.w.Flush()
	return e
}

// Add encodes one row and returns the physical line it starts at (the
// header is line 1). It refuses, leaving the data as it was, an empty
// email and a cell XML 1.0 forbids (*BulkCellError).
func (e *BulkEncoder) Add(r *BulkRow) (int, error) {
	for _, b := range bulkFields {
		v := *r.cell(b)
		if v == "" {
			if b.Name == "EmailAddress" {
				return 0, &BulkCellError{Row: len(e.lines), Column: b.Bulk, Err: errors.New("empty email address")}
			}
			continue
		}
		if err := CheckXMLText(v); err != nil {
			return 0, &BulkCellError{Row: len(e.lines), Column: b.Bulk, Err: err}
		}
	}
	e.one[0] = *r
	if err := gocsv.MarshalCSVWithoutHeaders(e.one, e.w); err != nil {
		return 0, fmt.Errorf("encode bulk row: %w", err)
	}
	line := e.next
	e.lines = append(e.lines, line)
	e.next += r.PhysicalLines()
	return line, nil
}

// Rows is the rows added; Size the bytes of the data so far.
func (e *BulkEncoder) Rows() int { return len(e.lines) }

// Size is the bytes of the data so far.
func (e *BulkEncoder) Size() int { return e.buf.Len() }

// Data returns the data: its text, columns and the line of each row. The
// encoder must not be used after.
func (e *BulkEncoder) Data() *BulkData {
	return &BulkData{CSV: e.buf.Bytes(), Columns: e.cols, Lines: e.lines}
}
