package ctct_test

import (
	"bytes"
	"fmt"
	"testing"

	"ctctbulk/ctct"
)

// fullContact is a contact with every field filled, like
// fixtures/single_contact_by_id.xml but with nothing empty.
func fullContact() *ctct.Contact {
	c := &ctct.Contact{
		ID:           "http://api.constantcontact.com/ws/customers/joesflowers/contacts/2",
		Status:       ctct.StatusActive,
		EmailAddress: "jon@example.com",
		EmailType:    ctct.EmailTypeHTML,
		Name:         "Jon Q Smith",
		FirstName:    "Jon", MiddleName: "Q", LastName: "Smith",
		JobTitle: "Florist & Owner", CompanyName: "Joe's <Flowers>",
		HomePhone: "555-0100", WorkPhone: "555-0199",
		Addr1: "1 Main Street", Addr2: "Suite 2", Addr3: "Back door",
		City: "Springfield", StateCode: "IL", StateName: "Illinois",
		CountryCode: "us", CountryName: "United States",
		PostalCode: "62701", SubPostalCode: "1234",
		Note:           "Prefers roses; \"VIP\" since 2009.",
		Confirmed:      "false",
		InsertTime:     "2010-04-21T18:35:34.066Z",
		LastUpdateTime: "2010-04-21T18:35:34.279Z",
		Full:           true,
	}
	for i := range c.CustomFields {
		c.CustomFields[i] = fmt.Sprintf("custom value %d", i+1)
	}
	for _, n := range []string{"1", "2", "3"} {
		c.Lists = append(c.Lists, ctct.ListMembership{
			ID:          "http://api.constantcontact.com/ws/customers/joesflowers/lists/" + n,
			OptInSource: ctct.ActionByCustomer,
			OptInTime:   "2010-04-21T18:35:34.175Z",
		})
	}
	return c
}

// BenchmarkEncodeFull measures MarshalUpdate of a contact with every field.
func BenchmarkEncodeFull(b *testing.B) {
	c := fullContact()
	b.ReportAllocs()
	for b.Loop() {
		body, err := ctct.MarshalUpdate(c)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
	}
}

// BenchmarkDecodeFull measures DecodeContactEntry of a full entry with
// every field filled.
func BenchmarkDecodeFull(b *testing.B) {
	body, err := ctct.MarshalUpdate(fullContact())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := ctct.DecodeContactEntry(bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		if c.CustomFields[14] == "" {
			b.Fatal("decoded contact lost CustomField15")
		}
	}
}
