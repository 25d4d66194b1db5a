package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"ctctbulk/ctct"
)

// listBody is a list write's entry.
func listBody(t testing.TB, l *ctct.List) string {
	t.Helper()
	b, err := ctct.MarshalList(l)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestListWrites(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", api("/lists"), listBody(t, &ctct.List{Name: "VIP", OptInDefault: "false", SortOrder: "7"}))
	want(t, r, http.StatusCreated)
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, api("/lists/4")) {
		t.Errorf("Location %q", loc)
	}
	l, err := ctct.DecodeListEntry(strings.NewReader(r.Body))
	if err != nil || l.Name != "VIP" || l.SortOrder != "7" || l.OptInDefault != "false" || ctct.Number(l.ID) != "4" {
		t.Fatalf("created %+v (%v)", l, err)
	}
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"existing name", "POST", api("/lists"), listBody(t, &ctct.List{Name: "vip"}), 409},
		{"system name", "POST", api("/lists"), listBody(t, &ctct.List{Name: "Active"}), 409},
		{"no name", "POST", api("/lists"), strings.Replace(listBody(t, &ctct.List{Name: "x"}), "<Name>x</Name>", "", 1), 400},
		{"bad opt-in default", "POST", api("/lists"), listBody(t, &ctct.List{Name: "y", OptInDefault: "maybe"}), 400},
		{"bad sort order", "POST", api("/lists"), listBody(t, &ctct.List{Name: "y", SortOrder: "first"}), 400},
		{"rename onto another", "PUT", api("/lists/4"), listBody(t, &ctct.List{Name: "Customers"}), 409},
		{"put system", "PUT", api("/lists/active"), listBody(t, &ctct.List{Name: "All"}), 400},
		{"put unknown", "PUT", api("/lists/99"), listBody(t, &ctct.List{Name: "All"}), 404},
		{"delete system", "DELETE", api("/lists/do-not-mail"), "", 400},
		{"delete unknown", "DELETE", api("/lists/99"), "", 404},
		{"rename", "PUT", api("/lists/4"), listBody(t, &ctct.List{Name: "V.I.P.", OptInDefault: "true"}), 204},
		{"same name again", "PUT", api("/lists/4"), listBody(t, &ctct.List{Name: "V.I.P."}), 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want(t, e.do(tt.method, tt.path, tt.body), tt.status)
		})
	}
	r = e.do("GET", api("/lists/4"), "")
	l, _ = ctct.DecodeListEntry(strings.NewReader(r.Body))
	if l.Name != "V.I.P." || l.OptInDefault != "false" || l.SortOrder != "7" {
		t.Errorf("after PUT %+v", l)
	}
	// DELETE: the members stay; one left on no list is Removed.
	only := e.create(newContact("only@example.com", 4))
	both := e.create(newContact("both@example.com", 1, 4))
	want(t, e.do("DELETE", api("/lists/4"), ""), http.StatusNoContent)
	want(t, e.do("GET", api("/lists/4"), ""), http.StatusNotFound)
	if c := e.get(only); c.Status != ctct.StatusRemoved || len(c.Lists) != 0 {
		t.Errorf("only member: %+v", c)
	}
	if c := e.get(both); c.Status != ctct.StatusActive || !slices.Equal(listNumbers(c), []string{"1"}) {
		t.Errorf("member of two: %+v", c)
	}
	st := e.stats()
	for _, k := range []string{"POST /lists", "PUT /lists/{id}", "DELETE /lists/{id}"} {
		if st.ByRoute[k] == 0 {
			t.Errorf("stats by_route has no %q: %v", k, st.ByRoute)
		}
	}
}

// TestOptBackIn: a PUT with a contact-level ACTION_BY_CONTACT puts a Do
// Not Mail contact back on a list (its ContactList carries no OptInSource);
// the owner (ACTION_BY_CUSTOMER) cannot.
func TestOptBackIn(t *testing.T) {
	e := newEnv(t, nil)
	n := e.create(newContact("back@example.com", 1))
	want(t, e.do("DELETE", api("/contacts/"+n), ""), http.StatusNoContent)
	c := e.get(n)
	c.Lists = []ctct.ListMembership{{ID: listURI(2)}}
	body, err := ctct.MarshalUpdate(c)
	if err != nil {
		t.Fatal(err)
	}
	withSource := func(src string) string {
		return strings.Replace(string(body), "<ContactLists>", "<OptInSource>"+src+"</OptInSource>\n      <ContactLists>", 1)
	}
	for _, tt := range []struct {
		body   string
		status int
	}{
		{string(body), 400},
		{withSource(ctct.ActionByCustomer), 400},
		{withSource("action_by_contact"), 400},
		{withSource(ctct.ActionByContact), 204},
	} {
		want(t, e.do("PUT", api("/contacts/"+n), tt.body), tt.status)
	}
	got := e.get(n)
	if got.Status != ctct.StatusActive || !slices.Equal(listNumbers(got), []string{"2"}) ||
		got.Lists[0].OptInSource != ctct.ActionByContact || got.OptOutTime != "" {
		t.Errorf("after opting back in: %+v", got)
	}
}

// TestServiceDocument: GET /ws/customers/{user}/ answers the service
// document, shaped like the recorded one, naming the three collections.
func TestServiceDocument(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/ws/customers/sandbox/", "/ws/customers/sandbox"} {
		r := e.do("GET", p, "")
		want(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/atomsvc+xml") {
			t.Errorf("Content-Type %q", ct)
		}
		have := elementPaths(t, r.Body)
		for _, w := range elementPaths(t, readFixture(t, "service_document.xml")) {
			if !slices.Contains(have, w) {
				t.Errorf("no %s in the service document", w)
			}
		}
		for _, c := range []string{"/contacts\"", "/lists\"", "/activities\"", "Bulk Activity", "Contact Lists", "multipart/form-data"} {
			if !strings.Contains(r.Body, c) {
				t.Errorf("service document without %s", c)
			}
		}
	}
	req := e.request("GET", "/ws/customers/sandbox/", "")
	req.SetBasicAuth("sandbox-key%sandbox", "wrong")
	want(t, e.send(req), http.StatusUnauthorized)
	if st := e.stats(); st.ByRoute["GET /"] != 3 { // the refused one counts too
		t.Errorf("stats %v", st.ByRoute)
	}
}
