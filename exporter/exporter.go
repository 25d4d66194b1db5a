// Package exporter writes the contacts of a Constant Contact account to CSV.
// It walks the contacts collection page by page through rel="next" (the
// cursor is sequential), fetches each contact's full detail with bounded
// concurrency and writes the rows in listing order, so that memory is
// bounded by a window of entries, never by the account. Output files are
// written atomically with a manifest beside them, and a state file keeps
// the high-water mark of incremental runs.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ctctbulk/ctct"
)

// Client is what the exporter needs of the API; *ctct.Client provides it.
// ContactPages yields the pages of a listing in order, or the error that
// stopped it as the last pair.
type Client interface {
	ContactPages(ctx context.Context, q ctct.ContactQuery) iter.Seq2[*ctct.Feed, error]
	GetContact(ctx context.Context, id string) (*ctct.Contact, error)
	SearchEmails(ctx context.Context, emails []string) ([]ctct.Contact, error)
	Lists(ctx context.Context) ([]ctct.List, error)
	Counters() ctct.Counters
}

// Status selects the contacts of an export by their kind.
type Status string

// The statuses an export can select. StatusActive covers Active and
// Unconfirmed contacts, like the API's "active" list type.
const (
	StatusAll       Status = "all"
	StatusActive    Status = ctct.ListTypeActive
	StatusRemoved   Status = ctct.ListTypeRemoved
	StatusDoNotMail Status = ctct.ListTypeDoNotMail
)

// kinds are the list types a StatusAll walk covers, in walking order.
var kinds = [...]Status{StatusActive, StatusRemoved, StatusDoNotMail}

// matches reports whether a contact status belongs to the kind s.
func (s Status) matches(contactStatus string) bool {
	switch s {
	case StatusAll:
		return true
	case StatusActive:
		return contactStatus == ctct.StatusActive || contactStatus == ctct.StatusUnconfirmed
	case StatusRemoved:
		return contactStatus == ctct.StatusRemoved
	case StatusDoNotMail:
		return contactStatus == ctct.StatusDoNotMail
	}
	return false
}

// Detail says how much of each contact an export writes.
type Detail string

// The detail levels: DetailFull GETs every contact for every field;
// DetailSummary writes the listing's fields alone (one request per page).
const (
	DetailFull    Detail = "full"
	DetailSummary Detail = "summary"
)

// DefaultOverlap is how far before a run's start the next incremental run
// begins (the CLI's --overlap default), so that writes that land late are
// not missed.
const DefaultOverlap = 5 * time.Minute

// Defaults of Options.
const (
	DefaultWorkers = 4
	// DefaultWindow is two pages of 50 entries.
	DefaultWindow = 100
)

// Errors a caller may want to tell apart.
var (
	// ErrInterrupted: the context was cancelled before the export was
	// complete; nothing was put in place.
	ErrInterrupted = errors.New("export interrupted")
	// ErrUnknownList: --list names no list of the account.
	ErrUnknownList = errors.New("unknown list")
	// ErrStateMismatch: the state file was written by an export of other
	// contacts (another --status or --list).
	ErrStateMismatch = errors.New("state file belongs to another export")
	// ErrTargetMismatch: the state file, or the manifest of the output
	// file, was written by an export from another target (another server,
	// account or sandbox file).
	ErrTargetMismatch = errors.New("target mismatch")
)

