package mapping

import (
	"fmt"
	"strings"
	"unicode"

	"ctctbulk/ctct"
)

// ListsField is the pseudo field of the column that names per-row lists.
const ListsField = "ContactLists"

// readOnlyFields are the columns of an export that an import ignores
// silently: the server sets them.
var readOnlyFields = []string{
	"Id", "Status", "Name", "OptInSource", "OptInTime", "OptOutTime",
	"OptOutSource", "OptOutReason", "Confirmed", "InsertTime", "LastUpdateTime",
}

// aliasTable gives, for each canonical field name, the other spellings a
// CSV header may use, as a person would write them (shown by Docs). Matching
// goes through NormalizeHeader, so "E-mail Address" also covers
// "e_mail address", "EMAIL-ADDRESS" and so on; spellings that normalise to
// the same key as another entry of the same field are listed once.
// Constant Contact's own export column names are all here.
func aliasTable() map[string][]string {
	t := map[string][]string{
		"EmailAddress":  {"Email", "Email Address", "E-mail", "E-mail Address"},
		"EmailType":     {"Email Type", "Email Format"},
		"FirstName":     {"First Name", "Given Name", "Forename"},
		"MiddleName":    {"Middle Name", "Middle Initial"},
		"LastName":      {"Last Name", "Surname", "Family Name"},
		"JobTitle":      {"Job Title", "Title", "Position"},
		"CompanyName":   {"Company", "Company Name", "Organization", "Organisation"},
		"HomePhone":     {"Home Phone", "Phone", "Phone Number"},
		"WorkPhone":     {"Work Phone", "Business Phone", "Office Phone"},
		"Addr1":         {"Address", "Address 1", "Address Line 1", "Street", "Street Address"},
		"Addr2":         {"Address 2", "Address Line 2"},
		"Addr3":         {"Address 3", "Address Line 3"},
		"City":          {"Town"},
		"StateCode":     {"State", "State Code", "Province", "State/Province", "State/Province (US/Canada)"},
		"StateName":     {"State Name", "Province Name", "State/Province (Other)"},
		"CountryCode":   {"Country Code"},
		"CountryName":   {"Country", "Country Name"},
		"PostalCode":    {"Zip", "Zip Code", "Postcode", "Postal Code", "Zip/Postal Code"},
		"SubPostalCode": {"Sub Zip/Postal Code", "Zip+4", "Sub Postal Code"},
		"Note":          {"Notes"},
		ListsField:      {"Lists", "List", "Contact Lists", "List IDs", "List ID"},
		"Id":            {"Contact Id"},
		"Status":        {"Email Status"},
	}
	for i := 1; i <= ctct.NumCustomFields; i++ {
		t[fmt.Sprintf("CustomField%d", i)] = []string{
			fmt.Sprintf("Custom Field %d", i),
			fmt.Sprintf("CF%d", i),
			fmt.Sprintf("Custom %d", i),
		}
	}
	return t
}

// fieldKind says what a resolved header names.
type fieldKind int

