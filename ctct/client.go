package ctct

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// TimeLayout is how the API writes times: UTC with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// DefaultIDHost is the scheme and host of the id URIs the API puts in
// bodies (always http, whatever the base URL).
const DefaultIDHost = "http://api.constantcontact.com"

// MaxSearchEmails is the most email= parameters one search may carry.
const MaxSearchEmails = 50

const (
	maxErrorBody = 4 << 10 // bytes of an error body kept as APIError.Message
	maxDrain     = 64 << 10
)

// Client talks to one account of the contacts API. Every call goes through
// one request loop that waits on the shared rate limiter before each
// attempt, retries what can be retried with capped exponential backoff and
// full jitter (a Retry-After header wins), and turns non-2xx answers into
// *APIError. A Client is safe for concurrent use by many goroutines; build
// it with NewClient.
type Client struct {
	base      *url.URL // scheme, host and path prefix (no trailing slash)
	user      string
	idHost    string
	userAgent string

	apiKey, password, token string
	authHeader              string

	hc          *http.Client
	limiter     *rate.Limiter
	pace        *pacer // adapts limiter to a server that allows less
	retries     int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	timeout     time.Duration
	maxRequests int64
	quota       Quota
	sleep       func(context.Context, time.Duration) error
	notice      func(wait time.Duration, err error)
	observer    func(Attempt)
	rand        func() float64
	now         func() time.Time

	randMu sync.Mutex // guards calls of rand, which may not be safe itself

	budget    atomic.Int64 // attempts counted against maxRequests
	requests  atomic.Int64
	retried   atomic.Int64
	throttled atomic.Int64
	methodsMu sync.Mutex
	byMethod  map[string]int64
}

// Options configure a Client. The zero value of each field is its
// default, so Options{} is a client without credentials that keeps to 4
// requests per second.
type Options struct {
	// APIKey and Password authenticate with HTTP Basic, user name
	// "{APIKey}%{user}" and the account password. Token, when set,
	// authenticates with an OAuth2 access token instead.
	APIKey, Password string
	Token            string

	// Limiter is the rate limiter every attempt of every call waits on
	// (default rate.NewLimiter(4, 1)). Share one limiter between all
	// clients that use the same key. Throttled answers lower its rate (by
	// a quarter, at most once a second) and successes raise it back
	// towards the rate it had, so that a server allowing less is not
	// tripped again and again.
	Limiter *rate.Limiter
	// Retries is how many times a failed attempt is retried: 0 means the
	// default, 6; a negative number means none.
	Retries int
	// MinBackoff and MaxBackoff are the first and the largest backoff
	// ceiling (defaults 500ms and 30s; MaxBackoff is at least MinBackoff).
	// Each retry waits a uniform random part of
	// min(MaxBackoff, MinBackoff·2^(retry-1)) unless the server sent
	// Retry-After.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds each attempt (request and reading the answer): 0
	// means the default, 30s; a negative duration means no bound besides
	// the caller's context.
	Timeout time.Duration
	// MaxRequests is a request budget: an attempt (first try or retry)
	// that would exceed it in the Client's life is not sent and the call
	// fails with ErrBudgetExhausted. 0 means no budget.
	MaxRequests int64
	// Quota, when set, is an allowance shared beyond this Client (the
	// daily quota of the key, kept by every process that uses it): every
	// attempt takes one request from it, after MaxRequests allows it and
	// before waiting on the Limiter, and gives it back when it is not sent
	// after all.
	Quota Quota
	// UserAgent is the User-Agent header (default "ctctbulk/dev").
	UserAgent string
	// IDHost is the scheme and host used to build id URIs (default
	// DefaultIDHost); a host without scheme gets "http://".
	IDHost string

	// Sleep replaces the wait between attempts (a test seam; default
	// Sleep). It must return ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand is the jitter source, returning values in [0, 1) (default
	// math/rand/v2.Float64). The Client serialises its calls.
	Rand func() float64
	// RetryNotice, when set, is called before each wait to retry a request
	// that did not reach the server (connection refused, a TLS failure, a
	// timeout), so that whoever runs the tool sees why it waits. It must be
	// safe for concurrent use.
	RetryNotice func(wait time.Duration, err error)
	// Observe, when set, is told of every attempt once its answer (or
	// failure) is known, for a timeline of the run's requests. It is
	// called from the goroutines that send and must be safe for
	// concurrent use and quick.
	Observe func(Attempt)
}

