package sandbox

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
)

func TestCreate(t *testing.T) {
	e := newEnv(t, nil)
	c := newContact("Jon.Smith@Example.COM", 1, 3, 1)
	c.CompanyName, c.StateCode, c.CountryCode, c.CustomFields[2] = "Acme & Co", "ON", "ca", "x<y"
	c.OptInSource = ctct.ActionByContact
	r := e.do("POST", api("/contacts"), createBody(t, c))
	want(t, r, http.StatusCreated)
	if ct := r.Header.Get("Content-Type"); ct != "application/atom+xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	loc := r.Header.Get("Location")
	if want := e.srv.URL + "/ws/customers/sandbox/contacts/1"; loc != want {
		t.Errorf("Location %q, want %q", loc, want)
	}
	got, err := ctct.DecodeContactEntry(strings.NewReader(r.Body))
	if err != nil {
		t.Fatalf("decode 201 body: %v", err)
	}
	now := e.clock.Now().Format(timeLayout)
	checks := map[string]string{
		"ID":             "http://api.constantcontact.com/ws/customers/sandbox/contacts/1",
		"Status":         ctct.StatusActive,
		"EmailAddress":   "jon.smith@example.com",
		"EmailType":      "HTML",
		"Name":           "Jon Smith",
		"CompanyName":    "Acme & Co",
		"StateCode":      "ON",
		"CustomField3":   "x<y",
		"Confirmed":      "false",
		"InsertTime":     now,
		"LastUpdateTime": now,
	}
	for name, w := range checks {
		v := got.Get(name)
		if name == "ID" {
			v = got.ID
		}
		if v != w {
			t.Errorf("%s = %q, want %q", name, v, w)
		}
	}
	if len(got.Lists) != 2 || !got.HasList("1") || !got.HasList("3") {
		t.Fatalf("lists %+v", got.Lists)
	}
	for _, l := range got.Lists {
		if l.OptInSource != ctct.ActionByContact || l.OptInTime != now {
			t.Errorf("membership %+v", l)
		}
	}
	// The 201 body is the same entry a GET answers.
	g := e.do("GET", api("/contacts/1"), "")
	want(t, g, http.StatusOK)
	if g.Body != r.Body {
		t.Errorf("GET differs from the 201 body:\n%s\n---\n%s", g.Body, r.Body)
	}
	// Summary listing carries the contact's opt-in.
	cs := e.walk(api("/contacts"))
	if len(cs) != 1 || cs[0].OptInSource != ctct.ActionByContact || cs[0].OptInTime != now || cs[0].Name != "Jon Smith" {
		t.Errorf("listing %+v", cs)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("a", 51)
	tests := []struct {
		name string
		mod  func(*ctct.Contact)
		body func(string) string
		msg  string
	}{
		{"missing email", func(c *ctct.Contact) { c.EmailAddress = "" }, nil, "EmailAddress: email address is required"},
		{"bad email", func(c *ctct.Contact) { c.EmailAddress = "jon@@example.com" }, nil, "EmailAddress: "},
		{"email too long", func(c *ctct.Contact) { c.EmailAddress = strings.Repeat("a", 75) + "@example.com" }, nil, "EmailAddress: 87 characters, at most 80"},
		{"first name too long", func(c *ctct.Contact) { c.FirstName = long }, nil, "FirstName: 51 characters, at most 50 allowed"},
		{"two bad fields", func(c *ctct.Contact) { c.JobTitle, c.Note = long, strings.Repeat("n", 501) }, nil, "JobTitle: 51 characters, at most 50 allowed; Note: 501 characters"},
		{"email type", func(c *ctct.Contact) { c.EmailType = "html" }, nil, `EmailType: "html" is not one of HTML, Text`},
		{"unknown state", func(c *ctct.Contact) { c.StateCode = "ZZ" }, nil, `StateCode: "ZZ" is not a US state`},
		{"state of another country", func(c *ctct.Contact) { c.StateCode, c.CountryCode = "ON", "us" }, nil, `StateCode: "ON" is a CA code but CountryCode is "us"`},
		{"country code", func(c *ctct.Contact) { c.CountryCode = "US" }, nil, `CountryCode: "US" is not a two-letter lower-case`},
		{"opt-in source case", func(c *ctct.Contact) { c.OptInSource = "action_by_customer" }, nil, "OptInSource: "},
		{"no opt-in source", func(c *ctct.Contact) { c.OptInSource = "" }, nil, "OptInSource is required"},
		{"no list", func(c *ctct.Contact) { c.Lists = nil }, nil, "The new contact must contain at least one valid ContactList"},
		{"unknown list", func(c *ctct.Contact) { c.Lists[0].ID = listURI(99) }, nil, "The new contact must contain at least one valid ContactList: ContactList 99 does not exist"},
		{"system list", func(c *ctct.Contact) {
			c.Lists[0].ID = "http://api.constantcontact.com/ws/customers/sandbox/lists/active"
		}, nil, "The new contact must contain at least one valid ContactList"},
		{"list of another account", func(c *ctct.Contact) {
			c.Lists[0].ID = "http://api.constantcontact.com/ws/customers/joe/lists/1"
		}, nil, "is not a list of this account"},
		{"control character", nil, func(b string) string {
			return strings.Replace(b, "<FirstName>Jon", "<FirstName>Jo&#x1;n", 1)
		}, "invalid entry"},
		{"not xml", nil, func(string) string { return "hello" }, "invalid entry"},
		{"no contact", nil, func(string) string {
			return `<entry xmlns="http://www.w3.org/2005/Atom"><content></content></entry>`
		}, "invalid entry: decode entry: no Contact in content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newContact("valid@example.com", 1)
			if tt.mod != nil {
				tt.mod(c)
			}
			body := createBody(t, c)
			if tt.body != nil {
				body = tt.body(body)
			}
			r := e.do("POST", api("/contacts"), body)
			want(t, r, http.StatusBadRequest)
			if !strings.HasPrefix(r.Body, "Error 400: ") || !strings.Contains(r.Body, tt.msg) {
				t.Errorf("body %q, want it to contain %q", r.Body, tt.msg)
			}
		})
	}
	if cs := e.walk(api("/contacts")); len(cs) != 0 {
		t.Errorf("%d contacts created by invalid requests", len(cs))
	}
}

