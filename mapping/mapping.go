// Package mapping resolves a CSV header to Contact fields (canonical names,
// aliases, a mapping file, --col options), normalises and validates values
// per the field table of package ctct, and converts rows to and from
// Contacts. It is pure: no I/O, no context, no package-level mutable state.
package mapping

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"ctctbulk/ctct"
)

// Ignore is the field name that makes a mapping ignore a column.
const Ignore = "-"

// SupersededColumn is the column of an error report that names, on a
// failed row, the later row of its file that set the same email: a row
// with a value there is marked (Record.Superseded), so that importing the
// report does not put the older row over the newer one.
const SupersededColumn = "_superseded_by"

// Reasons a Column is ignored.
const (
	ReasonUnknown    = "unknown column"
	ReasonReadOnly   = "read-only field"
	ReasonUnderscore = "starts with _"
	ReasonMappedOut  = "mapped to -"
)

// Options are the explicit mappings given by the user and what else
// resolving a header depends on. Cols win over MapFile, which wins over
// the recognised source's names, which win over the automatic matching by
// name and alias.
type Options struct {
	// MapFile maps a CSV header to a canonical field name, ContactLists, a
	// pseudo field (Status, OptOut, OptOutWhenSet, FullAddress,
	// StreetLines) or "-" to ignore the column (see ParseMapFile). Field
	// names may also be aliases.
	MapFile map[string]string
	// Cols are --col values, "Header=Field" (the last '=' separates them).
	Cols []string
	// From names the system the file comes from (a Source's Name), FromNone
	// for none, or FromAuto (or "") to recognise it from the header.
	From string
	// FileName is the input's name (a ZIP member's): Mailchimp's member
	// files say by their names which hold opt-outs.
	FileName string
	// Truncate cuts a text value over its field's limit to the limit
	// rather than fail the row (see Record.Cut).
	Truncate bool
}

