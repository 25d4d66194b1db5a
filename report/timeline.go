package report

import (
	"sync"
	"time"

	"ctctbulk/ctct"
)

// Defaults of a Timeline: one-second buckets, at most 360 of them. A run
// longer than 6 minutes doubles the width as often as it must (2 s, 4 s,
// ... 32 s up to 3 hours 12 minutes, 64 s up to 6 hours 24 minutes), so
// that the memory is the same for a run of ten rows or of a million.
const (
	DefaultBucket     = time.Second
	DefaultMaxBuckets = 360
)

// Bucket counts the attempts sent in one interval of a Timeline. Every
// attempt is in Sent and in at most one of Throttled and Failed; Retried
// counts those that repeated an earlier attempt.
type Bucket struct {
	Sent, Throttled, Retried, Failed int64
}

// Timeline counts a run's requests in fixed-width buckets from its start,
// doubling the width when the run outgrows its buckets. Safe for
// concurrent use; its Observe is an ctct.Options.Observe.
type Timeline struct {
	mu      sync.Mutex
	start   time.Time
	width   time.Duration
	max     int
	buckets []Bucket
}

// NewTimeline returns a timeline starting at start with buckets of width
// (DefaultBucket when not positive), at most max of them
// (DefaultMaxBuckets when less than 2).
func NewTimeline(start time.Time, width time.Duration, max int) *Timeline {
	if width <= 0 {
		width = DefaultBucket
	}
	if max < 2 {
		max = DefaultMaxBuckets
	}
	return &Timeline{start: start, width: width, max: max}
}

// Observe counts one attempt in the bucket of its time (an attempt dated
// before the start counts in the first).
func (t *Timeline) Observe(a ctct.Attempt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.index(a.At)
	for i >= t.max {
		t.double()
		i = t.index(a.At)
	}
	for len(t.buckets) <= i {
		t.buckets = append(t.buckets, Bucket{})
	}
	b := &t.buckets[i]
	b.Sent++
	switch {
	case a.Throttled:
		b.Throttled++
	case a.Failed:
		b.Failed++
	}
	if a.Retry {
		b.Retried++
	}
}

func (t *Timeline) index(at time.Time) int {
	d := at.Sub(t.start)
	if d < 0 {
		return 0
	}
	return int(d / t.width)
}

// double merges the buckets in pairs and doubles their width.
func (t *Timeline) double() {
	merged := make([]Bucket, (len(t.buckets)+1)/2, t.max)
	for i, b := range t.buckets {
		m := &merged[i/2]
		m.Sent += b.Sent
		m.Throttled += b.Throttled
		m.Retried += b.Retried
		m.Failed += b.Failed
	}
	t.buckets = merged
	t.width *= 2
}

// Requests is a timeline as it stands: its start, its buckets' width and
// the buckets, the first at Start.
type Requests struct {
	Start   time.Time
	Width   time.Duration
	Buckets []Bucket
}

// Snapshot returns the counts so far.
func (t *Timeline) Snapshot() Requests {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Requests{Start: t.start, Width: t.width, Buckets: append([]Bucket(nil), t.buckets...)}
}

// Total adds up the buckets.
func (r Requests) Total() Bucket {
	var s Bucket
	for _, b := range r.Buckets {
		s.Sent += b.Sent
		s.Throttled += b.Throttled
		s.Retried += b.Retried
		s.Failed += b.Failed
	}
	return s
}
