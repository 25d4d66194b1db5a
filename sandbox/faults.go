package sandbox

import (
	"context"
	"net/http"
	"time"
)

// throttled takes one request from the server's bucket and, when it is
// empty, returns the throttle answer.
func (s *Sandbox) throttled() (reply, bool) {
	if s.limiter == nil || s.limiter.AllowN(s.cfg.Now(), 1) {
		return reply{}, false
	}
	s.counters.throttled()
	switch s.cfg.ThrottleStatus {
	case http.StatusForbidden:
		return errorReply(http.StatusForbidden, "over.qps rate limit exceeded"), true
	case http.StatusServiceUnavailable:
		return errorReply(http.StatusServiceUnavailable, "service unavailable: rate limit exceeded"), true
	}
	rep := errorReply(http.StatusTooManyRequests, "rate limit exceeded")
	rep.header = http.Header{"Retry-After": {"1"}}
	return rep, true
}

// delay waits Latency plus a random part of Jitter, or until ctx is done.
func (s *Sandbox) delay(ctx context.Context) error {
	d := s.cfg.Latency
	if s.cfg.Jitter > 0 {
		s.rngMu.Lock()
		d += time.Duration(s.rng.Int64N(int64(s.cfg.Jitter)))
		s.rngMu.Unlock()
	}
	if d <= 0 {
		return nil
	}
	return s.sleep(ctx, d)
}

// chance reports true with probability p.
func (s *Sandbox) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

// injectedFailure rolls FailRate and returns a 500 or 503 (even odds).
func (s *Sandbox) injectedFailure() (reply, bool) {
	if !s.chance(s.cfg.FailRate) {
		return reply{}, false
	}
	s.counters.injected()
	status := http.StatusInternalServerError
	if s.chance(0.5) {
		status = http.StatusServiceUnavailable
	}
	return errorReply(status, "injected failure"), true
}

// drop cuts the connection without answering: hijack and close, or, when
// the connection cannot be hijacked (HTTP/2, recorders), abort the handler.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}
