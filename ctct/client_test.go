package ctct_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"ctctbulk/ctct"
	"ctctbulk/sandbox"
)

// Secrets of every test account: distinctive so that a leak is easy to find.
const (
	testKey      = "key-Zq81wQ"
	testPassword = "pw-Xv42mK"
	testToken    = "tok-Mm93rB"
	testUser     = "joesflowers"
	prefix       = "/api" // the sandbox is mounted under a path prefix
)

// fakeClock is the sandbox's clock; the client's sleeps advance it, so
// a throttled client waits on it instead of on the real clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seen is one request as it reached the front of the sandbox.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
}

// env is a sandbox served by an httptest server under prefix, with a
// hook in front of it to record requests and inject answers.
type env struct {
	t     *testing.T
	sb    *sandbox.Sandbox
	cfg   sandbox.Options
	srv   *httptest.Server
	base  string
	clock *fakeClock

	mu     sync.Mutex
	hook   func(w http.ResponseWriter, r *http.Request) bool // true: answered
	reqs   []seen
	sleeps []time.Duration
}

func newEnv(t *testing.T, mod func(*sandbox.Options)) *env {
	t.Helper()
	clock := &fakeClock{t: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := sandbox.Options{}
	cfg.DB = ":memory:"
	cfg.User = testUser
	cfg.APIKey, cfg.Password, cfg.AccessToken = testKey, testPassword, testToken
	cfg.RandSeed = 42
	cfg.Now = clock.Now
	if mod != nil {
		mod(&cfg)
	}
	sb, err := sandbox.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	e := &env{t: t, sb: sb, cfg: cfg, clock: clock}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, http.HandlerFunc(e.serve)))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + prefix
	return e
}

func (e *env) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.reqs = append(e.reqs, seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
	hook := e.hook
	e.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	e.sb.ServeHTTP(w, r)
}

func (e *env) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	e.mu.Lock()
	e.hook = h
	e.mu.Unlock()
}

func (e *env) requests() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.reqs)
}

func (e *env) recordedSleeps() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.sleeps)
}

// sleep records the wait and advances the sandbox's clock instead of
// waiting.
func (e *env) sleep(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	e.sleeps = append(e.sleeps, d)
	e.mu.Unlock()
	e.clock.Advance(d)
	return ctx.Err()
}

// client returns a client of the env's account with the options of o,
// where they are zero: Basic auth, no client-side rate limit, recorded
// sleeps, a fixed jitter of one half.
func (e *env) client(o ctct.Options) *ctct.Client {
	e.t.Helper()
	o.APIKey, o.Password = cmp.Or(o.APIKey, testKey), cmp.Or(o.Password, testPassword)
	if o.Limiter == nil {
		o.Limiter = rate.NewLimiter(rate.Inf, 1)
	}
	if o.Sleep == nil {
		o.Sleep = e.sleep
	}
	if o.Rand == nil {
		o.Rand = func() float64 { return 0.5 }
	}
	if o.MinBackoff == 0 && o.MaxBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = 100*time.Millisecond, 2*time.Second
	}
	c, err := ctct.NewClient(e.base, strings.ToUpper(testUser), o)
	if err != nil {
		e.t.Fatalf("new client: %v", err)
	}
	return c
}

func (e *env) seed(n int) {
	e.t.Helper()
	if err := e.sb.Seed(e.t.Context(), n); err != nil {
		e.t.Fatalf("seed: %v", err)
	}
}

// newContact is a valid contact to create on list 1 of c's account.
func newContact(c *ctct.Client, email string) *ctct.Contact {
	return &ctct.Contact{
		EmailAddress: email,
		EmailType:    ctct.EmailTypeHTML,
		FirstName:    "Jon",
		LastName:     "Smith",
		City:         "Springfield",
		StateCode:    "IL",
		CountryCode:  "us",
		OptInSource:  ctct.ActionByCustomer,
		Lists:        []ctct.ListMembership{{ID: c.ListURI("1")}},
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name, base, user string
		opts             ctct.Options
		wantErr          string // substring; "" = success
	}{
		{"https with basic", "https://api.constantcontact.com", "Joe", ctct.Options{APIKey: testKey, Password: testPassword}, ""},
		{"https with prefix", "https://example.com/prefix/", "joe", ctct.Options{Token: testToken}, ""},
		{"http loopback v4", "http://127.0.0.1:8080", "joe", ctct.Options{APIKey: testKey, Password: testPassword}, ""},
		{"http loopback 127/8", "http://127.3.2.1:8080", "joe", ctct.Options{Token: testToken}, ""},
		{"http loopback v6", "http://[::1]:8080/x", "joe", ctct.Options{Token: testToken}, ""},
		{"http localhost", "http://localhost:8080", "joe", ctct.Options{Token: testToken}, ""},
		{"http remote without credentials", "http://example.com", "joe", ctct.Options{}, ""},
		{"http remote with basic", "http://example.com", "joe", ctct.Options{APIKey: testKey, Password: testPassword}, "refusing to send credentials"},
		{"http remote with bearer", "http://10.0.0.1:80", "joe", ctct.Options{Token: testToken}, "refusing to send credentials"},
		{"http lookalike host", "http://127.0.0.1.example.com", "joe", ctct.Options{Token: testToken}, "refusing to send credentials"},
		{"user info in URL", "https://" + testKey + ":" + testPassword + "@example.com", "joe", ctct.Options{}, "must not carry credentials"},
		{"bad scheme", "ftp://example.com", "joe", ctct.Options{}, "not http or https"},
		{"no host", "https:///x", "joe", ctct.Options{}, "no host"},
		{"query", "https://example.com/?a=b", "joe", ctct.Options{}, "query"},
		{"unparsable", "https://exa mple.com:x", "joe", ctct.Options{}, "invalid base URL"},
		{"empty user", "https://example.com", "  ", ctct.Options{}, "empty user"},
		{"user with slash", "https://example.com", "a/b", ctct.Options{}, "cannot be in the path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ctct.NewClient(tt.base, tt.user, tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				if got := c.User(); got != strings.ToLower(tt.user) {
					t.Errorf("User() = %q, want %q", got, strings.ToLower(tt.user))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewClient error %v, want one containing %q", err, tt.wantErr)
			}
			for _, s := range []string{testKey, testPassword, testToken} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q reveals a secret", err)
				}
			}
		})
	}
}

