package mapping

import (
	"fmt"
	"strings"
)

// What a mapping says of itself: the line that names the source it
// recognised and what each column was taken as, the one line that names
// the columns left out, and the whole table (import --dry-run).

// Source returns the recognised source (nil when none) and what sort of its
// exports the file is ("unsubscribed export").
func (m *Mapping) Source() (*Source, string) { return m.source, m.kind }

// FileSignal returns the opt-out label every row of the file carries ("" when the file is not
// one of opt-outs).
func (m *Mapping) FileSignal() string { return m.fileSignal }

// Recognised returns the line that says which source the header was
// recognised as and which columns were taken as what, e.g. `recognised a
// Mailchimp unsubscribed export: "Email Address"=EmailAddress
// "First Name"=FirstName ... UNSUB_TIME=opt-out (every row: the file is of
// opt-outs)`; "" when no source was recognised (or it is ctctbulk's own
// export, which needs no word).
func (m *Mapping) Recognised() string {
	if m.source == nil || m.source.Name == SourceCtctbulk {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "recognised %s %s %s:", article(m.source.Title), m.source.Title, m.kind)
	for _, c := range m.columns {
		if c.Field == "" {
			continue
		}
		fmt.Fprintf(&b, " %s=%s", quoteHeader(c.Header), takenAs(c.Field))
	}
	if m.fileSignal != "" {
		b.WriteString(" (every row is carried over as an opt-out: the file is of opt-outs)")
	}
	return b.String()
}

// takenAs is how a message names what a column was taken as.
func takenAs(field string) string {
	switch field {
	case FieldOptOut, FieldOptOutWhenSet:
		return "opt-out"
	case FieldStatus:
		return "status"
	}
	return field
}

func article(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// quoteHeader quotes a header that holds a space, a quote or an '=', or is
// empty.
func quoteHeader(h string) string {
	if h == "" || strings.ContainsAny(h, " \t\"=") {
		return fmt.Sprintf("%q", h)
	}
	return h
}

// unmappedWarning is the one line that names every column the import
// leaves out and is not meant to (not read-only, not _-prefixed, not
// mapped to - on purpose): unknown ones, and those whose field another
// column gives.
func (m *Mapping) unmappedWarning() []string {
	var unknown, yielded []string
	for _, c := range m.columns {
		switch {
		case c.Field != "":
		case c.Reason == ReasonUnknown && cleanHeader(c.Header) == "":
			unknown = append(unknown, fmt.Sprintf("column %d (no name)", c.Index+1))
		case c.Reason == ReasonUnknown:
			unknown = append(unknown, quoteHeader(c.Header))
		case c.Reason != ReasonReadOnly && c.Reason != ReasonUnderscore && c.Reason != ReasonMappedOut:
			yielded = append(yielded, fmt.Sprintf("%s (%s)", quoteHeader(c.Header), c.Reason))
		}
	}
	var parts []string
	if len(unknown) > 0 {
		what := fmt.Sprintf("%d columns match", len(unknown))
		if len(unknown) == 1 {
			what = "1 column matches"
		}
		parts = append(parts, fmt.Sprintf("%s no contact field: %s", what, strings.Join(unknown, ", ")))
	}
	if len(yielded) > 0 {
		parts = append(parts, strings.Join(yielded, ", "))
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{"not imported: " + strings.Join(parts, "; ") + " (map one with --col 'Header=Field')"}
}

// Table returns the whole mapping, one line per column: its number, its
// header, what it is taken as (or why not) and by what, for import
// --dry-run.
func (m *Mapping) Table() [][]string {
	rows := [][]string{{"#", "COLUMN", "TAKEN AS", "BY"}}
	for _, c := range m.columns {
		as := takenAsLong(c.Field)
		if c.Field == "" {
			as = "not imported: " + c.Reason
		}
		rows = append(rows, []string{fmt.Sprint(c.Index + 1), c.Header, as, c.By})
	}
	if m.fileSignal != "" {
		rows = append(rows, []string{"", "(file)", "opt-out, every row: " + m.fileSignal, m.source.Title})
	}
	return rows
}

func takenAsLong(field string) string {
	switch field {
	case FieldOptOut:
		return "opt-out (yes/no)"
	case FieldOptOutWhenSet:
		return "opt-out (when set)"
	case FieldStatus:
		return "status (opt-out words opt out)"
	case FieldFullAddress:
		return "Addr1-3, City, StateCode, PostalCode, CountryCode (one-cell address)"
	case FieldStreetLines:
		return "Addr1-3 (street lines)"
	}
	return field
}
