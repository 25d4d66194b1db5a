package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
)

func TestPagination(t *testing.T) {
	e := newEnv(t, func(c *Options) { c.PageSize = 7 })
	for i := range 20 {
		e.create(newContact(fmt.Sprintf("c%02d@example.com", i), 1))
	}
	f := e.feed(api("/contacts"))
	if len(f.Contacts) != 7 {
		t.Fatalf("first page: %d entries", len(f.Contacts))
	}
	links := map[string]string{}
	for _, l := range f.Links {
		links[l.Rel] = l.Href
	}
	if links["first"] != api("/contacts") || links["current"] != api("/contacts") ||
		!strings.HasPrefix(links["next"], api("/contacts?next=")) {
		t.Errorf("links %v", links)
	}
	all := e.walk(api("/contacts"))
	got := numbers(all)
	var wantNums []string
	for i := 20; i >= 1; i-- {
		wantNums = append(wantNums, fmt.Sprint(i))
	}
	if !slices.Equal(got, wantNums) {
		t.Errorf("walk %v, want %v", got, wantNums)
	}
	for _, c := range all {
		if c.Full || c.OptInTime == "" || c.Status != ctct.StatusActive || c.EmailAddress == "" {
			t.Errorf("summary entry %+v", c)
		}
	}

	// The last page has no next link; current names the page.
	next := f.Next()
	f2 := e.feed(next)
	f3 := e.feed(f2.Next())
	if len(f3.Contacts) != 6 || f3.Next() != "" {
		t.Errorf("last page: %d entries, next %q", len(f3.Contacts), f3.Next())
	}
	for _, l := range f2.Links {
		if l.Rel == "current" && l.Href != next {
			t.Errorf("current %q, want %q", l.Href, next)
		}
	}

	tok := strings.TrimPrefix(next, api("/contacts?next="))
	for _, q := range []string{
		"next=zz", "next=abc-def", "next=" + tok + "1", "next=-" + tok, "next=" + tok + "&next=" + tok,
		"next=" + tok + "&updatedsince=2000-01-01T00:00:00.000Z&listtype=active", // issued for another query
		"next=%zz",
	} {
		r := e.do("GET", api("/contacts?"+q), "")
		want(t, r, http.StatusBadRequest)
	}
	// A contacts token is no members token.
	want(t, e.do("GET", api("/lists/1/members?next="+tok), ""), http.StatusBadRequest)
}

func TestPaginationWhileInserting(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.sb.Seed(context.Background(), 1000); err != nil {
		t.Fatal(err)
	}
	initial := map[string]bool{}
	for _, c := range e.walk(api("/contacts")) {
		initial[ctct.Number(c.ID)] = true
	}
	if len(initial) != 1000 {
		t.Fatalf("%d contacts seeded", len(initial))
	}

	// The walk begins with its first page; then another client inserts
	// while it goes on.
	seen := map[string]int{}
	f := e.feed(api("/contacts"))
	for _, c := range f.Contacts {
		seen[ctct.Number(c.ID)]++
	}
	path, pages := f.Next(), 1

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	inserted := 0
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			// No t.Fatal outside the test's goroutine: plain calls.
			body, err := ctct.MarshalCreate(newContact(fmt.Sprintf("new%d@example.com", i), 1+i%3))
			if err != nil {
				t.Errorf("concurrent create: %v", err)
				return
			}
			res, err := e.srv.Client().Do(e.request("POST", api("/contacts"), string(body)))
			if err != nil {
				t.Errorf("concurrent create: %v", err)
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Errorf("concurrent create: status %d", res.StatusCode)
				return
			}
			inserted++
		}
	})
	for path != "" {
		f := e.feed(path)
		for _, c := range f.Contacts {
			seen[ctct.Number(c.ID)]++
		}
		path = f.Next()
		pages++
		// Make sure some inserts land between pages.
		e.create(newContact(fmt.Sprintf("walker%d@example.com", pages), 2))
	}
	cancel()
	wg.Wait()
	for n := range initial {
		if seen[n] != 1 {
			t.Errorf("contact %s seen %d times", n, seen[n])
		}
	}
	for n, k := range seen {
		if !initial[n] {
			t.Errorf("contact %s created during the walk was returned (%d times)", n, k)
		}
	}
	if pages != 20 {
		t.Errorf("%d pages, want 20", pages)
	}
	t.Logf("%d contacts inserted during the walk", inserted+pages)
}

