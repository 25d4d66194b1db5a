package sandbox

import (
	"maps"
	"strconv"
	"sync"
)

// Stats counts the API requests the sandbox has received since it was
// created or last reset. The /_sandbox routes are never counted.
type Stats struct {
	Requests int64            `json:"requests"`
	ByMethod map[string]int64 `json:"by_method"`
	ByStatus map[string]int64 `json:"by_status"`
	// ByRoute keys are a method and a route shape, e.g. "POST /contacts",
	// "GET /contacts/{id}", "GET /lists/{id}/members"; requests to no
	// known route are counted under "other".
	ByRoute          map[string]int64 `json:"by_route"`
	Throttled        int64            `json:"throttled"`
	InjectedFailures int64            `json:"injected_failures"`
	Dropped          int64            `json:"dropped"`
}

// counters is the mutable, mutex-guarded form of Stats.
type counters struct {
	mu sync.Mutex
	s  Stats
}

func newCounters() *counters {
	c := &counters{}
	c.reset()
	return c
}

func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = Stats{ByMethod: map[string]int64{}, ByStatus: map[string]int64{}, ByRoute: map[string]int64{}}
}

// request counts one API request on arrival.
func (c *counters) request(method, route string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Requests++
	c.s.ByMethod[method]++
	c.s.ByRoute[route]++
}

// status counts the status code a request was answered with.
func (c *counters) status(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.ByStatus[strconv.Itoa(code)]++
}

func (c *counters) throttled() { c.add(&c.s.Throttled) }
func (c *counters) injected()  { c.add(&c.s.InjectedFailures) }
func (c *counters) dropped()   { c.add(&c.s.Dropped) }

func (c *counters) add(p *int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*p++
}

// snapshot returns a deep copy of the counters.
func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.s
	out.ByMethod = maps.Clone(c.s.ByMethod)
	out.ByStatus = maps.Clone(c.s.ByStatus)
	out.ByRoute = maps.Clone(c.s.ByRoute)
	return out
}
