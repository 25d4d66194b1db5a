package sandbox

import (
	"bytes"
	"strconv"

	"ctctbulk/ctct"
)

// apiOrigin is the scheme and host of every id URI the sandbox writes, as
// the real API does (http, even though it is served over https).
const apiOrigin = "http://api.constantcontact.com"

// xmlDecl starts every document, as in the recorded responses.
const xmlDecl = "<?xml version='1.0' encoding='UTF-8'?>\n"

// atomMediaType is the Content-Type of every feed and entry.
const atomMediaType = ctct.AtomMediaType + "; charset=utf-8"

// paths builds the server-relative paths and absolute id URIs of one
// account. It holds only immutable strings.
type paths struct {
	user string // lower case
	base string // "/ws/customers/{user}"
	// faults, when set, make the add jobs' entries answer as Options.JobFaults say.
	faults *JobFaults
}

func newPaths(user string, jf JobFaults) paths {
	p := paths{user: user, base: "/ws/customers/" + user}
	if jf.ErrorsAsCount || jf.LineShift != 0 || jf.ShortCount != 0 {
		p.faults = &jf
	}
	return p
}

func (p paths) contacts() string          { return p.base + "/contacts" }
func (p paths) contact(n int64) string    { return p.base + "/contacts/" + strconv.FormatInt(n, 10) }
func (p paths) lists() string             { return p.base + "/lists" }
func (p paths) list(key string) string    { return p.base + "/lists/" + key }
func (p paths) members(key string) string { return p.base + "/lists/" + key + "/members" }
func (p paths) contactURI(n int64) string { return apiOrigin + p.contact(n) }
func (p paths) listURI(key string) string { return apiOrigin + p.list(key) }
func listKey(n int64) string              { return strconv.FormatInt(n, 10) }
func (p paths) memberEdit(key string, n int64) string {
	return p.members(key) + "/" + strconv.FormatInt(n, 10)
}

// xw writes indented Atom markup into a buffer.
type xw struct{ b *bytes.Buffer }

// text writes indent<name>escaped</name>\n.
func (w xw) text(indent, name, val string) {
	w.b.WriteString(indent + "<" + name + ">")
	ctct.EscapeText(w.b, val)
	w.b.WriteString("</" + name + ">\n")
}

// typed writes indent<name type="text">escaped</name>\n.
func (w xw) typed(indent, name, val string) {
	w.b.WriteString(indent + "<" + name + ` type="text">`)
	ctct.EscapeText(w.b, val)
	w.b.WriteString("</" + name + ">\n")
}

// link writes an Atom link; rel may be empty.
func (w xw) link(indent, href, rel string) {
	w.b.WriteString(indent + `<link href="`)
	ctct.EscapeText(w.b, href)
	w.b.WriteString(`"`)
	if rel != "" {
		w.b.WriteString(` rel="` + rel + `"`)
	}
	w.b.WriteString(" />\n")
}

func (w xw) author(indent, name string) {
	w.b.WriteString(indent + "<author>\n")
	w.text(indent+"  ", "name", name)
	w.b.WriteString(indent + "</author>\n")
}

// feedHead describes the header of a feed.
type feedHead struct {
	ID      string // absolute id URI
	Title   string
	Alt     string // href of the first two (rel-less and rel="self") links
	Updated string
	First   string // server-relative
	Current string // server-relative
	Next    string // server-relative; "" on the last page
}

// startFeed writes the XML declaration and a feed's header elements.
func (p paths) startFeed(b *bytes.Buffer, h feedHead) {
	w := xw{b}
	b.WriteString(xmlDecl)
	b.WriteString(`<feed xmlns="` + ctct.AtomNS + `">` + "\n")
	w.text("  ", "id", h.ID)
	w.typed("  ", "title", h.Title)
	w.link("  ", h.Alt, "")
	w.link("  ", h.Alt, "self")
	w.author("  ", p.user)
	w.text("  ", "updated", h.Updated)
	w.link("  ", h.First, "first")
	w.link("  ", h.Current, "current")
	if h.Next != "" {
		w.link("  ", h.Next, "next")
	}
}

