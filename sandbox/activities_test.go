package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
)

// TestActivityLifecycle is the acceptance scenario: three rows, one with
// an unknown state code, one Do Not Mail; PENDING during the queue time,
// then COMPLETE with one row applied and two Errors on lines 3 and 4.
func TestActivityLifecycle(t *testing.T) {
	e := activityEnv(t, func(c *Options) { c.ActivityDelay = time.Hour })
	dnm := e.create(newContact("gone@example.com", 1))
	want(t, e.do("DELETE", api("/contacts/"+dnm), ""), http.StatusNoContent)
	data := "Email Address,First Name,US State/CA Province\n" +
		"new@example.com, Fred ,MA\n" +
		"bad@example.com,Bob,Test2\n" +
		"gone@example.com,Gone,\n"
	r := e.postForm(addForm(data, 1, 2))
	want(t, r, http.StatusCreated)
	if strings.Contains(r.Body, "<source>") || r.Header.Get("Location") == "" {
		t.Errorf("the POST's answer has a source or no Location:\n%s", r.Body)
	}
	a := decodeActivity(t, r.Body)
	if a.Status != ctct.ActivityPending || a.Type != ctct.ActivityAddContactDetail || a.RunStartTime != "" || a.TransactionCount != 0 {
		t.Fatalf("created %+v", a)
	}
	e.sb.jobs.kick()
	time.Sleep(3 * runnerPoll) // the runner looks, and must leave it waiting
	if got := e.activity(a.Key()); got.Status != ctct.ActivityPending {
		t.Fatalf("before its queue time: %s", got.Status)
	}
	if e.byEmail("new@example.com") != nil {
		t.Fatal("a PENDING job applied a row")
	}
	e.clock.Advance(time.Hour)
	got := e.finish(a.Key())
	if got.Status != ctct.ActivityComplete || got.TransactionCount != 1 || got.RunStartTime == "" || got.RunFinishTime == "" {
		t.Fatalf("finished %+v", got)
	}
	wantErrs := []ctct.ActivityRowError{
		{LineNumber: 3, EmailAddress: "bad@example.com", Message: `Unknown US/Canadian state/prov "Test2"`},
		{LineNumber: 4, EmailAddress: "gone@example.com", Message: "gone@example.com is on the Do Not Mail list"},
	}
	if !slices.Equal(got.Errors, wantErrs) {
		t.Errorf("errors %+v, want %+v", got.Errors, wantErrs)
	}
	c := e.byEmail("new@example.com")
	if c == nil || c.Status != ctct.StatusActive || c.FirstName != "Fred" || c.StateCode != "MA" ||
		!slices.Equal(listNumbers(c), []string{"1", "2"}) || c.Lists[0].OptInSource != ctct.ActionByCustomer {
		t.Fatalf("new contact %+v", c)
	}
	if g := e.byEmail("gone@example.com"); g.Status != ctct.StatusDoNotMail || g.FirstName != "Jon" {
		t.Errorf("the Do Not Mail contact changed: %+v", g)
	}
	if e.byEmail("bad@example.com") != nil {
		t.Error("a failed row created a contact")
	}
}

// TestAddRowSemantics checks BULK.md "What an add job does to each row".
func TestAddRowSemantics(t *testing.T) {
	e := activityEnv(t, nil)
	full := newContact("kept@example.com", 1)
	full.City, full.CompanyName, full.Note = "Boston", "Acme", "first note"
	kept := e.create(full)
	removed := e.create(newContact("removed@example.com", 3))
	rc := e.get(removed)
	rc.Lists = nil
	want(t, e.put(rc), http.StatusNoContent)
	if e.get(removed).Status != ctct.StatusRemoved {
		t.Fatal("setup: not Removed")
	}
	data := "EMAIL ADDRESS,first name,City,Company Name,Notes\r\n" +
		"KEPT@example.com,Kim,,,\"two\nlines\"\r\n" +
		"removed@example.com,,,,\r\n" +
		"twice@example.com,One,Paris,,\r\n" +
		"twice@example.com,Two,,Globex,\r\n" +
		"\r\n" +
		"bad-email,,,,\r\n"
	a := e.run(addForm(data, 2))
	if a.Type != ctct.ActivityAddContactDetail || a.TransactionCount != 4 {
		t.Fatalf("job %+v", a)
	}
	// The quoted line break makes row 1 two physical lines; the blank
	// line counts too.
	if len(a.Errors) != 1 || a.Errors[0].LineNumber != 8 || a.Errors[0].EmailAddress != "bad-email" {
		t.Errorf("errors %+v", a.Errors)
	}
	k := e.get(kept)
	if k.FirstName != "Kim" || k.City != "Boston" || k.CompanyName != "Acme" || k.Note != "two\nlines" || k.LastName != "Smith" ||
		!slices.Equal(listNumbers(k), []string{"1", "2"}) || k.Name != "Kim Smith" {
		t.Errorf("existing contact: %+v", k)
	}
	if r := e.get(removed); r.Status != ctct.StatusActive || !slices.Equal(listNumbers(r), []string{"2"}) || r.FirstName != "Jon" {
		t.Errorf("removed contact: %+v", r)
	}
	tw := e.byEmail("twice@example.com")
	if tw.FirstName != "Two" || tw.City != "Paris" || tw.CompanyName != "Globex" {
		t.Errorf("same email twice: %+v", tw)
	}

	// The same job again gives the same end state.
	before := e.walk(api("/contacts"))
	b := e.run(addForm(data, 2))
	if b.TransactionCount != 4 || len(b.Errors) != 1 {
		t.Errorf("second run %+v", b)
	}
	after := e.walk(api("/contacts"))
	if !slices.EqualFunc(before, after, func(x, y ctct.Contact) bool { return x.ID == y.ID && x.EmailAddress == y.EmailAddress }) {
		t.Errorf("repeat changed the contacts: %v / %v", numbers(before), numbers(after))
	}
	if got := e.get(kept); got.LastUpdateTime != k.LastUpdateTime {
		t.Errorf("repeat moved LastUpdateTime of an unchanged contact")
	}

	// Email only: ADD_CONTACTS; aliases and any case in the header.
	if a := e.run(addForm("email address\nonly@example.com\n", 1)); a.Type != ctct.ActivityAddContacts || a.TransactionCount != 1 {
		t.Errorf("email only: %+v", a)
	}
	if a := e.run(addForm("Email Address,State/Province (US/Canada),postal code\nalias@example.com,ON,K1A 0B1\n", 1)); a.TransactionCount != 1 {
		t.Errorf("aliases: %+v", a)
	}
	if c := e.byEmail("alias@example.com"); c.StateCode != "ON" || c.PostalCode != "K1A 0B1" {
		t.Errorf("aliases: %+v", c)
	}
	// SV_ADD is the same job.
	v := addForm("Email Address\nsv@example.com\n", 1)
	v.Set("activityType", "SV_ADD")
	if a := e.run(v); a.Type != ctct.ActivityAddContacts || e.byEmail("sv@example.com") == nil {
		t.Errorf("SV_ADD: %+v", a)
	}
}

// TestRemoveAndClear checks the remove and clear jobs.
func TestRemoveAndClear(t *testing.T) {
	e := activityEnv(t, nil)
	two := e.create(newContact("two@example.com", 1, 2))
	one := e.create(newContact("one@example.com", 2))
	other := e.create(newContact("other@example.com", 1, 2))
	v := url.Values{"activityType": {"REMOVE_CONTACTS_FROM_LISTS"}, "lists": {listURI(2)},
		"data": {"Email Address\ntwo@example.com\none@example.com\nnobody@example.com\n"}}
	a := e.run(v)
	if a.TransactionCount != 2 || len(a.Errors) != 1 || a.Errors[0].LineNumber != 4 {
		t.Errorf("remove job %+v", a)
	}
	if c := e.get(two); c.Status != ctct.StatusActive || !slices.Equal(listNumbers(c), []string{"1"}) {
		t.Errorf("two: %+v", c)
	}
	if c := e.get(one); c.Status != ctct.StatusRemoved || len(c.Lists) != 0 {
		t.Errorf("one: %+v", c)
	}
	a = e.run(url.Values{"activityType": {"CLEAR_CONTACTS_FROM_LISTS"}, "lists": {listURI(1)}})
	if a.Status != ctct.ActivityComplete || a.TransactionCount != 2 {
		t.Errorf("clear job %+v", a)
	}
	if c := e.get(two); c.Status != ctct.StatusRemoved {
		t.Errorf("two after clear: %+v", c)
	}
	if c := e.get(other); c.Status != ctct.StatusActive || !slices.Equal(listNumbers(c), []string{"2"}) {
		t.Errorf("other after clear: %+v", c)
	}
}

// TestActivityRequestErrors checks every 400 (and the 415) of BULK.md:
// nothing is created.
func TestActivityRequestErrors(t *testing.T) {
	e := activityEnv(t, nil)
	e.create(newContact("jon@example.com", 1))
	good := "Email Address\na@example.com\n"
	var many strings.Builder
	many.WriteString("Email Address\n")
	for i := range ctct.MaxActivityRows + 1 {
		fmt.Fprintf(&many, "r%d@example.com\n", i)
	}
	big := "Email Address,Notes\n" + strings.Repeat("x@example.com,"+strings.Repeat("n", 400)+"\n", ctct.MaxActivityData/400+1)
	export := func(mod func(url.Values)) url.Values {
		v := url.Values{"activityType": {"EXPORT_CONTACTS"}, "listId": {listURI(1)}, "fileType": {"CSV"}}
		mod(v)
		return v
	}
	tests := []struct {
		name string
		form url.Values
		msg  string
	}{
		{"no type", url.Values{"lists": {listURI(1)}, "data": {good}}, "activityType is required"},
		{"unknown type", url.Values{"activityType": {"ADD"}, "lists": {listURI(1)}, "data": {good}}, "unknown activityType"},
		{"add without lists", url.Values{"activityType": {"ADD_CONTACTS"}, "data": {good}}, "needs lists"},
		{"remove without lists", url.Values{"activityType": {"REMOVE_CONTACTS_FROM_LISTS"}, "data": {good}}, "needs lists"},
		{"clear without lists", url.Values{"activityType": {"CLEAR_CONTACTS_FROM_LISTS"}}, "needs lists"},
		{"add without data", url.Values{"activityType": {"ADD_CONTACTS"}, "lists": {listURI(1)}}, "needs data"},
		{"remove without data", url.Values{"activityType": {"REMOVE_CONTACTS_FROM_LISTS"}, "lists": {listURI(1)}}, "needs data"},
		{"clear with data", url.Values{"activityType": {"CLEAR_CONTACTS_FROM_LISTS"}, "lists": {listURI(1)}, "data": {good}}, "data is not a parameter"},
		{"unknown list", addForm(good, 9), "does not exist"},
		{"system list", url.Values{"activityType": {"ADD_CONTACTS"}, "lists": {"http://api.constantcontact.com/ws/customers/sandbox/lists/active"}, "data": {good}}, "system list"},
		{"other account's list", url.Values{"activityType": {"ADD_CONTACTS"}, "lists": {"http://api.constantcontact.com/ws/customers/joe/lists/1"}, "data": {good}}, "not a list of this account"},
		{"list as a number", url.Values{"activityType": {"ADD_CONTACTS"}, "lists": {"1"}, "data": {good}}, "not a list of this account"},
		{"lists[]", url.Values{"activityType": {"ADD_CONTACTS"}, "lists[]": {listURI(1)}, "data": {good}}, "unknown parameter"},
		{"type twice", url.Values{"activityType": {"ADD_CONTACTS", "SV_ADD"}, "lists": {listURI(1)}, "data": {good}}, "only once"},
		{"unknown column", addForm("Email Address,Favourite Colour\na@example.com,red\n", 1), "unknown column"},
		{"no email column", addForm("First Name\nFred\n", 1), "no Email Address column"},
		{"two columns one field", addForm("Zip/Postal Code,Email Address,Postal Code\n1,a@example.com,2\n", 1), "both give"},
		{"header only", addForm("Email Address\n", 1), "no contact line"},
		{"bad quotes", addForm("Email Address,City\na@example.com,\"Bos\"ton\n", 1), "line 2"},
		{"cell count", addForm("Email Address,City\na@example.com\n", 1), "line 2"},
		{"too many rows", addForm(many.String(), 1), "more than 20000 rows"},
		{"too large", addForm(big, 1), "larger than"},
		{"export without fileType", export(func(v url.Values) { v.Del("fileType") }), "needs fileType"},
		{"export bad fileType", export(func(v url.Values) { v.Set("fileType", "XLS") }), "not CSV or TXT"},
		{"export without listId", export(func(v url.Values) { v.Del("listId") }), "needs listId"},
		{"export unknown list", export(func(v url.Values) { v.Set("listId", listURI(9)) }), "does not exist"},
		{"export bad list word", export(func(v url.Values) { v.Set("listId", "http://api.constantcontact.com/ws/customers/sandbox/lists/all") }), "not a list"},
		{"export with lists", export(func(v url.Values) { v.Set("lists", listURI(1)) }), "lists is not a parameter"},
		{"export bad sort", export(func(v url.Values) { v.Set("sortBy", "NAME") }), "sortBy"},
		{"export bad option", export(func(v url.Values) { v.Set("exportOptDate", "yes") }), "exportOptDate"},
		{"export unknown column", export(func(v url.Values) { v.Add("columns", "SHOE SIZE") }), "unknown column"},
		{"export option on add", func() url.Values { v := addForm(good, 1); v.Set("fileType", "CSV"); return v }(), "fileType is not a parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.postForm(tt.form)
			want(t, r, http.StatusBadRequest)
			if !strings.HasPrefix(r.Body, "Error 400: ") || !strings.Contains(r.Body, tt.msg) {
				t.Errorf("body %q, want it to say %q", r.Body, tt.msg)
			}
		})
	}
	t.Run("415", func(t *testing.T) {
		for _, ct := range []string{"application/atom+xml", "text/csv", "", "multipart/form-data"} {
			req := e.request("POST", api("/activities"), addForm(good, 1).Encode())
			req.Header.Set("Content-Type", ct)
			r := e.send(req)
			if ct == "multipart/form-data" { // no boundary: a bad form
				want(t, r, http.StatusBadRequest)
				continue
			}
			want(t, r, http.StatusUnsupportedMediaType)
		}
	})
	if f := e.feed(api("/activities")); len(f.Activities) != 0 {
		t.Errorf("refused POSTs created %d activities", len(f.Activities))
	}
	if n, _ := e.sb.ContactCount(context.Background()); n != 1 {
		t.Errorf("%d contacts, want 1", n)
	}
}

// TestActivityMultipart checks that a multipart POST is the same job.
func TestActivityMultipart(t *testing.T) {
	e := activityEnv(t, nil)
	r := e.postMultipart(addForm("Email Address,Last Name\nmp@example.com,Part\n", 1))
	want(t, r, http.StatusCreated)
	a := e.finish(decodeActivity(t, r.Body).Key())
	if a.TransactionCount != 1 || e.byEmail("mp@example.com").LastName != "Part" {
		t.Errorf("multipart job %+v", a)
	}
}

// TestActivityLimit: at most three unfinished activities, exports
// included; a fourth is a 429 and creates nothing.
func TestActivityLimit(t *testing.T) {
	e := activityEnv(t, func(c *Options) { c.ActivityDelay = time.Hour })
	var keys []string
	for i := range 3 {
		v := addForm(fmt.Sprintf("Email Address\nl%d@example.com\n", i), 1)
		if i == 2 {
			v = url.Values{"activityType": {"EXPORT_CONTACTS"}, "listId": {listURI(1)}, "fileType": {"TXT"}}
		}
		keys = append(keys, e.start(v).Key())
	}
	r := e.postForm(addForm("Email Address\nfourth@example.com\n", 1))
	want(t, r, http.StatusTooManyRequests)
	if r.Body != "Error 429: too many activities in progress" {
		t.Errorf("body %q", r.Body)
	}
	if f := e.feed(api("/activities")); len(f.Activities) != 3 {
		t.Errorf("%d activities after the 429", len(f.Activities))
	}
	e.clock.Advance(time.Hour)
	for _, k := range keys {
		e.finish(k)
	}
	e.start(addForm("Email Address\nfourth@example.com\n", 1))
}

// TestActivitiesFeed: newest first, pages with rel="next", each entry
// with its Errors; GET of one has a source, the POST's answer none.
func TestActivitiesFeed(t *testing.T) {
	e := activityEnv(t, func(c *Options) { c.PageSize = 2 })
	var keys []string
	for i := range 5 {
		data := fmt.Sprintf("Email Address\nf%d@example.com\n", i)
		if i == 0 {
			data += "broken\n"
		}
		keys = append(keys, e.run(addForm(data, 1)).Key())
		e.clock.Advance(time.Second)
	}
	var got []string
	path := api("/activities")
	pages := 0
	for path != "" {
		f := e.feed(path)
		if f.Title != "Bulk Activity" || len(f.Activities) > 2 {
			t.Fatalf("page %q with %d entries", f.Title, len(f.Activities))
		}
		for _, a := range f.Activities {
			got = append(got, a.Key())
			if a.Key() == keys[0] && (a.ErrorCount != 1 || a.Errors[0].LineNumber != 3) {
				t.Errorf("feed entry errors %+v", a)
			}
		}
		path, pages = f.Next(), pages+1
	}
	slices.Reverse(keys)
	if !slices.Equal(got, keys) || pages != 3 {
		t.Errorf("feed %v in %d pages, want %v in 3", got, pages, keys)
	}
	body := e.do("GET", api("/activities/"+keys[0]), "").Body
	if !strings.Contains(body, "<source>") {
		t.Error("GET of an activity without source")
	}
	want(t, e.do("GET", api("/activities/anope"), ""), http.StatusNotFound)
	want(t, e.do("GET", api("/activities?next=zz-1"), ""), http.StatusBadRequest)
	// Kept 14 days, then 404.
	e.clock.Advance(activityKeep + time.Hour)
	want(t, e.do("GET", api("/activities/"+keys[0]), ""), http.StatusNotFound)
	if f := e.feed(api("/activities")); len(f.Activities) != 0 {
		t.Errorf("expired activities in the feed: %d", len(f.Activities))
	}
}

// TestActivityEntryShape compares the element order of the sandbox's
// entries with the recorded documents.
func TestActivityEntryShape(t *testing.T) {
	e := activityEnv(t, nil)
	a := e.run(addForm("Email Address,US State/CA Province\nx@example.com,ZZ\n", 1))
	got := e.do("GET", api("/activities/"+a.Key()), "").Body
	for _, fx := range []string{"activity_entry.xml", "activities_feed.xml"} {
		want := elementPaths(t, readFixture(t, fx))
		have := elementPaths(t, got)
		// Both hold one Error and a source (entry) or sit in a feed: compare
		// the Activity's children, in order.
		if w, h := activityChildren(want), activityChildren(have); !slices.Equal(w, h) {
			t.Errorf("%s: Activity children %v, sandbox %v", fx, w, h)
		}
	}
}

// activityChildren keeps the element paths inside Activity, each once.
func activityChildren(paths []string) []string {
	var out []string
	for _, p := range paths {
		if i := strings.Index(p, "Activity/"); i >= 0 && !slices.Contains(out, p[i:]) {
			out = append(out, p[i:])
		}
	}
	return out
}