func TestEmailConflictInAnyStatus(t *testing.T) {
	e := newEnv(t, nil)
	e.create(newContact("active@example.com", 1))
	dnm := e.create(newContact("dnm@example.com", 1))
	removed := e.create(newContact("removed@example.com", 1))
	want(t, e.do("DELETE", api("/contacts/"+dnm), ""), http.StatusNoContent)
	c := e.get(removed)
	c.Lists = nil
	want(t, e.put(c), http.StatusNoContent)
	if got := e.get(removed).Status; got != ctct.StatusRemoved {
		t.Fatalf("status %q", got)
	}
	for _, email := range []string{"active@example.com", "ACTIVE@Example.com", "dnm@example.com", "Removed@example.com", " removed@example.com "} {
		r := e.do("POST", api("/contacts"), createBody(t, newContact(email, 2)))
		want(t, r, http.StatusConflict)
		if !strings.HasPrefix(r.Body, "Error 409: Email address ") || !strings.Contains(r.Body, "already exists") {
			t.Errorf("body %q", r.Body)
		}
	}
	if n := len(e.walk(api("/contacts"))); n != 3 {
		t.Errorf("%d contacts", n)
	}
}

func TestEmailCaseInsensitive(t *testing.T) {
	e := newEnv(t, nil)
	n := e.create(newContact("Mixed.Case@Example.COM", 1))
	if got := e.get(n).EmailAddress; got != "mixed.case@example.com" {
		t.Errorf("stored %q", got)
	}
	for _, q := range []string{"mixed.case@example.com", "MIXED.CASE@EXAMPLE.COM", "Mixed.Case@example.com"} {
		cs := e.search(q)
		if len(cs) != 1 || ctct.Number(cs[0].ID) != n {
			t.Errorf("search %q: %v", q, numbers(cs))
		}
	}
}

func TestConcurrentCreateSameEmail(t *testing.T) {
	for _, db := range []string{":memory:", "file"} {
		t.Run(db, func(t *testing.T) {
			e := newEnv(t, func(c *Options) {
				if db == "file" {
					c.DB = t.TempDir() + "/sandbox.db"
				}
			})
			const n = 16
			statuses := make([]int, n)
			var wg sync.WaitGroup
			body := createBody(t, newContact("same@example.com", 1))
			for i := range n {
				req := e.request("POST", api("/contacts"), body)
				wg.Go(func() {
					res, err := e.srv.Client().Do(req)
					if err != nil {
						t.Errorf("POST: %v", err)
						return
					}
					res.Body.Close()
					statuses[i] = res.StatusCode
				})
			}
			wg.Wait()
			created := 0
			for _, s := range statuses {
				switch s {
				case http.StatusCreated:
					created++
				case http.StatusConflict:
				default:
					t.Errorf("status %d", s)
				}
			}
			if created != 1 {
				t.Errorf("%d created, want exactly 1", created)
			}
			if cs := e.search("same@example.com"); len(cs) != 1 {
				t.Errorf("%d contacts with the email", len(cs))
			}
		})
	}
}

