package mapping

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"ctctbulk/ctct"
)

// DerivedOnly reports whether the record's field name is set only by
// derivation (no column maps it, e.g. CountryName from a country code):
// its empty value never clears what the account holds.
func (r *Record) DerivedOnly(name string) bool { return r.derivedOnly[name] }

// Record is one converted CSV row.
type Record struct {
	Line    int          // physical line number where the record starts (given by the caller)
	Contact ctct.Contact // normalised values of the mapped editable fields; the rest empty
	// Mapped are the canonical names of the editable fields the record
	// sets, in element order: the fields the CSV maps, and those its
	// one-cell addresses and region columns fill. It is shared by every
	// Record of a Mapping: do not modify it.
	Mapped []string
	// Lists are the entries of the ContactLists column: split on ';',
	// trimmed, empty ones dropped, ids or names as given.
	Lists []string
	// OptOut names the signal that says the row's person opted out,
	// bounced or was cleaned ("UNSUB_TIME", "Email Opt Out",
	// "Status=unsubscribed", "Mailchimp unsubscribed export"); "" when
	// none does. Such a row never makes a contact Active or Unconfirmed.
	OptOut string
	// Removed is set when a status cell says Removed (and no signal says
	// opted out): the contact was on no list, and importing it would
	// subscribe it.
	Removed bool
	// Superseded is set on a row of an error report that a later row of
	// its original file set (SupersededColumn holds its line).
	Superseded bool
	// Cut are the cells cut to their field's limit (Options.Truncate).
	Cut []Cut
	// Dropped holds the values of an opt-out row that break a field rule:
	// the opt-out is carried over all the same (it must never be lost),
	// without them. nil for any other row, whose bad values fail it.
	Dropped *RowError
	// Moved are the fields whose value the names-to-codes rules moved to
	// another field (a country name to CountryCode, a region to
	// StateName): emptied on purpose, so that Apply clears an existing
	// contact's stale value there whatever the empty policy.
	Moved []string

	derivedOnly map[string]bool // fields set only by derivation: an empty value never clears
	noBulk      []*ctct.Field   // the fields of Mapped that no bulk column carries
	listBuf     [4]string       // room for Lists, saving an allocation per row
}

// Cut is a cell cut to its field's limit.
type Cut struct {
	Field, Column string
	From, To      int // characters before and after
}

// String says what was cut: `JobTitle 63 to 50 characters`.
func (c Cut) String() string {
	return fmt.Sprintf("%s %d to %d characters", c.Field, c.From, c.To)
}