// TestExportJob checks an export's parameters, header order and rows.
func TestExportJob(t *testing.T) {
	e := activityEnv(t, nil)
	e.create(newContact("b@example.com", 1, 2))
	e.clock.Advance(time.Minute)
	c := newContact("a@example.com", 2)
	c.OptInSource, c.EmailType, c.CustomFields[2] = ctct.ActionByContact, "Text", "tier, \"gold\""
	e.create(c)
	e.clock.Advance(time.Minute)
	e.create(newContact("c@example.com", 3))
	run := func(v url.Values) (*ctct.Activity, *response) {
		a := e.run(v)
		if a.Status != ctct.ActivityComplete {
			t.Fatalf("export %+v", a)
		}
		return a, e.do("GET", api("/activities/"+a.FileName), "")
	}
	a, r := run(url.Values{"activityType": {"EXPORT_CONTACTS"}, "fileType": {"CSV"},
		"listId":         {"http://api.constantcontact.com/ws/customers/sandbox/lists/active"},
		"exportListName": {"true"}, "exportOptDate": {"true"}, "exportOptSource": {"true"},
		"columns": {"CUSTOM FIELD 3", "email type", "FIRST NAME", "EMAIL ADDRESS"}})
	if a.FileName != a.Key()+".csv" || a.TransactionCount != 3 || a.Type != ctct.ActivityExportContacts {
		t.Errorf("job %+v", a)
	}
	want(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	wantFile := "Email Address,Email Type,List: General Interest,List: Customers,List: Newsletter,Date Added,Added By,First Name,Custom Field 3\r\n" +
		"a@example.com,Text,,x,,05/01/2024 12:01 PM GMT,ACTION_BY_CONTACT,Jon,\"tier, \"\"gold\"\"\"\r\n" +
		"b@example.com,HTML,x,x,,05/01/2024 12:00 PM GMT,ACTION_BY_CUSTOMER,Jon,\r\n" +
		"c@example.com,HTML,,,x,05/01/2024 12:02 PM GMT,ACTION_BY_CUSTOMER,Jon,\r\n"
	if r.Body != wantFile {
		t.Errorf("file\n%q\nwant\n%q", r.Body, wantFile)
	}
	// A user list, TXT, newest first, no options.
	a, r = run(url.Values{"activityType": {"EXPORT_CONTACTS"}, "fileType": {"TXT"}, "listId": {listURI(2)},
		"sortBy": {"DATE_DESC"}, "columns": {"last name"}})
	want(t, r, http.StatusOK)
	if wantTXT := "Email Address\tLast Name\r\na@example.com\tSmith\r\nb@example.com\tSmith\r\n"; r.Body != wantTXT || !strings.HasSuffix(a.FileName, ".txt") {
		t.Errorf("txt file %q (%s)", r.Body, a.FileName)
	}
	want(t, e.do("GET", api("/activities/"+a.Key()+".csv"), ""), http.StatusNotFound)
	want(t, e.do("GET", api("/activities/anope.csv"), ""), http.StatusNotFound)
	// Not there until COMPLETE.
	slow := activityEnv(t, func(c *Options) { c.ActivityDelay = time.Hour })
	p := slow.start(url.Values{"activityType": {"EXPORT_CONTACTS"}, "fileType": {"CSV"}, "listId": {listURI(1)}})
	want(t, slow.do("GET", api("/activities/"+p.Key()+".csv"), ""), http.StatusNotFound)
}

// TestActivityFaults: --fail-rate and --drop-rate apply to activity
// POSTs: an injected failure creates nothing, a drop creates the job.
func TestActivityFaults(t *testing.T) {
	fail := activityEnv(t, func(c *Options) { c.FailRate = 1 })
	r := fail.postForm(addForm("Email Address\na@example.com\n", 1))
	if r.Status != 500 && r.Status != 503 {
		t.Fatalf("status %d", r.Status)
	}
	drop := activityEnv(t, func(c *Options) { c.DropRate = 1 })
	req := drop.request("POST", api("/activities"), addForm("Email Address\na@example.com\n", 1).Encode())
	req.Header.Set("Content-Type", formURLEncoded)
	if res, err := drop.srv.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("dropped POST answered %d", res.StatusCode)
	}
	f := drop.feed(api("/activities"))
	if len(f.Activities) != 1 {
		t.Fatalf("%d activities after a dropped POST", len(f.Activities))
	}
	drop.finish(f.Activities[0].Key())
	if drop.byEmail("a@example.com") == nil {
		t.Error("the dropped job did not run")
	}
	if st := drop.stats(); st.Dropped != 1 || st.ByRoute["POST /activities"] != 1 || st.ByRoute["GET /activities"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestActivityRestart stops a sandbox in the middle of a job and opens
// the store again: the job finishes, every row applied once.
func TestActivityRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "store.db")
	stopped := make(chan struct{})
	cfg := func(c *Options) {
		c.DB, c.ActivityRate = db, 100 // 5 rows a batch
		c.afterBatch = func(ctx context.Context, id string, done int) {
			close(stopped)
			<-ctx.Done() // hold the runner until Close stops it
		}
	}
	e := activityEnv(t, cfg)
	var data strings.Builder
	data.WriteString("Email Address\n")
	for i := range 12 {
		fmt.Fprintf(&data, "r%02d@example.com\n", i)
	}
	a := e.start(addForm(data.String(), 1))
	<-stopped
	e.srv.Close()
	if err := e.sb.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var status string
	var done, count int
	err = st.read(context.Background(), func(tx *sql.Tx) error {
		return tx.QueryRow("SELECT status, done, tx_count FROM activities WHERE id = ?", a.Key()).Scan(&status, &done, &count)
	})
	st.close()
	if err != nil || status != ctct.ActivityRunning || done != 5 || count != 5 {
		t.Fatalf("stored at the stop: %s done %d applied %d (%v), want RUNNING 5 5", status, done, count, err)
	}
	e2 := activityEnv(t, func(c *Options) { c.DB = db })
	if got := e2.finish(a.Key()); got.Status != ctct.ActivityComplete || got.TransactionCount != 12 {
		t.Fatalf("after restart %+v", got)
	}
	if n, _ := e2.sb.ContactCount(context.Background()); n != 12 {
		t.Errorf("%d contacts, want 12", n)
	}
}