func TestPutFullReplace(t *testing.T) {
	e := newEnv(t, nil)
	c := newContact("jon@example.com", 1, 2)
	c.CompanyName, c.JobTitle, c.City, c.CustomFields[14] = "Acme", "Owner", "Boston", "keep?"
	n := e.create(c)
	got := e.get(n)

	// A GET, change, PUT round trip.
	got.FirstName, got.CustomFields[14] = "Jonathan", ""
	want(t, e.put(got), http.StatusNoContent)
	after := e.get(n)
	if after.FirstName != "Jonathan" || after.Name != "Jonathan Smith" || after.CustomFields[14] != "" || after.CompanyName != "Acme" {
		t.Errorf("after PUT: %+v", after)
	}

	// Omitted editable elements become empty; read-only ones are ignored.
	b, err := ctct.MarshalUpdate(after)
	if err != nil {
		t.Fatal(err)
	}
	body := replaceElement(string(b), "CompanyName", "")
	body = replaceElement(body, "JobTitle", "")
	body = strings.Replace(body, "<Status>Active</Status>", "<Status>Do Not Mail</Status>", 1)
	body = strings.Replace(body, "<Name>Jonathan Smith</Name>", "<Name>Somebody Else</Name>", 1)
	body = strings.Replace(body, "<InsertTime>"+after.InsertTime+"</InsertTime>", "<InsertTime>1999-01-01T00:00:00.000Z</InsertTime>", 1)
	want(t, e.do("PUT", api("/contacts/"+n), body), http.StatusNoContent)
	final := e.get(n)
	if final.CompanyName != "" || final.JobTitle != "" || final.City != "Boston" {
		t.Errorf("omitted elements: company %q title %q city %q", final.CompanyName, final.JobTitle, final.City)
	}
	if final.Status != ctct.StatusActive || final.Name != "Jonathan Smith" || final.InsertTime != after.InsertTime {
		t.Errorf("read-only elements changed: %q %q %q", final.Status, final.Name, final.InsertTime)
	}
	if len(final.Lists) != 2 {
		t.Errorf("lists %+v", final.Lists)
	}

	// Validation like POST.
	final.StateCode = "XX"
	r := e.put(final)
	want(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, "StateCode") {
		t.Errorf("body %q", r.Body)
	}
	bad := e.get(n)
	bad.Lists = append(bad.Lists, ctct.ListMembership{ID: listURI(7)})
	want(t, e.put(bad), http.StatusBadRequest)
	bad = e.get(n)
	bad.Lists[0].OptInSource = "SOMEONE"
	want(t, e.put(bad), http.StatusBadRequest)
	want(t, e.do("PUT", api("/contacts/"+n), "<entry"), http.StatusBadRequest)
}

func TestPutEmailChange(t *testing.T) {
	e := newEnv(t, nil)
	a := e.create(newContact("a@example.com", 1))
	e.create(newContact("b@example.com", 1))
	c := e.get(a)
	c.EmailAddress = "B@example.com"
	r := e.put(c)
	want(t, r, http.StatusConflict)
	c.EmailAddress = "A2@Example.com"
	want(t, e.put(c), http.StatusNoContent)
	if got := e.get(a).EmailAddress; got != "a2@example.com" {
		t.Errorf("email %q", got)
	}
	if cs := e.search("a@example.com"); len(cs) != 0 {
		t.Errorf("old email still found")
	}
	// The new address is taken, the old one free again.
	want(t, e.do("POST", api("/contacts"), createBody(t, newContact("a2@example.com", 1))), http.StatusConflict)
	want(t, e.do("POST", api("/contacts"), createBody(t, newContact("a@example.com", 1))), http.StatusCreated)
}

