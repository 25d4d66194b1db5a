package ctct

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors. A *APIError matches the ones that describe its status
// with errors.Is; the others are wrapped by the Client's request loop.
var (
	// ErrNotFound: 404, the contact or list does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: 409, the email address already exists in the account.
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: 401 (bad credentials or wrong account in the path),
	// and a plain 403 that is not an over-rate answer (some servers signal a
	// wrong account that way).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: a 403 that is not an over-rate answer. It also matches
	// ErrUnauthorized.
	ErrForbidden = errors.New("forbidden")
	// ErrThrottled: 429, 503, or a 403 whose body says the rate limit was
	// exceeded (over.qps, over.ratelimit).
	ErrThrottled = errors.New("throttled")
	// ErrBadRequest: 400, bad XML or a field the server refused.
	ErrBadRequest = errors.New("bad request")
	// ErrUncertain wraps the error of a POST that the server may have
	// processed (a 500/502/504 or a connection lost after the request was
	// written). The POST is not retried: look the email up instead.
	ErrUncertain = errors.New("outcome uncertain, the server may have processed the request")
	// ErrBudgetExhausted: the request budget set with WithMaxRequests is
	// spent; the attempt was not sent.
	ErrBudgetExhausted = errors.New("request budget exhausted")
	// ErrDailyQuota: the daily quota shared by every run on the key
	// (Options.Quota) is spent; the attempt was not sent. It also matches
	// ErrBudgetExhausted: a run stops as at its own budget.
	ErrDailyQuota = fmt.Errorf("daily request quota spent: %w", ErrBudgetExhausted)
)

// APIError is a non-2xx answer of the API. Path is the request path
// without query; Message is the body's text, trimmed (e.g.
// "Error 409: Email address already exists"). It never carries credentials.
type APIError struct {
	Method     string
	Path       string
	Status     int
	Message    string
	RetryAfter time.Duration // from the Retry-After header, 0 when absent
}

// Error returns "METHOD /path: 404 Not Found: message".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Is maps the status to the sentinels: 404 ErrNotFound, 409 ErrConflict,
// 401 ErrUnauthorized, 400 ErrBadRequest, 429/503/over-rate 403
// ErrThrottled, any other 403 both ErrForbidden and ErrUnauthorized.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrThrottled:
		return e.Throttled()
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || (e.Status == http.StatusForbidden && !e.Throttled())
	case ErrForbidden:
		return e.Status == http.StatusForbidden && !e.Throttled()
	}
	return false
}

// Throttled reports whether the answer means "slow down": 429, 503, or a
// 403 whose body mentions over.qps, over.ratelimit or a rate limit.
func (e *APIError) Throttled() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case http.StatusForbidden:
		return overRate(e.Message)
	}
	return false
}

func overRate(body string) bool {
	b := strings.ToLower(body)
	return strings.Contains(b, "over.qps") || strings.Contains(b, "over.ratelimit") || strings.Contains(b, "rate limit")
}