// TestRunnerStops: Close ends a runner that is pacing a slow job.
func TestRunnerStops(t *testing.T) {
	e := activityEnv(t, func(c *Options) { c.ActivityRate = 1 })
	a := e.start(addForm("Email Address\na@example.com\nb@example.com\nc@example.com\n", 1))
	for e.activity(a.Key()).TransactionCount == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- e.sb.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not stop the runner")
	}
	select {
	case <-e.sb.jobs.done:
	default:
		t.Fatal("runner goroutine still running after Close")
	}
}

// TestReset forgets the activities.
func TestResetActivities(t *testing.T) {
	e := activityEnv(t, nil)
	e.run(addForm("Email Address\na@example.com\n", 1))
	req := e.request("POST", statsPath, "")
	req.URL.Path = prefix + resetPath
	want(t, e.send(req), http.StatusNoContent)
	if f := e.feed(api("/activities")); len(f.Activities) != 0 {
		t.Errorf("%d activities after reset", len(f.Activities))
	}
}

// TestActivityError: a job whose list was deleted while it waited ends in
// ERROR, applied nothing and lists no Error rows.
func TestActivityError(t *testing.T) {
	e := activityEnv(t, func(c *Options) { c.ActivityDelay = time.Hour })
	want(t, e.do("POST", api("/lists"), listBody(t, &ctct.List{Name: "Short-lived"})), http.StatusCreated)
	add := e.start(addForm("Email Address,US State/CA Province\nnew@example.com,MA\nbad@example.com,ZZ\n", 1, 4))
	exp := e.start(url.Values{"activityType": {"EXPORT_CONTACTS"}, "listId": {listURI(4)}, "fileType": {"CSV"}})
	want(t, e.do("DELETE", api("/lists/4"), ""), http.StatusNoContent)
	e.clock.Advance(time.Hour)
	for _, k := range []string{add.Key(), exp.Key()} {
		a := e.finish(k)
		if a.Status != ctct.ActivityError || len(a.Errors) != 0 || a.TransactionCount != 0 || a.FileName != "" || a.RunFinishTime == "" {
			t.Errorf("%s: %+v", k, a)
		}
	}
	if e.byEmail("new@example.com") != nil {
		t.Error("an ERROR job applied a row")
	}
	// Final: no longer counted against the limit.
	for i := range 3 {
		e.start(addForm(fmt.Sprintf("Email Address\nn%d@example.com\n", i), 1))
	}
}

// TestActivityPacing: at --activity-rate 100 a job runs in batches of 5
// rows (50 ms worth) and sleeps what is left of each batch's time, never
// after the last one. The sleeps are recorded, not waited.
func TestActivityPacing(t *testing.T) {
	e := activityEnv(t, func(c *Options) { c.ActivityRate = 100 })
	var mu sync.Mutex
	var sleeps []time.Duration
	var batches []int
	// Set before the first job exists: the runner reads them only after
	// the POST kicks it.
	e.sb.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		sleeps = append(sleeps, d)
		mu.Unlock()
		return ctx.Err()
	}
	e.sb.cfg.afterBatch = func(_ context.Context, _ string, done int) {
		mu.Lock()
		batches = append(batches, done)
		mu.Unlock()
	}
	var data strings.Builder
	data.WriteString("Email Address\n")
	for i := range 12 {
		fmt.Fprintf(&data, "p%02d@example.com\n", i)
	}
	if a := e.run(addForm(data.String(), 1)); a.TransactionCount != 12 {
		t.Fatalf("job %+v", a)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(batches, []int{5, 10, 12}) || len(sleeps) != 2 {
		t.Fatalf("batches %v, sleeps %v", batches, sleeps)
	}
	for _, d := range sleeps {
		if d > 50*time.Millisecond {
			t.Errorf("sleep %v longer than a batch's time", d)
		}
	}
}
