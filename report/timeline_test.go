package report

import (
	"testing"
	"time"

	"ctctbulk/ctct"
)

func TestTimeline(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	tests := []struct {
		name      string
		attempts  []ctct.Attempt
		wantWidth time.Duration
		want      []Bucket
	}{
		{
			name: "short run, one-second buckets",
			attempts: []ctct.Attempt{
				{At: at(0)}, {At: at(300 * time.Millisecond), Throttled: true},
				{At: at(1500 * time.Millisecond), Retry: true}, {At: at(3 * time.Second), Failed: true},
			},
			wantWidth: time.Second,
			want:      []Bucket{{Sent: 2, Throttled: 1}, {Sent: 1, Retried: 1}, {}, {Sent: 1, Failed: 1}},
		},
		{
			name:      "before the start counts in the first",
			attempts:  []ctct.Attempt{{At: at(-time.Minute)}},
			wantWidth: time.Second,
			want:      []Bucket{{Sent: 1}},
		},
		{
			name: "a long run doubles the width until it fits",
			attempts: []ctct.Attempt{
				{At: at(0)}, {At: at(time.Second), Failed: true}, {At: at(2 * time.Second)},
				{At: at(9 * time.Second), Retry: true, Throttled: true},
			},
			wantWidth: 4 * time.Second, // 4 buckets at most: 0-4, 4-8, 8-12
			want:      []Bucket{{Sent: 3, Failed: 1}, {}, {Sent: 1, Throttled: 1, Retried: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := DefaultMaxBuckets
			if tt.wantWidth > time.Second {
				max = 4
			}
			tl := NewTimeline(start, time.Second, max)
			for _, a := range tt.attempts {
				tl.Observe(a)
			}
			got := tl.Snapshot()
			if got.Width != tt.wantWidth || len(got.Buckets) != len(tt.want) {
				t.Fatalf("width %v, buckets %+v; want %v, %+v", got.Width, got.Buckets, tt.wantWidth, tt.want)
			}
			for i := range tt.want {
				if got.Buckets[i] != tt.want[i] {
					t.Errorf("bucket %d = %+v, want %+v", i, got.Buckets[i], tt.want[i])
				}
			}
			if tot := got.Total(); tot.Sent != int64(len(tt.attempts)) {
				t.Errorf("total %+v for %d attempts", tot, len(tt.attempts))
			}
		})
	}
}

// TestTimelineBounded: a run of hours keeps at most the maximum of
// buckets, whatever it sends.
func TestTimelineBounded(t *testing.T) {
	start := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	tl := NewTimeline(start, 0, 0)
	for s := 0; s < 10*3600; s += 7 {
		tl.Observe(ctct.Attempt{At: start.Add(time.Duration(s) * time.Second)})
	}
	got := tl.Snapshot()
	if len(got.Buckets) > DefaultMaxBuckets || cap(got.Buckets) > DefaultMaxBuckets || got.Width != 128*time.Second {
		t.Errorf("%d buckets of %v", len(got.Buckets), got.Width)
	}
}
