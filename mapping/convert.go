package mapping

import (
	"fmt"
	"slices"
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
// value (inner newlines kept), lower-cases EmailAddress and CountryCode,
// upper-cases StateCode, spells EmailType HTML or Text whatever its case,
// and validates the mapped fields as ctct.ValidateContact does (lengths in
// characters, allowed values, email syntax, XML characters, StateCode
// known and consistent with CountryCode). A row whose number of cells
// differs from the header's, or with any bad value, gives a *RowError
// naming every bad column. Safe for concurrent use.
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

// fill converts cells into the zero Record rec and checks the values.
func (m *Mapping) fill(rec *Record, cells []string, line int) *RowError {
	if len(cells) != len(m.header) {
		return m.countError(cells, line)
	}
	rec.Line, rec.Mapped = line, m.mapped
	c := &rec.Contact
	var bad []badValue // allocated only for a bad row
	for i := range m.plan {
		p := &m.plan[i]
		v := normalize(p.kind, cells[p.idx])
		_ = p.field.Set(c, v) // editable fields are text
		if p.kind == valueState {
			continue // checked below, once CountryCode is set
		}
		if err := check(p, v, c); err != nil {
			bad = append(bad, badValue{i, err})
		}
	}
	if m.state >= 0 {
		p := &m.plan[m.state]
		if err := check(p, p.field.Get(c), c); err != nil {
			bad = append(bad, badValue{m.state, err})
			slices.SortFunc(bad, func(a, b badValue) int { return a.plan - b.plan })
		}
	}
	if m.lists >= 0 {
		rec.Lists = splitLists(rec.listBuf[:0], cells[m.lists])
	}
	if len(bad) == 0 {
		return nil
	}
	var rerr *RowError
	for _, b := range bad {
		p := &m.plan[b.plan]
		e := &RowError{Line: line, Column: m.header[p.idx], Field: p.field.Name, Value: cells[p.idx], Err: b.err}
		if rerr == nil {
			rerr = e
		} else {
			rerr.More = append(rerr.More, e)
		}
	}
	return rerr
}

// badValue is a value that failed its check: its index in the plan.
type badValue struct {
	plan int
	err  error
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

// valueKind says which rules beyond the field table's a value follows.
type valueKind int

const (
	valueText      valueKind = iota // trimmed; CheckValue
	valueEmail                      // lower case; CheckEmail
	valueEmailType                  // HTML or Text whatever the case
	valueState                      // upper case; known code, consistent with the country
	valueCountry                    // lower case; two letters
)

func kindOf(f ctct.Field) valueKind {
	switch f.Name {
	case "EmailAddress":
		return valueEmail
	case "EmailType":
		return valueEmailType
	case "StateCode":
		return valueState
	case "CountryCode":
		return valueCountry
	}
	return valueText
}

// normalize trims a value and fixes the case of the fields whose case the
// API prescribes.
func normalize(k valueKind, v string) string {
	v = unescapeFormula(strings.TrimSpace(v))
	switch k {
	case valueEmail, valueCountry:
		v = strings.ToLower(v)
	case valueState:
		if st, ok := lookupState(v); ok {
			return st.code // the table's own string: no allocation
		}
		v = strings.ToUpper(v)
	case valueEmailType:
		switch {
		case strings.EqualFold(v, ctct.EmailTypeHTML):
			v = ctct.EmailTypeHTML
		case strings.EqualFold(v, ctct.EmailTypeText):
			v = ctct.EmailTypeText
		}
	}
	return v
}

// check validates one normalised value the way ctct.ValidateContact does,
// without rebuilding the field table for every row. Plain ASCII values,
// the common case, take fast paths that accept only what the ctct checks
// accept; anything else goes through the ctct checks themselves.
func check(p *colPlan, v string, c *ctct.Contact) error {
	f := p.field
	switch p.kind {
	case valueEmail:
		if plainEmail(v) {
			return nil
		}
		return ctct.CheckEmail(v)
	case valueState:
		if v == "" {
			return nil
		}
		st, ok := lookupState(v)
		if !ok || st.code != v {
			if err := f.CheckValue(v); err != nil {
				return err
			}
			return fmt.Errorf("%q is not a US state or Canadian province code", v)
		}
		if cc := c.CountryCode; cc != "" && cc != st.country {
			return fmt.Errorf("%q is a %s code but CountryCode is %q", v, strings.ToUpper(st.country), cc)
		}
		return nil
	}
	if len(f.Allowed) == 0 && (f.MaxLen == 0 || len(v) <= f.MaxLen) && plainASCII(v) {
		// CheckValue accepts it: valid XML and at most MaxLen characters.
	} else if err := f.CheckValue(v); err != nil {
		return err
	}
	if p.kind == valueCountry && v != "" {
		return ctct.CheckCountryCode(v)
	}
	return nil
}

// plainASCII reports whether v holds only ASCII characters that XML 1.0
// allows (tab, LF, CR and 0x20-0x7F): such a value is valid XML text and
// has len(v) characters.
func plainASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			return false
		}
	}
	return true
}

// plainEmail is a one-pass check that accepts a subset of what
// ctct.CheckEmail accepts: printable ASCII addresses of at most 80
// characters, with exactly one @, a local part without a leading,
// trailing or double dot, and a domain of at least two labels, none empty
// or starting or ending with '-'. False means "ask ctct.CheckEmail".
func plainEmail(v string) bool {
	if len(v) == 0 || len(v) > 80 {
		return false
	}
	at := -1
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case !emailChars[c]:
			return false
		case c == '@':
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at <= 0 || at == len(v)-1 {
		return false
	}
	local, domain := v[:at], v[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	labels := 0
	for len(domain) > 0 {
		label := domain
		if i := strings.IndexByte(domain, '.'); i >= 0 {
			label, domain = domain[:i], domain[i+1:]
			if domain == "" {
				return false // trailing dot: an empty last label
			}
		} else {
			domain = ""
		}
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		labels++
	}
	return labels >= 2
}

// emailChars are the bytes plainEmail lets through: printable ASCII but
// for the characters ctct.CheckEmail refuses. Built once, never written.
var emailChars = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(",;<>()[]\\\"", rune(c))
	}
	return t
}()

// stateInfo is a StateCode the API accepts and its country code.
type stateInfo struct{ code, country string }

// states holds, at index (first letter)*26 + (second letter), every
// StateCode the API accepts, as ctct.StateCountry says, with its country.
// Built once, never written.
var states = func() (t [26 * 26]stateInfo) {
	for i := range t {
		code := string([]byte{byte('A' + i/26), byte('A' + i%26)})
		if cc, ok := ctct.StateCountry(code); ok {
			t[i] = stateInfo{code, cc}
		}
	}
	return t
}()

// lookupState finds a two-letter code, in either case, in states.
func lookupState(v string) (stateInfo, bool) {
	if len(v) != 2 {
		return stateInfo{}, false
	}
	a, b := upper(v[0]), upper(v[1])
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return stateInfo{}, false
	}
	st := states[int(a-'A')*26+int(b-'A')]
	return st, st.code != ""
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
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
