package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
)

// prefix is where the tests mount the API, so that a handler that builds
// absolute paths from the request fails loudly.
const prefix = "/prefix/v1"

// clock is a settable test clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a sandbox served over real HTTP under prefix.
type env struct {
	t     testing.TB
	sb    *Sandbox
	srv   *httptest.Server
	clock *clock
}

// newEnv starts a sandbox on an in-memory store with a test clock and a
// fixed seed; mod may change the configuration.
func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	clk := newClock()
	cfg := Options{}
	cfg.RandSeed = 1
	cfg.Now = clk.Now
	if mod != nil {
		mod(&cfg)
	}
	sb, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, sb))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &env{t: t, sb: sb, srv: srv, clock: clk}
}

// response is a fully read answer.
type response struct {
	Status int
	Header http.Header
	Body   string
}

func (r *response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// api is the path of an API resource of the default account.
func api(rest string) string { return "/ws/customers/sandbox" + rest }

// request builds a request to path (under prefix) with the default
// Basic credentials; a non-empty body is sent as application/atom+xml.
func (e *env) request(method, path, body string) *http.Request {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+prefix+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	req.SetBasicAuth("sandbox-key%sandbox", "sandbox-password")
	if body != "" {
		req.Header.Set("Content-Type", "application/atom+xml")
	}
	return req
}

// send sends req and reads the whole answer.
func (e *env) send(req *http.Request) *response {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

func (e *env) do(method, path, body string) *response {
	e.t.Helper()
	return e.send(e.request(method, path, body))
}

// want fails the test unless the answer has the status.
func want(t testing.TB, r *response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %q", r.Status, status, r.Body)
	}
}

// listURI is the id of a user list of the default account.
func listURI(n int) string {
	return fmt.Sprintf("http://api.constantcontact.com/ws/customers/sandbox/lists/%d", n)
}

// newContact is a valid contact to create on the given lists.
func newContact(email string, lists ...int) *ctct.Contact {
	c := &ctct.Contact{EmailAddress: email, OptInSource: ctct.ActionByCustomer, FirstName: "Jon", LastName: "Smith"}
	for _, l := range lists {
		c.Lists = append(c.Lists, ctct.ListMembership{ID: listURI(l)})
	}
	return c
}

func createBody(t testing.TB, c *ctct.Contact) string {
	t.Helper()
	b, err := ctct.MarshalCreate(c)
	if err != nil {
		t.Fatalf("MarshalCreate: %v", err)
	}
	return string(b)
}

// create POSTs c and returns the new contact's number.
func (e *env) create(c *ctct.Contact) string {
	e.t.Helper()
	r := e.do("POST", api("/contacts"), createBody(e.t, c))
	want(e.t, r, http.StatusCreated)
	return ctct.Number(r.Header.Get("Location"))
}

// get GETs a contact and decodes it.
func (e *env) get(n string) *ctct.Contact {
	e.t.Helper()
	r := e.do("GET", api("/contacts/"+n), "")
	want(e.t, r, http.StatusOK)
	c, err := ctct.DecodeContactEntry(strings.NewReader(r.Body))
	if err != nil {
		e.t.Fatalf("decode contact %s: %v", n, err)
	}
	return c
}

// put PUTs c (as MarshalUpdate writes it) and returns the answer.
func (e *env) put(c *ctct.Contact) *response {
	e.t.Helper()
	b, err := ctct.MarshalUpdate(c)
	if err != nil {
		e.t.Fatalf("MarshalUpdate: %v", err)
	}
	return e.do("PUT", api("/contacts/"+ctct.Number(c.ID)), string(b))
}

// feed GETs a feed and decodes it.
func (e *env) feed(path string) *ctct.Feed {
	e.t.Helper()
	r := e.do("GET", path, "")
	want(e.t, r, http.StatusOK)
	f, err := ctct.DecodeFeed(strings.NewReader(r.Body))
	if err != nil {
		e.t.Fatalf("decode feed %s: %v", path, err)
	}
	return f
}

// search returns the contacts found for the emails.
func (e *env) search(emails ...string) []ctct.Contact {
	e.t.Helper()
	v := url.Values{"email": emails}
	return e.feed(api("/contacts?" + v.Encode())).Contacts
}

// walk follows next links from path and returns every contact.
func (e *env) walk(path string) []ctct.Contact {
	e.t.Helper()
	var out []ctct.Contact
	for path != "" {
		f := e.feed(path)
		out = append(out, f.Contacts...)
		path = f.Next()
	}
	return out
}

func (e *env) stats() Stats {
	e.t.Helper()
	res, err := e.srv.Client().Get(e.srv.URL + prefix + statsPath)
	if err != nil {
		e.t.Fatalf("stats: %v", err)
	}
	defer res.Body.Close()
	var s Stats
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		e.t.Fatalf("decode stats: %v", err)
	}
	return s
}

func numbers(cs []ctct.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = ctct.Number(c.ID)
	}
	return out
}

// replaceElement replaces (or with "" removes) the first <name>...</name>
// of an XML body.
func replaceElement(body, name, with string) string {
	start := strings.Index(body, "<"+name+">")
	end := strings.Index(body, "</"+name+">")
	if start < 0 || end < 0 {
		return body
	}
	return body[:start] + with + body[end+len("</"+name+">"):]
}