// Options configure an export. The zero value of each field is its
// default except where noted.
type Options struct {
	// Status selects a kind of contact (default StatusAll).
	Status Status
	// List restricts the export to the members of one list: a list number
	// or an exact list name.
	List string
	// Since restricts the export to the contacts changed at or after it.
	// Exclusive with StatePath and Emails.
	Since time.Time
	// Emails exports just these addresses (looked up 50 at a time), in the
	// order given. Exclusive with List, Since and StatePath.
	Emails []string
	// Detail is DetailFull (default) or DetailSummary.
	Detail Detail
	// Via is the way through the API: ViaContacts (the zero value: the
	// contacts collection, every column exact), ViaActivities (bulk export
	// jobs: a few requests whatever the size, without the columns of
	// BulkEmptyColumns) or ViaAuto, which takes the collection when the
	// export needs it (a state file's later runs, a since time, emails, a
	// summary) or when it is cheap (a small account: see chooseVia), and
	// jobs otherwise (a state file's first run too).
	Via Via
	// Rate is the client's requests per second, for auto's choice and the
	// cost it warns of (0: 4, the API's limit).
	Rate float64
	// PollFirst and PollMax are the first and the longest wait between
	// the polls of an export job (defaults DefaultPollFirst and
	// DefaultPollMax); the first wait of a job whose list says its size
	// is at least the time the job takes at 20,000 contacts a second.
	PollFirst, PollMax time.Duration
	// Workers bounds the detail GETs in flight (default 4).
	Workers int
	// Window bounds the entries listed but not yet written (default 100:
	// two pages); it is at least Workers.
	Window int
	// Raw leaves cells that start with = + - @ tab or CR as they are;
	// otherwise they are prefixed with ' so that a spreadsheet does not
	// run them as formulas.
	Raw bool
	// StatePath is the incremental state file: when it exists, only the
	// contacts changed since its high-water mark are exported; after a
	// complete run it receives the new mark.
	StatePath string
	// Overlap is subtracted from the run's start to make the high-water
	// mark (zero means none; the CLI's default is DefaultOverlap).
	Overlap time.Duration
	// Version is the tool version recorded in the manifest.
	Version string
	// Target names what the client talks to ("URL account USER" or
	// "sandbox FILE"). It is written in the summary, the manifest and the
	// state file; a state file or an output's manifest that names another
	// target is refused (ErrTargetMismatch), so that a run against the
	// wrong account never moves a state forward or replaces an export.
	Target string
	// ImplicitTarget says that Target was chosen because nothing was
	// configured (the CLI's built-in sandbox): a state file written before
	// targets were recorded is then refused instead of being bound to it.
	ImplicitTarget bool
	// Warnf receives warnings (addresses with no contact...); may be nil.
	Warnf func(format string, args ...any)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Exporter runs one export. Create it with New, watch it with Progress
// while Run or WriteFile runs. An Exporter is for one run: its counters
// (and the request counts, taken from New on) add up over further runs.
type Exporter struct {
	client Client
	opts   Options
	counts counters
	base   ctct.Counters
	// via is the way the run took (a Via), set once it chose; phase what
	// it waits for, for the progress ("" while it writes rows).
	via   atomic.Value
	phase atomic.Value
	// sink is WriteFile's output (nil for Run): a walk of the collection
	// into it can be resumed.
	sink *fileSink
	// spans are the export jobs that ended, for the run report (a run
	// takes one per list, so they are few).
	spansMu sync.Mutex
	spans   []ctct.JobSpan
}

// span records an ended export job.
func (e *Exporter) span(s ctct.JobSpan) {
	e.spansMu.Lock()
	e.spans = append(e.spans, s)
	e.spansMu.Unlock()
}

// way is the way the run takes: the one it chose, else the options'.
func (e *Exporter) way() Via {
	if v, ok := e.via.Load().(Via); ok {
		return v
	}
	return e.opts.Via
}

// counters are the live counts of a run, safe for concurrent use.
type counters struct {
	rows, listed, pages, duplicates, filtered, vanished, notFound, jobs atomic.Int64
}

// New checks the options (see Validate), fills in the defaults and
// returns an exporter for one run.
func New(client Client, opts Options) (*Exporter, error) {
	if client == nil {
		return nil, errors.New("an export needs a client")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Status == "" {
		opts.Status = StatusAll
	}
	if opts.Detail == "" {
		opts.Detail = DetailFull
	}
	opts.List = strings.TrimSpace(opts.List)
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	opts.Window = max(opts.Window, opts.Workers)
	opts.Via = opts.resolveVia()
	if opts.PollFirst <= 0 {
		opts.PollFirst = DefaultPollFirst
	}
	if opts.PollMax <= 0 {
		opts.PollMax = DefaultPollMax
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Warnf == nil {
		opts.Warnf = func(string, ...any) {}
	}
	// The request counts of the run are taken from here, so that Progress
	// may be called while Run runs without sharing a write with it.
	return &Exporter{client: client, opts: opts, base: client.Counters()}, nil
}

// Validate reports options that contradict each other or name no known
// value, without any I/O.
func (opts Options) Validate() error {
	if opts.Status == "" {
		opts.Status = StatusAll
	}
	switch opts.Status {
	case StatusAll, StatusActive, StatusRemoved, StatusDoNotMail:
	default:
		return fmt.Errorf("unknown status %q: use all, active, removed or do-not-mail", opts.Status)
	}
	if opts.Detail == "" {
		opts.Detail = DetailFull
	}
	if opts.Detail != DetailFull && opts.Detail != DetailSummary {
		return fmt.Errorf("unknown detail %q: use full or summary", opts.Detail)
	}
	list := strings.TrimSpace(opts.List)
	switch {
	case opts.StatePath != "" && !opts.Since.IsZero():
		return errors.New("a since time and a state file are exclusive: the state file holds the since time")
	case len(opts.Emails) > 0 && (list != "" || !opts.Since.IsZero() || opts.StatePath != ""):
		return errors.New("an export of given emails cannot be combined with a list, a since time or a state file")
	}
	if list != "" {
		switch Status(list) {
		case StatusActive, StatusRemoved, StatusDoNotMail:
			return fmt.Errorf("list %q is a kind of contact: use the status instead", list)
		}
	}
	if opts.Overlap < 0 {
		return fmt.Errorf("overlap %v: must not be negative", opts.Overlap)
	}
	return opts.checkVia()
}

// Progress returns the rows written so far and a one-line text of the
// counters. Safe to call while the export runs.
func (e *Exporter) Progress() (done int64, text string) {
	c := &e.counts
	req := e.client.Counters().Requests - e.base.Requests
	if phase, _ := e.phase.Load().(string); phase != "" {
		text = phase + "; " + fmt.Sprintf("rows %d", c.rows.Load())
	} else if e.way() == ViaActivities {
		text = fmt.Sprintf("rows %d, export jobs %d", c.rows.Load(), c.jobs.Load())
	} else {
		text = fmt.Sprintf("rows %d, listed %d, pages %d", c.rows.Load(), c.listed.Load(), c.pages.Load())
	}
	if v := c.vanished.Load(); v > 0 {
		text += fmt.Sprintf(", vanished %d", v)
	}
	return c.rows.Load(), text + fmt.Sprintf("; %d requests", req)
}

// ParseTime reads a --since value: an RFC 3339 time such as
// 2008-07-23T14:21:06.407Z or 2024-05-01T08:00:00+02:00, or a date
// (2024-05-01, midnight UTC).
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q: use RFC 3339 (2008-07-23T14:21:06.407Z) or a date (2008-07-23)", s)
}

// formatTime writes t as the API does (UTC, milliseconds); "" for zero.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(ctct.TimeLayout)
}
