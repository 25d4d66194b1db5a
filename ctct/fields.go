// Package ctct speaks the Constant Contact XML/Atom contacts API: the Contact
// model and its field table, the Atom/XML codec, and a Client with
// authentication, rate limiting, retries, pagination and typed errors.
// It knows nothing of CSV.
package ctct

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Contact statuses as the API spells them.
const (
	StatusActive      = "Active"
	StatusUnconfirmed = "Unconfirmed"
	StatusRemoved     = "Removed"
	StatusDoNotMail   = "Do Not Mail"
)

// Opt-in and opt-out sources, exact case.
const (
	ActionByCustomer = "ACTION_BY_CUSTOMER"
	ActionByContact  = "ACTION_BY_CONTACT"
)

// Email types.
const (
	EmailTypeHTML = "HTML"
	EmailTypeText = "Text"
)

// Field describes one element of a Contact: its canonical name (the XML
// element and CSV header), the longest value the API accepts, whether an
// owner may set it, and, for enumerations, the values it accepts.
type Field struct {
	Name     string
	MaxLen   int      // 0 means no limit enforced here
	Editable bool     // false: read-only, set by the server
	Allowed  []string // non-empty: the value must be one of these (exact case) or empty
	// Summary is true for the fields a listing entry carries.
	Summary bool
	// Bulk is the field's column in the bulk Activities CSV (the data
	// parameter and the export file), its canonical name; "" when the field
	// has no bulk column. BulkAliases are other spellings the server
	// accepts. Both match case-insensitively.
	Bulk        string
	BulkAliases []string
}

// NumCustomFields is the number of CustomFieldN elements a contact has.
const NumCustomFields = 15

// fieldTable is the field table in the order a full GET returns the
// elements, up to and including CustomField15. ContactLists and the trailing
// read-only times are handled by the codec because they are not plain text.
// It is built once and never modified; Fields hands out copies.
var fieldTable = buildFieldTable()

// editableTable is the editable part of fieldTable, never modified.
var editableTable = func() []Field {
	var out []Field
	for _, f := range fieldTable {
		if f.Editable {
			out = append(out, f)
		}
	}
	return out
}()

// contactFields returns the shared, read-only field table.
func contactFields() []Field { return fieldTable }

func buildFieldTable() []Field {
	text50 := func(name string) Field { return Field{Name: name, MaxLen: 50, Editable: true} }
	fs := []Field{
		{Name: "Status", Summary: true},
		{Name: "EmailAddress", MaxLen: 80, Editable: true, Summary: true},
		{Name: "EmailType", Editable: true, Allowed: []string{EmailTypeHTML, EmailTypeText}, Summary: true},
		{Name: "Name", Summary: true},
		text50("FirstName"),
		text50("MiddleName"),
		text50("LastName"),
		text50("JobTitle"),
		text50("CompanyName"),
		text50("HomePhone"),
		text50("WorkPhone"),
		text50("Addr1"),
		text50("Addr2"),
		text50("Addr3"),
		text50("City"),
		{Name: "StateCode", MaxLen: 2, Editable: true},
		text50("StateName"),
		{Name: "CountryCode", MaxLen: 2, Editable: true},
		text50("CountryName"),
		{Name: "PostalCode", MaxLen: 25, Editable: true},
		{Name: "SubPostalCode", MaxLen: 25, Editable: true},
		{Name: "Note", MaxLen: 500, Editable: true},
	}
	for i := 1; i <= NumCustomFields; i++ {
		fs = append(fs, text50(fmt.Sprintf("CustomField%d", i)))
	}
	// The bulk columns of BULK.md, row by row: the canonical name first,
	// then the accepted aliases. CountryName and the read-only fields have
	// none.
	bulk := map[string][]string{
		"EmailAddress":  {"Email Address"},
		"EmailType":     {"Email Type"},
		"FirstName":     {"First Name"},
		"MiddleName":    {"Middle Name"},
		"LastName":      {"Last Name"},
		"JobTitle":      {"Job Title"},
		"CompanyName":   {"Company Name"},
		"HomePhone":     {"Home Phone"},
		"WorkPhone":     {"Work Phone"},
		"Addr1":         {"Address Line 1"},
		"Addr2":         {"Address Line 2"},
		"Addr3":         {"Address Line 3"},
		"City":          {"City"},
		"StateCode":     {"US State/CA Province", "State/Province (US/Canada)"},
		"StateName":     {"Other State/Province", "State"},
		"CountryCode":   {"Country"},
		"PostalCode":    {"Zip/Postal Code", "Postal Code"},
		"SubPostalCode": {"Sub Zip/Postal Code", "Sub Postal Code"},
		"Note":          {"Notes"},
	}
	for i := 1; i <= NumCustomFields; i++ {
		bulk[fmt.Sprintf("CustomField%d", i)] = []string{fmt.Sprintf("Custom Field %d", i)}
	}
	for i := range fs {
		if names, ok := bulk[fs[i].Name]; ok {
			fs[i].Bulk, fs[i].BulkAliases = names[0], names[1:]
		}
	}
	return fs
}

// Fields returns the field table: every plain-text element of a full
// Contact in the order GET returns them. The slice is a fresh copy.
func Fields() []Field { return append([]Field(nil), fieldTable...) }

// EditableFields returns the fields an owner may set, in element order, as
// a fresh copy.
func EditableFields() []Field { return append([]Field(nil), editableTable...) }

// LookupField finds a field of the table by its exact canonical name.
func LookupField(name string) (Field, bool) {
	for _, f := range contactFields() {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// CheckValue validates one value against the field's rules: length in
// characters, allowed values and XML 1.0 characters. Empty values pass.
// It does not check email syntax or state/country consistency; see
// CheckContact for those.
func (f Field) CheckValue(v string) error {
	if v == "" {
		return nil
	}
	if err := CheckXMLText(v); err != nil {
		return err
	}
	if f.MaxLen > 0 {
		if n := len([]rune(v)); n > f.MaxLen {
			return fmt.Errorf("%d characters, at most %d allowed", n, f.MaxLen)
		}
	}
	if len(f.Allowed) > 0 {
		for _, a := range f.Allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(f.Allowed, ", "))
	}
	return nil
}

// CheckXMLText reports the first character that XML 1.0 forbids (control
// characters other than tab, CR and LF, surrogates, U+FFFE, U+FFFF) or
// invalid UTF-8.
func CheckXMLText(s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		}
		if !isXMLChar(r) {
			return fmt.Errorf("character U+%04X at byte %d is not allowed in XML", r, i)
		}
		i += size
	}
	return nil
}

func isXMLChar(r rune) bool {
	switch {
	case r == 0x09 || r == 0x0A || r == 0x0D:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// CheckOptSource validates an OptInSource or OptOutSource value.
func CheckOptSource(v string) error {
	if v == ActionByCustomer || v == ActionByContact {
		return nil
	}
	return fmt.Errorf("%q is not %s or %s", v, ActionByCustomer, ActionByContact)
}