func TestSearch(t *testing.T) {
	e := newEnv(t, func(c *Options) { c.PageSize = 2 })
	for _, m := range []string{"a@example.com", "b@example.com", "c+tag@example.com", "d@example.com"} {
		e.create(newContact(m, 1))
	}
	r := e.do("GET", api("/contacts?email=a%40example.com&email=C%2BTAG%40example.com&email=zzz%40example.com"), "")
	want(t, r, http.StatusOK)
	f, err := ctct.DecodeFeed(strings.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got := numbers(f.Contacts); !slices.Equal(got, []string{"3", "1"}) || f.Next() != "" {
		t.Errorf("search: %v next %q", got, f.Next())
	}
	for _, c := range f.Contacts {
		if c.Confirmed != "false" || c.InsertTime == "" || c.OptInSource == "" {
			t.Errorf("search entry %+v", c)
		}
	}
	if !strings.Contains(r.Body, `rel="current"`) || !strings.Contains(r.Body, "email=a%40example.com&amp;email=c%2Btag%40example.com") {
		t.Errorf("current link:\n%s", r.Body)
	}

	// More matches than a page: the search pages too.
	got := numbers(e.walk(api("/contacts?email=a%40example.com&email=b%40example.com&email=d%40example.com")))
	if !slices.Equal(got, []string{"4", "2", "1"}) {
		t.Errorf("paged search %v", got)
	}

	// No match: an empty feed.
	f = e.feed(api("/contacts?email=nobody%40example.com"))
	if len(f.Contacts) != 0 || f.Next() != "" {
		t.Errorf("no match: %+v", f)
	}

	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("x%d@example.com", i))
	}
	want(t, e.do("GET", api("/contacts?"+url.Values{"email": many}.Encode()), ""), http.StatusOK)
	many = append(many, "a@example.com")
	r = e.do("GET", api("/contacts?"+url.Values{"email": many}.Encode()), "")
	want(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, "at most 50") {
		t.Errorf("body %q", r.Body)
	}
	want(t, e.do("GET", api("/contacts?email="), ""), http.StatusBadRequest)
	want(t, e.do("GET", api("/contacts?email=a%40example.com&listtype=active&updatedsince=2000-01-01T00:00:00Z"), ""), http.StatusBadRequest)
}

