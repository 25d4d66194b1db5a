package ctct

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// XML namespaces and media types of the API.
const (
	AtomNS         = "http://www.w3.org/2005/Atom"
	CTCTNS         = "http://ws.constantcontact.com/ns/1.0/"
	AtomMediaType  = "application/atom+xml"
	ContentType    = "application/vnd.ctct+xml"
	requestUpdated = "2008-07-23T14:21:06.407Z" // any date-time; the server ignores it
)

// View selects which elements of a Contact are written.
type View int

const (
	// ViewSummary is a listing entry: Status, EmailAddress, EmailType, Name,
	// OptInTime, OptInSource.
	ViewSummary View = iota
	// ViewSearch is an email search entry: the summary plus Confirmed and
	// InsertTime.
	ViewSearch
	// ViewFull is a GET of one contact: every element, empty ones included.
	ViewFull
	// ViewCreate is the body of a POST: the non-empty editable fields,
	// OptInSource and the list ids.
	ViewCreate
	// ViewUpdate is the body of a PUT: every element a GET returns.
	ViewUpdate
)

// Link is an Atom link.
type Link struct {
	Href string
	Rel  string
}

// Feed is a decoded Atom feed of contacts, lists or list members.
type Feed struct {
	ID      string
	Title   string
	Updated string
	Links   []Link
	// Exactly one of these is filled, by the kind of entries the feed holds.
	Contacts []Contact
	Lists    []List
	Members  []Member
	// Activities is filled by the activities feed (Bulk Activity).
	Activities []Activity
}

// Next returns the href of the rel="next" link, or "" on the last page.
func (f *Feed) Next() string { return linkHref(f.Links, "next") }

func linkHref(links []Link, rel string) string {
	for _, l := range links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

// List is a contact list as the lists feed describes it.
type List struct {
	ID              string // absolute id URI
	Name            string
	ShortName       string
	OptInDefault    string
	DisplayOnSignup string
	SortOrder       string
	MembersID       string
	// ContactCount is the number of members when the server says it
	// (CountKnown), which the sandbox always does.
	ContactCount int
	CountKnown   bool
}

// Member is one entry of a list's members feed.
type Member struct {
	ID           string // the contact's id URI
	EmailAddress string
	Name         string
}

// --- decoding ---------------------------------------------------------------

type xmlLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
}

type xmlEntry struct {
	Links   []xmlLink  `xml:"link"`
	ID      string     `xml:"id"`
	Title   string     `xml:"title"`
	Updated string     `xml:"updated"`
	Content xmlContent `xml:"content"`
}

type xmlContent struct {
	Type        string      `xml:"type,attr"`
	Contact     *xmlContact `xml:"Contact"`
	ContactList *xmlList    `xml:"ContactList"`
	Member      *xmlMember  `xml:"ContactListMember"`
	Activity    *xmlJob     `xml:"Activity"`
}

type xmlFeed struct {
	XMLName xml.Name   `xml:"feed"`
	ID      string     `xml:"id"`
	Title   string     `xml:"title"`
	Updated string     `xml:"updated"`
	Links   []xmlLink  `xml:"link"`
	Entries []xmlEntry `xml:"entry"`
}

type xmlList struct {
	ID              string  `xml:"id,attr"`
	Name            string  `xml:"Name"`
	ShortName       string  `xml:"ShortName"`
	OptInDefault    string  `xml:"OptInDefault"`
	DisplayOnSignup string  `xml:"DisplayOnSignup"`
	SortOrder       string  `xml:"SortOrder"`
	ContactCount    *string `xml:"ContactCount"`
	Members         struct {
		ID string `xml:"id,attr"`
	} `xml:"Members"`
}

type xmlMember struct {
	ID           string `xml:"id,attr"`
	EmailAddress string `xml:"EmailAddress"`
	Name         string `xml:"Name"`
}

// xmlContact decodes a Contact element generically through the field table.
type xmlContact struct{ c Contact }

type xmlMembership struct {
	ID          string `xml:"id,attr"`
	OptInSource string `xml:"OptInSource"`
	OptInTime   string `xml:"OptInTime"`
}

// UnmarshalXML reads the Contact's children by name: text fields through
// the field table, ContactLists as memberships; unknown elements are skipped.
func (x *xmlContact) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for _, a := range start.Attr {
		if a.Name.Local == "id" {
			x.c.ID = a.Value
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "ContactLists" {
				var cl struct {
					Lists []xmlMembership `xml:"ContactList"`
				}
				if err := d.DecodeElement(&cl, &t); err != nil {
					return fmt.Errorf("ContactLists: %w", err)
				}
				x.c.Full = true
				x.c.Lists = make([]ListMembership, 0, len(cl.Lists))
				for _, l := range cl.Lists {
					x.c.Lists = append(x.c.Lists, ListMembership(l))
				}
				continue
			}
			f, ok := fieldIndex[t.Name.Local]
			if !ok || f.Kind == Derived {
				if err := d.Skip(); err != nil {
					return err
				}
				continue
			}
			var s string
			if err := d.DecodeElement(&s, &t); err != nil {
				return fmt.Errorf("%s: %w", t.Name.Local, err)
			}
			_ = f.Set(&x.c, s) // not Derived: always settable
		case xml.EndElement:
			return nil
		}
	}
}

