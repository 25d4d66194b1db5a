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

// Reasons a Column is ignored.
const (
	ReasonUnknown    = "unknown column"
	ReasonReadOnly   = "read-only field"
	ReasonUnderscore = "starts with _"
	ReasonMappedOut  = "mapped to -"
)

// Options are the explicit mappings given by the user. Cols win over
// MapFile, which wins over the automatic matching by name and alias.
type Options struct {
	// MapFile maps a CSV header to a canonical field name, ContactLists,
	// or "-" to ignore the column (see ParseMapFile). Field names may also
	// be aliases.
	MapFile map[string]string
	// Cols are --col values, "Header=Field" (the last '=' separates them).
	Cols []string
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
	Field  string // canonical field name, "ContactLists", or "" when ignored
	Reason string // why it is ignored: "unknown column", "read-only field", "starts with _", "mapped to -"
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
	plan    []colPlan // editable fields, element order
	mapped  []string  // plan's field names
	lists   int       // column of ContactLists, -1 when none
	status  int       // column of the read-only Status, -1 when none

	chunks  sync.Pool // of *[]Record, see newRecord
	scratch sync.Pool // of *Record, see Validate
}

// StatusColumn returns the index of the column that holds the read-only
// Status (an export's), or -1. The import does not set a status from it,
// but must not make a contact that opted out Active again.
func (m *Mapping) StatusColumn() int { return m.status }

// HasListsColumn reports whether a column maps to ContactLists.
func (m *Mapping) HasListsColumn() bool { return m.lists >= 0 }

// Columns returns what each column of the header maps to, in header order.
func (m *Mapping) Columns() []Column { return slices.Clone(m.columns) }

// Resolve matches the header against the fields. Each column resolves, in
// this order of precedence, through opts.Cols, opts.MapFile, its name
// starting with '_' (ignored), or its name compared with field names and
// aliases through NormalizeHeader. Read-only fields are ignored silently;
// an unknown column gives one warning. It fails, naming the columns, when
// two columns map to one field, when no column maps to EmailAddress, or
// when an explicit mapping is malformed, names an unknown or read-only
// field, or names a column the header does not have. Every problem is
// reported, joined.
func Resolve(header []string, opts Options) (*Mapping, []string, error) {
	var errs []error
	exp := map[int]string{} // column -> canonical field or Ignore, from opts

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
		exp[i] = f
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
		exp[i] = f
	}

	m := &Mapping{header: slices.Clone(header), lists: -1, status: -1}
	var warnings []string
	byField := map[string][]int{}
	for i, h := range header {
		col := Column{Index: i, Header: h}
		if f, ok := exp[i]; ok {
			if f == Ignore {
				col.Reason = ReasonMappedOut
			} else {
				col.Field = f
			}
		} else if strings.HasPrefix(cleanHeader(h), "_") {
			col.Reason = ReasonUnderscore
		} else if t, ok := lookup(h); !ok {
			col.Reason = ReasonUnknown
			if cleanHeader(h) == "" {
				warnings = append(warnings, fmt.Sprintf("column %d has no name: ignored", i+1))
			} else {
				warnings = append(warnings, fmt.Sprintf("column %d %q is not a contact field: ignored", i+1, h))
			}
		} else if t.kind == kindReadOnly {
			col.Reason = ReasonReadOnly
			if t.name == "Status" && m.status < 0 {
				m.status = i
			}
		} else {
			col.Field = t.name
		}
		if col.Field != "" {
			byField[col.Field] = append(byField[col.Field], i)
		}
		m.columns = append(m.columns, col)
	}

	for _, f := range append(editableNames(), ListsField) {
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
	if len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}

	for _, f := range ctct.EditableFields() {
		idx := byField[f.Name]
		if len(idx) == 0 {
			continue
		}
		m.plan = append(m.plan, colPlan{idx: idx[0], field: &f})
		m.mapped = append(m.mapped, f.Name)
	}
	if idx := byField[ListsField]; len(idx) == 1 {
		m.lists = idx[0]
	}
	return m, warnings, nil
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
