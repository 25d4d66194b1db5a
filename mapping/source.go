package mapping

import (
	"path"
	"slices"
	"strings"
)

// Sources. Most migrations arrive as another system's export. Each system
// names its columns its own way, and some of those names mean something
// else elsewhere ("Phone" is a work phone in Salesforce, "Address" one
// whole address in Mailchimp). A Source is recognised from the header and
// brings its own names for the fields, tried before the generic aliases of
// the field table; explicit mappings (--col, --map) still win.

// Source is a system whose exports ctctbulk recognises.
type Source struct {
	// Name is what --from takes; Title what messages say.
	Name, Title string
	// markers are headers that only this system writes (NormalizeHeader
	// keys): the file is this system's when it has at least minMarkers of
	// them, and every key of requires.
	markers    []string
	minMarkers int
	requires   []string
	// columns give, per field, the system's headers for it in order of
	// preference: the first one present is taken, the others are left out.
	columns []sourceColumn
	// kind names what sort of export a file of this system is, from its
	// header keys and its file name, and whether every row of it is an
	// opt-out (the signal's label, "" when not).
	kind func(keys map[string]bool, fileName string) (kind, fileSignal string)
}

// sourceColumn is a field and the headers a source uses for it.
type sourceColumn struct {
	field   string
	headers []string
}

// Names of the sources, as --from takes them.
const (
	SourceMailchimp       = "mailchimp"
	SourceHubSpot         = "hubspot"
	SourceSalesforce      = "salesforce"
	SourceConstantContact = "constantcontact"
	SourceCtctbulk        = "ctctbulk"
)

// FromAuto and FromNone are the other values of Options.From: recognise
// the source from the header (the default), or use no source's names.
const (
	FromAuto = "auto"
	FromNone = "none"
)