func TestURIs(t *testing.T) {
	def, err := ctct.NewClient("https://example.com", "Joe", ctct.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ctct.NewClient("https://example.com", "joe", ctct.Options{IDHost: "ids.example.org/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"list number", def.ListURI("7"), "http://api.constantcontact.com/ws/customers/joe/lists/7"},
		{"system list", def.ListURI("active"), "http://api.constantcontact.com/ws/customers/joe/lists/active"},
		{"list from URI", def.ListURI("http://api.constantcontact.com/ws/customers/joe/lists/3"), "http://api.constantcontact.com/ws/customers/joe/lists/3"},
		{"list from path", def.ListURI("/ws/customers/joe/lists/do-not-mail"), "http://api.constantcontact.com/ws/customers/joe/lists/do-not-mail"},
		{"contact number", def.ContactURI("42"), "http://api.constantcontact.com/ws/customers/joe/contacts/42"},
		{"contact from path", def.ContactURI("/ws/customers/joe/contacts/9"), "http://api.constantcontact.com/ws/customers/joe/contacts/9"},
		{"id host", other.ContactURI("1"), "http://ids.example.org/ws/customers/joe/contacts/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestContactLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(ctct.Options{})
	ctx := t.Context()

	created, err := c.CreateContact(ctx, newContact(c, "Jon@Example.com"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.ID == "" || created.EmailAddress != "jon@example.com" || created.Status != ctct.StatusActive ||
		created.Name != "Jon Smith" || !created.HasList("1") || created.City != "Springfield" {
		t.Fatalf("created contact %+v", created)
	}
	if !strings.HasPrefix(created.ID, "http://api.constantcontact.com/ws/customers/"+testUser+"/contacts/") {
		t.Errorf("id %q is not a real-style id", created.ID)
	}

	n := ctct.Number(created.ID)
	for _, id := range []string{created.ID, "/ws/customers/" + testUser + "/contacts/" + n, n} {
		got, err := c.GetContact(ctx, id)
		if err != nil {
			t.Fatalf("get %q: %v", id, err)
		}
		if got.EmailAddress != "jon@example.com" || !got.Full || got.InsertTime == "" {
			t.Errorf("get %q: %+v", id, got)
		}
	}

	upd, err := c.GetContact(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	upd.FirstName = "Jonathan"
	upd.Lists = append(upd.Lists, ctct.ListMembership{ID: c.ListURI("3"), OptInSource: ctct.ActionByCustomer})
	if err := c.UpdateContact(ctx, upd); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err := c.GetContact(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FirstName != "Jonathan" || !got.HasList("1") || !got.HasList("3") || got.City != "Springfield" {
		t.Errorf("after update: %+v", got)
	}

	if err := c.OptOut(ctx, created.ID); err != nil {
		t.Fatalf("opt out: %v", err)
	}
	got, err = c.GetContact(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ctct.StatusDoNotMail || len(got.Lists) != 0 {
		t.Errorf("after opt-out: status %q, lists %v", got.Status, got.Lists)
	}

	// Every request went through the prefix, with the right headers.
	reqs := e.requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the sandbox")
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testKey+"%"+testUser+":"+testPassword))
	for _, r := range reqs {
		if !strings.HasPrefix(r.Path, "/ws/customers/"+testUser+"/") {
			t.Errorf("%s %s: path not resolved under the prefix", r.Method, r.Path)
		}
		if r.Header.Get("Authorization") != wantAuth || r.Header.Get("User-Agent") != "ctctbulk/dev" ||
			r.Header.Get("Accept") != ctct.AtomMediaType {
			t.Errorf("%s %s: headers %v", r.Method, r.Path, r.Header)
		}
		hasBody := r.Method == http.MethodPost || r.Method == http.MethodPut
		if ct := r.Header.Get("Content-Type"); (ct == ctct.AtomMediaType) != hasBody {
			t.Errorf("%s %s: Content-Type %q", r.Method, r.Path, ct)
		}
	}
	cnt := c.Counters()
	st := e.sb.Stats()
	if cnt.Requests != st.Requests || cnt.Retries != 0 || cnt.ByMethod["POST"] != 1 || cnt.ByMethod["PUT"] != 1 || cnt.ByMethod["DELETE"] != 1 {
		t.Errorf("counters %+v, sandbox %+v", cnt, st)
	}
}

func TestCallErrors(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(ctct.Options{})
	ctx := t.Context()
	if _, err := c.CreateContact(ctx, newContact(c, "dup@example.com")); err != nil {
		t.Fatal(err)
	}
	noList := newContact(c, "nolist@example.com")
	noList.Lists = nil
	badState := newContact(c, "state@example.com")
	badState.StateCode = "ZZ"
	tests := []struct {
		name    string
		call    func() error
		want    error
		status  int
		message string
	}{
		{"conflict", func() error { _, err := c.CreateContact(ctx, newContact(c, "DUP@example.com")); return err }, ctct.ErrConflict, 409, "Error 409"},
		{"no list", func() error { _, err := c.CreateContact(ctx, noList); return err }, ctct.ErrBadRequest, 400, "at least one valid ContactList"},
		{"bad field", func() error { _, err := c.CreateContact(ctx, badState); return err }, ctct.ErrBadRequest, 400, "StateCode"},
		{"unknown contact", func() error { _, err := c.GetContact(ctx, "99999"); return err }, ctct.ErrNotFound, 404, "Error 404"},
		{"opt out unknown", func() error { return c.OptOut(ctx, "99999") }, ctct.ErrNotFound, 404, ""},
		{"update unknown", func() error {
			x := newContact(c, "x@example.com")
			x.ID = c.ContactURI("99999")
			return c.UpdateContact(ctx, x)
		}, ctct.ErrNotFound, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			var ae *ctct.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || !strings.Contains(ae.Message, tt.message) {
				t.Fatalf("error %#v, want status %d with %q", ae, tt.status, tt.message)
			}
			if !strings.HasPrefix(ae.Path, prefix+"/ws/customers/"+testUser+"/contacts") {
				t.Errorf("path %q", ae.Path)
			}
		})
	}
	if got := c.Counters().Retries; got != 0 {
		t.Errorf("%d retries of final errors", got)
	}

	// Local errors send nothing.
	before := e.sb.Stats().Requests
	if err := c.UpdateContact(ctx, newContact(c, "noid@example.com")); err == nil {
		t.Error("update of a contact without id succeeded")
	}
	if _, err := c.GetContact(ctx, " "); err == nil {
		t.Error("get of an empty id succeeded")
	}
	bad := newContact(c, "bad\x01@example.com")
	if _, err := c.CreateContact(ctx, bad); err == nil {
		t.Error("create with a control character succeeded")
	}
	if after := e.sb.Stats().Requests; after != before {
		t.Errorf("%d requests sent for local errors", after-before)
	}
}

func TestBearer(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(3)
	ok := e.client(ctct.Options{Token: testToken})
	if _, err := ok.GetContact(t.Context(), "1"); err != nil {
		t.Fatalf("bearer: %v", err)
	}
	bad := e.client(ctct.Options{Token: "wrong-token"})
	_, err := bad.GetContact(t.Context(), "1")
	if !errors.Is(err, ctct.ErrUnauthorized) {
		t.Fatalf("wrong token: %v, want ErrUnauthorized", err)
	}
	if r := e.requests(); r[len(r)-1].Header.Get("Authorization") != "Bearer wrong-token" {
		t.Errorf("Authorization %q", r[len(r)-1].Header.Get("Authorization"))
	}
}

func TestCreateLocationOnly(t *testing.T) {
	e := newEnv(t, nil)
	// A server that answers 201 with a Location and no body.
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		rec := httptest.NewRecorder()
		e.sb.ServeHTTP(rec, r)
		w.Header().Set("Location", rec.Header().Get("Location"))
		w.WriteHeader(rec.Code)
		return true
	})
	c := e.client(ctct.Options{})
	got, err := c.CreateContact(t.Context(), newContact(c, "loc@example.com"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got.EmailAddress != "loc@example.com" || !got.Full {
		t.Errorf("created %+v", got)
	}
	st := e.sb.Stats()
	if st.ByRoute["POST /contacts"] != 1 || st.ByRoute["GET /contacts/{id}"] != 1 {
		t.Errorf("routes %v, want one POST and one GET of the Location", st.ByRoute)
	}
}

func TestSearchEmails(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(ctct.Options{})
	ctx := t.Context()
	for _, m := range []string{"a+b@example.com", "plain@example.com", "mixed@example.com"} {
		if _, err := c.CreateContact(ctx, newContact(c, m)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		emails    []string
		want      []string
		wantQuery string // "" = not checked
		requests  int64
	}{
		{"plus and case", []string{"A+B@Example.com", " Mixed@EXAMPLE.com "}, []string{"a+b@example.com", "mixed@example.com"},
			"email=a%2Bb%40example.com&email=mixed%40example.com", 1},
		{"absent ones missing", []string{"nobody@example.com", "plain@example.com"}, []string{"plain@example.com"}, "", 1},
		{"no match", []string{"nobody@example.com"}, nil, "", 1},
		{"duplicates sent once", []string{"plain@example.com", "PLAIN@example.com"}, []string{"plain@example.com"}, "email=plain%40example.com", 1},
		{"nothing to search", nil, nil, "", 0},
		{"fifty", append(fill(49), "plain@example.com"), []string{"plain@example.com"}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.sb.Stats().Requests
			got, err := c.SearchEmails(ctx, tt.emails)
			if err != nil {
				t.Fatalf("search: %v", err)
			}
			var emails []string
			for _, g := range got {
				emails = append(emails, g.EmailAddress)
				if g.InsertTime == "" || g.Status == "" {
					t.Errorf("entry %+v lacks the search view", g)
				}
			}
			slices.Sort(emails)
			if !slices.Equal(emails, tt.want) {
				t.Errorf("found %v, want %v", emails, tt.want)
			}
			if n := e.sb.Stats().Requests - before; n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if tt.wantQuery != "" {
				r := e.requests()
				if q := r[len(r)-1].RawQuery; q != tt.wantQuery {
					t.Errorf("query %q, want %q", q, tt.wantQuery)
				}
			}
		})
	}
	before := e.sb.Stats().Requests
	if _, err := c.SearchEmails(ctx, fill(51)); err == nil || !strings.Contains(err.Error(), "at most 50") {
		t.Errorf("51 addresses: %v", err)
	}
	if e.sb.Stats().Requests != before {
		t.Error("a search of 51 addresses was sent")
	}
}

func fill(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("absent%d@example.com", i)
	}
	return out
}

func TestContactsWalk(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Options) { c.PageSize = 20 })
	e.seed(75)
	c := e.client(ctct.Options{})
	ctx := t.Context()

	all := walk(t, c.Contacts(ctct.ContactQuery{}))
	if len(all) != 75 {
		t.Fatalf("walk returned %d contacts, want 75", len(all))
	}
	statuses := map[string]int{}
	for _, ct := range all {
		statuses[ct.Status]++
	}
	if st := e.sb.Stats(); st.ByRoute["GET /contacts"] != 4 {
		t.Errorf("%d pages fetched, want 4", st.ByRoute["GET /contacts"])
	}

	// The iterator yields the same pages; a loop that stops early fetches
	// no further page.
	var pages int
	var viaIter []ctct.Contact
	for f, err := range c.ContactPages(ctx, ctct.ContactQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		viaIter = append(viaIter, f.Contacts...)
	}
	if pages != 4 || !slices.EqualFunc(viaIter, all, func(a, b ctct.Contact) bool { return a.ID == b.ID }) {
		t.Errorf("ContactPages: %d pages, %d contacts; want the walk's 4 pages", pages, len(viaIter))
	}
	for range c.ContactPages(ctx, ctct.ContactQuery{}) {
		break
	}
	if st := e.sb.Stats(); st.ByRoute["GET /contacts"] != 4+4+1 {
		t.Errorf("%d pages fetched in all, want 9", st.ByRoute["GET /contacts"])
	}

	// A search of 50 addresses comes back in pages of 20: the client
	// follows the next links.
	var emails []string
	for _, ct := range all[:50] {
		emails = append(emails, strings.ToUpper(ct.EmailAddress))
	}
	pagesBefore := e.sb.Stats().ByRoute["GET /contacts"]
	found, err := c.SearchEmails(ctx, emails)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if len(found) != 50 {
		t.Errorf("search found %d of 50", len(found))
	}
	if n := e.sb.Stats().ByRoute["GET /contacts"] - pagesBefore; n != 3 {
		t.Errorf("search took %d requests, want 3 pages", n)
	}

	// Move one contact past a point in time, then ask what changed since.
	e.clock.Advance(time.Hour)
	since := e.clock.Now()
	one, err := c.GetContact(ctx, all[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if one.Status == ctct.StatusDoNotMail {
		t.Fatal("first contact is Do Not Mail; choose another seed")
	}
	one.Note = "changed"
	one.Lists = []ctct.ListMembership{{ID: c.ListURI("2")}}
	if err := c.UpdateContact(ctx, one); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		q    ctct.ContactQuery
		want int
	}{
		{"active since", ctct.ContactQuery{UpdatedSince: since, ListType: ctct.ListTypeActive}, 1},
		{"list since", ctct.ContactQuery{UpdatedSince: since, ListID: "2"}, 1},
		{"list URI since", ctct.ContactQuery{UpdatedSince: since, ListID: c.ListURI("2")}, 1},
		{"other list since", ctct.ContactQuery{UpdatedSince: since, ListID: "3"}, 0},
		{"removed since", ctct.ContactQuery{UpdatedSince: since, ListType: ctct.ListTypeRemoved}, 0},
		{"all do-not-mail", ctct.ContactQuery{ListType: ctct.ListTypeDoNotMail}, statuses[ctct.StatusDoNotMail]},
		{"all removed", ctct.ContactQuery{ListType: ctct.ListTypeRemoved}, statuses[ctct.StatusRemoved]},
		{"all active", ctct.ContactQuery{ListType: ctct.ListTypeActive}, statuses[ctct.StatusActive] + statuses[ctct.StatusUnconfirmed]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := walk(t, c.Contacts(tt.q))
			if len(got) != tt.want {
				t.Errorf("%d contacts, want %d", len(got), tt.want)
			}
		})
	}

	bad := []ctct.ContactQuery{
		{UpdatedSince: since},
		{ListType: "everyone"},
		{ListType: ctct.ListTypeActive, ListID: "1"},
		{ListID: "abc"},
	}
	before := e.sb.Stats().Requests
	for _, q := range bad {
		p := c.Contacts(q)
		if _, err := p.Next(ctx); err == nil {
			t.Errorf("query %+v: no error", q)
		}
	}
	if e.sb.Stats().Requests != before {
		t.Error("an invalid query was sent")
	}
}

// walk reads every page of p and checks the Pager's contract.
func walk(t *testing.T, p *ctct.Pager) []ctct.Contact {
	t.Helper()
	var out []ctct.Contact
	for !p.Done() {
		f, err := p.Next(t.Context())
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		out = append(out, f.Contacts...)
	}
	if f, err := p.Next(t.Context()); f != nil || !errors.Is(err, io.EOF) {
		t.Errorf("Next after Done: %v, %v; want io.EOF", f, err)
	}
	return out
}

func TestWalkWhileInserting(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(1000)
	c := e.client(ctct.Options{})
	ctx := t.Context()

	before := map[string]bool{}
	for _, ct := range walk(t, c.Contacts(ctct.ContactQuery{})) {
		if before[ct.ID] {
			t.Fatalf("%s twice in a quiet walk", ct.ID)
		}
		before[ct.ID] = true
	}
	if len(before) != 1000 {
		t.Fatalf("quiet walk found %d contacts, want 1000", len(before))
	}

	stop := make(chan struct{})
	inserted := make(chan struct{}, 2000)
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.CreateContact(ctx, newContact(c, fmt.Sprintf("new%d@example.com", i))); err != nil {
				errc <- err
				return
			}
			inserted <- struct{}{}
		}
	}()
	seen := map[string]int{}
	p := c.Contacts(ctct.ContactQuery{})
	for !p.Done() {
		f, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		for _, ct := range f.Contacts {
			seen[ct.ID]++
		}
		select { // make sure inserts land between pages
		case <-inserted:
		case err := <-errc:
			t.Fatalf("insert: %v", err)
		}
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatalf("insert: %v", err)
	}
	for id := range before {
		if seen[id] != 1 {
			t.Errorf("%s seen %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
}

func TestListsAndMembers(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Options) { c.PageSize = 10 })
	e.seed(60)
	c := e.client(ctct.Options{})
	ctx := t.Context()
	lists, err := c.Lists(ctx)
	if err != nil {
		t.Fatalf("lists: %v", err)
	}
	var names []string
	for _, l := range lists {
		names = append(names, ctct.Number(l.ID)+" "+l.Name)
	}
	want := []string{"active", "do-not-mail", "removed", "1 General Interest", "2 Customers", "3 Newsletter"}
	if len(names) != len(want) {
		t.Fatalf("lists %q, want %q", names, want)
	}
	for i, w := range want {
		if !strings.HasPrefix(names[i], w) {
			t.Errorf("list %d is %q, want %q", i, names[i], w)
		}
	}
	for _, l := range lists[3:] {
		var members []ctct.Member
		p := c.ListMembers(l.ID)
		for !p.Done() {
			f, err := p.Next(ctx)
			if err != nil {
				t.Fatalf("members of %s: %v", l.Name, err)
			}
			members = append(members, f.Members...)
		}
		if !l.CountKnown || len(members) != l.ContactCount {
			t.Errorf("list %s: %d members walked, ContactCount %d (known %v)", l.Name, len(members), l.ContactCount, l.CountKnown)
		}
		for _, m := range members {
			if m.EmailAddress == "" || ctct.Number(m.ID) == "" {
				t.Errorf("member %+v", m)
			}
		}
	}
	if _, err := c.ListMembers("9999").Next(ctx); !errors.Is(err, ctct.ErrNotFound) {
		t.Errorf("members of an unknown list: %v", err)
	}
	if _, err := c.ListMembers("").Next(ctx); err == nil {
		t.Error("members of an empty list id: no error")
	}
}

// TestThrottling runs sequential GETs against a server that allows 2
// requests per second of its (fake) clock; the client's recorded sleeps
// advance that clock, so every throttled request is retried until it
// passes.
func TestThrottling(t *testing.T) {
	tests := []struct {
		status    int
		wantSleep time.Duration // every recorded sleep; 0 = backoff (at most the 2s cap)
	}{
		{http.StatusTooManyRequests, time.Second}, // Retry-After: 1
		{http.StatusServiceUnavailable, 0},
		{http.StatusForbidden, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Options) {
				c.Rate, c.RateBurst, c.ThrottleStatus = 2, 1, tt.status
			})
			e.seed(3)
			c := e.client(ctct.Options{Retries: 10})
			for i := 0; i < 10; i++ {
				if _, err := c.GetContact(t.Context(), "1"); err != nil {
					t.Fatalf("get %d: %v", i, err)
				}
			}
			st, cnt := e.sb.Stats(), c.Counters()
			if st.Throttled == 0 {
				t.Fatal("the server throttled nothing")
			}
			if cnt.Throttled != st.Throttled || cnt.Retries != st.Throttled || cnt.Requests != st.Requests {
				t.Errorf("client %+v, server %+v", cnt, st)
			}
			sleeps := e.recordedSleeps()
			if int64(len(sleeps)) != cnt.Retries {
				t.Errorf("%d sleeps for %d retries", len(sleeps), cnt.Retries)
			}
			for _, d := range sleeps {
				if (tt.wantSleep != 0 && d != tt.wantSleep) || d <= 0 || d > 2*time.Second {
					t.Errorf("slept %v", d)
				}
			}
		})
	}
}

