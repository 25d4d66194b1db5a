package progress

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	tests := []struct {
		s       Status
		elapsed time.Duration
		want    string
	}{
		{Status{Done: 50, Total: 100, Rows: 200, Requests: 210, Text: "created 200"}, 10 * time.Second,
			"50%, 200 rows, 20.0/s, 21.0 requests/s, about 10 s left; created 200"},
		{Status{Done: 1 << 20, Rows: 7}, 2 * time.Second, "7 rows, 3.5/s, 0.0 requests/s"},
		{Status{Done: 100, Total: 100, Rows: 9, Requests: 9}, time.Second, "100%, 9 rows, 9.0/s, 9.0 requests/s, about 0 s left"},
		{Status{}, 0, "0 rows, 0.0/s, 0.0 requests/s"},
	}
	for _, tt := range tests {
		if got := Line(tt.s, tt.elapsed, "rows"); got != tt.want {
			t.Errorf("Line(%+v, %v) = %q, want %q", tt.s, tt.elapsed, got, tt.want)
		}
	}
}

func TestHuman(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{10100 * time.Second, "2 h 48 min"}, // 40,401 requests at 4/s
		{45 * time.Second, "45 s"},
		{12*time.Minute + 30*time.Second, "12 min"},
		{76 * time.Hour, "3 days 4 h"},
	}
	for _, tt := range tests {
		if got := Human(tt.d); got != tt.want {
			t.Errorf("Human(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestDescribeFits: the bar's description leaves the bar its room at any
// width, and shows the job's counters only when they fit.
func TestDescribeFits(t *testing.T) {
	start := time.Unix(1000, 0)
	now := start.Add(time.Minute)
	s := Status{Done: 10, Total: 100, Rows: 123456, Requests: 130000,
		Text: "created 100000, updated 20000, unchanged 3000, skipped 400, failed 56; 130000 requests"}
	for _, width := range []int{40, 80, 120, 200} {
		r := &Reporter{opts: Options{Width: width, Unit: "rows", Now: func() time.Time { return now }}, start: start}
		d := r.describe(s)
		if n := utf8.RuneCountInString(d); n > max(width-barColumns, 0) {
			t.Errorf("width %d: description of %d characters: %q", width, n, d)
		}
		if wide := width >= 200; wide != strings.Contains(d, "created") {
			t.Errorf("width %d: %q", width, d)
		}
	}
}