const (
	kindUnknown  fieldKind = iota
	kindEditable           // an editable text field of ctct.Contact
	kindLists              // the ContactLists column
	kindReadOnly           // a field the server sets
)

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
	kinds := map[string]fieldKind{ListsField: kindLists}
	for _, f := range ctct.EditableFields() {
		kinds[f.Name] = kindEditable
	}
	for _, n := range readOnlyFields {
		kinds[n] = kindReadOnly
	}
	for name, k := range kinds {
		add(NormalizeHeader(name), target{name, k})
	}
	for name, as := range aliasTable() {
		k, ok := kinds[name]
		if !ok {
			panic("mapping: alias table names unknown field " + name)
		}
		for _, a := range as {
			add(NormalizeHeader(a), target{name, k})
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

// FieldDoc describes one mappable column for `ctctbulk fields`.
type FieldDoc struct {
	Name    string   // canonical name, also the export header
	Limit   string   // e.g. "50 chars", "HTML|Text", "2 chars, US/CA code", "read-only"
	Aliases []string // other headers that map to it
}

// Docs returns every field a CSV column can name: the editable fields in
// element order, then ContactLists, then the read-only fields an import
// ignores. The slice is fresh on each call.
func Docs() []FieldDoc {
	at := aliasTable()
	var out []FieldDoc
	for _, f := range ctct.EditableFields() {
		out = append(out, FieldDoc{Name: f.Name, Limit: limitDoc(f), Aliases: at[f.Name]})
	}
	out = append(out, FieldDoc{Name: ListsField, Limit: "list ids or names separated by ;", Aliases: at[ListsField]})
	for _, n := range readOnlyFields {
		out = append(out, FieldDoc{Name: n, Limit: "read-only", Aliases: at[n]})
	}
	return out
}

func limitDoc(f ctct.Field) string {
	switch f.Name {
	case "EmailAddress":
		return fmt.Sprintf("%d chars, required, valid address", f.MaxLen)
	case "StateCode":
		return fmt.Sprintf("%d chars, US/CA code", f.MaxLen)
	case "CountryCode":
		return fmt.Sprintf("%d chars, ISO 3166-1 code", f.MaxLen)
	}
	if len(f.Allowed) > 0 {
		return strings.Join(f.Allowed, "|")
	}
	if f.MaxLen > 0 {
		return fmt.Sprintf("%d chars", f.MaxLen)
	}
	return ""
}

// accessor returns a function giving the address of the named text field
// of a Contact, or nil for a name that is not one. It is the fast
// equivalent of Contact.Get/Set, resolved once per column instead of once
// per cell.
func accessor(name string) func(*ctct.Contact) *string {
	switch name {
	case "Status":
		return func(c *ctct.Contact) *string { return &c.Status }
	case "EmailAddress":
		return func(c *ctct.Contact) *string { return &c.EmailAddress }
	case "EmailType":
		return func(c *ctct.Contact) *string { return &c.EmailType }
	case "Name":
		return func(c *ctct.Contact) *string { return &c.Name }
	case "FirstName":
		return func(c *ctct.Contact) *string { return &c.FirstName }
	case "MiddleName":
		return func(c *ctct.Contact) *string { return &c.MiddleName }
	case "LastName":
		return func(c *ctct.Contact) *string { return &c.LastName }
	case "JobTitle":
		return func(c *ctct.Contact) *string { return &c.JobTitle }
	case "CompanyName":
		return func(c *ctct.Contact) *string { return &c.CompanyName }
	case "HomePhone":
		return func(c *ctct.Contact) *string { return &c.HomePhone }
	case "WorkPhone":
		return func(c *ctct.Contact) *string { return &c.WorkPhone }
	case "Addr1":
		return func(c *ctct.Contact) *string { return &c.Addr1 }
	case "Addr2":
		return func(c *ctct.Contact) *string { return &c.Addr2 }
	case "Addr3":
		return func(c *ctct.Contact) *string { return &c.Addr3 }
	case "City":
		return func(c *ctct.Contact) *string { return &c.City }
	case "StateCode":
		return func(c *ctct.Contact) *string { return &c.StateCode }
	case "StateName":
		return func(c *ctct.Contact) *string { return &c.StateName }
	case "CountryCode":
		return func(c *ctct.Contact) *string { return &c.CountryCode }
	case "CountryName":
		return func(c *ctct.Contact) *string { return &c.CountryName }
	case "PostalCode":
		return func(c *ctct.Contact) *string { return &c.PostalCode }
	case "SubPostalCode":
		return func(c *ctct.Contact) *string { return &c.SubPostalCode }
	case "Note":
		return func(c *ctct.Contact) *string { return &c.Note }
	case "OptInSource":
		return func(c *ctct.Contact) *string { return &c.OptInSource }
	case "OptInTime":
		return func(c *ctct.Contact) *string { return &c.OptInTime }
	case "OptOutTime":
		return func(c *ctct.Contact) *string { return &c.OptOutTime }
	case "OptOutSource":
		return func(c *ctct.Contact) *string { return &c.OptOutSource }
	case "OptOutReason":
		return func(c *ctct.Contact) *string { return &c.OptOutReason }
	case "Confirmed":
		return func(c *ctct.Contact) *string { return &c.Confirmed }
	case "InsertTime":
		return func(c *ctct.Contact) *string { return &c.InsertTime }
	case "LastUpdateTime":
		return func(c *ctct.Contact) *string { return &c.LastUpdateTime }
	}
	for i := 1; i <= ctct.NumCustomFields; i++ {
		if name == fmt.Sprintf("CustomField%d", i) {
			n := i - 1
			return func(c *ctct.Contact) *string { return &c.CustomFields[n] }
		}
	}
	return nil
}