// ParseMapFile parses a mapping file: one "CSV header = Field" per line
// (the last '=' separates them; the header may be enclosed in double
// quotes), '#' starts a comment line, blank lines are skipped, and
// "Header = -" ignores the column. Field may be a canonical name,
// ContactLists or any alias; the result holds canonical names. Errors name
// their line; every bad line is reported.
func ParseMapFile(text string) (map[string]string, error) {
	text = strings.TrimPrefix(text, "\uFEFF")
	out := map[string]string{}
	seen := map[string]int{}
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		h, f, err := splitPair(line)
		if err == nil {
			f, err = resolveField(f)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		if prev, ok := seen[h]; ok {
			errs = append(errs, fmt.Errorf("line %d: column %q is already mapped on line %d", n, h, prev))
			continue
		}
		seen[h] = n
		out[h] = f
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// splitPair splits "Header = Field" at the last '='.
func splitPair(s string) (header, field string, err error) {
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return "", "", fmt.Errorf("%q: want Header = Field", s)
	}
	header = strings.TrimSpace(s[:i])
	field = strings.TrimSpace(s[i+1:])
	if len(header) >= 2 && header[0] == '"' && header[len(header)-1] == '"' {
		header = header[1 : len(header)-1]
	}
	if header == "" {
		return "", "", fmt.Errorf("%q: the column name is empty", s)
	}
	if field == "" {
		return "", "", fmt.Errorf("%q: the field name is empty (use - to ignore the column)", s)
	}
	return header, field, nil
}

// resolveField turns a field name or alias given by the user into its
// canonical name, or Ignore.
func resolveField(f string) (string, error) {
	if f == Ignore {
		return Ignore, nil
	}
	t, ok := lookup(f)
	if !ok {
		return "", fmt.Errorf("%q is not a contact field (see ctctbulk fields)", f)
	}
	if t.kind == kindReadOnly {
		return "", fmt.Errorf("%s is read-only: it cannot be imported", t.name)
	}
	return t.name, nil
}

// Column says what one column of the input maps to.
type Column struct {
	Index  int    // 0-based position in the header
	Header string // as in the file
	// Field is the canonical field name, ContactLists, a pseudo field
	// (Status, OptOut, OptOutWhenSet, FullAddress, StreetLines), or ""
	// when the column is ignored.
	Field string
	// Reason says why it is ignored: "unknown column", "read-only field",
	// "starts with _", "mapped to -", or "FIELD comes from column N".
	Reason string
	// By says what mapped it: "--col", "--map", a source's title, or
	// "name" (its name or an alias of the field).
	By string
}

// colPlan is one mapped editable column, ready for conversion.
type colPlan struct {
	idx   int
	field *ctct.Field
}

// Mapping is a resolved header. It is immutable after Resolve and safe for
// concurrent use.
type Mapping struct {
	header  []string
	columns []Column
	plan    []colPlan // the mapped editable fields' columns, element order
	mapped  []string  // the fields a record sets, element order
	checks  []colPlan // each field of mapped with the column its value comes from
	direct  map[string]bool
	// derivedOnly are the fields of mapped that no column maps: filled by
	// a one-cell address or the names-to-codes rules, never cleared.
	derivedOnly map[string]bool
	// noBulk are the fields of mapped that no bulk column carries.
	noBulk     []*ctct.Field
	lists      int // column of ContactLists, -1 when none
	superseded int // column _superseded_by of an error report, -1 when none
	signals    []signalCol
	composites []compositeCol
	region     bool // a column maps to StateCode, StateName, CountryCode or CountryName
	truncate   bool
	// source is the recognised system, nil when none; kind what sort of
	// its exports the file is; fileSignal the opt-out label of every row
	// when the whole file is of opt-outs.
	source     *Source
	kind       string
	fileSignal string

	chunks  sync.Pool // of *[]Record, see newRecord
	scratch sync.Pool // of *Record, see Validate
}

// MappedFields returns the fields a record of the mapping sets, in element
// order: the mapped ones and those a one-cell address or the
// names-to-codes rules fill.
func (m *Mapping) MappedFields() []string { return slices.Clone(m.mapped) }

// HasListsColumn reports whether a column maps to ContactLists.
func (m *Mapping) HasListsColumn() bool { return m.lists >= 0 }

// HasOptOutSignal reports whether some rows may say their person opted out
// (a status or opt-out column, or a file of opt-outs).
func (m *Mapping) HasOptOutSignal() bool { return m.fileSignal != "" || len(m.signals) > 0 }

// Columns returns what each column of the header maps to, in header order.
func (m *Mapping) Columns() []Column { return slices.Clone(m.columns) }

// Resolve matches the header against the fields. Each column resolves, in
// this order of precedence, through opts.Cols, opts.MapFile, the names of
// the source the header is recognised as (opts.From), its name starting
// with '_' (ignored), or its name compared with field names and aliases
// through NormalizeHeader. Read-only fields are ignored silently; the
// columns that map to nothing are named in one warning. It fails, naming
// the columns, when two columns map to one field, when no column maps to
// EmailAddress, or when an explicit mapping is malformed, names an
// unknown or read-only field, or names a column the header does not have.
// Every problem is reported, joined.
func Resolve(header []string, opts Options) (*Mapping, []string, error) {
	var errs []error
	exp := map[int]string{} // column -> canonical field or Ignore, from opts
	by := map[int]string{}

	fromMap := map[int]string{} // column -> the entry that mapped it
	mapKeys := make([]string, 0, len(opts.MapFile))
	for h := range opts.MapFile {
		mapKeys = append(mapKeys, h)
	}
	slices.Sort(mapKeys)
	for _, h := range mapKeys {
		src := fmt.Sprintf("mapping file entry %q", h+" = "+opts.MapFile[h])
		f, err := resolveField(opts.MapFile[h])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		i, err := findColumn(header, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		if prev, ok := fromMap[i]; ok && exp[i] != f {
			errs = append(errs, fmt.Errorf("%s: column %d %q is already mapped by %s", src, i+1, header[i], prev))
			continue
		}
		fromMap[i] = src
		exp[i], by[i] = f, "--map"
	}
	fromCol := map[int]string{}
	for _, c := range opts.Cols {
		src := fmt.Sprintf("--col %q", c)
		h, f, err := splitPair(c)
		if err == nil {
			f, err = resolveField(f)
		}
		var i int
		if err == nil {
			i, err = findColumn(header, h)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		if prev, ok := fromCol[i]; ok && exp[i] != f {
			errs = append(errs, fmt.Errorf("%s: column %d %q is already mapped by %s", src, i+1, header[i], prev))
			continue
		}
		fromCol[i] = src
		exp[i], by[i] = f, "--col"
	}

	m := &Mapping{header: slices.Clone(header), lists: -1, superseded: -1, truncate: opts.Truncate, direct: map[string]bool{}}
	src, err := m.recognise(header, opts)
	if err != nil {
		errs = append(errs, err)
	}
	// The source's names, for the columns no explicit mapping took: for
	// each field the first of its headers present, unless an explicit
	// mapping gives the field already.
	taken := map[string]int{} // field -> column, for the source's fields
	for _, f := range exp {
		taken[f] = -1
	}
	yielded := map[int]string{}
	if src != nil {
		for _, sc := range src.columns {
			for _, h := range sc.headers {
				i := indexOfKey(header, NormalizeHeader(h))
				if i < 0 {
					continue
				}
				if _, ok := exp[i]; ok {
					continue
				}
				if prev, ok := taken[sc.field]; ok {
					if prev >= 0 {
						yielded[i] = fmt.Sprintf("%s comes from column %d %q", sc.field, prev+1, header[prev])
					} else {
						yielded[i] = sc.field + " comes from an explicit mapping"
					}
					continue
				}
				exp[i], by[i] = sc.field, src.Title
				taken[sc.field] = i
			}
		}
	}

	byField := map[string][]int{}
	for i, h := range header {
		col := Column{Index: i, Header: h, By: by[i]}
		if f, ok := exp[i]; ok {
			if f == Ignore {
				col.Reason = ReasonMappedOut
			} else {
				col.Field = f
			}
		} else if why, ok := yielded[i]; ok {
			col.Reason = why
		} else if strings.HasPrefix(cleanHeader(h), "_") {
			col.Reason = ReasonUnderscore
			if cleanHeader(h) == SupersededColumn && m.superseded < 0 {
				m.superseded = i
			}
		} else if t, ok := lookup(h); !ok {
			col.Reason = ReasonUnknown
		} else if t.kind == kindReadOnly {
			col.Reason = ReasonReadOnly
		} else {
			col.Field, col.By = t.name, "name"
		}
		if col.Field != "" {
			byField[col.Field] = append(byField[col.Field], i)
		}
		m.columns = append(m.columns, col)
	}

	for _, f := range append(editableNames(), ListsField, FieldFullAddress, FieldStreetLines) {
		idx := byField[f]
		if len(idx) < 2 {
			continue
		}
		names := make([]string, len(idx))
		for k, i := range idx {
			names[k] = fmt.Sprintf("%d %q", i+1, header[i])
		}
		errs = append(errs, fmt.Errorf("columns %s all map to %s: keep one, ignore the others with --col 'Header=-'",
			strings.Join(names, ", "), f))
	}
	if len(byField["EmailAddress"]) == 0 {
		errs = append(errs, fmt.Errorf("no column maps to EmailAddress (header: %s): name it with --col 'Header=EmailAddress'",
			quoteAll(header)))
	}
	warnings := m.unmappedWarning()
	if len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}
	m.build(byField)
	return m, warnings, nil
}

// recognise sets the mapping's source from opts.From or the header, and
// what sort of export the file is.
func (m *Mapping) recognise(header []string, opts Options) (*Source, error) {
	k := map[string]bool{}
	for _, h := range header {
		k[NormalizeHeader(h)] = true
	}
	var src *Source
	switch from := strings.ToLower(opts.From); from {
	case "", FromAuto:
		src = detectSource(k)
	case FromNone:
	default:
		s, ok := LookupSource(from)
		if !ok {
			return nil, fmt.Errorf("--from %q: not a source ctctbulk knows (%s, auto or none)", opts.From, strings.Join(SourceNames(), ", "))
		}
		src = s
	}
	if src == nil {
		return nil, nil
	}
	m.source = src
	m.kind, m.fileSignal = src.kind(k, opts.FileName)
	return src, nil
}

// build makes the conversion plan of a resolved header.
func (m *Mapping) build(byField map[string][]int) {
	for _, c := range m.columns {
		switch c.Field {
		case FieldStatus:
			m.signals = append(m.signals, signalCol{idx: c.Index, kind: signalStatus, header: c.Header})
		case FieldOptOut:
			m.signals = append(m.signals, signalCol{idx: c.Index, kind: signalYesNo, header: c.Header})
		case FieldOptOutWhenSet:
			m.signals = append(m.signals, signalCol{idx: c.Index, kind: signalWhenSet, header: c.Header})
		case FieldFullAddress, FieldStreetLines:
			m.composites = append(m.composites, compositeCol{idx: c.Index, field: c.Field})
		}
	}
	sets := map[string]bool{} // the fields a record may set
	for _, f := range ctct.EditableFields() {
		if len(byField[f.Name]) > 0 {
			sets[f.Name] = true
			m.direct[f.Name] = true
		}
	}
	for _, c := range m.composites {
		for _, f := range compositeTargets[c.field] {
			sets[f] = true
		}
	}
	for _, f := range regionFields {
		if sets[f] {
			m.region = true
		}
	}
	if m.region {
		for _, f := range regionFields {
			sets[f] = true
		}
	}
	// The column a derived value comes from, for its errors: the one-cell
	// address that fills it, else the first region column.
	origin := map[string]int{}
	for _, c := range m.composites {
		for _, f := range compositeTargets[c.field] {
			if _, ok := origin[f]; !ok {
				origin[f] = c.idx
			}
		}
	}
	firstRegion := -1
	for _, f := range regionFields {
		if idx := byField[f]; len(idx) > 0 && (firstRegion < 0 || idx[0] < firstRegion) {
			firstRegion = idx[0]
		}
	}
	if firstRegion < 0 && len(m.composites) > 0 {
		firstRegion = m.composites[0].idx
	}
	m.derivedOnly = map[string]bool{}
	for _, f := range ctct.EditableFields() {
		if !sets[f.Name] {
			continue
		}
		m.mapped = append(m.mapped, f.Name)
		if f.Bulk == "" {
			m.noBulk = append(m.noBulk, &f)
		}
		if idx := byField[f.Name]; len(idx) > 0 {
			m.plan = append(m.plan, colPlan{idx: idx[0], field: &f})
			m.checks = append(m.checks, colPlan{idx: idx[0], field: &f})
			continue
		}
		m.derivedOnly[f.Name] = true
		idx, ok := origin[f.Name]
		if !ok {
			idx = firstRegion
		}
		m.checks = append(m.checks, colPlan{idx: idx, field: &f})
	}
	if idx := byField[ListsField]; len(idx) == 1 {
		m.lists = idx[0]
	}
}

// regionFields are the fields the names-to-codes rules move values
// between.
var regionFields = []string{"StateCode", "StateName", "CountryCode", "CountryName"}

// indexOfKey returns the first column whose NormalizeHeader key is key.
func indexOfKey(header []string, key string) int {
	for i, h := range header {
		if NormalizeHeader(h) == key {
			return i
		}
	}
	return -1
}

func editableNames() []string {
	var out []string
	for _, f := range ctct.EditableFields() {
		out = append(out, f.Name)
	}
	return out
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// cleanHeader trims spaces and a byte order mark (or its Windows-1252
// reading).
func cleanHeader(h string) string {
	h = strings.TrimSpace(h)
	h = strings.TrimPrefix(strings.TrimPrefix(h, "\uFEFF"), bomAs1252)
	return strings.TrimSpace(h)
}

// findColumn finds the column a user-given header names: an exact match
// (after trimming spaces) first, else a unique match by NormalizeHeader.
func findColumn(header []string, name string) (int, error) {
	want := cleanHeader(name)
	var exact, loose []int
	for i, h := range header {
		if cleanHeader(h) == want {
			exact = append(exact, i)
		} else if NormalizeHeader(h) == NormalizeHeader(want) && NormalizeHeader(want) != "" {
			loose = append(loose, i)
		}
	}
	pick := exact
	if len(pick) == 0 {
		pick = loose
	}
	switch len(pick) {
	case 0:
		return 0, fmt.Errorf("column %q is not in the file's header (%s)", name, quoteAll(header))
	case 1:
		return pick[0], nil
	}
	cols := make([]string, len(pick))
	for k, i := range pick {
		cols[k] = strconv.Itoa(i + 1)
	}
	return 0, fmt.Errorf("column %q is ambiguous: columns %s match it", name, strings.Join(cols, ", "))
}