func TestInjectedFailures(t *testing.T) {
	t.Run("GETs retried until they pass", func(t *testing.T) {
		e := newEnv(t, func(c *sandbox.Options) { c.FailRate = 0.4 })
		e.seed(5)
		c := e.client(ctct.Options{Retries: 20})
		for i := 0; i < 30; i++ {
			if _, err := c.GetContact(t.Context(), fmt.Sprint(1+i%5)); err != nil {
				t.Fatalf("get %d: %v", i, err)
			}
		}
		st, cnt := e.sb.Stats(), c.Counters()
		if st.InjectedFailures == 0 || cnt.Retries != st.InjectedFailures || cnt.Requests != st.Requests || st.Requests != 30+st.InjectedFailures {
			t.Errorf("client %+v, server %+v", cnt, st)
		}
	})
	t.Run("retries exhausted", func(t *testing.T) {
		e := newEnv(t, func(c *sandbox.Options) { c.FailRate = 1 })
		c := e.client(ctct.Options{Retries: 3})
		_, err := c.GetContact(t.Context(), "1")
		var ae *ctct.APIError
		if !errors.As(err, &ae) || (ae.Status != 500 && ae.Status != 503) || !strings.Contains(err.Error(), "giving up after 4 attempts") {
			t.Fatalf("error %v", err)
		}
		if st := e.sb.Stats(); st.Requests != 4 {
			t.Errorf("%d requests, want 4", st.Requests)
		}
	})
	t.Run("POST never retried on 500", func(t *testing.T) {
		e := newEnv(t, func(c *sandbox.Options) { c.FailRate = 1 })
		c := e.client(ctct.Options{Retries: 30})
		_, err := c.CreateContact(t.Context(), newContact(c, "fail@example.com"))
		var ae *ctct.APIError
		if !errors.As(err, &ae) || ae.Status != 500 || !errors.Is(err, ctct.ErrUncertain) {
			t.Fatalf("error %v, want an uncertain 500", err)
		}
		st := e.sb.Stats()
		if st.ByStatus["500"] != 1 || st.ByStatus["503"] != st.Requests-1 || c.Counters().Retries != st.ByStatus["503"] {
			t.Errorf("server %+v: want 503s retried up to one 500", st)
		}
	})
}

