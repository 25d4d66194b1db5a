// Package quota keeps the daily request quota of an API key, which every
// run on that key draws on, whoever starts it: the nightly export, a
// daytime import and someone's lists. Each key has a small ledger file
// (JSON) in the user's state directory holding the requests of each day
// by kind of run; every process that uses the key updates it under a file
// lock held only for the read-modify-write.
//
// A run does not go to the ledger for every request: its Meter reserves a
// block of requests at a time (counted as spent at once; smaller blocks as
// the quota runs out) and hands them out, and gives back what it did not
// send when it ends. A process killed
// before it gives its block back leaves at most that block counted but
// unsent.
package quota

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/lockfile"
)

// DefaultBlock is the requests a Meter reserves at a time unless told.
const DefaultBlock = 20

// keepDays is how many days of use a ledger keeps, counted back from the
// newest day it holds.
const keepDays = 35

// dayLayout is how a ledger names a day: its date in the quota's zone.
const dayLayout = "2006-01-02"

// Key names the key a ledger counts for. It never holds a secret.
type Key struct {
	// Target is what the key talks to, as summaries name it: "URL account
	// USER", or "sandbox FILE".
	Target string
	// Digest is KeyDigest of the API key, or "" when there is none (a
	// sandbox, or a run with an access token).
	Digest string
}

// KeyDigest is a short digest of an API key, enough to tell two keys of
// one account apart and never enough to recover the key.
func KeyDigest(key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("ctctbulk quota key\x00" + key))
	return hex.EncodeToString(sum[:6])
}

// fileName is the ledger's file name for k: a digest of target and key
// digest, so that no name or secret shows in the directory.
func (k Key) fileName() string {
	sum := sha256.Sum256([]byte(k.Target + "\x00" + k.Digest))
	return hex.EncodeToString(sum[:8]) + ".json"
}

