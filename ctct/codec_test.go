package ctct

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// fixturesDir is the shared folder of recorded API responses. Tests that read
// it skip, saying why, when it is absent.
const fixturesDir = "../../shared/fixtures"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if os.IsNotExist(err) {
		t.Skipf("fixture %s absent: the shared fixtures folder is not beside the project", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeFixtures(t *testing.T) {
	tests := []struct {
		file     string
		contacts int
		lists    int
		check    func(t *testing.T, f *Feed)
	}{
		{file: "all_contacts.xml", contacts: 2, check: func(t *testing.T, f *Feed) {
			c := f.Contacts[0]
			want := Contact{ID: "http://api.constantcontact.com/ws/customers/joesflowers/contacts/2", Status: "Active",
				EmailAddress: "jon@example.com", EmailType: "HTML", Name: "smith, jon",
				OptInTime: "2010-04-21T18:35:34.066Z", OptInSource: "ACTION_BY_CUSTOMER"}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("first contact:\n got %+v\nwant %+v", c, want)
			}
			if f.Next() != "" {
				t.Errorf("next = %q, want none", f.Next())
			}
		}},
		{file: "single_contact_by_email.xml", contacts: 1, check: func(t *testing.T, f *Feed) {
			if c := f.Contacts[0]; c.Confirmed != "false" || c.InsertTime != "2010-04-21T18:35:34.066Z" || c.Full {
				t.Errorf("search entry: %+v", c)
			}
		}},
		{file: "contacts_search2_two_emails.xml", contacts: 2, check: func(t *testing.T, f *Feed) {
			if got := linkHref(f.Links, "current"); got != "/ws/customers/joesflowers/contacts?email=jon%40example.com&email=my%40example.com" {
				t.Errorf("current link = %q", got)
			}
			if f.Contacts[1].EmailAddress != "my@example.com" {
				t.Errorf("second email = %q", f.Contacts[1].EmailAddress)
			}
		}},
		{file: "contactlistscollection.xml", lists: 5, check: func(t *testing.T, f *Feed) {
			var names []string
			for _, l := range f.Lists {
				names = append(names, Number(l.ID)+"="+l.Name)
			}
			if got := strings.Join(names, ","); got != "active=Active,do-not-mail=Do Not Mail,removed=Removed,1=General Interest,2=Clients" {
				t.Errorf("lists = %s", got)
			}
			if f.Lists[3].MembersID != "http://api.constantcontact.com/ws/customers/recordkick/lists/1/members" || f.Lists[3].OptInDefault != "true" {
				t.Errorf("list 1 = %+v", f.Lists[3])
			}
		}},
		{file: "memberscollection.xml", check: func(t *testing.T, f *Feed) {
			if len(f.Members) == 0 {
				t.Fatal("no members")
			}
			m := f.Members[0]
			if m.ID != "http://api.constantcontact.com/ws/customers/recordkick/contacts/51" || m.EmailAddress != "winston_stiedemann@mcdermottrobel.uk" || m.Name != "Donnelly, Mike" {
				t.Errorf("first member = %+v", m)
			}
		}},
		{file: "nocontent.xml"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := DecodeFeed(bytes.NewReader(readFixture(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Contacts) != tt.contacts || len(f.Lists) != tt.lists {
				t.Errorf("got %d contacts %d lists, want %d, %d", len(f.Contacts), len(f.Lists), tt.contacts, tt.lists)
			}
			if f.ID == "" || f.Updated == "" {
				t.Errorf("feed head missing: %+v", f)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestDecodeContactEntryFixtures(t *testing.T) {
	tests := []struct {
		file  string
		email string
		first string
		lists []ListMembership
	}{
		{"single_contact_by_id.xml", "jon@example.com", "jon", []ListMembership{
			{ID: "http://api.constantcontact.com/ws/customers/joesflowers/lists/1", OptInSource: "ACTION_BY_CUSTOMER", OptInTime: "2010-04-21T18:35:34.175Z"}}},
		{"single_contact_by_id_with_no_contactlists.xml", "jon@example.com", "jon", []ListMembership{}},
		{"contacts_4_two_lists.xml", "fred@example.com", "fred", []ListMembership{
			{ID: "http://api.constantcontact.com/ws/customers/joesflowers/lists/1", OptInSource: "ACTION_BY_CUSTOMER", OptInTime: "2010-04-21T18:35:34.175Z"},
			{ID: "http://api.constantcontact.com/ws/customers/joesflowers/lists/2", OptInSource: "ACTION_BY_CUSTOMER", OptInTime: "2010-04-21T18:35:34.175Z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := DecodeContactEntry(bytes.NewReader(readFixture(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if !c.Full || c.EmailAddress != tt.email || c.FirstName != tt.first || c.Status != StatusActive ||
				c.Confirmed != "false" || c.LastUpdateTime != "2010-04-21T18:35:34.279Z" {
				t.Errorf("contact = %+v", c)
			}
			if !reflect.DeepEqual(c.Lists, tt.lists) {
				t.Errorf("lists = %+v, want %+v", c.Lists, tt.lists)
			}
			// Re-encoded and decoded again, the contact is equal.
			body, err := MarshalUpdate(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeContactEntry(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("decode re-encoded: %v\n%s", err, body)
			}
			if !reflect.DeepEqual(c, again) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", again, c)
			}
		})
	}
}

func TestDecodeListEntryFixture(t *testing.T) {
	l, err := DecodeListEntry(bytes.NewReader(readFixture(t, "contactlistsindividuallist.xml")))
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != "http://api.constantcontact.com/ws/customers/recordkick/lists/1" || l.Name != "General Interest" || l.SortOrder != "1" {
		t.Errorf("list = %+v", l)
	}
}

// fullContact has every field filled, with text that needs escaping.
func fullContact() *Contact {
	c := &Contact{
		ID:     "http://api.constantcontact.com/ws/customers/joe/contacts/42",
		Status: StatusActive, EmailAddress: "ada@example.com", EmailType: EmailTypeHTML, Name: "Ada Lovelace",
		FirstName: "Ada", MiddleName: "King", LastName: "Lovelace", JobTitle: "Analyst & <Poet>",
		CompanyName: `"Engines" Ltd`, HomePhone: "+44 20 1234", WorkPhone: "555-0100", Addr1: "12 St James's Sq",
		Addr2: "Floor 2", Addr3: "Suite\r\n7", City: "Zürich", StateCode: "ON", StateName: "Ontario",
		CountryCode: "ca", CountryName: "Canada", PostalCode: "M5V 2T6", SubPostalCode: "1234",
		Note: "line one\nline two\ttabbed — 日本語", Confirmed: "false",
		InsertTime: "2010-04-21T18:35:34.066Z", LastUpdateTime: "2010-04-21T18:35:34.279Z",
		Lists: []ListMembership{{ID: "http://api.constantcontact.com/ws/customers/joe/lists/1", OptInSource: ActionByCustomer, OptInTime: "2010-04-21T18:35:34.175Z"}},
		Full:  true,
	}
	for i := range c.CustomFields {
		c.CustomFields[i] = "custom " + string(rune('A'+i))
	}
	return c
}

func TestMarshalGolden(t *testing.T) {
	create := fullContact()
	create.ID, create.Status, create.Name = "", "", ""
	create.OptInSource = ActionByCustomer
	create.Lists = []ListMembership{{ID: "http://api.constantcontact.com/ws/customers/joe/lists/1"}, {ID: "http://api.constantcontact.com/ws/customers/joe/lists/3"}}
	minimal := &Contact{EmailAddress: "new@example.com", OptInSource: ActionByCustomer,
		Lists: []ListMembership{{ID: "http://api.constantcontact.com/ws/customers/joe/lists/1"}}}
	dnm := fullContact()
	dnm.Status, dnm.Lists = StatusDoNotMail, nil
	dnm.OptOutTime, dnm.OptOutSource = "2011-01-01T00:00:00.000Z", ActionByContact
	tests := []struct {
		golden  string
		marshal func() ([]byte, error)
	}{
		{"create_full.xml", func() ([]byte, error) { return MarshalCreate(create) }},
		{"create_minimal.xml", func() ([]byte, error) { return MarshalCreate(minimal) }},
		{"update_full.xml", func() ([]byte, error) { return MarshalUpdate(fullContact()) }},
		{"update_do_not_mail.xml", func() ([]byte, error) { return MarshalUpdate(dnm) }},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := tt.marshal()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./ctct -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from golden:\n%s", tt.golden, got)
			}
			// What we send is well-formed and says what we meant.
			back, err := DecodeContactEntry(bytes.NewReader(got))
			if err != nil {
				t.Fatalf("decode own output: %v", err)
			}
			if back.EmailAddress == "" || len(back.Lists) == 0 && tt.golden != "update_do_not_mail.xml" {
				t.Errorf("decoded own output: %+v", back)
			}
		})
	}
}

func TestMarshalRefusesForbiddenCharacters(t *testing.T) {
	tests := []struct {
		field, value, want string
	}{
		{"FirstName", "Ada\x00", "FirstName: character U+0000"},
		{"Note", "bell\x07", "Note: character U+0007"},
		{"CustomField3", "\uFFFE", "CustomField3: character U+FFFE"},
		{"City", "bad \xff utf8", "City: invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			c := fullContact()
			if err := c.Set(tt.field, tt.value); err != nil {
				t.Fatal(err)
			}
			for name, marshal := range map[string]func(*Contact) ([]byte, error){"create": MarshalCreate, "update": MarshalUpdate} {
				_, err := marshal(c)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: err = %v, want %q", name, err, tt.want)
				}
			}
		})
	}
}

func TestFullViewElementOrder(t *testing.T) {
	var b bytes.Buffer
	if err := AppendContact(&b, fullContact(), ViewFull, ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"Status", "EmailAddress", "EmailType", "Name", "FirstName", "MiddleName", "LastName", "JobTitle",
		"CompanyName", "HomePhone", "WorkPhone", "Addr1", "Addr2", "Addr3", "City", "StateCode", "StateName", "CountryCode",
		"CountryName", "PostalCode", "SubPostalCode", "Note"}
	for i := 1; i <= NumCustomFields; i++ {
		want = append(want, "CustomField"+strings.TrimLeft(string(rune('0'+i/10))+string(rune('0'+i%10)), "0"))
	}
	want = append(want, "ContactLists", "Confirmed", "InsertTime", "LastUpdateTime")
	pos := -1
	for _, name := range want {
		i := strings.Index(b.String(), "<"+name+">")
		if i < 0 {
			t.Fatalf("element %s missing", name)
		}
		if i < pos {
			t.Errorf("element %s out of order", name)
		}
		pos = i
	}
}

func TestDecodeRejectsHostileInput(t *testing.T) {
	tests := map[string]string{
		"not xml":         "hello",
		"entity":          `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><entry xmlns="http://www.w3.org/2005/Atom"><content><Contact><FirstName>&a;</FirstName></Contact></content></entry>`,
		"other charset":   `<?xml version="1.0" encoding="ISO-8859-1"?><entry/>`,
		"no contact":      `<entry xmlns="http://www.w3.org/2005/Atom"><content/></entry>`,
		"truncated":       `<entry xmlns="http://www.w3.org/2005/Atom"><content><Contact><FirstName>x`,
		"control char":    "<entry xmlns=\"http://www.w3.org/2005/Atom\"><content><Contact><FirstName>\x01</FirstName></Contact></content></entry>",
		"feed not entry":  `<feed xmlns="http://www.w3.org/2005/Atom"></feed>`,
		"mismatched tags": `<entry><content><Contact></content></entry>`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			if c, err := DecodeContactEntry(strings.NewReader(body)); err == nil {
				t.Errorf("decoded %+v, want an error", c)
			}
		})
	}
}