func TestStatusHandling(t *testing.T) {
	tests := []struct {
		name        string
		method      string // request the hook fails once
		status      int
		body        string
		retryAfter  string
		wantRetried bool
		wantIs      []error
		wantSleep   time.Duration // 0: not checked
	}{
		{"GET 500", http.MethodGet, 500, "Error 500: oops", "", true, nil, 0},
		{"GET 502", http.MethodGet, 502, "bad gateway", "", true, nil, 0},
		{"GET 504", http.MethodGet, 504, "", "", true, nil, 0},
		{"GET 503 Retry-After", http.MethodGet, 503, "", "7", true, nil, 7 * time.Second},
		{"GET 429 Retry-After", http.MethodGet, 429, "", "3", true, nil, 3 * time.Second},
		{"GET 403 over.ratelimit", http.MethodGet, 403, "Error 403: over.ratelimit", "", true, nil, 0},
		{"GET 403 rate limit", http.MethodGet, 403, "Developer Rate Limit exceeded", "", true, nil, 0},
		{"GET 403 plain", http.MethodGet, 403, "Error 403: forbidden", "", false, []error{ctct.ErrForbidden, ctct.ErrUnauthorized}, 0},
		{"GET 401", http.MethodGet, 401, "Error 401: bad credentials", "", false, []error{ctct.ErrUnauthorized}, 0},
		{"GET 415", http.MethodGet, 415, "Error 415: no", "", false, nil, 0},
		{"GET 302", http.MethodGet, 302, "", "", false, nil, 0},
		{"POST 500", http.MethodPost, 500, "Error 500: oops", "", false, []error{ctct.ErrUncertain}, 0},
		{"POST 502", http.MethodPost, 502, "", "", false, []error{ctct.ErrUncertain}, 0},
		{"POST 504", http.MethodPost, 504, "", "", false, []error{ctct.ErrUncertain}, 0},
		{"POST 429", http.MethodPost, 429, "", "", true, nil, 0},
		{"POST 503", http.MethodPost, 503, "", "2", true, nil, 2 * time.Second},
		{"POST 403 over.qps", http.MethodPost, 403, "Error 403: over.qps", "", true, nil, 0},
		{"PUT 500", http.MethodPut, 500, "", "", true, nil, 0},
		{"DELETE 502", http.MethodDelete, 502, "", "", true, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.seed(2)
			var once sync.Once
			e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != tt.method {
					return false
				}
				hit := false
				once.Do(func() { hit = true })
				if !hit {
					return false
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 302 {
					w.Header().Set("Location", "http://example.com/elsewhere")
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
				return true
			})
			c := e.client(ctct.Options{})
			ctx := t.Context()
			var err error
			switch tt.method {
			case http.MethodGet:
				_, err = c.GetContact(ctx, "1")
			case http.MethodPost:
				_, err = c.CreateContact(ctx, newContact(c, "new@example.com"))
			case http.MethodPut:
				var ct *ctct.Contact
				if ct, err = c.GetContact(ctx, "1"); err == nil {
					err = c.UpdateContact(ctx, ct)
				}
			case http.MethodDelete:
				err = c.OptOut(ctx, "1")
			}
			retries := c.Counters().Retries
			if tt.wantRetried {
				if err != nil || retries != 1 {
					t.Fatalf("error %v after %d retries, want success after one retry", err, retries)
				}
			} else {
				var ae *ctct.APIError
				if err == nil || retries != 0 || !errors.As(err, &ae) || ae.Status != tt.status || ae.Message != strings.TrimSpace(tt.body) {
					t.Fatalf("error %v (%#v) after %d retries, want a final %d", err, ae, retries, tt.status)
				}
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("error %v is not %v", err, target)
				}
			}
			if tt.wantSleep != 0 {
				if s := e.recordedSleeps(); len(s) != 1 || s[0] != tt.wantSleep {
					t.Errorf("slept %v, want [%v]", s, tt.wantSleep)
				}
			}
		})
	}
}

