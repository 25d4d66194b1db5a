package mapping

import (
	"regexp"
	"strings"

	"ctctbulk/ctct"
)

// Addresses held in one cell. Mailchimp exports its Address field as one
// cell whose parts are separated by two spaces ("1 Main St  Suite 2
// Springfield  IL  62701  US"); Salesforce's Mailing Street holds the
// street's lines in one cell, separated by line breaks. Each is split into
// the contact's own fields, and only into fields the file does not map
// otherwise.

// The pseudo fields of one-cell addresses.
const (
	// FieldFullAddress is a whole address in one cell: street lines,
	// city, state, postal code and country, separated by two spaces (or
	// by commas). A cell of another shape goes to Addr1 whole.
	FieldFullAddress = "FullAddress"
	// FieldStreetLines is a street of up to three lines in one cell, to
	// Addr1, Addr2 and Addr3 (further lines are joined to Addr3).
	FieldStreetLines = "StreetLines"
)

// compositeTargets are the fields each one-cell address fills.
var compositeTargets = map[string][]string{
	FieldFullAddress: {"Addr1", "Addr2", "Addr3", "City", "StateCode", "PostalCode", "CountryCode"},
	FieldStreetLines: {"Addr1", "Addr2", "Addr3"},
}

// compositeCol is a column holding a one-cell address.
type compositeCol struct {
	idx   int
	field string // FieldFullAddress or FieldStreetLines
}

var (
	partSep    = regexp.MustCompile(`\s{2,}|\t`)
	postalLike = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$`)
	statePost  = regexp.MustCompile(`^(\S+)\s+([A-Za-z0-9][A-Za-z0-9 -]{1,9})$`)
)

// setIfFree sets field to v when the record's mapping does not map the
// field itself and nothing set it yet.
func (m *Mapping) setIfFree(c *ctct.Contact, field, v string) {
	if v == "" || m.direct[field] {
		return
	}
	f, ok := ctct.LookupField(field)
	if !ok || f.Get(c) != "" {
		return
	}
	_ = f.Set(c, f.Normalize(v)) // editable fields are text
}

// splitComposite fills the record's fields from a one-cell address.
func (m *Mapping) splitComposite(c *ctct.Contact, field, v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	switch field {
	case FieldStreetLines:
		m.setStreet(c, splitLines(v))
	case FieldFullAddress:
		if !m.splitFullAddress(c, v) {
			m.setIfFree(c, "Addr1", v)
		}
	}
}

// setStreet puts street lines in Addr1, Addr2 and Addr3.
func (m *Mapping) setStreet(c *ctct.Contact, lines []string) {
	if len(lines) > 3 {
		lines = append(lines[:2:2], strings.Join(lines[2:], ", "))
	}
	for i, l := range lines {
		m.setIfFree(c, []string{"Addr1", "Addr2", "Addr3"}[i], l)
	}
}

func splitLines(v string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(strings.TrimRight(l, "\r")); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// splitFullAddress reads "street  [street 2]  city  state  postal  [country]"
// (two spaces between parts), or the same with commas ("1 Main St,
// Springfield, IL 62701, USA"), and reports whether the cell had that shape.
func (m *Mapping) splitFullAddress(c *ctct.Contact, v string) bool {
	parts := trimAll(partSep.Split(v, -1))
	if len(parts) < 4 {
		parts = commaParts(v)
	}
	if len(parts) < 3 {
		return false
	}
	var country string
	if code, ok := CountryCode(parts[len(parts)-1]); ok && len(parts) >= 4 {
		country, parts = code, parts[:len(parts)-1]
	}
	var state, postal string
	switch last := parts[len(parts)-1]; {
	case len(parts) >= 4 && postalLike.MatchString(last) && containsDigit(last):
		state, postal, parts = parts[len(parts)-2], last, parts[:len(parts)-2]
	case statePost.MatchString(last) && containsDigit(last):
		sm := statePost.FindStringSubmatch(last)
		state, postal, parts = sm[1], sm[2], parts[:len(parts)-1]
	default:
		return false
	}
	if len(parts) < 2 || len(parts) > 4 {
		return false
	}
	city := parts[len(parts)-1]
	m.setStreet(c, parts[:len(parts)-1])
	m.setIfFree(c, "City", city)
	m.setIfFree(c, "PostalCode", postal)
	if country != "" {
		m.setIfFree(c, "CountryCode", country)
	}
	// The state goes through the names-to-codes rules with the rest.
	m.setIfFree(c, "StateCode", state)
	return true
}

// commaParts splits "1 Main St, Springfield, IL 62701, USA" at its commas.
func commaParts(v string) []string {
	if !strings.Contains(v, ",") {
		return nil
	}
	return trimAll(strings.Split(v, ","))
}

func trimAll(parts []string) []string {
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func containsDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }
