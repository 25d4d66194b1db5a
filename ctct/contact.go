package ctct

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
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

// field returns a pointer to the text field named by the field table, or
// nil when the name is not a plain-text field.
func (c *Contact) field(name string) *string {
	switch name {
	case "Status":
		return &c.Status
	case "EmailAddress":
		return &c.EmailAddress
	case "EmailType":
		return &c.EmailType
	case "Name":
		return &c.Name
	case "FirstName":
		return &c.FirstName
	case "MiddleName":
		return &c.MiddleName
	case "LastName":
		return &c.LastName
	case "JobTitle":
		return &c.JobTitle
	case "CompanyName":
		return &c.CompanyName
	case "HomePhone":
		return &c.HomePhone
	case "WorkPhone":
		return &c.WorkPhone
	case "Addr1":
		return &c.Addr1
	case "Addr2":
		return &c.Addr2
	case "Addr3":
		return &c.Addr3
	case "City":
		return &c.City
	case "StateCode":
		return &c.StateCode
	case "StateName":
		return &c.StateName
	case "CountryCode":
		return &c.CountryCode
	case "CountryName":
		return &c.CountryName
	case "PostalCode":
		return &c.PostalCode
	case "SubPostalCode":
		return &c.SubPostalCode
	case "Note":
		return &c.Note
	case "OptInSource":
		return &c.OptInSource
	case "OptInTime":
		return &c.OptInTime
	case "OptOutTime":
		return &c.OptOutTime
	case "OptOutSource":
		return &c.OptOutSource
	case "OptOutReason":
		return &c.OptOutReason
	case "Confirmed":
		return &c.Confirmed
	case "InsertTime":
		return &c.InsertTime
	case "LastUpdateTime":
		return &c.LastUpdateTime
	}
	if n, ok := customFieldIndex(name); ok {
		return &c.CustomFields[n]
	}
	return nil
}

func customFieldIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "CustomField")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || strconv.Itoa(n) != rest || n < 1 || n > NumCustomFields {
		return 0, false
	}
	return n - 1, true
}

// Get returns the text of the named field ("" for an unknown name).
func (c *Contact) Get(name string) string {
	if p := c.field(name); p != nil {
		return *p
	}
	return ""
}

// Set stores the text of the named field. It reports an error for a name
// that is not a text field of a Contact.
func (c *Contact) Set(name, value string) error {
	p := c.field(name)
	if p == nil {
		return fmt.Errorf("unknown contact field %q", name)
	}
	*p = value
	return nil
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
