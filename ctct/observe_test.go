package ctct_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"ctctbulk/ctct"
	"ctctbulk/sandbox"
)

// TestObserve checks that Options.Observe is told of every attempt the
// sandbox counts, each in exactly one of ok, throttled and failed, with
// retries marked: the numbers a run report's request chart draws. (An
// injected 503 is a throttle to the client, as the client counts it.)
func TestObserve(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*sandbox.Options)
	}{
		{"throttled", func(c *sandbox.Options) { c.Rate, c.RateBurst, c.ThrottleStatus = 2, 1, http.StatusTooManyRequests }},
		{"injected failures", func(c *sandbox.Options) { c.FailRate = 0.4 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mod)
			e.seed(3)
			var mu sync.Mutex
			var seen []ctct.Attempt
			c := e.client(ctct.Options{Retries: 20, Observe: func(a ctct.Attempt) {
				mu.Lock()
				seen = append(seen, a)
				mu.Unlock()
			}})
			for i := 0; i < 10; i++ {
				if _, err := c.GetContact(t.Context(), fmt.Sprint(1+i%3)); err != nil {
					t.Fatalf("get %d: %v", i, err)
				}
			}
			st, cnt := e.sb.Stats(), c.Counters()
			var ok, throttled, failed, retries int64
			for _, a := range seen {
				switch {
				case a.Throttled && !a.Failed && a.Status != 0:
					throttled++
				case a.Failed && !a.Throttled:
					failed++
				case !a.Throttled && !a.Failed && a.Status == http.StatusOK:
					ok++
				default:
					t.Errorf("attempt %+v is not exactly one of ok, throttled, failed", a)
				}
				if a.Retry {
					retries++
				}
				if a.Method != http.MethodGet || a.At.IsZero() {
					t.Errorf("attempt %+v", a)
				}
			}
			if int64(len(seen)) != st.Requests || ok != 10 || throttled != cnt.Throttled || throttled+failed != st.Throttled+st.InjectedFailures || retries != cnt.Retries {
				t.Errorf("observed %d attempts (ok %d, throttled %d, failed %d, retries %d); server %+v, client %+v", len(seen), ok, throttled, failed, retries, st, cnt)
			}
			if throttled+failed == 0 {
				t.Error("the sandbox refused nothing: the test shows nothing")
			}
		})
	}
}
