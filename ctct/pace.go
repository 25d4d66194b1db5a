package ctct

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer fits the shared limiter to a server that allows less than the
// configured rate: a throttled answer lowers the rate by a quarter (at most
// once a second, so that the throttles of parallel workers hitting the same
// limit count once), and each success raises it by 1% back towards the
// configured rate. Against a server that allows the configured rate nothing
// is ever throttled and the rate never moves. Safe for concurrent use.
type pacer struct {
	limiter *rate.Limiter
	ceiling rate.Limit // the configured rate
	floor   rate.Limit // never slower than this
	now     func() time.Time

	mu      sync.Mutex
	lastCut time.Time
}

// newPacer returns a pacer of l, or nil when l has no finite rate to adapt.
func newPacer(l *rate.Limiter, now func() time.Time) *pacer {
	ceiling := l.Limit()
	if ceiling == rate.Inf || ceiling <= 0 {
		return nil
	}
	return &pacer{limiter: l, ceiling: ceiling, floor: max(ceiling/20, min(ceiling, 0.1)), now: now}
}

// throttled lowers the rate after a throttled answer.
func (p *pacer) throttled() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if !p.lastCut.IsZero() && now.Sub(p.lastCut) < time.Second {
		return
	}
	p.lastCut = now
	p.limiter.SetLimit(max(p.limiter.Limit()*3/4, p.floor))
}

// succeeded raises the rate after an answer that was not throttled.
func (p *pacer) succeeded() {
	if p == nil || p.limiter.Limit() >= p.ceiling {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limiter.SetLimit(min(p.limiter.Limit()*1.01, p.ceiling))
}
