package sandbox

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"ctctbulk/ctct"
)

// Options configure a Sandbox. The zero value of each field is its
// default (see the Default constants), so Options{} is an in-memory
// sandbox with no rate limit and no faults.
type Options struct {
	DB          string // SQLite file path or ":memory:"
	User        string // account login, lower case; default "sandbox"
	APIKey      string // default "sandbox-key"
	Password    string // default "sandbox-password"
	AccessToken string // Bearer token accepted too; default "sandbox-token"
	PageSize    int    // entries per feed page; default 50

	// Rate is the number of API requests per second the server allows
	// (0 = unlimited), with a bucket of RateBurst requests (default
	// max(1, ceil(Rate/5)), i.e. 200 ms of requests).
	Rate      float64
	RateBurst int
	// ThrottleStatus is the answer to a request over the rate: 429 (the
	// default, with Retry-After: 1), 503, or 403 with "over.qps" in the body.
	ThrottleStatus int

	// Latency, plus a uniform random [0, Jitter), is added to every API
	// request.
	Latency, Jitter time.Duration
	// FailRate is the probability of an injected 500 or 503 before the
	// request does anything.
	FailRate float64
	// DropRate is the probability that a successful write (POST, PUT,
	// DELETE) is committed and then answered by closing the connection.
	DropRate float64
	// RandSeed seeds the random source of faults, jitter and Seed
	// (0 = from the time).
	RandSeed uint64

	// ActivityDelay is how long a new bulk activity stays PENDING before
	// it may run (its queue time; 0 = DefaultActivityDelay, negative =
	// none). ActivityRate is the rows per second a running activity
	// applies or exports (0 = DefaultActivityRate, negative = no limit).
	ActivityDelay time.Duration
	ActivityRate  float64
	// JobFaults are answers of add jobs that do not add up, the way some
	// servers gave them, for rehearsing what a client must not trust.
	JobFaults JobFaults
	// afterBatch, when set (tests), is called by the job runner after
	// each committed batch of activity id, with the rows done so far.
	afterBatch func(ctx context.Context, id string, done int)

	Now func() time.Time // clock; default time.Now
	// Logf, when set, receives one line per API request (never any
	// credential) and internal errors. It is called from many goroutines.
	Logf func(format string, args ...any)
}

// JobFaults make the sandbox's add jobs answer as a careless server
// would. The zero value is none.
type JobFaults struct {
	// FailEmails: an add job holding one of these emails (lower case) ends
	// in ERROR. It applies nothing, unless ErrorAfterApply, when it
	// applies its rows and then says ERROR.
	FailEmails      []string
	ErrorAfterApply bool
	// ErrorsAsCount gives a job's Errors as their number (a plain count,
	// as some servers' feeds did) rather than an Error per row.
	ErrorsAsCount bool
	// LineShift adds to every Error's LineNumber (a server that counts the
	// lines of a data parameter another way).
	LineShift int
	// ShortCount takes from every add job's TransactionCount.
	ShortCount int
}

// failing reports whether an add job's data holds one of the emails that
// make it end in ERROR.
func (f *JobFaults) failing(data string) bool {
	if len(f.FailEmails) == 0 {
		return false
	}
	low := strings.ToLower(data)
	for _, e := range f.FailEmails {
		if strings.Contains(low, strings.ToLower(e)) {
			return true
		}
	}
	return false
}

// Defaults of Options: an in-memory store, account "sandbox" with key
// "sandbox-key", password "sandbox-password" and token "sandbox-token",
// pages of 50; no rate limit and no faults.
const (
	DefaultDB             = ":memory:"
	DefaultUser           = "sandbox"
	DefaultAPIKey         = "sandbox-key"
	DefaultPassword       = "sandbox-password"
	DefaultAccessToken    = "sandbox-token"
	DefaultPageSize       = 50
	DefaultThrottleStatus = 429
	DefaultActivityDelay  = 2 * time.Second
	DefaultActivityRate   = 5000
)