func TestAPIErrorIs(t *testing.T) {
	all := []error{ctct.ErrNotFound, ctct.ErrConflict, ctct.ErrUnauthorized, ctct.ErrForbidden, ctct.ErrThrottled, ctct.ErrBadRequest}
	tests := []struct {
		status int
		msg    string
		want   []error
	}{
		{400, "Error 400: bad", []error{ctct.ErrBadRequest}},
		{401, "", []error{ctct.ErrUnauthorized}},
		{403, "Error 403: forbidden", []error{ctct.ErrForbidden, ctct.ErrUnauthorized}},
		{403, "Error 403: over.qps rate limit exceeded", []error{ctct.ErrThrottled}},
		{403, "<h1>Developer Over Rate</h1> over.ratelimit", []error{ctct.ErrThrottled}},
		{404, "", []error{ctct.ErrNotFound}},
		{409, "", []error{ctct.ErrConflict}},
		{429, "", []error{ctct.ErrThrottled}},
		{503, "", []error{ctct.ErrThrottled}},
		{500, "", nil},
		{502, "", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.msg), func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &ctct.APIError{Method: "GET", Path: "/x", Status: tt.status, Message: tt.msg})
			for _, target := range all {
				if got, want := errors.Is(err, target), slices.Contains(tt.want, target); got != want {
					t.Errorf("errors.Is(%v, %v) = %v", err, target, got)
				}
			}
		})
	}
	e := &ctct.APIError{Method: "POST", Path: "/ws/customers/joe/contacts", Status: 409, Message: "Error 409: exists"}
	if got, want := e.Error(), "POST /ws/customers/joe/contacts: 409 Conflict: Error 409: exists"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestDroppedConnections(t *testing.T) {
	t.Run("POST is uncertain and sent once", func(t *testing.T) {
		e := newEnv(t, func(c *sandbox.Options) { c.DropRate = 1 })
		c := e.client(ctct.Options{})
		_, err := c.CreateContact(t.Context(), newContact(c, "drop@example.com"))
		if !errors.Is(err, ctct.ErrUncertain) {
			t.Fatalf("error %v, want ErrUncertain", err)
		}
		var ae *ctct.APIError
		if errors.As(err, &ae) {
			t.Errorf("a dropped connection became an API error: %v", ae)
		}
		st := e.sb.Stats()
		if st.ByRoute["POST /contacts"] != 1 || st.Dropped != 1 || c.Counters().Requests != 1 {
			t.Errorf("server %+v, client %+v: want exactly one POST", st, c.Counters())
		}
		found, err := c.SearchEmails(t.Context(), []string{"drop@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 {
			t.Errorf("%d contacts with the email, want 1", len(found))
		}
	})
	t.Run("PUT and DELETE are retried", func(t *testing.T) {
		e := newEnv(t, func(c *sandbox.Options) { c.DropRate = 1 })
		e.seed(2)
		c := e.client(ctct.Options{Retries: 2})
		ctx := t.Context()
		ct, err := c.GetContact(ctx, "1")
		if err != nil {
			t.Fatal(err)
		}
		ct.Note = "dropped but done"
		err = c.UpdateContact(ctx, ct)
		if err == nil || errors.Is(err, ctct.ErrUncertain) || !strings.Contains(err.Error(), "giving up after 3 attempts") {
			t.Fatalf("update: %v", err)
		}
		err = c.OptOut(ctx, "2")
		if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") {
			t.Fatalf("opt out: %v", err)
		}
		st := e.sb.Stats()
		if st.ByRoute["PUT /contacts/{id}"] != 3 || st.ByRoute["DELETE /contacts/{id}"] != 3 || st.Dropped != 6 {
			t.Errorf("server %+v", st)
		}
		if got, err := c.GetContact(ctx, "1"); err != nil || got.Note != "dropped but done" {
			t.Errorf("after dropped PUTs: %v, %v", got, err)
		}
	})
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL + prefix
	srv.Close()
	var sleeps int
	c, err := ctct.NewClient(base, testUser,
		ctct.Options{APIKey: testKey, Password: testPassword,
			Limiter: rate.NewLimiter(rate.Inf, 1),
			Retries: 2,
			Sleep:   func(ctx context.Context, d time.Duration) error { sleeps++; return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	// A POST that could not be written is retried like any request.
	_, err = c.CreateContact(t.Context(), &ctct.Contact{EmailAddress: "a@example.com", OptInSource: ctct.ActionByCustomer})
	var op *net.OpError
	if err == nil || errors.Is(err, ctct.ErrUncertain) || !errors.As(err, &op) || op.Op != "dial" ||
		!strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Fatalf("error %v, want a dial error after 3 attempts", err)
	}
	if sleeps != 2 || c.Counters().Retries != 2 {
		t.Errorf("%d sleeps, counters %+v", sleeps, c.Counters())
	}
}

func TestContextAndTimeout(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		e := newEnv(t, nil)
		c := e.client(ctct.Options{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.GetContact(ctx, "1")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
		if n := e.sb.Stats().Requests; n != 0 {
			t.Errorf("%d requests sent with a done context", n)
		}
	})
	t.Run("cancelled while waiting to retry", func(t *testing.T) {
		e := newEnv(t, func(c *sandbox.Options) { c.FailRate = 1 })
		ctx, cancel := context.WithCancel(t.Context())
		c := e.client(ctct.Options{Sleep: func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}})
		_, err := c.GetContact(ctx, "1")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
		if n := e.sb.Stats().Requests; n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("limiter wait honours the context", func(t *testing.T) {
		e := newEnv(t, nil)
		lim := rate.NewLimiter(rate.Every(time.Hour), 1)
		lim.Allow() // empty the bucket
		c := e.client(ctct.Options{Limiter: lim})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := c.GetContact(ctx, "1"); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
		if n := e.sb.Stats().Requests; n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		e := newEnv(t, func(c *sandbox.Options) { c.Latency = time.Minute })
		c := e.client(ctct.Options{Timeout: 20 * time.Millisecond, Retries: 1})
		_, err := c.GetContact(t.Context(), "1")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "giving up after 2 attempts") {
			t.Fatalf("GET: %v", err)
		}
		// A POST whose answer never comes. (A hook, not Latency: the
		// server notices a client that gave up only once the body is read.)
		e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return true
		})
		_, err = c.CreateContact(t.Context(), newContact(c, "slow@example.com"))
		if !errors.Is(err, ctct.ErrUncertain) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("POST: %v, want uncertain", err)
		}
	})
}