// sources are the recognised systems, in the order they are tried.
var sources = []*Source{
	{
		Name: SourceCtctbulk, Title: "ctctbulk",
		// An export through jobs has no Id: it leaves out what it cannot fill.
		requires: keys("EmailAddress", "Status"), markers: keys("Id", "OptInSource", "OptInTime", "LastUpdateTime", "ContactLists"),
		minMarkers: 2,
		kind:       fixedKind("export"),
	},
	{
		Name: SourceMailchimp, Title: "Mailchimp",
		requires: keys("Email Address"),
		markers: keys("MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LEID", "EUID",
			"LAST_CHANGED", "UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "GMTOFF", "DSTOFF"),
		minMarkers: 2,
		columns: []sourceColumn{
			{"EmailAddress", []string{"Email Address"}},
			{"FirstName", []string{"First Name", "FNAME"}},
			{"LastName", []string{"Last Name", "LNAME"}},
			{FieldFullAddress, []string{"Address", "ADDRESS"}},
			{"HomePhone", []string{"Phone Number", "PHONE"}},
			{"Note", []string{"NOTES"}},
		},
		kind: mailchimpKind,
	},
	{
		Name: SourceHubSpot, Title: "HubSpot",
		markers: keys("Record ID", "Lifecycle Stage", "Contact owner", "Create Date", "Last Activity Date", "Lead Status",
			"Unsubscribed from all email", "Email hard bounce reason", "State/Region", "Country/Region", "Marketing contact status",
			"Associated Company", "Mobile Phone Number", "Street Address 2", "Original Source", "Became a Lead Date"),
		minMarkers: 2,
		columns: []sourceColumn{
			{"EmailAddress", []string{"Email"}},
			{"WorkPhone", []string{"Phone Number"}},
			{"HomePhone", []string{"Mobile Phone Number"}},
			{"Addr1", []string{"Street Address"}},
			{"Addr2", []string{"Street Address 2"}},
			{"StateCode", []string{"State/Region"}},
			{"CountryName", []string{"Country/Region"}},
			{"CompanyName", []string{"Company Name"}},
			{"JobTitle", []string{"Job Title"}},
		},
		kind: fixedKind("contacts export"),
	},
	{
		Name: SourceSalesforce, Title: "Salesforce",
		markers: keys("Contact ID", "Account Name", "Contact Owner", "Mailing Street", "Mailing City", "Mailing State/Province",
			"Mailing Zip/Postal Code", "Mailing Country", "Email Opt Out", "Salutation", "Lead Source",
			"MailingStreet", "MailingCity", "MailingState", "MailingPostalCode", "MailingCountry", "HasOptedOutOfEmail",
			"AccountId", "OwnerId", "EmailBouncedReason"),
		minMarkers: 2,
		columns: []sourceColumn{
			{"EmailAddress", []string{"Email"}},
			{"JobTitle", []string{"Title"}},
			{"CompanyName", []string{"Account Name", "Account.Name"}},
			{"WorkPhone", []string{"Phone", "Business Phone"}},
			{"HomePhone", []string{"Home Phone", "HomePhone", "Mobile", "Mobile Phone", "MobilePhone"}},
			{FieldStreetLines, []string{"Mailing Street", "MailingStreet"}},
			{"City", []string{"Mailing City", "MailingCity"}},
			{"StateCode", []string{"Mailing State/Province", "MailingState", "Mailing State"}},
			{"PostalCode", []string{"Mailing Zip/Postal Code", "MailingPostalCode", "Mailing Postal Code"}},
			{"CountryName", []string{"Mailing Country", "MailingCountry"}},
		},
		kind: salesforceKind,
	},
	{
		Name: SourceConstantContact, Title: "Constant Contact",
		requires: keys("Email Address"),
		markers: keys("Email Type", "Email Status", "State/Province (US/Canada)", "State/Province (Other)", "Address Line 1",
			"Sub Zip/Postal Code", "Custom field 1", "Source Name", "Email Lists"),
		minMarkers: 2,
		kind:       fixedKind("export"),
	},
}

// keys returns the NormalizeHeader keys of headers.
func keys(headers ...string) []string {
	out := make([]string, len(headers))
	for i, h := range headers {
		out[i] = NormalizeHeader(h)
	}
	return out
}

func fixedKind(kind string) func(map[string]bool, string) (string, string) {
	return func(map[string]bool, string) (string, string) { return kind, "" }
}

// mailchimpKind tells Mailchimp's three member files apart: the
// unsubscribed and cleaned exports (by their UNSUB_ and CLEAN_ columns, or
// their file names in the audience ZIP) are files of opt-outs, every row.
func mailchimpKind(k map[string]bool, fileName string) (string, string) {
	name := strings.ToLower(path.Base(strings.ReplaceAll(fileName, `\`, "/")))
	switch {
	case k[NormalizeHeader("UNSUB_TIME")] || strings.HasPrefix(name, "unsubscribed"):
		return "unsubscribed export", "Mailchimp unsubscribed export"
	case k[NormalizeHeader("CLEAN_TIME")] || strings.HasPrefix(name, "cleaned"):
		return "cleaned export", "Mailchimp cleaned export"
	case strings.HasPrefix(name, "subscribed"):
		return "subscribed export", ""
	}
	return "audience export", ""
}

func salesforceKind(k map[string]bool, _ string) (string, string) {
	if k[NormalizeHeader("HasOptedOutOfEmail")] || k[NormalizeHeader("AccountId")] || k[NormalizeHeader("OwnerId")] {
		return "data export", ""
	}
	return "contact report", ""
}

// LookupSource finds a source by its --from name.
func LookupSource(name string) (*Source, bool) {
	for _, s := range sources {
		if s.Name == strings.ToLower(name) {
			return s, true
		}
	}
	return nil, false
}

// SourceNames returns the --from names, for help and errors.
func SourceNames() []string {
	var out []string
	for _, s := range sources {
		out = append(out, s.Name)
	}
	return out
}

// detectSource returns the source whose header this is, or nil.
func detectSource(k map[string]bool) *Source {
	for _, s := range sources {
		if !allIn(k, s.requires) {
			continue
		}
		n := 0
		for _, mk := range s.markers {
			if k[mk] {
				n++
			}
		}
		if n >= max(s.minMarkers, 1) {
			return s
		}
	}
	return nil
}

func allIn(k map[string]bool, want []string) bool {
	return !slices.ContainsFunc(want, func(w string) bool { return !k[w] })
}
