package sandbox

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ctctbulk/ctct"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtures is the folder of recorded API responses, relative to this
// package.
const fixtures = "../../shared/fixtures"

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("fixture %s not found (the shared fixtures folder is not beside the repository)", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goldenEnv is a sandbox with a fixed clock holding a few contacts:
// 1 with every field on lists 1 and 2, 2 on list 1, 3 opted out.
func goldenEnv(t *testing.T) *env {
	e := newEnv(t, func(c *Options) { c.PageSize = 2 })
	full := newContact("jon@example.com", 1, 2)
	for _, f := range ctct.EditableFields() {
		if f.Name != "EmailAddress" {
			_ = full.Set(f.Name, f.Name+" value")
		}
	}
	full.EmailType, full.StateCode, full.CountryCode, full.Note = "Text", "MA", "us", "likes <roses> & \"tulips\""
	e.create(full)
	e.clock.Advance(time.Second + 250*time.Millisecond)
	e.create(newContact("my@example.com", 1))
	e.clock.Advance(time.Minute)
	dnm := e.create(newContact("gone@example.com", 3))
	e.clock.Advance(time.Minute)
	want(t, e.do("DELETE", api("/contacts/"+dnm), ""), http.StatusNoContent)
	e.clock.Advance(time.Hour)
	return e
}

func TestGolden(t *testing.T) {
	e := goldenEnv(t)
	first := e.feed(api("/contacts"))
	tests := []struct{ name, path string }{
		{"contact_full", api("/contacts/1")},
		{"contact_do_not_mail", api("/contacts/3")},
		{"contacts_page1", api("/contacts")},
		{"contacts_page2", first.Next()},
		{"contacts_search", api("/contacts?email=jon%40example.com&email=MY%40example.com&email=none%40example.com")},
		{"contacts_updatedsince", api("/contacts?updatedsince=2024-05-01T12:00:01.250Z&listtype=active")},
		{"lists", api("/lists")},
		{"list_1", api("/lists/1")},
		{"list_do_not_mail", api("/lists/do-not-mail")},
		{"members_1", api("/lists/1/members")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", tt.path, "")
			want(t, r, http.StatusOK)
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(r.Body), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if r.Body != string(w) {
				t.Errorf("GET %s differs from %s:\n%s", tt.path, path, r.Body)
			}
		})
	}
}

// elementShape lists the start elements of an XML document with their
// depth and attribute names, ignoring text, values and elements in skip.
func elementShape(t *testing.T, doc string, skip ...string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var out []string
	depth := 0
	skipping := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			depth++
			if skipping > 0 || slices.Contains(skip, x.Name.Local) {
				skipping++
				continue
			}
			var attrs []string
			for _, a := range x.Attr {
				attrs = append(attrs, a.Name.Local)
			}
			slices.Sort(attrs)
			out = append(out, fmt.Sprintf("%d %s{%s} %s", depth, x.Name.Local, x.Name.Space, strings.Join(attrs, ",")))
		case xml.EndElement:
			depth--
			if skipping > 0 {
				skipping--
			}
		}
	}
}

// TestFixtureShapes checks that the sandbox answers with the same
// elements, in the same order, as the recorded responses.
func TestFixtureShapes(t *testing.T) {
	e := newEnv(t, nil)
	e.create(newContact("my@example.com", 1))
	e.create(newContact("jon@example.com", 1))
	e.create(newContact("other@example.com", 2))
	tests := []struct {
		fixture, path string
		prefix        bool     // compare only the fixture's first elements
		skip          []string // elements only the sandbox writes
	}{
		{"single_contact_by_id.xml", api("/contacts/2"), false, nil},
		{"single_contact_by_email.xml", api("/contacts?email=jon%40example.com"), false, nil},
		{"contacts_search2_two_emails.xml", api("/contacts?email=jon%40example.com&email=my%40example.com"), false, nil},
		{"all_contacts.xml", api("/contacts?updatedsince=2000-01-01T00:00:00.000Z&listid=1"), false, nil},
		{"contactlistscollection.xml", api("/lists"), true, []string{"ContactCount"}},
		{"memberscollection.xml", api("/lists/1/members"), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			fx := elementShape(t, readFixture(t, tt.fixture))
			r := e.do("GET", tt.path, "")
			want(t, r, http.StatusOK)
			got := elementShape(t, r.Body, tt.skip...)
			if tt.prefix {
				fx, got = fx[:min(len(fx), len(got))], got[:min(len(fx), len(got))]
			}
			if !slices.Equal(got, fx) {
				t.Errorf("shape differs from %s\n got: %s\nwant: %s", tt.fixture, strings.Join(got, "\n      "), strings.Join(fx, "\n      "))
			}
		})
	}
	// The two-list fixture: same shape once the contact is on two lists.
	c := e.get("2")
	c.Lists = append(c.Lists, ctct.ListMembership{ID: listURI(2)})
	want(t, e.put(c), http.StatusNoContent)
	got := elementShape(t, e.do("GET", api("/contacts/2"), "").Body)
	if fx := elementShape(t, readFixture(t, "contacts_4_two_lists.xml")); !slices.Equal(got, fx) {
		t.Errorf("shape differs from contacts_4_two_lists.xml\n got: %v\nwant: %v", got, fx)
	}
	c.Lists = nil
	want(t, e.put(c), http.StatusNoContent)
	got = elementShape(t, e.do("GET", api("/contacts/2"), "").Body)
	if fx := elementShape(t, readFixture(t, "single_contact_by_id_with_no_contactlists.xml")); !slices.Equal(got, fx) {
		t.Errorf("shape differs from single_contact_by_id_with_no_contactlists.xml\n got: %v\nwant: %v", got, fx)
	}
}

// TestFixtureBodies sends recorded entries back as request bodies: they
// decode, and are refused only for what they are (lists of another
// account, or no OptInSource).
func TestFixtureBodies(t *testing.T) {
	e := newEnv(t, nil)
	n := e.create(newContact("jon@example.com", 1))
	body := readFixture(t, "single_contact_by_id.xml")
	r := e.do("PUT", api("/contacts/"+n), body)
	want(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, "is not a list of this account") {
		t.Errorf("PUT of the fixture: %s", r)
	}
	own := strings.ReplaceAll(body, "/customers/joesflowers/", "/customers/sandbox/")
	want(t, e.do("PUT", api("/contacts/"+n), own), http.StatusNoContent)
	if c := e.get(n); c.FirstName != "jon" || c.Name != "jon smith" || !c.HasList("1") {
		t.Errorf("after PUT of the fixture: %+v", c)
	}
	r = e.do("POST", api("/contacts"), strings.ReplaceAll(own, "jon@example.com", "new@example.com"))
	want(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, "OptInSource is required") {
		t.Errorf("POST of the fixture: %s", r)
	}
}
