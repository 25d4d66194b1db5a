package mapping

import (
	"fmt"
	"strconv"
	"strings"

	"ctctbulk/ctct"
)

// Record is one converted CSV row.
type Record struct {
	Line    int          // physical line number where the record starts (given by the caller)
	Contact ctct.Contact // normalised values of the mapped editable fields; the rest empty
	// Mapped are the canonical names of the editable fields the CSV maps,
	// in element order. It is shared by every Record of a Mapping: do not
	// modify it.
	Mapped []string
	// Lists are the entries of the ContactLists column: split on ';',
	// trimmed, empty ones dropped, ids or names as given.
	Lists []string

	listBuf [4]string // room for Lists, saving an allocation per row
}

// RowError is a row that cannot be converted: its line, the column (as
// named in the file, "" when the problem is not about one column), the
// field, the cell as in the file and the reason. When several columns of a row
// are bad, the first (in element order) is the RowError itself and the
// others are in More.
type RowError struct {
	Line   int
	Column string
	Field  string
	Value  string
	Err    error
	More   []*RowError // further bad columns of the same row, if any
}

// Error returns e.g. `line 12, column "First Name" (FirstName): 51
// characters, at most 50 allowed`, followed by "; column ..." for each
// further bad column.
func (e *RowError) Error() string {
	parts := []string{e.detail()}
	for _, o := range e.More {
		parts = append(parts, o.detail())
	}
	msg := strings.Join(parts, "; ")
	switch {
	case e.Line <= 0:
		return msg
	case e.Column != "" || e.Field != "":
		return "line " + strconv.Itoa(e.Line) + ", " + msg
	}
	return "line " + strconv.Itoa(e.Line) + ": " + msg
}

// detail is the message without the line.
func (e *RowError) detail() string {
	msg := "invalid row"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Column == "" && e.Field == "" {
		return msg
	}
	return fmt.Sprintf("column %q (%s): %s", e.Column, e.Field, msg)
}

// Unwrap returns the reason of the first bad column.
func (e *RowError) Unwrap() error { return e.Err }

// Convert turns the cells of one record into a Contact: it trims every
// value (inner newlines kept), undoes the export's formula escape, fixes
// the case the API prescribes (ctct.Field.Normalize) and validates each
// mapped field with ctct.Field.Check, the rules of ctct.ValidateContact.
// A row whose number of cells differs from the header's, or with any bad
// value, gives a *RowError naming every bad column. Safe for concurrent
// use.
func (m *Mapping) Convert(cells []string, line int) (*Record, error) {
	rec, rerr := m.convert(cells, line)
	if rerr != nil {
		return nil, rerr
	}
	return rec, nil
}

// Validate reports what Convert would, without keeping the record: the
// check of import --dry-run, with no allocation for a good row. Safe for
// concurrent use.
func (m *Mapping) Validate(cells []string, line int) error {
	rec, _ := m.scratch.Get().(*Record)
	if rec == nil {
		rec = new(Record)
	}
	rerr := m.fill(rec, cells, line)
	*rec = Record{} // hold no cells while pooled
	m.scratch.Put(rec)
	if rerr != nil {
		return rerr
	}
	return nil
}

// convert returns the record even when a value is bad (so that tests can
// compare with ctct.ValidateContact), but nil when the cell count is wrong.
func (m *Mapping) convert(cells []string, line int) (*Record, *RowError) {
	if len(cells) != len(m.header) {
		return nil, m.countError(cells, line)
	}
	rec := m.newRecord()
	return rec, m.fill(rec, cells, line)
}

func (m *Mapping) countError(cells []string, line int) *RowError {
	return &RowError{Line: line, Err: fmt.Errorf("%d cells, the header has %d", len(cells), len(m.header))}
}

// fill converts cells into the zero Record rec and checks the values with
// the field table's rules, once every value is in place (StateCode is
// checked against CountryCode).
func (m *Mapping) fill(rec *Record, cells []string, line int) *RowError {
	if len(cells) != len(m.header) {
		return m.countError(cells, line)
	}
	rec.Line, rec.Mapped = line, m.mapped
	c := &rec.Contact
	for i := range m.plan {
		p := &m.plan[i]
		_ = p.field.Set(c, p.field.Normalize(unescapeFormula(strings.TrimSpace(cells[p.idx])))) // editable fields are text
	}
	if m.lists >= 0 {
		rec.Lists = splitLists(rec.listBuf[:0], cells[m.lists])
	}
	var rerr *RowError // allocated only for a bad row
	for i := range m.plan {
		p := &m.plan[i]
		err := p.field.Check(p.field.Get(c), c)
		if err == nil {
			continue
		}
		e := &RowError{Line: line, Column: m.header[p.idx], Field: p.field.Name, Value: cells[p.idx], Err: err}
		if rerr == nil {
			rerr = e
		} else {
			rerr.More = append(rerr.More, e)
		}
	}
	return rerr
}

// recordChunk is how many Records one allocation holds. Allocating them
// in chunks roughly halves the cost of a Record (a Contact is about 1 KB);
// a live Record keeps at most its chunk alive.
const recordChunk = 16

// newRecord hands out a zero Record from a chunk taken from m.chunks, a
// sync.Pool: safe for concurrent use.
func (m *Mapping) newRecord() *Record {
	ch, _ := m.chunks.Get().(*[]Record)
	if ch == nil {
		ch = new([]Record)
	}
	if len(*ch) == 0 {
		*ch = make([]Record, recordChunk)
	}
	r := &(*ch)[0]
	*ch = (*ch)[1:]
	m.chunks.Put(ch)
	return r
}

// splitLists appends the trimmed, non-empty ';'-separated entries of cell
// to dst, and returns nil when there are none.
func splitLists(dst []string, cell string) []string {
	for {
		part, rest, more := strings.Cut(cell, ";")
		if part = strings.TrimSpace(part); part != "" {
			dst = append(dst, part)
		}
		if !more {
			break
		}
		cell = rest
	}
	if len(dst) == 0 {
		return nil
	}
	return dst
}

// EmptyPolicy says what an empty cell does to an existing contact.
type EmptyPolicy int

const (
	// EmptyKeep leaves the existing value alone: only non-empty cells overwrite.
	EmptyKeep EmptyPolicy = iota
	// EmptyClear sets every mapped field: an empty cell clears the value.
	EmptyClear
)

// Apply merges the record's mapped values onto an existing contact, as the
// policy says. It never touches unmapped fields, list memberships or
// read-only fields, and reports whether any value changed.
func (r *Record) Apply(dst *ctct.Contact, empty EmptyPolicy) (changed bool) {
	for _, name := range r.Mapped {
		f, ok := ctct.LookupField(name)
		if !ok || !f.Editable {
			continue
		}
		v := f.Get(&r.Contact)
		if v == "" && empty == EmptyKeep {
			continue
		}
		if f.Get(dst) != v {
			_ = f.Set(dst, v) // editable fields are text
			changed = true
		}
	}
	return changed
}

// unescapeFormula undoes the export's protection of formula-like cells: a
// value that starts with ' followed by = + - @, tab or CR is imported without
// the ', so that an export imports as it is.
func unescapeFormula(v string) string {
	if len(v) >= 2 && v[0] == '\'' && strings.IndexByte("=+-@\t\r", v[1]) >= 0 {
		return v[1:]
	}
	return v
}