// Attempt is one HTTP attempt as Options.Observe sees it. Exactly one of
// a 2xx answer (Throttled and Failed false), Throttled and Failed holds.
type Attempt struct {
	At     time.Time // when it was sent
	Method string
	// Status is the HTTP status of the answer, 0 when none came (a
	// connection error, a timeout, a cancelled context).
	Status int
	// Retry marks an attempt that repeats an earlier one of the same call.
	Retry bool
	// Throttled marks a throttled answer (429, 503, over-rate 403);
	// Failed any other answer that is not 2xx, or no answer.
	Throttled, Failed bool
}

// Quota is a request allowance that the Client draws on once per attempt.
// Implementations must be safe for concurrent use.
type Quota interface {
	// Take takes one request, or returns why it may not be sent: an error
	// matching ErrDailyQuota when the allowance is spent, or another
	// error (the allowance could not be read).
	Take(ctx context.Context) error
	// Give returns one request that Take gave and that was not sent.
	Give()
}

// Defaults of Options.
const (
	DefaultRetries    = 6
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	DefaultTimeout    = 30 * time.Second
)

// NewClient returns a Client for account user (lower-cased) at baseURL,
// which may carry a path prefix (e.g. http://127.0.0.1:1234/prefix).
// When credentials are set, baseURL must be https, or http to a loopback
// address; a base URL carrying user info is refused. The HTTP client does
// not follow redirects (a redirect could carry the credentials
// elsewhere): 3xx answers become *APIError.
func NewClient(baseURL, user string, opts Options) (*Client, error) {
	c := &Client{
		idHost:      cmp.Or(opts.IDHost, DefaultIDHost),
		userAgent:   cmp.Or(opts.UserAgent, "ctctbulk/dev"),
		apiKey:      opts.APIKey,
		password:    opts.Password,
		token:       opts.Token,
		limiter:     opts.Limiter,
		retries:     orDefault(opts.Retries, DefaultRetries),
		minBackoff:  orDefault(opts.MinBackoff, DefaultMinBackoff),
		timeout:     orDefault(opts.Timeout, DefaultTimeout),
		maxRequests: max(opts.MaxRequests, 0),
		quota:       opts.Quota,
		sleep:       opts.Sleep,
		rand:        opts.Rand,
		notice:      opts.RetryNotice,
		observer:    opts.Observe,
		now:         time.Now,
		byMethod:    map[string]int64{},
	}
	c.maxBackoff = max(orDefault(opts.MaxBackoff, DefaultMaxBackoff), c.minBackoff)
	if c.token != "" {
		c.apiKey, c.password = "", ""
	}
	base, err := parseBase(baseURL)
	if err != nil {
		return nil, err
	}
	c.base = base
	c.user = strings.ToLower(strings.TrimSpace(user))
	if c.user == "" {
		return nil, errors.New("new client: empty user name")
	}
	if strings.ContainsAny(c.user, "/?#%") {
		return nil, fmt.Errorf("new client: user name %q contains a character that cannot be in the path", c.user)
	}
	switch {
	case c.token != "":
		c.authHeader = "Bearer " + c.token
	case c.apiKey != "" || c.password != "":
		c.authHeader = "Basic " + base64.StdEncoding.EncodeToString([]byte(c.apiKey+"%"+c.user+":"+c.password))
	}
	if c.authHeader != "" && base.Scheme != "https" && !isLoopback(base.Hostname()) {
		return nil, fmt.Errorf("new client: refusing to send credentials over plain http to %s: use https, or http only to a loopback address", base.Host)
	}
	if !strings.Contains(c.idHost, "://") {
		c.idHost = "http://" + c.idHost
	}
	c.idHost = strings.TrimRight(c.idHost, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	c.hc = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if c.limiter == nil {
		c.limiter = rate.NewLimiter(4, 1)
	}
	c.pace = newPacer(c.limiter, c.now)
	if c.rand == nil {
		c.rand = rand.Float64
	}
	if c.sleep == nil {
		c.sleep = Sleep
	}
	return c, nil
}

// orDefault reads a numeric option: 0 means def, a negative value none (0).
func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// parseBase checks the base URL without ever echoing user info.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("new client: invalid base URL: %w", err)
	}
	if u.User != nil {
		return nil, errors.New("new client: the base URL must not carry credentials; use the key, password or token options")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("new client: base URL scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("new client: base URL has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("new client: base URL must not have a query or fragment")
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	p, err := url.PathUnescape(prefix)
	if err != nil {
		return nil, fmt.Errorf("new client: invalid base URL path: %w", err)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: p, RawPath: prefix}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Sleep waits d, or until ctx is done, and then returns ctx.Err(). It is
// the wait between attempts unless Options says otherwise.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// User returns the account name (lower case). Safe for concurrent use.
func (c *Client) User() string { return c.user }

// accountPath is the server path of the account's resources, with a
// trailing slash.
func (c *Client) accountPath() string { return "/ws/customers/" + url.PathEscape(c.user) + "/" }

// ListURI returns the id URI of a list: "7" or "active" (or any id or path
// ending in it) gives http://api.constantcontact.com/ws/customers/{user}/lists/7.
// Safe for concurrent use.
func (c *Client) ListURI(id string) string {
	return c.idHost + c.accountPath() + "lists/" + url.PathEscape(lastSegment(id))
}

// ContactURI returns the id URI of contact n (a number, or an id or path
// ending in it). Safe for concurrent use.
func (c *Client) ContactURI(n string) string {
	return c.idHost + c.accountPath() + "contacts/" + url.PathEscape(lastSegment(n))
}

func lastSegment(id string) string {
	if strings.Contains(id, "/") {
		return Number(id)
	}
	return strings.TrimSpace(id)
}

// contactRef turns a contact id (URI, path or number) into a reference
// the request loop resolves.
func (c *Client) contactRef(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", errors.New("empty contact id")
	}
	if IsNumber(id) {
		return c.accountPath() + "contacts/" + id, nil
	}
	return id, nil
}

// IsNumber reports whether s is a contact or list number: a non-empty run
// of ASCII digits.
func IsNumber(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// resolve maps an id URI, server-relative link or relative reference to a
// request URL: base scheme and host, base path prefix, then the
// reference's path and query. The host inside an id is never used.
func (c *Client) resolve(ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid link: %w", err)
	}
	p := r.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		p = c.accountPath() + p
	}
	raw := c.base.RawPath + p
	unesc, err := url.PathUnescape(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid link path: %w", err)
	}
	return &url.URL{Scheme: c.base.Scheme, Host: c.base.Host, Path: unesc, RawPath: raw, RawQuery: r.RawQuery}, nil
}

