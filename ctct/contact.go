package ctct

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Contact is one contact of the account. Text fields hold the element text
// as the API gives it; times are kept as the API's strings so that they
// round-trip unchanged. A Contact decoded from a listing entry carries only
// the summary fields (see Field.Summary) and Full is false.
type Contact struct {
	// ID is the absolute id URI, e.g.
	// http://api.constantcontact.com/ws/customers/joe/contacts/2.
	// Empty for a contact not created yet.
	ID string

	Status        string
	EmailAddress  string
	EmailType     string
	Name          string
	FirstName     string
	MiddleName    string
	LastName      string
	JobTitle      string
	CompanyName   string
	HomePhone     string
	WorkPhone     string
	Addr1         string
	Addr2         string
	Addr3         string
	City          string
	StateCode     string
	StateName     string
	CountryCode   string
	CountryName   string
	PostalCode    string
	SubPostalCode string
	Note          string
	CustomFields  [NumCustomFields]string // CustomField1 is CustomFields[0]

	// Lists are the contact's list memberships.
	Lists []ListMembership

	// Contact-level opt-in (listing entries and creation) and opt-out data.
	OptInSource  string
	OptInTime    string
	OptOutTime   string
	OptOutSource string
	OptOutReason string

	Confirmed      string
	InsertTime     string
	LastUpdateTime string

	// Full is true when the contact came from a GET of the contact itself
	// (every element present), false for a listing or search entry.
	Full bool
}

// ListMembership is one ContactList element inside a Contact.
type ListMembership struct {
	ID          string // absolute list id URI
	OptInSource string
	OptInTime   string
}

// Get returns the value of the named field of the field table ("" for an
// unknown name).
func (c *Contact) Get(name string) string {
	if f, ok := fieldIndex[name]; ok {
		return f.Get(c)
	}
	return ""
}

// Set stores the value of the named field. It reports an error for a name
// that is not a text field of a Contact.
func (c *Contact) Set(name, value string) error {
	f, ok := fieldIndex[name]
	if !ok {
		return fmt.Errorf("unknown contact field %q", name)
	}
	return f.Set(c, value)
}

// Number returns the trailing number of an id URI or path such as
// ".../contacts/42" or ".../lists/7" ("42", "7"), or "" when there is none.
func Number(id string) string {
	p := id
	if u, err := url.Parse(id); err == nil && u.Path != "" {
		p = u.Path
	}
	return path.Base(strings.TrimRight(p, "/"))
}

// HasList reports whether the contact is a member of the list whose id
// URI ends with the same number or word as listID.
func (c *Contact) HasList(listID string) bool {
	want := Number(listID)
	for _, l := range c.Lists {
		if Number(l.ID) == want {
			return true
		}
	}
	return false
}

// Clone returns a deep copy.
func (c *Contact) Clone() *Contact {
	cp := *c
	cp.Lists = append([]ListMembership(nil), c.Lists...)
	return &cp
}
