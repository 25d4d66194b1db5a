package ctct

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		rand     float64
		attempt  int
		want     time.Duration
	}{
		{"first, top of range", 500 * time.Millisecond, 30 * time.Second, 1, 1, 500 * time.Millisecond},
		{"first, half", 500 * time.Millisecond, 30 * time.Second, 0.5, 1, 250 * time.Millisecond},
		{"second doubles", 500 * time.Millisecond, 30 * time.Second, 1, 2, time.Second},
		{"sixth", 500 * time.Millisecond, 30 * time.Second, 1, 6, 16 * time.Second},
		{"capped", 500 * time.Millisecond, 30 * time.Second, 1, 7, 30 * time.Second},
		{"no overflow", 500 * time.Millisecond, 30 * time.Second, 1, 1000, 30 * time.Second},
		{"zero jitter", 500 * time.Millisecond, 30 * time.Second, 0, 3, 0},
		{"out-of-range rand clamped", time.Second, 4 * time.Second, 7, 2, 2 * time.Second},
		{"zero min", 0, time.Second, 1, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			minDelay := tt.min
			if minDelay == 0 {
				minDelay = -1 // no backoff: zero is the default
			}
			c, err := NewClient("https://example.com", "joe", Options{MinBackoff: minDelay, MaxBackoff: tt.max, Rand: func() float64 { return tt.rand }})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.backoff(tt.attempt); got != tt.want {
				t.Errorf("backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestDelayPrefersRetryAfter(t *testing.T) {
	c, err := NewClient("https://example.com", "joe", Options{Rand: func() float64 { return 1 }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"retry-after", fmt.Errorf("x: %w", &APIError{Status: 429, RetryAfter: 42 * time.Second}), 42 * time.Second},
		{"no retry-after", &APIError{Status: 503}, 500 * time.Millisecond},
		{"network", io.ErrUnexpectedEOF, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.delay(1, tt.err); got != tt.want {
				t.Errorf("delay = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"999999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Fri, 01 Mar 2024 12:00:30 GMT", 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := parseRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name   string
		method string
		err    error
		wrote  bool
		want   verdict
	}{
		{"GET 429", "GET", &APIError{Status: 429}, true, retry},
		{"POST 429", "POST", &APIError{Status: 429}, true, retry},
		{"POST 503", "POST", &APIError{Status: 503}, true, retry},
		{"POST 403 over-rate", "POST", &APIError{Status: 403, Message: "Error 403: over.qps"}, true, retry},
		{"POST 403 plain", "POST", &APIError{Status: 403, Message: "Error 403: no"}, true, giveUp},
		{"GET 500", "GET", &APIError{Status: 500}, true, retry},
		{"PUT 502", "PUT", &APIError{Status: 502}, true, retry},
		{"DELETE 504", "DELETE", &APIError{Status: 504}, true, retry},
		{"POST 500", "POST", &APIError{Status: 500}, true, uncertain},
		{"POST 502", "POST", &APIError{Status: 502}, true, uncertain},
		{"POST 504", "POST", &APIError{Status: 504}, true, uncertain},
		{"GET 501", "GET", &APIError{Status: 501}, true, giveUp},
		{"GET 404", "GET", &APIError{Status: 404}, true, giveUp},
		{"POST 409", "POST", &APIError{Status: 409}, true, giveUp},
		{"POST 400", "POST", &APIError{Status: 400}, true, giveUp},
		{"POST dial", "POST", dial, false, retry},
		{"POST dial even if flagged", "POST", fmt.Errorf("x: %w", dial), true, retry},
		{"POST not written", "POST", io.EOF, false, retry},
		{"POST reset after write", "POST", reset, true, uncertain},
		{"POST EOF after write", "POST", io.ErrUnexpectedEOF, true, uncertain},
		{"PUT reset after write", "PUT", reset, true, retry},
		{"GET EOF", "GET", io.EOF, true, retry},
		{"GET too large", "GET", fmt.Errorf("%w (over 1 bytes)", errTooLarge), true, giveUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.method, tt.err, tt.wrote); got != tt.want {
				t.Errorf("classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name, base, ref, want string
	}{
		{"absolute id", "http://127.0.0.1:9/api", "http://api.constantcontact.com/ws/customers/joe/contacts/2", "http://127.0.0.1:9/api/ws/customers/joe/contacts/2"},
		{"id host never used", "https://example.com", "http://evil.example.org:666/ws/customers/joe/contacts/2", "https://example.com/ws/customers/joe/contacts/2"},
		{"trailing slash in base", "http://127.0.0.1:9/api/", "/ws/customers/joe/lists", "http://127.0.0.1:9/api/ws/customers/joe/lists"},
		{"link with query", "http://127.0.0.1:9/api", "/ws/customers/joe/contacts?next=g24umerp-fymhqg", "http://127.0.0.1:9/api/ws/customers/joe/contacts?next=g24umerp-fymhqg"},
		{"escaped query kept", "http://127.0.0.1:9", "/ws/customers/joe/contacts?email=a%2Bb%40example.com&email=c%40d.e", "http://127.0.0.1:9/ws/customers/joe/contacts?email=a%2Bb%40example.com&email=c%40d.e"},
		{"relative", "http://127.0.0.1:9/p/q", "contacts", "http://127.0.0.1:9/p/q/ws/customers/joe/contacts"},
		{"scheme-relative", "http://127.0.0.1:9", "//evil.example.org/x", "http://127.0.0.1:9/x"},
		{"fragment dropped", "http://127.0.0.1:9", "/ws/customers/joe/contacts/1#frag", "http://127.0.0.1:9/ws/customers/joe/contacts/1"},
		{"escaped prefix", "http://127.0.0.1:9/a%20b", "/ws/customers/joe/lists", "http://127.0.0.1:9/a%20b/ws/customers/joe/lists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.base, "joe", Options{})
			if err != nil {
				t.Fatal(err)
			}
			u, err := c.resolve(tt.ref)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("resolve(%q) = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
	c, err := NewClient("https://example.com", "joe", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.resolve("http://[::1"); err == nil {
		t.Error("resolve of a bad link: no error")
	}
}

func TestRedact(t *testing.T) {
	c, err := NewClient("https://example.com", "joe", Options{APIKey: "the-key", Password: "the-password"})
	if err != nil {
		t.Fatal(err)
	}
	msg := "echo " + c.authHeader + " the-key:the-password"
	got := c.redact(msg)
	for _, s := range []string{"the-key", "the-password", c.authHeader} {
		if strings.Contains(got, s) {
			t.Errorf("redact left %q in %q", s, got)
		}
	}
}