func TestUpdatedSince(t *testing.T) {
	e := newEnv(t, func(c *Options) { c.PageSize = 2 })
	a := e.create(newContact("a@example.com", 1))
	b := e.create(newContact("b@example.com", 2))
	e.clock.Advance(time.Hour)
	t1 := e.clock.Now().Format(timeLayout)
	c := e.create(newContact("c@example.com", 1))
	d := e.create(newContact("d@example.com", 1, 2))
	e.clock.Advance(time.Hour)
	t2 := e.clock.Now()
	ca := e.get(a)
	ca.FirstName = "Changed"
	want(t, e.put(ca), http.StatusNoContent)
	want(t, e.do("DELETE", api("/contacts/"+d), ""), http.StatusNoContent)
	cc := e.get(c)
	cc.Lists = nil
	want(t, e.put(cc), http.StatusNoContent)

	q := func(since string, kv ...string) string {
		v := url.Values{"updatedsince": {since}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return api("/contacts?" + v.Encode())
	}
	tests := []struct {
		path string
		want []string
	}{
		{q(t1, "listtype", "active"), []string{a}},
		{q(t1, "listtype", "removed"), []string{c}},
		{q(t1, "listtype", "do-not-mail"), []string{d}},
		{q("2000-01-01T00:00:00.000Z", "listtype", "active"), []string{b, a}},
		{q("2000-01-01T00:00:00Z", "listid", "1"), []string{a}},
		{q("2000-01-01T00:00:00.000Z", "listid", "2"), []string{b}},
		{q(t2.Format(timeLayout), "listtype", "removed"), []string{c}},
		{q(t2.Add(time.Microsecond).Format(time.RFC3339Nano), "listtype", "removed"), nil}, // rounded up to the next millisecond
		{q(t2.In(time.FixedZone("x", -5*3600)).Format(time.RFC3339), "listtype", "do-not-mail"), []string{d}},
		{q(t1, "listid", "3"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := numbers(e.walk(tt.path))
			if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	// Paging keeps the filter in the next link.
	e.clock.Advance(time.Hour)
	for i := range 5 {
		e.create(newContact(fmt.Sprintf("late%d@example.com", i), 3))
	}
	path := q(e.clock.Now().Format(timeLayout), "listid", "3")
	f := e.feed(path)
	if next := f.Next(); !strings.HasPrefix(next, api("/contacts?")) || !strings.Contains(next, "listid=3") || !strings.Contains(next, "updatedsince=") {
		t.Errorf("next %q", next)
	}
	if n := len(e.walk(path)); n != 5 {
		t.Errorf("walk: %d contacts, want 5", n)
	}

	for _, bad := range []string{
		api("/contacts?listtype=active"),
		api("/contacts?listid=1"),
		api("/contacts?updatedsince=" + url.QueryEscape(t1)),
		q(t1, "listtype", "active", "listid", "1"),
		q("yesterday", "listtype", "active"),
		q("2024-13-01T00:00:00Z", "listtype", "active"),
		q(t1, "listtype", "Active"),
		q(t1, "listtype", "everyone"),
		q(t1, "listid", "x"),
		q(t1, "listid", "99"),
		api("/contacts?updatedsince=2000-01-01T00:00:00Z&updatedsince=2001-01-01T00:00:00Z&listtype=active"),
	} {
		r := e.do("GET", bad, "")
		want(t, r, http.StatusBadRequest)
		if !strings.HasPrefix(r.Body, "Error 400: ") {
			t.Errorf("%s: body %q", bad, r.Body)
		}
	}
}

func TestLists(t *testing.T) {
	e := newEnv(t, func(c *Options) { c.PageSize = 3 })
	for i := range 5 {
		e.create(newContact(fmt.Sprintf("l1-%d@example.com", i), 1))
	}
	both := e.create(newContact("both@example.com", 1, 2))
	gone := e.create(newContact("gone@example.com", 2))
	want(t, e.do("DELETE", api("/contacts/"+gone), ""), http.StatusNoContent)
	rem := e.create(newContact("rem@example.com", 3))
	c := e.get(rem)
	c.Lists = nil
	want(t, e.put(c), http.StatusNoContent)

	f := e.feed(api("/lists"))
	type row struct {
		num, name string
		count     int
	}
	var got []row
	for _, l := range f.Lists {
		if !l.CountKnown {
			t.Errorf("list %s has no ContactCount", l.ID)
		}
		got = append(got, row{ctct.Number(l.ID), l.Name, l.ContactCount})
	}
	wantRows := []row{
		{"active", "Active", 6}, {"do-not-mail", "Do Not Mail", 1}, {"removed", "Removed", 1},
		{"1", "General Interest", 6}, {"2", "Customers", 1}, {"3", "Newsletter", 0},
	}
	if !slices.Equal(got, wantRows) {
		t.Errorf("lists %v, want %v", got, wantRows)
	}
	if f.Lists[3].MembersID != "http://api.constantcontact.com/ws/customers/sandbox/lists/1/members" ||
		f.Lists[3].OptInDefault != "true" || f.Lists[3].SortOrder != "1" {
		t.Errorf("list 1: %+v", f.Lists[3])
	}

	for _, tt := range []struct {
		key, name string
		count     int
	}{{"1", "General Interest", 6}, {"2", "Customers", 1}, {"active", "Active", 6}, {"do-not-mail", "Do Not Mail", 1}} {
		r := e.do("GET", api("/lists/"+tt.key), "")
		want(t, r, http.StatusOK)
		l, err := ctct.DecodeListEntry(strings.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		if ctct.Number(l.ID) != tt.key || l.Name != tt.name || l.ContactCount != tt.count {
			t.Errorf("list %s: %+v", tt.key, l)
		}
	}

	members := func(key string) []string {
		var out []string
		path := api("/lists/" + key + "/members")
		for path != "" {
			f := e.feed(path)
			if len(f.Members) > 3 {
				t.Errorf("page of %d members", len(f.Members))
			}
			for _, m := range f.Members {
				out = append(out, ctct.Number(m.ID)+" "+m.EmailAddress)
			}
			path = f.Next()
			if path != "" && !strings.HasPrefix(path, api("/lists/"+key+"/members?next=")) {
				t.Errorf("next %q", path)
			}
		}
		return out
	}
	if got := members("1"); len(got) != 6 || got[0] != both+" both@example.com" || got[5] != "1 l1-0@example.com" {
		t.Errorf("members of 1: %v", got)
	}
	if got := members("2"); !slices.Equal(got, []string{both + " both@example.com"}) {
		t.Errorf("members of 2: %v", got)
	}
	if got := members("3"); len(got) != 0 {
		t.Errorf("members of 3: %v", got)
	}
	if got := members("do-not-mail"); !slices.Equal(got, []string{gone + " gone@example.com"}) {
		t.Errorf("members of do-not-mail: %v", got)
	}
	if got := members("active"); len(got) != 6 {
		t.Errorf("members of active: %v", got)
	}
	r := e.do("GET", api("/lists/1/members"), "")
	if !strings.Contains(r.Body, `<link href="/ws/customers/sandbox/lists/1/members/`+both+`" rel="edit" />`) {
		t.Errorf("member entry:\n%s", r.Body)
	}
	want(t, e.do("GET", api("/lists/1/members?next=garbage"), ""), http.StatusBadRequest)
	f1 := e.feed(api("/lists/1/members"))
	want(t, e.do("GET", strings.Replace(f1.Next(), "/lists/1/", "/lists/2/", 1), ""), http.StatusBadRequest)
}