// CutText is the Cut of a record in one text, "" when none.
func (r *Record) CutText() string {
	parts := make([]string, len(r.Cut))
	for i, c := range r.Cut {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
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

// names reports whether the error (or one of More) is about field.
func (e *RowError) names(field string) bool {
	if e.Field == field {
		return true
	}
	for _, o := range e.More {
		if o.Field == field {
			return true
		}
	}
	return false
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

// Email returns the row's email address, trimmed and lower-cased, when
// its cell holds a valid one, else "": a row that fails for another
// column still says whose it is.
func (m *Mapping) Email(cells []string) string {
	for i := range m.plan {
		p := &m.plan[i]
		if p.field.Name != "EmailAddress" || p.idx >= len(cells) {
			continue
		}
		v := p.field.Normalize(unescapeFormula(strings.TrimSpace(cells[p.idx])))
		if p.field.Check(v, nil) == nil {
			return v
		}
	}
	return ""
}

// Facts are what Check learns of a valid row beyond its values.
type Facts struct {
	OptOut  string // see Record.OptOut
	Removed bool   // see Record.Removed
	// NoBulkValue is set when the row holds a value in a field that no
	// bulk column carries (CountryName): it needs the contacts collection.
	NoBulkValue bool
	Cuts        int  // cells cut (Options.Truncate)
	Dropped     bool // an opt-out row's bad values left out (Record.Dropped)
}

// Validate reports what Convert would, without keeping the record. Safe
// for concurrent use.
func (m *Mapping) Validate(cells []string, line int) error {
	_, err := m.Check(cells, line)
	return err
}

// Check reports what Convert would, and what the row says beyond its
// values, without keeping the record: the check of import --dry-run, with
// no allocation for a good plain row. Safe for concurrent use.
func (m *Mapping) Check(cells []string, line int) (Facts, error) {
	rec, _ := m.scratch.Get().(*Record)
	if rec == nil {
		rec = new(Record)
	}
	rerr := m.fill(rec, cells, line)
	f := Facts{OptOut: rec.OptOut, Removed: rec.Removed, Cuts: len(rec.Cut), Dropped: rec.Dropped != nil, NoBulkValue: rec.NoBulkValue()}
	*rec = Record{} // hold no cells while pooled
	m.scratch.Put(rec)
	if rerr != nil {
		return Facts{}, rerr
	}
	return f, nil
}

// NoBulkValue reports whether the record holds a value in a field that no
// bulk column carries (CountryName): only the contacts collection can
// write it.
func (r *Record) NoBulkValue() bool {
	for _, f := range r.noBulk {
		if f.Get(&r.Contact) != "" {
			return true
		}
	}
	return false
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

// fill converts cells into the zero Record rec: the mapped cells, trimmed
// and normalised; the one-cell addresses split; the names-to-codes rules;
// the opt-out signals; the cuts of --truncate. Then it checks every value
// with the field table's rules, once all are in place (StateCode is
// checked against CountryCode). An opt-out row whose email is valid is
// kept whatever its other values (see Record.Dropped).
func (m *Mapping) fill(rec *Record, cells []string, line int) *RowError {
	if len(cells) != len(m.header) {
		return m.countError(cells, line)
	}
	rec.Line, rec.Mapped, rec.derivedOnly, rec.noBulk = line, m.mapped, m.derivedOnly, m.noBulk
	c := &rec.Contact
	for i := range m.plan {
		p := &m.plan[i]
		_ = p.field.Set(c, p.field.Normalize(unescapeFormula(strings.TrimSpace(cells[p.idx])))) // editable fields are text
	}
	for _, cc := range m.composites {
		m.splitComposite(c, cc.field, unescapeFormula(cells[cc.idx]))
	}
	if m.region {
		before := [4]bool{c.StateCode != "", c.StateName != "", c.CountryCode != "", c.CountryName != ""}
		normalizeRegion(c)
		for i, f := range regionFields {
			if before[i] && m.direct[f] && c.Get(f) == "" {
				rec.Moved = append(rec.Moved, f)
			}
		}
	}
	if m.lists >= 0 {
		rec.Lists = splitLists(rec.listBuf[:0], cells[m.lists])
	}
	if m.superseded >= 0 {
		rec.Superseded = strings.TrimSpace(cells[m.superseded]) != ""
	}
	var serr *RowError
	if m.fileSignal != "" || len(m.signals) > 0 {
		rec.OptOut, rec.Removed, serr = m.readSignals(cells, line)
	}
	if m.truncate {
		m.cut(rec)
	}
	var rerr *RowError // allocated only for a bad row
	for i := range m.checks {
		p := &m.checks[i]
		err := p.field.Check(p.field.Get(c), c)
		if err == nil {
			continue
		}
		e := &RowError{Line: line, Column: m.header[p.idx], Field: p.field.Name, Value: cells[p.idx], Err: m.explain(p.field, c, err)}
		if rerr == nil {
			rerr = e
		} else {
			rerr.More = append(rerr.More, e)
		}
	}
	switch {
	case rec.OptOut != "" && rerr != nil && rerr.Field != "EmailAddress":
		// The opt-out goes on without the values it cannot carry.
		for _, e := range append([]*RowError{rerr}, rerr.More...) {
			if f, ok := ctct.LookupField(e.Field); ok {
				_ = f.Set(c, "")
			}
		}
		rec.Dropped = rerr
		return nil
	case serr != nil && rerr == nil:
		return serr
	case serr != nil:
		rerr.More = append(rerr.More, serr)
	}
	return rerr
}

// explain words a check's refusal of a StateCode or CountryCode that is a
// name rather than a code, and says --truncate where a value is too long.
func (m *Mapping) explain(f *ctct.Field, c *ctct.Contact, err error) error {
	v := f.Get(c)
	switch {
	case f.Name == "CountryCode" && len(v) > 2:
		return fmt.Errorf("%q is neither a two-letter ISO 3166-1 code nor a country name ctctbulk knows", v)
	case f.Name == "StateCode" && len(v) > 2:
		if st, ok := lookupStateName(v); ok {
			return fmt.Errorf("%q is a %s state or province but CountryCode is %q", v, strings.ToUpper(st.country), c.CountryCode)
		}
		return fmt.Errorf("%q is not a US state or Canadian province (code or name)", v)
	case !m.truncate && truncatable(f) && strings.Contains(err.Error(), "characters, at most"):
		return fmt.Errorf("%w (--truncate cuts such values)", err)
	}
	return err
}

// truncatable reports whether --truncate may cut the field's values: free
// text only, never an email address, a code or a postal code, whose cut
// value would be another value.
func truncatable(f *ctct.Field) bool {
	switch f.Name {
	case "EmailAddress", "EmailType", "StateCode", "CountryCode", "PostalCode", "SubPostalCode":
		return false
	}
	return f.MaxLen > 0
}

// cut cuts every free-text value over its field's limit to the limit, at
// a character boundary, and records it.
func (m *Mapping) cut(rec *Record) {
	c := &rec.Contact
	for i := range m.checks {
		p := &m.checks[i]
		if !truncatable(p.field) {
			continue
		}
		v := p.field.Get(c)
		if len(v) <= p.field.MaxLen {
			continue
		}
		n := utf8.RuneCountInString(v)
		if n <= p.field.MaxLen {
			continue
		}
		cutAt := 0
		for range p.field.MaxLen {
			_, size := utf8.DecodeRuneInString(v[cutAt:])
			cutAt += size
		}
		_ = p.field.Set(c, strings.TrimRightFunc(v[:cutAt], unicode.IsSpace))
		rec.Cut = append(rec.Cut, Cut{Field: p.field.Name, Column: m.header[p.idx], From: n, To: p.field.MaxLen})
	}
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
// read-only fields; a value the record derived (a CountryCode from a
// state's name) fills an empty field only; a value the names-to-codes
// rules moved away (Moved) is cleared whatever the policy. It reports
// whether any value changed.
func (r *Record) Apply(dst *ctct.Contact, empty EmptyPolicy) (changed bool) {
	for _, name := range r.Mapped {
		f, ok := ctct.LookupField(name)
		if !ok || !f.Editable {
			continue
		}
		v := f.Get(&r.Contact)
		if v == "" && (empty == EmptyKeep || r.derivedOnly[name]) && !slices.Contains(r.Moved, name) {
			continue
		}
		if r.Dropped != nil && r.Dropped.names(name) || r.derivedOnly[name] && f.Get(dst) != "" {
			continue // not given, or derived: fills an empty value, never replaces one
		}
		if f.Get(dst) != v {
			_ = f.Set(dst, v) // editable fields are text
			changed = true
		}
	}
	return changed
}

// ApplyValues merges what a bulk job would of the record onto dst: its
// non-empty mapped values alone (a job cannot clear a field), and reports
// whether any changed.
func (r *Record) ApplyValues(dst *ctct.Contact) (changed bool) {
	for _, name := range r.Mapped {
		f, ok := ctct.LookupField(name)
		if !ok || !f.Editable {
			continue
		}
		if r.derivedOnly[name] && f.Get(dst) != "" {
			continue // a derived value fills an empty field only
		}
		if v := f.Get(&r.Contact); v != "" && f.Get(dst) != v {
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
