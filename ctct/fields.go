// Package ctct speaks the Constant Contact XML/Atom contacts API: the Contact
// model and its field table, the Atom/XML codec, and a Client with
// authentication, rate limiting, retries, pagination and typed errors.
// It knows nothing of CSV files; the field table names the columns that
// carry each field (canonical name and aliases) so that every package reads
// them from one place.
package ctct

import (
	"fmt"
	"strings"
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

// Kind says how a Contact holds a field and how the codec writes it.
type Kind int

const (
	// Element is a text element of every full entry, written in table
	// order: Status ... CustomField15.
	Element Kind = iota
	// Meta is text the codec writes in its own order, some of it only when
	// set: OptInSource, OptInTime, the opt-out data and the server's times.
	Meta
	// Derived is a value computed from the Contact rather than held as
	// text: Id (the number of Contact.ID) and ContactLists (the list
	// numbers joined by ';'). It can be read, not set.
	Derived
)

// Field describes one field of a Contact: its canonical name (the XML
// element and the CSV header), the longest value the API accepts, whether
// an owner may set it, for enumerations the values it accepts, the other
// headers a CSV file may use for it, and how to read and write it in a
// Contact. Get and Set are the only way from a field name to a Contact's
// value.
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
	// Kind says how the Contact holds the field.
	Kind Kind
	// Aliases are the other headers of a CSV column holding the field, as
	// a person would write them (Constant Contact's own export column
	// names among them). Matching is the importer's business; spellings
	// that match alike are listed once.
	Aliases []string

	rule rule                   // see Check and Normalize
	ptr  func(*Contact) *string // Element and Meta
	get  func(*Contact) string  // Derived
}

// NumCustomFields is the number of CustomFieldN elements a contact has.
const NumCustomFields = 15

// Names of the fields that packages treat apart from the others.
const (
	FieldID           = "Id"
	FieldContactLists = "ContactLists"
)

// fieldTable is the field table in the order of an export's columns: Id,
// the elements of a full GET in their order (Status ... CustomField15),
// ContactLists, then the opt-in, opt-out and read-only times. It is built
// once and never modified; Fields hands out copies.
var fieldTable = buildFieldTable()

// fieldIndex maps each canonical name to its row of fieldTable; never
// modified.
var fieldIndex = func() map[string]*Field {
	m := make(map[string]*Field, len(fieldTable))
	for i := range fieldTable {
		m[fieldTable[i].Name] = &fieldTable[i]
	}
	return m
}()

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