// maxDocument bounds any XML document the codec reads.
const maxDocument = 32 << 20

func newDecoder(r io.Reader) *xml.Decoder {
	d := xml.NewDecoder(io.LimitReader(r, maxDocument))
	d.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "utf8") {
			return input, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	return d
}

// DecodeFeed decodes an Atom feed of contacts, lists or list members.
func DecodeFeed(r io.Reader) (*Feed, error) {
	var xf xmlFeed
	if err := newDecoder(r).Decode(&xf); err != nil {
		return nil, fmt.Errorf("decode feed: %w", err)
	}
	f := &Feed{ID: xf.ID, Title: xf.Title, Updated: xf.Updated, Links: links(xf.Links)}
	for i := range xf.Entries {
		e := &xf.Entries[i]
		switch {
		case e.Content.Contact != nil:
			f.Contacts = append(f.Contacts, entryContact(e))
		case e.Content.ContactList != nil:
			f.Lists = append(f.Lists, entryList(e))
		case e.Content.Member != nil:
			m := Member(*e.Content.Member)
			if m.ID == "" {
				m.ID = e.ID
			}
			f.Members = append(f.Members, m)
		case e.Content.Activity != nil:
			f.Activities = append(f.Activities, entryActivity(e))
		}
	}
	return f, nil
}

// DecodeContactEntry decodes an Atom entry holding one Contact.
func DecodeContactEntry(r io.Reader) (*Contact, error) {
	e, err := decodeEntry(r)
	if err != nil {
		return nil, err
	}
	if e.Content.Contact == nil {
		return nil, errors.New("decode entry: no Contact in content")
	}
	c := entryContact(e)
	return &c, nil
}

// DecodeListEntry decodes an Atom entry holding one ContactList.
func DecodeListEntry(r io.Reader) (*List, error) {
	e, err := decodeEntry(r)
	if err != nil {
		return nil, err
	}
	if e.Content.ContactList == nil {
		return nil, errors.New("decode entry: no ContactList in content")
	}
	l := entryList(e)
	return &l, nil
}

func decodeEntry(r io.Reader) (*xmlEntry, error) {
	var e struct {
		XMLName xml.Name `xml:"entry"`
		xmlEntry
	}
	if err := newDecoder(r).Decode(&e); err != nil {
		return nil, fmt.Errorf("decode entry: %w", err)
	}
	return &e.xmlEntry, nil
}

func links(xl []xmlLink) []Link {
	out := make([]Link, len(xl))
	for i, l := range xl {
		out[i] = Link(l)
	}
	return out
}

func entryContact(e *xmlEntry) Contact {
	c := e.Content.Contact.c
	if c.ID == "" {
		c.ID = e.ID
	}
	return c
}

func entryList(e *xmlEntry) List {
	x := e.Content.ContactList
	l := List{
		ID: x.ID, Name: x.Name, ShortName: x.ShortName, OptInDefault: x.OptInDefault,
		DisplayOnSignup: x.DisplayOnSignup, SortOrder: x.SortOrder, MembersID: x.Members.ID,
	}
	if l.ID == "" {
		l.ID = e.ID
	}
	if x.ContactCount != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(*x.ContactCount)); err == nil {
			l.ContactCount, l.CountKnown = n, true
		}
	}
	return l
}

// --- encoding ---------------------------------------------------------------

// FieldError is a value that cannot be sent: the field and the reason.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// MarshalCreate returns the Atom entry to POST for a new contact: the
// non-empty editable fields in element order, OptInSource and the lists.
// Characters that XML 1.0 forbids are refused with a *FieldError.
func MarshalCreate(c *Contact) ([]byte, error) {
	return marshalRequest(c, ViewCreate)
}

// MarshalUpdate returns the Atom entry to PUT for an existing contact:
// every element a GET returns, in the same order.
func MarshalUpdate(c *Contact) ([]byte, error) {
	if c.ID == "" {
		return nil, errors.New("marshal update: contact has no id")
	}
	return marshalRequest(c, ViewUpdate)
}

