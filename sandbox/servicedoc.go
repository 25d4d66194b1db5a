package sandbox

import (
	"bytes"
	"net/http"

	"ctctbulk/ctct"
)

// serviceMediaType is the Content-Type of an AtomPub service document.
const serviceMediaType = "application/atomsvc+xml; charset=utf-8"

// serviceDocument answers GET /ws/customers/{user}/: the AtomPub service
// document naming the account's collections, the shape of the recorded
// one (which names lists and activities; the real API also named the
// contacts). Clients check their credentials with this GET.
func (s *Sandbox) serviceDocument() reply {
	var b bytes.Buffer
	w := xw{&b}
	b.WriteString(xmlDecl)
	b.WriteString(`<service xmlns="http://www.w3.org/2007/app" xmlns:atom="` + ctct.AtomNS + `">` + "\n")
	b.WriteString("  <workspace>\n")
	b.WriteString(`    <atom:title type="text">Constant Contact Web Services Customer Workspace</atom:title>` + "\n")
	for _, c := range []struct {
		href, title string
		accept      []string
	}{
		{s.p.contacts(), "Contacts", []string{"application/atom+xml; type=entry"}},
		{s.p.lists(), "Contact Lists", []string{"application/atom+xml; type=entry"}},
		{s.p.activities(), "Bulk Activity", []string{formURLEncoded, formMultipart}},
	} {
		b.WriteString(`    <collection href="`)
		ctct.EscapeText(&b, c.href)
		b.WriteString("\">\n")
		b.WriteString(`      <atom:title type="text">`)
		ctct.EscapeText(&b, c.title)
		b.WriteString("</atom:title>\n")
		for _, a := range c.accept {
			w.text("      ", "accept", a)
		}
		b.WriteString("    </collection>\n")
	}
	b.WriteString("  </workspace>\n</service>\n")
	return reply{status: http.StatusOK, ctype: serviceMediaType, body: b.Bytes()}
}