func endFeed(b *bytes.Buffer) { b.WriteString("</feed>\n") }

// openEntry writes an entry's opening tag (with the XML declaration and
// the Atom namespace when it is a document of its own) and the header
// elements every entry has: the edit link, id, title and updated.
func openEntry(b *bytes.Buffer, indent string, doc bool, edit, id, title, updated string) {
	w := xw{b}
	if doc {
		b.WriteString(xmlDecl)
		b.WriteString(indent + `<entry xmlns="` + ctct.AtomNS + `">` + "\n")
	} else {
		b.WriteString(indent + "<entry>\n")
	}
	in := indent + "  "
	w.link(in, edit, "edit")
	w.text(in, "id", id)
	w.typed(in, "title", title)
	w.text(in, "updated", updated)
}

// startEntry writes an entry's opening tag and its header elements, the
// author included, up to the opening content tag.
func startEntry(b *bytes.Buffer, indent string, doc bool, edit, id, title, updated string) {
	openEntry(b, indent, doc, edit, id, title, updated)
	in := indent + "  "
	xw{b}.author(in, "Constant Contact")
	b.WriteString(in + `<content type="` + ctct.ContentType + `">` + "\n")
}

// endEntry closes the content and the entry; a document entry also
// carries the source element of the recorded responses.
func (p paths) endEntry(b *bytes.Buffer, indent string, src *feedHead) {
	w := xw{b}
	in := indent + "  "
	b.WriteString(in + "</content>\n")
	if src != nil {
		b.WriteString(in + "<source>\n")
		w.text(in+"  ", "id", src.ID)
		w.typed(in+"  ", "title", src.Title)
		w.link(in+"  ", src.Alt, "")
		w.link(in+"  ", src.Alt, "self")
		w.author(in+"  ", p.user)
		w.text(in+"  ", "updated", src.Updated)
		b.WriteString(in + "</source>\n")
	}
	b.WriteString(indent + "</entry>\n")
}

// contactsHead is the header of the contacts collection (also the source
// of a contact entry).
func (p paths) contactsHead(updated string) feedHead {
	return feedHead{
		ID: apiOrigin + p.contacts(), Title: "Contacts for Customer: " + p.user, Alt: "contacts",
		Updated: updated, First: p.contacts(), Current: p.contacts(),
	}
}

// listsHead is the header of the lists feed (also the source of a list
// entry).
func (p paths) listsHead(updated string) feedHead {
	return feedHead{
		ID: apiOrigin + p.lists(), Title: "Contact Lists for Customer: " + p.user, Alt: apiOrigin + p.lists(),
		Updated: updated, First: p.lists(), Current: p.lists(),
	}
}

// toContact turns a stored row into the API's Contact, with id URIs.
func (p paths) toContact(r *contactRow) *ctct.Contact {
	c := r.C
	c.ID = p.contactURI(r.ID)
	c.Lists = make([]ctct.ListMembership, len(r.Lists))
	for i, m := range r.Lists {
		c.Lists[i] = ctct.ListMembership{ID: p.listURI(listKey(m.List)), OptInSource: m.Source, OptInTime: m.Time}
	}
	return &c
}

// writeContactEntry writes one contact as an entry of view v; doc makes it
// a document of its own (GET of one contact, answer to a POST).
func (p paths) writeContactEntry(b *bytes.Buffer, indent string, doc bool, r *contactRow, v ctct.View, srcUpdated string) error {
	c := p.toContact(r)
	startEntry(b, indent, doc, p.contact(r.ID), c.ID, "Contact: "+c.EmailAddress, c.LastUpdateTime)
	if err := ctct.AppendContact(b, c, v, indent+"    "); err != nil {
		return err
	}
	var src *feedHead
	if doc {
		h := p.contactsHead(srcUpdated)
		src = &h
	}
	p.endEntry(b, indent, src)
	return nil
}