func marshalRequest(c *Contact, v View) ([]byte, error) {
	var b bytes.Buffer
	id := "data:,none"
	if v == ViewUpdate {
		id = c.ID
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<entry xmlns="` + AtomNS + `">` + "\n")
	b.WriteString("  <id>")
	escape(&b, id)
	b.WriteString("</id>\n  <title type=\"text\">")
	if v == ViewUpdate {
		escape(&b, "Contact: "+c.EmailAddress)
	}
	b.WriteString("</title>\n  <author></author>\n  <updated>" + requestUpdated + "</updated>\n")
	b.WriteString("  <summary type=\"text\">Contact</summary>\n")
	b.WriteString(`  <content type="` + ContentType + `">` + "\n")
	if err := AppendContact(&b, c, v, "    "); err != nil {
		return nil, err
	}
	b.WriteString("  </content>\n</entry>\n")
	return b.Bytes(), nil
}

// AppendContact writes the Contact element of c for view v, each line
// starting with indent. It refuses values with characters XML 1.0 forbids.
func AppendContact(b *bytes.Buffer, c *Contact, v View, indent string) error {
	if err := checkContactText(c); err != nil {
		return err
	}
	b.WriteString(indent + `<Contact xmlns="` + CTCTNS + `"`)
	if c.ID != "" && v != ViewCreate {
		b.WriteString(` id="`)
		escape(b, c.ID)
		b.WriteString(`"`)
	}
	b.WriteString(">\n")
	in := indent + "  "
	el := func(name, val string) {
		b.WriteString(in + "<" + name + ">")
		escape(b, val)
		b.WriteString("</" + name + ">\n")
	}
	// elements writes the named fields of the table, in the order given.
	elements := func(names ...string) {
		for _, n := range names {
			f := fieldIndex[n]
			el(f.Name, f.Get(c))
		}
	}
	switch v {
	case ViewSummary, ViewSearch:
		elements("Status", "EmailAddress", "EmailType", "Name", "OptInTime", "OptInSource")
		if v == ViewSearch {
			elements("Confirmed", "InsertTime")
		}
	case ViewCreate:
		for i := range fieldTable {
			if f := &fieldTable[i]; f.Editable {
				if v := f.Get(c); v != "" {
					el(f.Name, v)
				}
			}
		}
		elements("OptInSource")
		b.WriteString(in + "<ContactLists>\n")
		for _, l := range c.Lists {
			b.WriteString(in + `  <ContactList id="`)
			escape(b, l.ID)
			b.WriteString("\" />\n")
		}
		b.WriteString(in + "</ContactLists>\n")
	case ViewFull, ViewUpdate:
		for i := range fieldTable {
			if f := &fieldTable[i]; f.Kind == Element {
				el(f.Name, f.Get(c))
			}
		}
		appendMemberships(b, c.Lists, in)
		elements("Confirmed", "InsertTime", "LastUpdateTime")
		if c.OptOutTime != "" || c.OptOutSource != "" || c.OptOutReason != "" || c.Status == StatusDoNotMail {
			elements("OptOutTime", "OptOutSource", "OptOutReason")
		}
	}
	b.WriteString(indent + "</Contact>\n")
	return nil
}

func appendMemberships(b *bytes.Buffer, ls []ListMembership, in string) {
	if len(ls) == 0 {
		b.WriteString(in + "<ContactLists></ContactLists>\n")
		return
	}
	b.WriteString(in + "<ContactLists>\n")
	for _, l := range ls {
		b.WriteString(in + `  <ContactList id="`)
		escape(b, l.ID)
		b.WriteString("\">\n")
		b.WriteString(in + `    <link xmlns="` + AtomNS + `" href="`)
		escape(b, idPath(l.ID))
		b.WriteString("\" rel=\"self\" />\n")
		if l.OptInSource != "" {
			b.WriteString(in + "    <OptInSource>")
			escape(b, l.OptInSource)
			b.WriteString("</OptInSource>\n")
		}
		if l.OptInTime != "" {
			b.WriteString(in + "    <OptInTime>")
			escape(b, l.OptInTime)
			b.WriteString("</OptInTime>\n")
		}
		b.WriteString(in + "  </ContactList>\n")
	}
	b.WriteString(in + "</ContactLists>\n")
}

// idPath returns the path of an absolute id URI (the href of its link).
func idPath(id string) string {
	if u, err := url.Parse(id); err == nil && u.Path != "" {
		return u.EscapedPath()
	}
	return id
}

// checkContactText refuses any text of c that XML 1.0 cannot carry,
// naming the field.
func checkContactText(c *Contact) error {
	check := func(name, v string) error {
		if err := CheckXMLText(v); err != nil {
			return &FieldError{Field: name, Err: err}
		}
		return nil
	}
	for i := range fieldTable {
		if f := &fieldTable[i]; f.Kind != Derived {
			if err := check(f.Name, f.Get(c)); err != nil {
				return err
			}
		}
	}
	if err := check("id", c.ID); err != nil {
		return err
	}
	for _, l := range c.Lists {
		for _, v := range []string{l.ID, l.OptInSource, l.OptInTime} {
			if err := check("ContactLists", v); err != nil {
				return err
			}
		}
	}
	return nil
}

func escape(b *bytes.Buffer, s string) {
	// xml.EscapeText only fails when the writer fails; bytes.Buffer never does.
	_ = xml.EscapeText(b, []byte(s))
}

// EscapeText appends s to b escaped for XML text or attribute values.
func EscapeText(b *bytes.Buffer, s string) { escape(b, s) }