// Options configure a Meter.
type Options struct {
	// Dir is the directory of the ledgers ($XDG_STATE_HOME/ctctbulk);
	// it is created when missing.
	Dir string
	// Key is the key whose ledger the Meter draws on.
	Key Key
	// Kind is the kind of run (import, export, lists), under which its
	// requests are counted.
	Kind string
	// Quota is the requests allowed a day on the key, all runs together;
	// 0 means no limit (the use is still recorded).
	Quota int64
	// Zone is where the quota day starts and ends (default UTC).
	Zone *time.Location
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Block is how many requests are reserved at a time (default
	// DefaultBlock).
	Block int64
}

// Meter is one run's draw on a key's daily quota: a ctct.Quota. It is safe
// for concurrent use.
type Meter struct {
	opts     Options
	path     string
	lockPath string

	mu       sync.Mutex
	left     int64  // requests of the block not handed out yet
	blockDay string // the day the block was reserved on
	refused  *ExhaustedError
}

// Open returns a Meter on the ledger of opts.Key in opts.Dir. Nothing is
// read or written before the first Take.
func Open(opts Options) (*Meter, error) {
	if opts.Dir == "" {
		return nil, errors.New("quota: no ledger directory")
	}
	if opts.Kind == "" {
		return nil, errors.New("quota: no kind of run")
	}
	if opts.Quota < 0 {
		return nil, fmt.Errorf("quota: negative quota %d", opts.Quota)
	}
	if opts.Zone == nil {
		opts.Zone = time.UTC
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Block <= 0 {
		opts.Block = DefaultBlock
	}
	path := filepath.Join(opts.Dir, opts.Key.fileName())
	return &Meter{opts: opts, path: path, lockPath: strings.TrimSuffix(path, ".json") + ".lock"}, nil
}

// Quota is the daily quota the Meter keeps to (0: none).
func (m *Meter) Quota() int64 { return m.opts.Quota }

// Take takes one request from the run's block, reserving a new block in
// the ledger when the block is used up or was reserved on an earlier day
// (whose unused part is given back to that day). When today's quota is
// spent, it returns an *ExhaustedError, which matches ctct.ErrDailyQuota.
func (m *Meter) Take(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	day := DayOf(now, m.opts.Zone)
	if m.left > 0 && m.blockDay == day {
		m.left--
		return nil
	}
	var (
		got int64
		exh *ExhaustedError
	)
	err := m.update(ctx, func(l *ledger) {
		if m.left > 0 {
			l.add(m.blockDay, m.opts.Kind, -m.left)
		}
		got = m.opts.Block
		if m.opts.Quota > 0 {
			// Near the end of the quota, smaller blocks: a block another
			// run holds unused would stop this one before the quota.
			left := m.opts.Quota - l.total(day)
			got = min(got, max(left/4, min(left, 1)))
		}
		if got <= 0 {
			exh = m.exhausted(l, day, now)
			return
		}
		l.add(day, m.opts.Kind, got)
	})
	if err != nil {
		return err
	}
	m.left = 0
	if exh != nil {
		m.refused = exh
		return exh
	}
	m.left, m.blockDay = got-1, day
	return nil
}

// Give returns one request that Take gave and that was not sent.
func (m *Meter) Give() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blockDay != "" {
		m.left++
	}
}

// Close gives the unused part of the run's block back to the day it was
// reserved on. The Meter may be used again after; Close is idempotent.
func (m *Meter) Close(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.left <= 0 {
		return nil
	}
	if err := m.update(ctx, func(l *ledger) { l.add(m.blockDay, m.opts.Kind, -m.left) }); err != nil {
		return err
	}
	m.left = 0
	return nil
}

// Refused is the last refusal of Take for a spent quota, or nil.
func (m *Meter) Refused() *ExhaustedError {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refused
}

// Today reads today's use of the key, every run's (a run's unused block
// counts until it is given back).
func (m *Meter) Today(ctx context.Context) (DayUse, error) {
	if err := ctx.Err(); err != nil {
		return DayUse{}, err
	}
	l, err := readLedger(m.path)
	if err != nil {
		return DayUse{}, err
	}
	day := DayOf(m.opts.Now(), m.opts.Zone)
	return l.use(day), nil
}

// update reads the ledger, applies change and writes it back, under the
// ledger's lock.
func (m *Meter) update(ctx context.Context, change func(*ledger)) error {
	if err := os.MkdirAll(m.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("quota ledger: %w", err)
	}
	release, err := lockfile.Wait(ctx, m.lockPath)
	if err != nil {
		return fmt.Errorf("quota ledger: %w", err)
	}
	defer release()
	l, err := readLedger(m.path)
	if err != nil {
		return err
	}
	l.Target, l.Key, l.Zone, l.Quota = m.opts.Key.Target, m.opts.Key.Digest, m.opts.Zone.String(), m.opts.Quota
	change(l)
	if !l.dirty {
		return nil
	}
	l.prune()
	return writeLedger(m.path, l)
}

// exhausted describes today's spent quota.
func (m *Meter) exhausted(l *ledger, day string, now time.Time) *ExhaustedError {
	u := l.use(day)
	return &ExhaustedError{
		Target: m.opts.Key.Target, Quota: m.opts.Quota, Day: day, Zone: m.opts.Zone.String(),
		Spent: u.Requests, ByKind: u.ByKind, Resets: NextDay(now, m.opts.Zone), Now: now,
	}
}

// ExhaustedError says that a key's daily quota is spent: what was spent
// today, by which kinds of run, and when the quota day starts again. It
// matches ctct.ErrDailyQuota (and so ctct.ErrBudgetExhausted).
type ExhaustedError struct {
	Target string
	Quota  int64
	Day    string // the quota day, in Zone
	Zone   string
	Spent  int64
	ByKind map[string]int64
	Resets time.Time // the start of the next quota day
	Now    time.Time // when the quota was found spent
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("the daily quota of %s requests on %s is spent: %s sent today (%s, %s); the quota day starts again at %s, in %s",
		Thousands(e.Quota), e.Target, Thousands(e.Spent), e.Day, KindsText(e.ByKind),
		e.Resets.Format("2006-01-02 15:04 MST"), strings.TrimSuffix(e.Resets.Sub(e.Now).Round(time.Minute).String(), "0s"))
}

// Is matches ctct.ErrDailyQuota and ctct.ErrBudgetExhausted.
func (e *ExhaustedError) Is(target error) bool {
	return target == ctct.ErrDailyQuota || target == ctct.ErrBudgetExhausted
}

// DayUse is one day's requests on a key, in all and by kind of run.
type DayUse struct {
	Day      string           `json:"day"`
	Requests int64            `json:"requests"`
	ByKind   map[string]int64 `json:"by_kind"`
}

// KindsText writes use by kind as "export 6000, import 199, lists 1", the
// most first; "nothing" when empty.
func KindsText(byKind map[string]int64) string {
	kinds := slices.SortedFunc(maps.Keys(byKind), func(a, b string) int {
		return cmp.Or(cmp.Compare(byKind[b], byKind[a]), strings.Compare(a, b))
	})
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if byKind[k] != 0 {
			parts = append(parts, k+" "+Thousands(byKind[k]))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// Thousands writes n with a comma between thousands: 10,000.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// DayOf is the quota day of t in zone.
func DayOf(t time.Time, zone *time.Location) string { return t.In(zone).Format(dayLayout) }

// NextDay is the start of the quota day after t's, in zone.
func NextDay(t time.Time, zone *time.Location) time.Time {
	y, mo, d := t.In(zone).Date()
	return time.Date(y, mo, d+1, 0, 0, 0, 0, zone)
}

// ledger is a key's ledger file.
type ledger struct {
	Target string `json:"target"`
	// Key is the API key's digest, never the key.
	Key string `json:"key,omitempty"`
	// Zone and Quota are those of the last run that wrote.
	Zone  string `json:"zone"`
	Quota int64  `json:"quota"`
	// Days holds each day's requests by kind of run.
	Days map[string]map[string]int64 `json:"days"`

	dirty bool
}

func (l *ledger) add(day, kind string, n int64) {
	if n == 0 {
		return
	}
	if l.Days == nil {
		l.Days = map[string]map[string]int64{}
	}
	if l.Days[day] == nil {
		l.Days[day] = map[string]int64{}
	}
	l.Days[day][kind] = max(l.Days[day][kind]+n, 0)
	l.dirty = true
}

func (l *ledger) total(day string) int64 {
	var n int64
	for _, v := range l.Days[day] {
		n += v
	}
	return n
}

func (l *ledger) use(day string) DayUse {
	u := DayUse{Day: day, ByKind: map[string]int64{}}
	for k, v := range l.Days[day] {
		if v != 0 {
			u.ByKind[k] = v
			u.Requests += v
		}
	}
	return u
}

// prune drops the days more than keepDays before the newest one.
func (l *ledger) prune() {
	newest := ""
	for d := range l.Days {
		newest = max(newest, d)
	}
	t, err := time.Parse(dayLayout, newest)
	if err != nil {
		return
	}
	oldest := t.AddDate(0, 0, -keepDays).Format(dayLayout)
	for d := range l.Days {
		if d < oldest {
			delete(l.Days, d)
		}
	}
}

// readLedger reads a ledger file; a missing one is empty.
func readLedger(path string) (*ledger, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &ledger{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quota ledger: %w", err)
	}
	var l ledger
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("quota ledger %s is not readable (remove it to start its count over): %w", path, err)
	}
	return &l, nil
}

// writeLedger writes the ledger to a temporary file beside path and
// renames it over path, so that a reader never sees half a file.
func writeLedger(path string, l *ledger) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("quota ledger: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ledger-*")
	if err != nil {
		return fmt.Errorf("quota ledger: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("quota ledger: %w", err)
	}
	return nil
}

// KeyUse is a key's use over some days, for the quota command.
type KeyUse struct {
	Target string `json:"target"`
	Key    string `json:"key,omitempty"`
	// Quota and Zone are those of the last run on the key.
	Quota int64    `json:"quota"`
	Zone  string   `json:"zone"`
	Days  []DayUse `json:"days"`
}

// Report reads every ledger in dir and returns each key's use on the day
// of now and the days-1 days before it (in zone), the newest first; keys
// are sorted by target. A missing dir holds no ledger.
func Report(ctx context.Context, dir string, zone *time.Location, now time.Time, days int) ([]KeyUse, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("quota ledgers: %w", err)
	}
	y, mo, d := now.In(zone).Date()
	var out []KeyUse
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, err := readLedger(p)
		if err != nil {
			return nil, err
		}
		ku := KeyUse{Target: l.Target, Key: l.Key, Quota: l.Quota, Zone: l.Zone}
		for i := range days {
			ku.Days = append(ku.Days, l.use(time.Date(y, mo, d-i, 12, 0, 0, 0, zone).Format(dayLayout)))
		}
		out = append(out, ku)
	}
	slices.SortFunc(out, func(a, b KeyUse) int {
		return cmp.Or(strings.Compare(a.Target, b.Target), strings.Compare(a.Key, b.Key))
	})
	return out, nil
}
