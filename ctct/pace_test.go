package ctct

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestPacer(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := rate.NewLimiter(40, 1)
	p := newPacer(l, func() time.Time { return clock })
	steps := []struct {
		name    string
		advance time.Duration
		event   func()
		want    rate.Limit
	}{
		{"success at the configured rate changes nothing", 0, p.succeeded, 40},
		{"a throttle cuts a quarter", 0, p.throttled, 30},
		{"a second throttle within a second counts once", 500 * time.Millisecond, p.throttled, 30},
		{"a throttle a second later cuts again", time.Second, p.throttled, 22.5},
		{"a success raises 1%", 0, p.succeeded, 22.725},
	}
	for _, s := range steps {
		clock = clock.Add(s.advance)
		s.event()
		if got := l.Limit(); got < s.want-1e-9 || got > s.want+1e-9 {
			t.Fatalf("%s: rate %v, want %v", s.name, got, s.want)
		}
	}
	for range 1000 {
		p.succeeded()
	}
	if l.Limit() != 40 {
		t.Errorf("after many successes the rate is %v, want back at 40", l.Limit())
	}
	for range 100 {
		clock = clock.Add(2 * time.Second)
		p.throttled()
	}
	if l.Limit() != 2 {
		t.Errorf("after many throttles the rate is %v, want the floor 2", l.Limit())
	}
	if newPacer(rate.NewLimiter(rate.Inf, 1), time.Now) != nil {
		t.Error("an unlimited limiter got a pacer")
	}
	var none *pacer
	none.throttled() // a nil pacer is off, not a crash
	none.succeeded()
}