func TestBudget(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(2)
	c := e.client(ctct.Options{MaxRequests: 3})
	ctx := t.Context()
	for i := 0; i < 3; i++ {
		if _, err := c.GetContact(ctx, "1"); err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
	}
	if _, err := c.GetContact(ctx, "1"); !errors.Is(err, ctct.ErrBudgetExhausted) {
		t.Fatalf("fourth get: %v, want ErrBudgetExhausted", err)
	}
	if n := e.sb.Stats().Requests; n != 3 {
		t.Errorf("%d requests sent, want 3", n)
	}

	// Retries count against the budget too.
	e2 := newEnv(t, func(c *sandbox.Options) { c.FailRate = 1 })
	c2 := e2.client(ctct.Options{MaxRequests: 2, Retries: 10})
	if _, err := c2.GetContact(ctx, "1"); !errors.Is(err, ctct.ErrBudgetExhausted) {
		t.Fatalf("get: %v, want ErrBudgetExhausted", err)
	}
	if n := e2.sb.Stats().Requests; n != 2 {
		t.Errorf("%d requests sent, want 2", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(ctct.Options{MaxRequests: 40})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			_, err := c.CreateContact(t.Context(), newContact(c, fmt.Sprintf("c%d@example.com", i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var ok, exhausted int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ctct.ErrBudgetExhausted):
			exhausted++
		default:
			t.Errorf("create: %v", err)
		}
	}
	cnt := c.Counters()
	if ok != 40 || exhausted != 10 || cnt.Requests != 40 || cnt.ByMethod["POST"] != 40 || e.sb.Stats().Requests != 40 {
		t.Errorf("%d created, %d refused, counters %+v", ok, exhausted, cnt)
	}
}

// TestNoSecretsInErrors provokes every kind of error and checks that no
// credential appears in its text.
func TestNoSecretsInErrors(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte(testKey + "%" + testUser + ":" + testPassword))
	secrets := []string{testKey, testPassword, testToken, basic}
	e := newEnv(t, nil)
	e.seed(2)
	ctx := t.Context()

	// An indiscreet server that echoes the credentials in its errors.
	echo := newEnv(t, nil)
	echo.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		auth := r.Header.Get("Authorization")
		decoded, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
		user, pass, _ := r.BasicAuth()
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "Error 400: you sent %q (%s) %s / %s", auth, decoded, user, pass)
		return true
	})
	dropper := newEnv(t, func(c *sandbox.Options) { c.DropRate = 1 })
	failer := newEnv(t, func(c *sandbox.Options) { c.FailRate = 1 })
	throttler := newEnv(t, func(c *sandbox.Options) { c.Rate, c.RateBurst, c.ThrottleStatus = 0.001, 1, 403 })
	slow := newEnv(t, func(c *sandbox.Options) { c.Latency = time.Minute })
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	newC := func(base string, o ctct.Options) *ctct.Client {
		if o.Token == "" {
			o.APIKey, o.Password = testKey, cmp.Or(o.Password, testPassword)
		}
		o.Limiter = rate.NewLimiter(rate.Inf, 1)
		o.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
		o.Retries = cmp.Or(o.Retries, 1)
		c, err := ctct.NewClient(base, testUser, o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{"401 basic", func() error {
			_, err := newC(e.base, ctct.Options{APIKey: testKey, Password: testPassword + "x"}).GetContact(ctx, "1")
			return err
		}},
		{"401 bearer", func() error {
			_, err := newC(e.base, ctct.Options{Token: testToken + "x"}).GetContact(ctx, "1")
			return err
		}},
		{"404", func() error { _, err := newC(e.base, ctct.Options{}).GetContact(ctx, "999"); return err }},
		{"409", func() error {
			c := newC(e.base, ctct.Options{})
			ct, err := c.GetContact(ctx, "1")
			if err != nil {
				return err
			}
			_, err = c.CreateContact(ctx, newContact(c, ct.EmailAddress))
			return err
		}},
		{"400 echoed", func() error { _, err := newC(echo.base, ctct.Options{}).GetContact(ctx, "1"); return err }},
		{"400 echoed bearer", func() error {
			_, err := newC(echo.base, ctct.Options{Token: testToken}).GetContact(ctx, "1")
			return err
		}},
		{"403 throttled exhausted", func() error {
			c := newC(throttler.base, ctct.Options{})
			_, _ = c.GetContact(ctx, "1")
			_, err := c.GetContact(ctx, "1")
			return err
		}},
		{"500 uncertain", func() error {
			c := newC(failer.base, ctct.Options{Retries: 20})
			_, err := c.CreateContact(ctx, newContact(c, "x@example.com"))
			return err
		}},
		{"dropped", func() error {
			c := newC(dropper.base, ctct.Options{})
			_, err := c.CreateContact(ctx, newContact(c, "y@example.com"))
			return err
		}},
		{"refused", func() error { _, err := newC(dead.URL, ctct.Options{}).GetContact(ctx, "1"); return err }},
		{"timeout", func() error {
			_, err := newC(slow.base, ctct.Options{Timeout: 10 * time.Millisecond}).GetContact(ctx, "1")
			return err
		}},
		{"cancelled", func() error { _, err := newC(e.base, ctct.Options{}).GetContact(cancelled, "1"); return err }},
		{"budget", func() error {
			c := newC(e.base, ctct.Options{MaxRequests: 1})
			_, _ = c.GetContact(ctx, "1")
			_, err := c.GetContact(ctx, "1")
			if !errors.Is(err, ctct.ErrBudgetExhausted) {
				t.Errorf("budget: %v", err)
			}
			return err
		}},
		{"bad link", func() error { _, err := newC(e.base, ctct.Options{}).GetContact(ctx, "http://[::1"); return err }},
		{"bad base", func() error {
			_, err := ctct.NewClient("https://"+testKey+":"+testPassword+"@example.com", testUser, ctct.Options{APIKey: testKey, Password: testPassword})
			return err
		}},
		{"plain http", func() error {
			_, err := ctct.NewClient("http://example.com", testUser, ctct.Options{APIKey: testKey, Password: testPassword})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q reveals %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "Authorization") && !strings.Contains(err.Error(), "[redacted]") {
				t.Errorf("error %q mentions the Authorization header", err)
			}
		})
	}
}