// systemList is one of the three lists with word ids.
type systemList struct {
	Key      string // id word
	Name     string
	Statuses []string
}

// systemLists are the system lists in feed order.
func systemLists() []systemList {
	return []systemList{
		{Key: "active", Name: "Active", Statuses: []string{ctct.StatusActive, ctct.StatusUnconfirmed}},
		{Key: "do-not-mail", Name: "Do Not Mail", Statuses: []string{ctct.StatusDoNotMail}},
		{Key: "removed", Name: "Removed", Statuses: []string{ctct.StatusRemoved}},
	}
}

func lookupSystemList(key string) (systemList, bool) {
	for _, l := range systemLists() {
		if l.Key == key {
			return l, true
		}
	}
	return systemList{}, false
}

// writeSystemListEntry writes the entry of a system list.
func (p paths) writeSystemListEntry(b *bytes.Buffer, indent string, doc bool, l systemList, count int, updated string) {
	w := xw{b}
	startEntry(b, indent, doc, p.list(l.Key), p.listURI(l.Key), l.Name, updated)
	in := indent + "    "
	b.WriteString(in + `<ContactList xmlns="` + ctct.CTCTNS + `" id="`)
	ctct.EscapeText(b, p.listURI(l.Key))
	b.WriteString("\">\n")
	w.text(in+"  ", "Name", l.Name)
	w.text(in+"  ", "ShortName", l.Name)
	w.text(in+"  ", "ContactCount", strconv.Itoa(count))
	b.WriteString(in + "</ContactList>\n")
	p.endEntryFor(b, indent, doc, updated)
}

// writeUserListEntry writes the entry of a user list.
func (p paths) writeUserListEntry(b *bytes.Buffer, indent string, doc bool, l *listRow, count int, updated string) {
	w := xw{b}
	key := listKey(l.ID)
	startEntry(b, indent, doc, p.list(key), p.listURI(key), l.Name, l.Updated)
	in := indent + "    "
	b.WriteString(in + `<ContactList xmlns="` + ctct.CTCTNS + `" id="`)
	ctct.EscapeText(b, p.listURI(key))
	b.WriteString("\">\n")
	w.text(in+"  ", "OptInDefault", l.OptInDefault)
	w.text(in+"  ", "Name", l.Name)
	w.text(in+"  ", "ShortName", l.ShortName)
	w.text(in+"  ", "DisplayOnSignup", l.DisplayOnSignup)
	w.text(in+"  ", "SortOrder", strconv.FormatInt(l.SortOrder, 10))
	b.WriteString(in + `  <Members id="`)
	ctct.EscapeText(b, apiOrigin+p.members(key))
	b.WriteString("\"></Members>\n")
	w.text(in+"  ", "ContactCount", strconv.Itoa(count))
	b.WriteString(in + "</ContactList>\n")
	p.endEntryFor(b, indent, doc, updated)
}

func (p paths) endEntryFor(b *bytes.Buffer, indent string, doc bool, updated string) {
	var src *feedHead
	if doc {
		h := p.listsHead(updated)
		src = &h
	}
	p.endEntry(b, indent, src)
}

// writeMemberEntry writes one entry of a members feed.
func (p paths) writeMemberEntry(b *bytes.Buffer, indent, key string, r *contactRow) {
	w := xw{b}
	uri := p.contactURI(r.ID)
	startEntry(b, indent, false, p.memberEdit(key, r.ID), uri, "Contact: "+r.C.EmailAddress, r.C.LastUpdateTime)
	in := indent + "    "
	b.WriteString(in + `<ContactListMember xmlns="` + ctct.CTCTNS + `" id="`)
	ctct.EscapeText(b, uri)
	b.WriteString("\">\n")
	w.text(in+"  ", "EmailAddress", r.C.EmailAddress)
	w.text(in+"  ", "Name", r.C.Name)
	b.WriteString(in + "</ContactListMember>\n")
	p.endEntry(b, indent, nil)
}