// response is a 2xx answer read in full (or, for a streamed call, left
// open in stream).
type response struct {
	status int
	header http.Header
	body   []byte
	stream io.ReadCloser // a streamed call's 2xx body; the caller closes it
}

// errTooLarge marks a response body over the bound; never retried.
var errTooLarge = errors.New("response body too large")

// send makes one attempt. wrote reports whether the request may have
// reached the server (the transport started writing it). A non-2xx answer
// is returned as a response with its (bounded) body and no error.
func (c *Client) send(ctx context.Context, method string, u *url.URL, body []byte, cl call) (res *response, wrote bool, err error) {
	if cl.stream {
		return c.sendStream(ctx, method, u, body, cl)
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, written, err := c.tracedRequest(ctx, method, u, body, cl)
	if err != nil {
		return nil, false, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, written.Load(), err
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	limit := int64(maxDocument)
	if !ok {
		limit = maxErrorBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, true, fmt.Errorf("read response: %w", err)
	}
	if int64(len(data)) > limit {
		if ok {
			return nil, true, fmt.Errorf("%w (over %d bytes)", errTooLarge, limit)
		}
		data = data[:limit]
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain)) // let the connection be reused
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, true, nil
}

// apiError builds the typed error of a non-2xx answer.
func (c *Client) apiError(method, path string, res *response) *APIError {
	return &APIError{
		Method:     method,
		Path:       path,
		Status:     res.status,
		Message:    c.redact(strings.TrimSpace(strings.ToValidUTF8(string(res.body), "\uFFFD"))),
		RetryAfter: parseRetryAfter(res.header.Get("Retry-After"), c.now()),
	}
}

// redact removes every secret the Client holds from s.
func (c *Client) redact(s string) string {
	for _, secret := range []string{c.authHeader, strings.TrimPrefix(strings.TrimPrefix(c.authHeader, "Basic "), "Bearer "), c.apiKey, c.password, c.token} {
		if len(secret) >= 3 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

func (c *Client) countAttempt(method string) {
	c.requests.Add(1)
	c.methodsMu.Lock()
	c.byMethod[method]++
	c.methodsMu.Unlock()
}

// observe tells Options.Observe of an attempt, when it is set.
func (c *Client) observe(a Attempt) {
	if c.observer != nil {
		c.observer(a)
	}
}

// Counters are the Client's request statistics.
type Counters struct {
	Requests  int64            // attempts sent
	Retries   int64            // attempts that were retries
	Throttled int64            // throttled answers (429, 503, over-rate 403)
	ByMethod  map[string]int64 // attempts sent per HTTP method
}

// Counters returns a snapshot of the request statistics. Safe for
// concurrent use.
func (c *Client) Counters() Counters {
	c.methodsMu.Lock()
	m := make(map[string]int64, len(c.byMethod))
	for k, v := range c.byMethod {
		m[k] = v
	}
	c.methodsMu.Unlock()
	return Counters{Requests: c.requests.Load(), Retries: c.retried.Load(), Throttled: c.throttled.Load(), ByMethod: m}
}

// Since returns the requests counted after base was taken (base being an
// earlier snapshot of the same client): what one job sent.
func (c Counters) Since(base Counters) Counters {
	d := Counters{
		Requests:  c.Requests - base.Requests,
		Retries:   c.Retries - base.Retries,
		Throttled: c.Throttled - base.Throttled,
		ByMethod:  map[string]int64{},
	}
	for m, n := range c.ByMethod {
		if n -= base.ByMethod[m]; n > 0 {
			d.ByMethod[m] = n
		}
	}
	return d
}

// MethodsText describes ByMethod for people, e.g. "GET 21, POST 1000",
// or "none".
func (c Counters) MethodsText() string {
	var parts []string
	for _, k := range []string{"GET", "POST", "PUT", "DELETE"} {
		if c.ByMethod[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, c.ByMethod[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// CreateContact POSTs ct (MarshalCreate: non-empty editable fields,
// OptInSource, lists) and returns the created contact as the server
// describes it (the 201 entry, or a GET of the Location when the body is
// empty). A 409 matches ErrConflict. The POST is retried only when the
// server cannot have processed it; otherwise the error matches
// ErrUncertain and the caller should look the email up. Safe for
// concurrent use.
func (c *Client) CreateContact(ctx context.Context, ct *Contact) (*Contact, error) {
	body, err := MarshalCreate(ct)
	if err != nil {
		return nil, fmt.Errorf("create contact: %w", err)
	}
	res, err := c.do(ctx, http.MethodPost, c.accountPath()+"contacts", body)
	if err != nil {
		return nil, fmt.Errorf("create contact: %w", err)
	}
	if len(bytes.TrimSpace(res.body)) > 0 {
		created, derr := DecodeContactEntry(bytes.NewReader(res.body))
		if derr == nil {
			return created, nil
		}
		err = derr
	}
	loc := res.header.Get("Location")
	if loc == "" {
		if err == nil {
			err = errors.New("empty body and no Location")
		}
		return nil, fmt.Errorf("create contact: %w: created, but the answer does not say which contact: %w", ErrUncertain, err)
	}
	created, err := c.GetContact(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("create contact: %w: created, but reading it back failed: %w", ErrUncertain, err)
	}
	return created, nil
}

// GetContact GETs one contact with every field. id is an id URI, a path
// or a number. An unknown contact matches ErrNotFound. Safe for concurrent
// use.
func (c *Client) GetContact(ctx context.Context, id string) (*Contact, error) {
	ref, err := c.contactRef(id)
	if err != nil {
		return nil, fmt.Errorf("get contact: %w", err)
	}
	res, err := c.do(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return nil, fmt.Errorf("get contact: %w", err)
	}
	ct, err := DecodeContactEntry(bytes.NewReader(res.body))
	if err != nil {
		return nil, fmt.Errorf("get contact: %w", err)
	}
	return ct, nil
}

// UpdateContact PUTs MarshalUpdate(ct) (every element) to ct.ID. The
// server replaces the contact's fields and list membership with these.
// Safe for concurrent use.
func (c *Client) UpdateContact(ctx context.Context, ct *Contact) error {
	body, err := MarshalUpdate(ct)
	if err != nil {
		return fmt.Errorf("update contact: %w", err)
	}
	if _, err := c.do(ctx, http.MethodPut, ct.ID, body); err != nil {
		return fmt.Errorf("update contact: %w", err)
	}
	return nil
}

// OptOut DELETEs the contact (id URI, path or number): the API does not
// delete, it moves the contact to Do Not Mail and off every list. Safe for
// concurrent use.
func (c *Client) OptOut(ctx context.Context, id string) error {
	ref, err := c.contactRef(id)
	if err != nil {
		return fmt.Errorf("opt out: %w", err)
	}
	if _, err := c.do(ctx, http.MethodDelete, ref, nil); err != nil {
		return fmt.Errorf("opt out: %w", err)
	}
	return nil
}

// SearchEmails looks up to MaxSearchEmails addresses up in one GET
// (repeated email= parameters, trimmed, lower-cased, deduplicated),
// following next links if the server pages the answer. Addresses with no
// contact are simply absent from the result; entries carry the search
// view (summary plus Confirmed and InsertTime). Safe for concurrent use.
func (c *Client) SearchEmails(ctx context.Context, emails []string) ([]Contact, error) {
	if len(emails) > MaxSearchEmails {
		return nil, fmt.Errorf("search emails: %d addresses, at most %d per search", len(emails), MaxSearchEmails)
	}
	var q strings.Builder
	seen := make(map[string]bool, len(emails))
	for _, e := range emails {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" || seen[e] {
			continue
		}
		seen[e] = true
		if q.Len() > 0 {
			q.WriteByte('&')
		}
		q.WriteString("email=" + url.QueryEscape(e))
	}
	if q.Len() == 0 {
		return nil, nil
	}
	p := &Pager{c: c, next: c.accountPath() + "contacts?" + q.String()}
	var out []Contact
	for f, err := range p.All(ctx) {
		if err != nil {
			return nil, fmt.Errorf("search emails: %w", err)
		}
		out = append(out, f.Contacts...)
	}
	return out, nil
}

// Lists returns every contact list, walking all pages of /lists: the
// system lists (active, do-not-mail, removed) first, then the user lists.
// Safe for concurrent use.
func (c *Client) Lists(ctx context.Context) ([]List, error) {
	p := &Pager{c: c, next: c.accountPath() + "lists"}
	var out []List
	for f, err := range p.All(ctx) {
		if err != nil {
			return nil, fmt.Errorf("lists: %w", err)
		}
		out = append(out, f.Lists...)
	}
	return out, nil
}
