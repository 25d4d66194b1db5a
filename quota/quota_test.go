package quota

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ctctbulk/ctct"
)

// clock is a settable clock safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func open(t *testing.T, dir string, kind string, quota, block int64, clk *clock) *Meter {
	t.Helper()
	m, err := Open(Options{Dir: dir, Key: Key{Target: "https://api.example.com account joe", Digest: KeyDigest("k3y")},
		Kind: kind, Quota: quota, Block: block, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMetersShareTheQuota runs two meters on one key from many goroutines
// each: between them they never take more than the quota, the one that is
// refused says what was spent and by which kinds, and what the runs did
// not use is given back, so that the ledger holds exactly what was taken.
func TestMetersShareTheQuota(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)}
	a, b := open(t, dir, "import", 300, 7, clk), open(t, dir, "export", 300, 7, clk)
	var taken atomic.Int64
	// Each takes its first block before the race, so that both kinds
	// show in the refusal however the goroutines are scheduled (the
	// export's could otherwise take all 300).
	for _, m := range []*Meter{a, b} {
		if err := m.Take(context.Background()); err != nil {
			t.Fatal(err)
		}
		taken.Add(1)
	}
	var wg sync.WaitGroup
	for _, m := range []*Meter{a, b, a, b} {
		wg.Go(func() {
			for {
				err := m.Take(context.Background())
				if err != nil {
					if !errors.Is(err, ctct.ErrDailyQuota) || !errors.Is(err, ctct.ErrBudgetExhausted) {
						t.Errorf("take: %v, want the daily quota", err)
					}
					return
				}
				taken.Add(1)
			}
		})
	}
	wg.Wait()
	if got := taken.Load(); got != 300 {
		t.Fatalf("taken %d, want 300", got)
	}
	exh := a.Refused()
	if exh == nil {
		t.Fatal("no refusal recorded")
	}
	msg := exh.Error()
	for _, want := range []string{"daily quota of 300 requests", "account joe", "300 sent today", "2026-11-30", "import ", "export ", "2026-12-01 00:00 UTC, in 2h0m"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if !strings.HasSuffix(msg, "in 2h0m") {
		t.Errorf("message %q does not end with the time left", msg)
	}
	// The next day allows 300 more; an unused block is given back.
	clk.set(clk.now().Add(3 * time.Hour))
	for range 5 {
		if err := a.Take(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	a.Give() // one of them was not sent after all
	for _, m := range []*Meter{a, b} {
		if err := m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	today, err := a.Today(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if today.Day != "2026-12-01" || today.Requests != 4 || today.ByKind["import"] != 4 {
		t.Errorf("today %+v, want 4 import requests on 2026-12-01", today)
	}
	use, err := Report(context.Background(), dir, time.UTC, clk.now(), 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(use) != 1 || len(use[0].Days) != 8 || use[0].Days[1].Requests != 300 || use[0].Key != KeyDigest("k3y") {
		t.Fatalf("report %+v", use)
	}
	b2, err := os.ReadFile(filepath.Join(dir, Key{Target: "https://api.example.com account joe", Digest: KeyDigest("k3y")}.fileName()))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b2), "k3y") {
		t.Errorf("the ledger holds the key: %s", b2)
	}
}

// TestDays checks the quota day's bounds in a zone and the block given
// back to the day it was reserved on when a run crosses midnight.
func TestDays(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	tests := []struct {
		at   time.Time
		zone *time.Location
		day  string
		next string
	}{
		{time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC), time.UTC, "2026-11-30", "2026-12-01T00:00:00Z"},
		{time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC), la, "2026-11-30", "2026-12-01T00:00:00-08:00"},
		{time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), la, "2026-12-01", "2026-12-02T00:00:00-08:00"},
	}
	for _, tt := range tests {
		if got := DayOf(tt.at, tt.zone); got != tt.day {
			t.Errorf("DayOf(%v, %v) = %s, want %s", tt.at, tt.zone, got, tt.day)
		}
		if got := NextDay(tt.at, tt.zone).Format(time.RFC3339); got != tt.next {
			t.Errorf("NextDay(%v, %v) = %s, want %s", tt.at, tt.zone, got, tt.next)
		}
	}

	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)}
	m := open(t, dir, "lists", 0, 10, clk)
	for range 3 {
		if err := m.Take(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	clk.set(clk.now().Add(2 * time.Minute))
	if err := m.Take(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	use, err := Report(context.Background(), dir, time.UTC, clk.now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := [2]int64{use[0].Days[0].Requests, use[0].Days[1].Requests}; got != [2]int64{1, 3} {
		t.Errorf("today, yesterday = %v, want [1 3]", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 6200: "6,200", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %s, want %s", n, got, want)
		}
	}
}