// withDefaults fills the zero fields of cfg and checks the others.
func (cfg Options) withDefaults() (Options, error) {
	cfg.DB = cmp.Or(cfg.DB, DefaultDB)
	cfg.User = cmp.Or(cfg.User, DefaultUser)
	cfg.User = strings.ToLower(cfg.User)
	if strings.ContainsAny(cfg.User, "/?#%&=<>\"' \t\r\n") {
		return cfg, fmt.Errorf("user %q: a login cannot contain spaces or any of / ? # %% & = < > quotes", cfg.User)
	}
	cfg.APIKey = cmp.Or(cfg.APIKey, DefaultAPIKey)
	cfg.Password = cmp.Or(cfg.Password, DefaultPassword)
	cfg.AccessToken = cmp.Or(cfg.AccessToken, DefaultAccessToken)
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	if cfg.PageSize < 1 {
		return cfg, fmt.Errorf("page size %d: must be positive", cfg.PageSize)
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return cfg, fmt.Errorf("rate %v: must be a finite number >= 0", cfg.Rate)
	}
	if cfg.RateBurst < 0 {
		return cfg, fmt.Errorf("rate burst %d: must be >= 0", cfg.RateBurst)
	}
	if cfg.RateBurst == 0 {
		cfg.RateBurst = max(1, int(math.Ceil(cfg.Rate/5)))
	}
	cfg.ThrottleStatus = cmp.Or(cfg.ThrottleStatus, DefaultThrottleStatus)
	switch cfg.ThrottleStatus {
	case 429, 503, 403:
	default:
		return cfg, fmt.Errorf("throttle status %d: must be 429, 503 or 403", cfg.ThrottleStatus)
	}
	if cfg.Latency < 0 || cfg.Jitter < 0 {
		return cfg, errors.New("latency and jitter must not be negative")
	}
	if math.IsNaN(cfg.ActivityRate) || math.IsInf(cfg.ActivityRate, 0) {
		return cfg, errors.New("activity rate must be a finite number")
	}
	// Zero means the default; a negative value none (no queue time, no
	// limit of rows per second).
	switch {
	case cfg.ActivityDelay == 0:
		cfg.ActivityDelay = DefaultActivityDelay
	case cfg.ActivityDelay < 0:
		cfg.ActivityDelay = 0
	}
	switch {
	case cfg.ActivityRate == 0:
		cfg.ActivityRate = DefaultActivityRate
	case cfg.ActivityRate < 0:
		cfg.ActivityRate = 0
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"fail rate", cfg.FailRate}, {"drop rate", cfg.DropRate}} {
		if !(p.v >= 0 && p.v <= 1) {
			return cfg, fmt.Errorf("%s %v: must be between 0 and 1", p.name, p.v)
		}
	}
	if cfg.RandSeed == 0 {
		cfg.RandSeed = uint64(time.Now().UnixNano())
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// Sandbox emulates the contacts API of one account over a SQLite store.
// It is an http.Handler, safe for concurrent use.
type Sandbox struct {
	cfg      Options
	p        paths
	st       *store
	counters *counters
	limiter  *rate.Limiter // nil: no rate limit

	rngMu sync.Mutex
	rng   *rand.Rand // faults and jitter

	// sleep waits d or until ctx is done; a test seam for latency.
	sleep func(ctx context.Context, d time.Duration) error

	jobs *runner // runs the bulk activities in the background
}

// New opens (or creates) the store named by cfg.DB, creates the schema and,
// when the store is empty, the initial lists (1 "General Interest",
// 2 "Customers", 3 "Newsletter").
func New(ctx context.Context, cfg Options) (*Sandbox, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("sandbox config: %w", err)
	}
	st, err := openStore(ctx, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{
		cfg:      cfg,
		p:        newPaths(cfg.User, cfg.JobFaults),
		st:       st,
		counters: newCounters(),
		rng:      rand.New(rand.NewPCG(cfg.RandSeed, cfg.RandSeed^0x9e3779b97f4a7c15)),
		sleep:    ctct.Sleep,
	}
	if cfg.Rate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.RateBurst)
	}
	if err := st.ensureLists(ctx, s.stamp()); err != nil {
		st.close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := st.migrateActivities(ctx); err != nil {
		st.close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.jobs = startRunner(s)
	return s, nil
}

// Close stops the activity runner (an unfinished job stays stored and
// resumes when a sandbox opens the store again) and closes the store. The
// handler must not be serving any more.
func (s *Sandbox) Close() error {
	s.jobs.stop()
	return s.st.close()
}

// Reset returns the sandbox to its first state: no contacts, the initial
// lists, counters zeroed. Contact numbers start again at 1.
func (s *Sandbox) Reset(ctx context.Context) error {
	if err := s.st.reset(ctx, s.stamp()); err != nil {
		return fmt.Errorf("sandbox reset: %w", err)
	}
	if err := s.st.resetActivities(ctx); err != nil {
		return fmt.Errorf("sandbox reset: %w", err)
	}
	s.counters.reset()
	return nil
}

// ContactCount returns how many contacts the store holds, in any status.
func (s *Sandbox) ContactCount(ctx context.Context) (int, error) {
	var n int
	err := s.st.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM contacts").Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("count contacts: %w", err)
	}
	return n, nil
}

// Stats returns a copy of the request counters.
func (s *Sandbox) Stats() Stats { return s.counters.snapshot() }

// stamp returns the current time in the API's layout.
func (s *Sandbox) stamp() string { return s.cfg.Now().UTC().Format(timeLayout) }
