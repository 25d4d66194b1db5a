package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		path   string
		setup  func(*http.Request)
		status int
	}{
		{"basic", api("/lists"), func(*http.Request) {}, 200},
		{"bearer", api("/lists"), func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer sandbox-token")
		}, 200},
		{"path user any case", "/ws/customers/SandBox/lists", func(*http.Request) {}, 200},
		{"login any case", api("/lists"), func(r *http.Request) { r.SetBasicAuth("sandbox-key%SANDBOX", "sandbox-password") }, 200},
		{"no credentials", api("/lists"), func(r *http.Request) { r.Header.Del("Authorization") }, 401},
		{"wrong password", api("/lists"), func(r *http.Request) { r.SetBasicAuth("sandbox-key%sandbox", "nope") }, 401},
		{"wrong key", api("/lists"), func(r *http.Request) { r.SetBasicAuth("other-key%sandbox", "sandbox-password") }, 401},
		{"no key", api("/lists"), func(r *http.Request) { r.SetBasicAuth("sandbox", "sandbox-password") }, 401},
		{"wrong login", api("/lists"), func(r *http.Request) { r.SetBasicAuth("sandbox-key%joe", "sandbox-password") }, 401},
		{"wrong account in path", "/ws/customers/joe/lists", func(*http.Request) {}, 401},
		{"wrong bearer", api("/lists"), func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"auth before 404", "/nowhere", func(r *http.Request) { r.Header.Del("Authorization") }, 401},
		{"auth before 415", api("/lists"), func(r *http.Request) { r.Method = "PATCH"; r.Header.Del("Authorization") }, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := e.request("GET", tt.path, "")
			tt.setup(req)
			r := e.send(req)
			want(t, r, tt.status)
			if tt.status == 401 {
				if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="ctct sandbox"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if !strings.HasPrefix(r.Body, "Error 401: ") {
					t.Errorf("body %q", r.Body)
				}
			}
		})
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t, nil)
	n := e.create(newContact("jon@example.com", 1))
	body := createBody(t, newContact("new@example.com", 1))
	tests := []struct {
		method, path, body string
		ctype              string
		status             int
	}{
		{"GET", "/nowhere", "", "", 404},
		{"GET", "/ws/customers/", "", "", 404},
		{"GET", api("/campaigns"), "", "", 404},
		{"GET", api("/contacts/abc"), "", "", 404},
		{"GET", api("/contacts/0"), "", "", 404},
		{"GET", api("/contacts/-1"), "", "", 404},
		{"GET", api("/contacts/999"), "", "", 404},
		{"PUT", api("/contacts/999"), body, "application/atom+xml", 404},
		{"DELETE", api("/contacts/999"), "", "", 404},
		{"GET", api("/contacts/" + n + "/extra"), "", "", 404},
		{"GET", api("/lists/99"), "", "", 404},
		{"GET", api("/lists/general"), "", "", 404},
		{"GET", api("/lists/99/members"), "", "", 404},
		{"GET", api("/lists/x/members"), "", "", 404},
		{"PATCH", api("/contacts"), "", "", 415},
		{"DELETE", api("/contacts"), "", "", 415},
		{"PUT", api("/contacts"), body, "application/atom+xml", 415},
		{"POST", api("/contacts/" + n), body, "application/atom+xml", 415},
		{"PATCH", api("/lists"), body, "application/atom+xml", 415},
		{"DELETE", api("/lists/1/members"), "", "", 415},
		{"HEAD", api("/lists/1/members"), "", "", 415},
		{"POST", api("/contacts"), body, "text/xml", 415},
		{"POST", api("/contacts"), body, "", 415},
		{"POST", api("/contacts"), body, "application/atom+xml; charset=utf-8", 201},
		{"PUT", api("/contacts/" + n), body, "application/xml", 415},
		{"POST", api("/contacts"), "<entry", "application/atom+xml", 400},
		{"POST", api("/contacts"), strings.Repeat("x", maxBody+1), "application/atom+xml", 413},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.ctype, func(t *testing.T) {
			req := e.request(tt.method, tt.path, tt.body)
			req.Header.Del("Content-Type")
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			r := e.send(req)
			want(t, r, tt.status)
			if tt.status >= 400 && tt.method != "HEAD" {
				if !strings.HasPrefix(r.Body, fmt.Sprintf("Error %d: ", tt.status)) {
					t.Errorf("body %q", r.Body)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type %q", ct)
				}
			}
		})
	}
}

