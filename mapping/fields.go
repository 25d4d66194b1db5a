package mapping

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"ctctbulk/ctct"
)

// ListsField is the pseudo field of the column that names per-row lists.
const ListsField = ctct.FieldContactLists

// fieldKind says what a resolved header names.
type fieldKind int

const (
	kindUnknown  fieldKind = iota
	kindEditable           // an editable text field of ctct.Contact
	kindLists              // the ContactLists column
	kindReadOnly           // a field the server sets
	kindPseudo             // a pseudo field: an opt-out signal or a one-cell address
)

// PseudoField is a mapping target that is not a field of the contact: a
// column that says the person opted out, or an address held in one cell.
type PseudoField struct {
	Name    string
	Limit   string   // what its cells hold, in a few words
	Aliases []string // the headers that map to it with no mapping
}

// pseudoFields are the pseudo fields, with the headers recognised as each
// whatever the file's source (opt-outs are never left to chance).
var pseudoFields = []PseudoField{
	{FieldStatus, "status word: an opt-out word opts out, Removed skips, an unknown word fails the row",
		[]string{"Email Status", "MEMBER_STATUS", "Member Status", "Subscription Status", "Subscriber Status", "Email Subscription Status"}},
	{FieldOptOut, "yes/no: true, yes, 1, x opt out; false, no, 0, empty do not",
		[]string{"Opt Out", "Opted Out", "Email Opt Out", "Email Opt-Out", "HasOptedOutOfEmail", "Unsubscribed",
			"Unsubscribed from all email", "Opted out of all email", "Do Not Email", "DoNotEmail", "Do Not Mail", "Unsubscribe"}},
	{FieldOptOutWhenSet, "any value opts out (a date of unsubscription, a bounce reason)",
		[]string{"UNSUB_TIME", "CLEAN_TIME", "Unsubscribe Date", "Unsubscribed Date", "Opt Out Date", "Email hard bounce reason",
			"Email Bounced Reason", "EmailBouncedReason", "Bounce Reason", "Hard Bounce Reason"}},
	{FieldFullAddress, "one-cell address, split into Addr1-3, City, StateCode, PostalCode, CountryCode", nil},
	{FieldStreetLines, "street lines in one cell, split into Addr1, Addr2, Addr3", nil},
}

// PseudoFields returns the pseudo fields with their aliases, for
// `ctctbulk fields`. The slice is fresh on each call.
func PseudoFields() []PseudoField { return slices.Clone(pseudoFields) }

// target is what a normalised header key resolves to.
type target struct {
	name string // canonical name
	kind fieldKind
}

// index maps NormalizeHeader keys to fields. It is built once and never
// written afterwards.
var index = buildIndex()

func buildIndex() map[string]target {
	idx := map[string]target{}
	add := func(key string, t target) {
		if old, ok := idx[key]; ok && old != t {
			panic(fmt.Sprintf("mapping: header key %q maps to both %s and %s", key, old.name, t.name))
		}
		idx[key] = t
	}
	for _, f := range ctct.Fields() {
		k := kindReadOnly
		switch {
		case f.Editable:
			k = kindEditable
		case f.Name == ListsField:
			k = kindLists
		}
		if f.Name == FieldStatus {
			continue // a pseudo field for the import, below
		}
		for _, h := range append([]string{f.Name}, f.Aliases...) {
			add(NormalizeHeader(h), target{f.Name, k})
		}
	}
	for _, p := range pseudoFields {
		for _, h := range append([]string{p.Name}, p.Aliases...) {
			add(NormalizeHeader(h), target{p.Name, kindPseudo})
		}
	}
	return idx
}

// lookup resolves a header or field name (canonical or alias).
func lookup(name string) (target, bool) {
	t, ok := index[NormalizeHeader(name)]
	return t, ok
}

// bomAs1252 is a UTF-8 byte order mark decoded as Windows-1252.
const bomAs1252 = "\u00ef\u00bb\u00bf"

// NormalizeHeader returns the key used to match a CSV header (or a field
// name in a mapping) against field names and aliases: the text lower-cased,
// keeping only letters, digits and '+'. Spaces, '_', '-', '.', '/',
// parentheses, a byte order mark (or its Windows-1252 reading "ï»¿") and
// any other punctuation or invisible character are dropped, so "E-mail
// Address", "email_address" and "\uFEFFEmailAddress" all give
// "emailaddress".
func NormalizeHeader(h string) string {
	h = strings.TrimPrefix(strings.TrimSpace(h), bomAs1252)
	var b strings.Builder
	b.Grow(len(h))
	for _, r := range h {
		switch {
		case r < 0x80:
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '+':
				b.WriteRune(r)
			case r >= 'A' && r <= 'Z':
				b.WriteRune(r + 'a' - 'A')
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// Docs returns every field a CSV column can name, as the field table
// describes it: the editable fields in element order, then ContactLists,
// then the read-only fields an import ignores. The slice is fresh on each
// call.
func Docs() []ctct.Field {
	var editable, lists, readOnly []ctct.Field
	for _, f := range ctct.Fields() {
		switch {
		case f.Editable:
			editable = append(editable, f)
		case f.Name == ListsField:
			lists = append(lists, f)
		default:
			readOnly = append(readOnly, f)
		}
	}
	return slices.Concat(editable, lists, readOnly)
}