// TestContactQueryAfter: a walk resumes from the next link an earlier walk
// read, and a link outside the account's contacts is refused before any
// request.
func TestContactQueryAfter(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(120)
	c := e.client(ctct.Options{})
	ctx := t.Context()
	p := c.Contacts(ctct.ContactQuery{})
	first, err := p.Next(ctx)
	if err != nil || first.Next() == "" {
		t.Fatalf("first page: %v (next %q)", err, first.Next())
	}
	var whole []string
	for f, err := range c.ContactPages(ctx, ctct.ContactQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range f.Contacts {
			whole = append(whole, ct.ID)
		}
	}
	var resumed []string
	for _, ct := range first.Contacts {
		resumed = append(resumed, ct.ID)
	}
	for f, err := range c.ContactPages(ctx, ctct.ContactQuery{After: first.Next()}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range f.Contacts {
			resumed = append(resumed, ct.ID)
		}
	}
	if !slices.Equal(whole, resumed) {
		t.Errorf("first page then the walk from its next link: %d contacts, the whole walk %d", len(resumed), len(whole))
	}
	before := len(e.requests())
	for _, bad := range []string{"/ws/customers/" + testUser + "/lists", "http://evil.example/ws/customers/other/contacts?next=x", "%zz"} {
		for _, err := range c.ContactPages(ctx, ctct.ContactQuery{After: bad}) {
			if err == nil || !strings.Contains(err.Error(), "not a page of the account's contacts") {
				t.Errorf("After %q: %v, want refused", bad, err)
			}
		}
	}
	if n := len(e.requests()) - before; n != 0 {
		t.Errorf("%d requests sent for refused links", n)
	}
}
