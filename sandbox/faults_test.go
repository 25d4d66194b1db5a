package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
)

// stored returns the contacts in the store, bypassing the HTTP knobs.
func stored(t *testing.T, sb *Sandbox) []contactRow {
	t.Helper()
	var rows []contactRow
	err := sb.st.read(context.Background(), func(tx *sql.Tx) error {
		var err error
		rows, _, err = sb.st.listContacts(context.Background(), tx, contactQuery{Limit: 1 << 20})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestInjectedFailures(t *testing.T) {
	e := newEnv(t, func(c *Options) { c.FailRate = 1 })
	statuses := map[int]int{}
	for i := range 40 {
		r := e.do("POST", api("/contacts"), createBody(t, newContact("x@example.com", 1)))
		statuses[r.Status]++
		if r.Body != "Error 500: injected failure" && r.Body != "Error 503: injected failure" {
			t.Fatalf("request %d: %s", i, r)
		}
	}
	if statuses[500] == 0 || statuses[503] == 0 || statuses[500]+statuses[503] != 40 {
		t.Errorf("statuses %v, want a mix of 500 and 503", statuses)
	}
	if rows := stored(t, e.sb); len(rows) != 0 {
		t.Errorf("%d contacts written by failed requests", len(rows))
	}
	s := e.sb.Stats()
	if s.InjectedFailures != 40 || s.Requests != 40 || s.ByStatus["500"]+s.ByStatus["503"] != 40 {
		t.Errorf("stats %+v", s)
	}
	// Authentication comes first.
	req := e.request("GET", api("/lists"), "")
	req.Header.Del("Authorization")
	want(t, e.send(req), http.StatusUnauthorized)
}

func TestDroppedWrites(t *testing.T) {
	e := newEnv(t, func(c *Options) { c.DropRate = 1 })
	res, err := e.srv.Client().Do(e.request("POST", api("/contacts"), createBody(t, newContact("dropped@example.com", 1))))
	if err == nil {
		res.Body.Close()
		t.Fatalf("POST answered %d, want a connection error", res.StatusCode)
	}
	// The write happened; reads are never dropped.
	cs := e.search("dropped@example.com")
	if len(cs) != 1 {
		t.Fatalf("contact not written: %v", cs)
	}
	// A write that fails is answered, not dropped.
	want(t, e.do("POST", api("/contacts"), createBody(t, newContact("dropped@example.com", 1))), http.StatusConflict)
	n := ctct.Number(cs[0].ID)
	if _, err := e.srv.Client().Do(e.request("DELETE", api("/contacts/"+n), "")); err == nil {
		t.Fatal("DELETE answered")
	}
	if c := e.get(n); c.Status != ctct.StatusDoNotMail {
		t.Errorf("status %q after dropped DELETE", c.Status)
	}
	s := e.sb.Stats()
	if s.Dropped != 2 || s.Requests != 5 || s.ByStatus["409"] != 1 || s.ByStatus["200"] != 2 || len(s.ByStatus) != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestThrottle(t *testing.T) {
	tests := []struct {
		status     int
		body       string
		retryAfter string
	}{
		{429, "Error 429: rate limit exceeded", "1"},
		{503, "Error 503: service unavailable: rate limit exceeded", ""},
		{403, "Error 403: over.qps rate limit exceeded", ""},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			// The test clock stands still, so the bucket never refills.
			e := newEnv(t, func(c *Options) { c.Rate, c.RateBurst, c.ThrottleStatus = 10, 2, tt.status })
			want(t, e.do("GET", api("/lists"), ""), http.StatusOK)
			want(t, e.do("GET", api("/lists"), ""), http.StatusOK)
			r := e.do("GET", api("/lists"), "")
			want(t, r, tt.status)
			if r.Body != tt.body || r.Header.Get("Retry-After") != tt.retryAfter {
				t.Errorf("throttled answer %q, Retry-After %q", r.Body, r.Header.Get("Retry-After"))
			}
			// A throttled write does nothing.
			want(t, e.do("POST", api("/contacts"), createBody(t, newContact("x@example.com", 1))), tt.status)
			if rows := stored(t, e.sb); len(rows) != 0 {
				t.Errorf("throttled POST wrote %d contacts", len(rows))
			}
			// Time refills the bucket.
			e.clock.Advance(100 * time.Millisecond)
			want(t, e.do("GET", api("/lists"), ""), http.StatusOK)
			if s := e.sb.Stats(); s.Throttled != 2 || s.Requests != 5 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t, func(c *Options) { c.Latency, c.Jitter = time.Second, 500*time.Millisecond })
	var mu sync.Mutex
	var delays []time.Duration
	e.sb.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		delays = append(delays, d)
		return nil
	}
	for range 20 {
		want(t, e.do("GET", api("/lists"), ""), http.StatusOK)
	}
	distinct := map[time.Duration]bool{}
	for _, d := range delays {
		if d < time.Second || d >= 1500*time.Millisecond {
			t.Errorf("delay %v outside [1s, 1.5s)", d)
		}
		distinct[d] = true
	}
	if len(delays) != 20 || len(distinct) < 2 {
		t.Errorf("delays %v", delays)
	}
}

func TestLatencyRespectsContext(t *testing.T) {
	e := newEnv(t, func(c *Options) { c.Latency = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	req := e.request("GET", api("/lists"), "").WithContext(ctx)
	done := make(chan error, 1)
	go func() {
		res, err := e.srv.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	// Cancel once the request has reached the handler.
	for e.sb.Stats().Requests == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	// srv.Close in the cleanup waits for the handler: it must return.
	if err := ctct.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v", err)
	}
	if s := e.sb.Stats(); len(s.ByStatus) != 0 {
		t.Errorf("abandoned request counted a status: %v", s.ByStatus)
	}
}

func TestFaultOrder(t *testing.T) {
	// Throttling comes before injected failures; unauthenticated requests
	// are neither throttled nor failed.
	e := newEnv(t, func(c *Options) { c.Rate, c.RateBurst, c.FailRate = 1, 1, 1 })
	req := e.request("GET", api("/lists"), "")
	req.Header.Del("Authorization")
	want(t, e.send(req), http.StatusUnauthorized)
	r := e.do("GET", api("/lists"), "")
	if !strings.Contains(r.Body, "injected failure") {
		t.Errorf("first request: %s", r)
	}
	want(t, e.do("GET", api("/lists"), ""), http.StatusTooManyRequests)
	if s := e.sb.Stats(); s.Throttled != 1 || s.InjectedFailures != 1 || s.Requests != 3 {
		t.Errorf("stats %+v", s)
	}
}