func TestPutMembership(t *testing.T) {
	e := newEnv(t, nil)
	n := e.create(newContact("jon@example.com", 1, 2))
	created := e.get(n)
	t0 := created.LastUpdateTime

	// A PUT that changes nothing leaves LastUpdateTime alone.
	e.clock.Advance(time.Minute)
	want(t, e.put(created), http.StatusNoContent)
	if got := e.get(n).LastUpdateTime; got != t0 {
		t.Errorf("no-op PUT moved LastUpdateTime %s -> %s", t0, got)
	}

	// Replace 2 by 3: 1 keeps its opt-in, 3 is new.
	e.clock.Advance(time.Minute)
	t1 := e.clock.Now().Format(timeLayout)
	c := e.get(n)
	c.Lists = []ctct.ListMembership{{ID: listURI(3), OptInSource: ctct.ActionByContact}, c.Lists[0]}
	want(t, e.put(c), http.StatusNoContent)
	c = e.get(n)
	if len(c.Lists) != 2 || !c.HasList("1") || !c.HasList("3") || c.HasList("2") {
		t.Fatalf("lists %+v", c.Lists)
	}
	for _, l := range c.Lists {
		switch ctct.Number(l.ID) {
		case "1":
			if l.OptInTime != t0 || l.OptInSource != ctct.ActionByCustomer {
				t.Errorf("kept membership %+v", l)
			}
		case "3":
			if l.OptInTime != t1 || l.OptInSource != ctct.ActionByContact {
				t.Errorf("new membership %+v", l)
			}
		}
	}
	if c.LastUpdateTime != t1 {
		t.Errorf("LastUpdateTime %s, want %s", c.LastUpdateTime, t1)
	}

	// Empty ContactLists: Removed; lists again: Active.
	e.clock.Advance(time.Minute)
	c.Lists = nil
	want(t, e.put(c), http.StatusNoContent)
	c = e.get(n)
	if c.Status != ctct.StatusRemoved || len(c.Lists) != 0 {
		t.Errorf("after empty lists: %s %+v", c.Status, c.Lists)
	}
	c.Lists = []ctct.ListMembership{{ID: listURI(2)}}
	want(t, e.put(c), http.StatusNoContent)
	c = e.get(n)
	if c.Status != ctct.StatusActive || len(c.Lists) != 1 || c.Lists[0].OptInSource != ctct.ActionByCustomer {
		t.Errorf("after re-adding: %s %+v", c.Status, c.Lists)
	}
	// Omitting ContactLists altogether is the same as an empty one.
	b, _ := ctct.MarshalUpdate(c)
	start, end := strings.Index(string(b), "<ContactLists>"), strings.Index(string(b), "</ContactLists>")
	body := string(b)[:start] + string(b)[end+len("</ContactLists>"):]
	want(t, e.do("PUT", api("/contacts/"+n), body), http.StatusNoContent)
	if c := e.get(n); c.Status != ctct.StatusRemoved {
		t.Errorf("without ContactLists: %s", c.Status)
	}
}

func TestDoNotMail(t *testing.T) {
	e := newEnv(t, nil)
	n := e.create(newContact("jon@example.com", 1, 2))
	e.clock.Advance(time.Hour)
	now := e.clock.Now().Format(timeLayout)
	want(t, e.do("DELETE", api("/contacts/"+n), ""), http.StatusNoContent)
	c := e.get(n)
	if c.Status != ctct.StatusDoNotMail || len(c.Lists) != 0 || c.OptOutTime != now ||
		c.OptOutSource != ctct.ActionByCustomer || c.OptOutReason != "" || c.LastUpdateTime != now {
		t.Fatalf("after DELETE: %+v", c)
	}
	r := e.do("GET", api("/contacts/"+n), "")
	if !strings.Contains(r.Body, "<OptOutReason></OptOutReason>") {
		t.Errorf("full entry of a DNM contact lacks OptOutReason:\n%s", r.Body)
	}

	// The owner may not put it back on a list.
	c.Lists = []ctct.ListMembership{{ID: listURI(1)}}
	r = e.put(c)
	want(t, r, http.StatusBadRequest)
	if r.Body != "Error 400: Status transition from Do Not Mail to Active is not allowed" {
		t.Errorf("body %q", r.Body)
	}
	c.Lists = []ctct.ListMembership{{ID: listURI(1), OptInSource: ctct.ActionByCustomer}}
	want(t, e.put(c), http.StatusBadRequest)

	// Changing details only is allowed and keeps the status.
	c = e.get(n)
	c.FirstName = "Jonathan"
	want(t, e.put(c), http.StatusNoContent)
	c = e.get(n)
	if c.Status != ctct.StatusDoNotMail || c.FirstName != "Jonathan" || c.OptOutTime != now {
		t.Errorf("after details PUT: %+v", c)
	}

	// A second opt-out changes nothing.
	e.clock.Advance(time.Hour)
	want(t, e.do("DELETE", api("/contacts/"+n), ""), http.StatusNoContent)
	if got := e.get(n); got.OptOutTime != now || got.LastUpdateTime != c.LastUpdateTime {
		t.Errorf("second DELETE changed the contact: %+v", got)
	}

	// Only the contact can opt back in.
	c.Lists = []ctct.ListMembership{{ID: listURI(2), OptInSource: ctct.ActionByContact}}
	want(t, e.put(c), http.StatusNoContent)
	c = e.get(n)
	if c.Status != ctct.StatusActive || !c.HasList("2") || c.OptOutTime != "" {
		t.Errorf("after the contact opted in: %+v", c)
	}
}