func buildFieldTable() []Field {
	text := func(name string, p func(*Contact) *string, aliases ...string) Field {
		return Field{Name: name, MaxLen: 50, Editable: true, ptr: p, Aliases: aliases}
	}
	meta := func(name string, p func(*Contact) *string) Field {
		return Field{Name: name, Kind: Meta, ptr: p}
	}
	fs := []Field{
		{Name: FieldID, Kind: Derived, get: contactNumber, Aliases: []string{"Contact Id"}},
		{Name: "Status", Summary: true, ptr: func(c *Contact) *string { return &c.Status }, Aliases: []string{"Email Status"}},
		{Name: "EmailAddress", MaxLen: 80, Editable: true, Summary: true, rule: ruleEmail, ptr: func(c *Contact) *string { return &c.EmailAddress },
			Aliases: []string{"Email", "Email Address", "E-mail", "E-mail Address"}},
		{Name: "EmailType", Editable: true, Allowed: []string{EmailTypeHTML, EmailTypeText}, Summary: true,
			ptr: func(c *Contact) *string { return &c.EmailType }, Aliases: []string{"Email Type", "Email Format"}},
		{Name: "Name", Summary: true, ptr: func(c *Contact) *string { return &c.Name }},
		text("FirstName", func(c *Contact) *string { return &c.FirstName }, "First Name", "Given Name", "Forename"),
		text("MiddleName", func(c *Contact) *string { return &c.MiddleName }, "Middle Name", "Middle Initial"),
		text("LastName", func(c *Contact) *string { return &c.LastName }, "Last Name", "Surname", "Family Name"),
		text("JobTitle", func(c *Contact) *string { return &c.JobTitle }, "Job Title", "Title", "Position"),
		text("CompanyName", func(c *Contact) *string { return &c.CompanyName }, "Company", "Company Name", "Organization", "Organisation"),
		text("HomePhone", func(c *Contact) *string { return &c.HomePhone }, "Home Phone", "Phone", "Phone Number"),
		text("WorkPhone", func(c *Contact) *string { return &c.WorkPhone }, "Work Phone", "Business Phone", "Office Phone"),
		text("Addr1", func(c *Contact) *string { return &c.Addr1 }, "Address", "Address 1", "Address Line 1", "Street", "Street Address"),
		text("Addr2", func(c *Contact) *string { return &c.Addr2 }, "Address 2", "Address Line 2"),
		text("Addr3", func(c *Contact) *string { return &c.Addr3 }, "Address 3", "Address Line 3"),
		text("City", func(c *Contact) *string { return &c.City }, "Town"),
		{Name: "StateCode", MaxLen: 2, Editable: true, rule: ruleState, ptr: func(c *Contact) *string { return &c.StateCode },
			Aliases: []string{"State", "State Code", "Province", "State/Province", "State/Province (US/Canada)"}},
		text("StateName", func(c *Contact) *string { return &c.StateName }, "State Name", "Province Name", "State/Province (Other)"),
		{Name: "CountryCode", MaxLen: 2, Editable: true, rule: ruleCountry, ptr: func(c *Contact) *string { return &c.CountryCode },
			Aliases: []string{"Country Code"}},
		text("CountryName", func(c *Contact) *string { return &c.CountryName }, "Country", "Country Name"),
		{Name: "PostalCode", MaxLen: 25, Editable: true, ptr: func(c *Contact) *string { return &c.PostalCode },
			Aliases: []string{"Zip", "Zip Code", "Postcode", "Postal Code", "Zip/Postal Code"}},
		{Name: "SubPostalCode", MaxLen: 25, Editable: true, ptr: func(c *Contact) *string { return &c.SubPostalCode },
			Aliases: []string{"Sub Zip/Postal Code", "Zip+4", "Sub Postal Code"}},
		{Name: "Note", MaxLen: 500, Editable: true, ptr: func(c *Contact) *string { return &c.Note }, Aliases: []string{"Notes"}},
	}
	for i := 1; i <= NumCustomFields; i++ {
		n := i - 1
		fs = append(fs, text(fmt.Sprintf("CustomField%d", i), func(c *Contact) *string { return &c.CustomFields[n] },
			fmt.Sprintf("Custom Field %d", i), fmt.Sprintf("CF%d", i), fmt.Sprintf("Custom %d", i)))
	}
	fs = append(fs,
		Field{Name: FieldContactLists, Kind: Derived, get: listNumbers,
			Aliases: []string{"Lists", "List", "Contact Lists", "List IDs", "List ID"}},
		meta("OptInSource", func(c *Contact) *string { return &c.OptInSource }),
		meta("OptInTime", func(c *Contact) *string { return &c.OptInTime }),
		meta("OptOutTime", func(c *Contact) *string { return &c.OptOutTime }),
		meta("OptOutSource", func(c *Contact) *string { return &c.OptOutSource }),
		meta("OptOutReason", func(c *Contact) *string { return &c.OptOutReason }),
		meta("Confirmed", func(c *Contact) *string { return &c.Confirmed }),
		meta("InsertTime", func(c *Contact) *string { return &c.InsertTime }),
		meta("LastUpdateTime", func(c *Contact) *string { return &c.LastUpdateTime }),
	)
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

// contactNumber is the Id of a contact: the number ending its id URI, ""
// for a contact not created yet.
func contactNumber(c *Contact) string {
	if c.ID == "" {
		return ""
	}
	return Number(c.ID)
}

// listNumbers is the ContactLists of a contact: its list numbers joined
// by ';'.
func listNumbers(c *Contact) string {
	ids := make([]string, len(c.Lists))
	for i, l := range c.Lists {
		ids[i] = Number(l.ID)
	}
	return strings.Join(ids, ";")
}

// Fields returns the field table: every field of a Contact in the order of
// an export's columns (Id, Status ... CustomField15, ContactLists,
// OptInSource ... LastUpdateTime). The slice is a fresh copy.
func Fields() []Field { return append([]Field(nil), fieldTable...) }

// EditableFields returns the fields an owner may set, in element order, as
// a fresh copy.
func EditableFields() []Field { return append([]Field(nil), editableTable...) }

// LookupField finds a field of the table by its exact canonical name.
func LookupField(name string) (Field, bool) {
	if f, ok := fieldIndex[name]; ok {
		return *f, true
	}
	return Field{}, false
}

// Get returns the field's value in c. Safe for concurrent use with other
// reads of c.
func (f *Field) Get(c *Contact) string {
	if f.ptr != nil {
		return *f.ptr(c)
	}
	if f.get != nil {
		return f.get(c)
	}
	return ""
}

// Set stores v as the field's value in c. It fails for a Derived field,
// which is not held as text.
func (f *Field) Set(c *Contact, v string) error {
	if f.ptr == nil {
		return fmt.Errorf("contact field %s cannot be set as text", f.Name)
	}
	*f.ptr(c) = v
	return nil
}
