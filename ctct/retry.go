package ctct

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// verdict is what the request loop does after a failed attempt.
type verdict int

const (
	giveUp    verdict = iota // final error, return it
	retry                    // wait, then try again
	uncertain                // a POST the server may have processed: return ErrUncertain
)

// do is the request loop, the only place that waits, retries and sleeps.
// ref is an id URI, link or path resolved by resolve; body is sent on every
// attempt. It returns the 2xx answer, or an error: *APIError for a non-2xx
// answer, a wrapped network error, ErrUncertain, ErrBudgetExhausted (or
// the Quota's error, which matches ErrDailyQuota), or the context's error
// (a done context is never retried).
func (c *Client) do(ctx context.Context, method, ref string, body []byte) (*response, error) {
	return c.doCall(ctx, method, ref, body, call{})
}

// call is what a request needs of the loop beyond method, reference and
// body. The zero value is an Atom call whose answer is read in full.
type call struct {
	contentType string // of the body; "" means AtomMediaType
	// repeatable marks a POST that may be sent again when its outcome is
	// uncertain, because repeating it gives the same end state (the
	// caller says why at the call site).
	repeatable bool
	// stream leaves a 2xx answer's body open in response.stream for the
	// caller to read and close; the per-attempt timeout then covers the
	// wait for the answer's headers only.
	stream bool
}

// doCall is do with the call's options.
func (c *Client) doCall(ctx context.Context, method, ref string, body []byte, cl call) (*response, error) {
	u, err := c.resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	path := u.Path
	ctxErr := func(err error) error { return fmt.Errorf("%s %s: %w", method, path, err) }
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, ctxErr(err)
		}
		if !c.reserve() {
			return nil, fmt.Errorf("%s %s: %w (%d requests)", method, path, ErrBudgetExhausted, c.maxRequests)
		}
		if c.quota != nil {
			if err := c.quota.Take(ctx); err != nil {
				c.unreserve()
				if ctx.Err() != nil {
					return nil, ctxErr(ctx.Err())
				}
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		if err := c.limiter.Wait(ctx); err != nil {
			c.unreserve() // nothing was sent
			if c.quota != nil {
				c.quota.Give()
			}
			if ctx.Err() != nil {
				return nil, ctxErr(ctx.Err())
			}
			return nil, fmt.Errorf("%s %s: rate limiter: %w", method, path, err)
		}
		c.countAttempt(method)
		seen := Attempt{At: c.now(), Method: method, Retry: attempt > 1}
		res, wrote, err := c.send(ctx, method, u, body, cl)
		if err == nil && res.status >= 200 && res.status < 300 {
			c.pace.succeeded()
			seen.Status = res.status
			c.observe(seen)
			return res, nil
		}
		seen.Failed = true
		if ctx.Err() != nil {
			c.observe(seen)
			return nil, ctxErr(ctx.Err())
		}
		if err == nil {
			apiErr := c.apiError(method, path, res)
			seen.Status = res.status
			if apiErr.Throttled() {
				c.throttled.Add(1)
				c.pace.throttled()
				seen.Throttled, seen.Failed = true, false
			} else {
				c.pace.succeeded()
			}
			err = apiErr
		} else {
			err = c.netError(method, path, err)
		}
		c.observe(seen)
		v := classify(method, err, wrote)
		if v == uncertain && cl.repeatable {
			v = retry
		}
		switch v {
		case giveUp:
			return nil, err
		case uncertain:
			return nil, fmt.Errorf("%w: %w", ErrUncertain, err)
		}
		if attempt > c.retries {
			return nil, fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		c.retried.Add(1)
		wait := c.delay(attempt, err)
		var ne *netErr
		if c.notice != nil && errors.As(err, &ne) {
			c.notice(wait, ne.err)
		}
		if err := c.sleep(ctx, wait); err != nil {
			if ctx.Err() != nil {
				return nil, ctxErr(ctx.Err())
			}
			return nil, ctxErr(err)
		}
	}
}

// reserve counts one attempt against the request budget, atomically, and
// reports whether it may be sent.
func (c *Client) reserve() bool {
	if c.maxRequests <= 0 {
		return true
	}
	for {
		n := c.budget.Load()
		if n >= c.maxRequests {
			return false
		}
		if c.budget.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// unreserve gives back an attempt that reserve counted and that was not
// sent.
func (c *Client) unreserve() {
	if c.maxRequests > 0 {
		c.budget.Add(-1)
	}
}

// classify decides what to do after a failed attempt. Throttled answers
// and connection errors before the request was written are retried for
// every method. 500, 502, 504 and connection errors after the request was
// written are retried for the idempotent methods; for a POST they are
// uncertain, since the server may have created the contact.
func classify(method string, err error, wrote bool) verdict {
	idempotent := method != http.MethodPost
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.Throttled():
			return retry
		case apiErr.Status == http.StatusInternalServerError,
			apiErr.Status == http.StatusBadGateway,
			apiErr.Status == http.StatusGatewayTimeout:
			if idempotent {
				return retry
			}
			return uncertain
		}
		return giveUp
	}
	if permanent(err) {
		return giveUp
	}
	var opErr *net.OpError
	if !wrote || (errors.As(err, &opErr) && opErr.Op == "dial") {
		return retry
	}
	if idempotent {
		return retry
	}
	return uncertain
}

// permanent reports network errors that a retry cannot cure.
func permanent(err error) bool {
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
	)
	return errors.Is(err, errTooLarge) || errors.As(err, &certErr) || errors.As(err, &unknownAuth) ||
		errors.As(err, &hostErr) || errors.As(err, &invalidErr)
}

// netError wraps a transport error with method and path (never the
// query or credentials), dropping *url.Error's copy of the URL.
func (c *Client) netError(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) && c.timeout > 0 {
		err = fmt.Errorf("attempt timed out after %v: %w", c.timeout, err)
	}
	return &netErr{msg: c.redact(fmt.Sprintf("%s %s: %v", method, path, err)), err: err}
}

// netErr is a transport error whose text has been checked for secrets.
type netErr struct {
	msg string
	err error
}

func (e *netErr) Error() string { return e.msg }
func (e *netErr) Unwrap() error { return e.err }

// delay is how long to wait before retry number attempt: the server's
// Retry-After when it sent one, else full jitter over a capped
// exponential ceiling.
func (c *Client) delay(attempt int, err error) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
		return apiErr.RetryAfter
	}
	return c.backoff(attempt)
}

// backoff returns a uniform random duration in [0, min(max, min·2^(attempt-1))).
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.minBackoff
	for i := 1; i < attempt && ceiling < c.maxBackoff; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.maxBackoff)
	c.randMu.Lock()
	f := c.rand()
	c.randMu.Unlock()
	f = min(max(f, 0), 1)
	return time.Duration(f * float64(ceiling))
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP
// date (relative to now). Absent, bad or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