func TestStatsAndReset(t *testing.T) {
	e := newEnv(t, nil)
	n := e.create(newContact("a@example.com", 1))
	e.get(n)
	e.do("GET", api("/contacts"), "")
	e.do("GET", api("/contacts/999"), "")
	e.do("PATCH", api("/contacts"), "")
	e.do("GET", "/nowhere", "")
	e.do("GET", api("/lists"), "")
	e.do("GET", api("/lists/1"), "")
	e.do("GET", api("/lists/1/members"), "")
	e.do("DELETE", api("/contacts/"+n), "")
	req := e.request("GET", api("/lists"), "")
	req.Header.Del("Authorization")
	e.send(req)
	e.stats() // never counted

	got := e.stats()
	if got.Requests != 11 {
		t.Errorf("requests = %d, want 11", got.Requests)
	}
	wantMaps := []struct {
		name string
		got  map[string]int64
		want map[string]int64
	}{
		{"by_method", got.ByMethod, map[string]int64{"GET": 8, "POST": 1, "PATCH": 1, "DELETE": 1}},
		{"by_status", got.ByStatus, map[string]int64{"200": 5, "201": 1, "204": 1, "401": 1, "404": 2, "415": 1}},
		{"by_route", got.ByRoute, map[string]int64{
			"POST /contacts": 1, "GET /contacts/{id}": 2, "GET /contacts": 1, "PATCH /contacts": 1,
			"other": 1, "GET /lists": 2, "GET /lists/{id}": 1, "GET /lists/{id}/members": 1, "DELETE /contacts/{id}": 1,
		}},
	}
	for _, w := range wantMaps {
		if len(w.got) != len(w.want) {
			t.Errorf("%s = %v, want %v", w.name, w.got, w.want)
			continue
		}
		for k, v := range w.want {
			if w.got[k] != v {
				t.Errorf("%s = %v, want %v", w.name, w.got, w.want)
				break
			}
		}
	}
	if s := e.sb.Stats(); s.Requests != got.Requests {
		t.Errorf("Stats().Requests = %d, endpoint says %d", s.Requests, got.Requests)
	}

	res, err := e.srv.Client().Post(e.srv.URL+prefix+resetPath, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	if s := e.stats(); s.Requests != 0 || len(s.ByStatus) != 0 || s.ByMethod == nil {
		t.Errorf("after reset: %+v", s)
	}
	if cs := e.walk(api("/contacts")); len(cs) != 0 {
		t.Errorf("after reset: %d contacts", len(cs))
	}
	if ls := e.feed(api("/lists")).Lists; len(ls) != 6 {
		t.Errorf("after reset: %d lists", len(ls))
	}
	// Numbers start again at 1.
	if n := e.create(newContact("a@example.com", 1)); n != "1" {
		t.Errorf("first contact after reset is %s", n)
	}

	for _, tc := range []struct{ method, path string }{{"POST", statsPath}, {"GET", resetPath}} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+prefix+tc.path, nil)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", tc.method, tc.path, res.StatusCode)
		}
	}
	if err := e.sb.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConfig(t *testing.T) {
	bad := []func(*Options){
		func(c *Options) { c.PageSize = -1 },
		func(c *Options) { c.Rate = -1 },
		func(c *Options) { c.ThrottleStatus = 500 },
		func(c *Options) { c.FailRate = 1.5 },
		func(c *Options) { c.DropRate = -0.1 },
		func(c *Options) { c.Latency = -1 },
		func(c *Options) { c.User = "joe/x" },
		func(c *Options) { c.DB = "a?b" },
		func(c *Options) { c.RateBurst = -2 },
	}
	for i, mod := range bad {
		cfg := Options{}
		mod(&cfg)
		if sb, err := New(context.Background(), cfg); err == nil {
			sb.Close()
			t.Errorf("config %d accepted", i)
		}
	}
	cfg, err := Options{Rate: 12}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateBurst != 3 || cfg.PageSize != 50 || cfg.User != "sandbox" || cfg.ThrottleStatus != 429 || cfg.DB != ":memory:" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, _ = Options{Rate: 0.5, User: "JoesFlowers"}.withDefaults()
	if cfg.RateBurst != 1 || cfg.User != "joesflowers" {
		t.Errorf("defaults: burst %d user %q", cfg.RateBurst, cfg.User)
	}
}

func TestRequestLog(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	e := newEnv(t, func(c *Options) {
		c.Logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, fmt.Sprintf(format, args...))
		}
	})
	e.create(newContact("jon@example.com", 1))
	e.do("GET", api("/contacts/1"), "")
	req := e.request("GET", api("/lists"), "")
	req.Header.Set("Authorization", "Bearer sandbox-token")
	e.send(req)
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "POST /ws/customers/sandbox/contacts -> 201") ||
		!strings.HasPrefix(lines[1], "GET /ws/customers/sandbox/contacts/1 -> 200") {
		t.Errorf("log %q", lines)
	}
	for _, l := range lines {
		for _, secret := range []string{"sandbox-password", "sandbox-key", "sandbox-token"} {
			if strings.Contains(l, secret) {
				t.Errorf("log line %q carries a credential", l)
			}
		}
	}
}
