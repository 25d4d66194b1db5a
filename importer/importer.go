// Package importer puts the rows of a CSV file into a Constant Contact
// account: it streams the file, maps and validates each row, looks emails up
// in batches of 50, then creates the new contacts and updates the existing
// ones through a bounded pool of workers. Every row ends created, updated,
// unchanged, skipped or failed; the last two go to an error report that can
// be fed back in, and a journal lets an interrupted run resume.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/text/encoding"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// Client is what the importer needs of the API; *ctct.Client provides it.
type Client interface {
	SearchEmails(ctx context.Context, emails []string) ([]ctct.Contact, error)
	CreateContact(ctx context.Context, c *ctct.Contact) (*ctct.Contact, error)
	GetContact(ctx context.Context, id string) (*ctct.Contact, error)
	UpdateContact(ctx context.Context, c *ctct.Contact) error
	OptOut(ctx context.Context, id string) error
	CreateList(ctx context.Context, l *ctct.List) (*ctct.List, error)
	Lists(ctx context.Context) ([]ctct.List, error)
	ListURI(id string) string
	Counters() ctct.Counters
}

// Mode says which rows may create and which may update contacts.
type Mode string

// The import modes.
const (
	ModeUpsert Mode = "upsert"
	ModeCreate Mode = "create"
	ModeUpdate Mode = "update"
)

// Options configure a run. The zero value of each field is its default
// except where noted.
type Options struct {
	Mode        Mode
	Empty       mapping.EmptyPolicy
	Lists       []string // --list: numeric ids or exact list names, added to every row
	OptInSource string   // default ACTION_BY_CUSTOMER
	Workers     int      // default 4
	// Retries is how many more times a create is sent when its outcome was
	// uncertain and a lookup then found no contact (the CLI passes its
	// --retries; zero tries once).
	Retries int
	Mapping mapping.Options
	Reader  ReaderOptions

	DryRun bool
	// ReportPath is the error report; JournalPath the journal (both
	// required unless DryRun, where the journal is not used).
	ReportPath  string
	JournalPath string
	// Resume continues from the journal; without it an existing journal is
	// an error. A resume first checks that the input still holds every row
	// the journal finished, by content; Recheck instead starts the journal
	// over and checks every row against the account again (rows already
	// imported are then found unchanged).
	Resume  bool
	Recheck bool
	// CreateLists creates, before the first row, each list that --list or
	// the ContactLists column names and the account lacks (names only: a
	// number no list has stays an error).
	CreateLists bool
	// Target names the account (or sandbox) the rows go to; the journal
	// records it and a resume against another target is refused.
	Target string
	// OptOuts says what becomes of a row whose Status column says Do Not
	// Mail: OptOutsCarry (the default) opts the contact out, OptOutsSkip
	// reports the row as skipped. Such a row never makes a contact Active.
	OptOuts OptOutPolicy
	// Encoder writes the error report in the input's encoding (nil: UTF-8),
	// so that it imports again with the same --encoding.
	Encoder *encoding.Encoder
	// Grace bounds how long rows in flight may take to finish once ctx is
	// cancelled (default 30s).
	Grace time.Duration

	// Via says which way of the API the rows take (default ViaContacts;
	// the CLI's default is ViaAuto). BulkRows is the most rows of one bulk
	// job (default DefaultBulkRows); NoVerify skips the export that checks
	// the rows the jobs applied.
	Via      Via
	BulkRows int
	NoVerify bool
	// PollFirst and PollMax are the first and the longest wait between the
	// polls of a bulk job (defaults DefaultPollFirst, DefaultPollMax).
	PollFirst, PollMax time.Duration
	// Sleep waits between polls (default ctct.Sleep).
	Sleep func(ctx context.Context, d time.Duration) error

	// Warnf receives warnings (unknown columns...); may be nil.
	Warnf func(format string, args ...any)
	// Notef receives what the run says it found (the source recognised
	// and what each column was taken as); may be nil.
	Notef func(format string, args ...any)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// OptOutPolicy says what an import does with a row whose Status is Do Not
// Mail.
type OptOutPolicy string

// The opt-out policies.
const (
	OptOutsCarry OptOutPolicy = "carry"
	OptOutsSkip  OptOutPolicy = "skip"
)

// Stop reasons of a run that did not read its whole input.
const (
	StopInterrupted = "interrupted"
	StopBudget      = "request budget reached"
	StopFatal       = "fatal error"
)

// Importer runs one import. Create it with New, watch it with Progress
// while Run runs.
type Importer struct {
	client Client
	opts   Options
	counts counters
	start  time.Time
	base   ctct.Counters
	// earlier are the rows a resumed run's journal says are done, by
	// outcome; set before the run starts.
	earlier map[string]int64
	// stopping is set when Run's context is cancelled: from then on no
	// row starts a write, and the rows in flight finish.
	stopping atomic.Bool
	// inflight counts the rows and lookups waiting for an answer.
	inflight atomic.Int64
	// reasons groups this run's failed and skipped rows by reason.
	reasons reasons
	// bulk is the bulk path's state, nil on the contacts path alone.
	bulk *bulkRun
	// phase says what a bulk run is doing, for the progress line.
	phase atomic.Value // string
}

// setPhase says what the run is doing now.
func (im *Importer) setPhase(s string) { im.phase.Store(s) }

// InFlight returns the rows and lookups that have a request in flight or
// about to be sent. Safe to call while Run runs.
func (im *Importer) InFlight() int64 { return im.inflight.Load() }

// errStopping ends a row that had not sent its write when the run was
// asked to stop: the row is left pending, for --resume.
var errStopping = errors.New("stopping: row not started")

// New checks the options and returns an importer for one run, which it
// times and counts from now. client may be nil for a dry run, which sends
// nothing.
func New(client Client, opts Options) (*Importer, error) {
	if opts.Mode == "" {
		opts.Mode = ModeUpsert
	}
	switch opts.Mode {
	case ModeUpsert, ModeCreate, ModeUpdate:
	default:
		return nil, fmt.Errorf("unknown mode %q: use upsert, create or update", opts.Mode)
	}
	if opts.OptInSource == "" {
		opts.OptInSource = ctct.ActionByCustomer
	}
	if err := ctct.CheckOptSource(opts.OptInSource); err != nil {
		return nil, fmt.Errorf("opt-in source: %w", err)
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = ctct.Sleep
	}
	switch opts.Via {
	case "":
		opts.Via = ViaContacts
	case ViaAuto, ViaContacts, ViaActivities:
	default:
		return nil, fmt.Errorf("unknown way %q: use auto, contacts or activities", opts.Via)
	}
	if opts.BulkRows == 0 {
		opts.BulkRows = DefaultBulkRows
	}
	if opts.BulkRows < 1 || opts.BulkRows > ctct.MaxActivityRows {
		return nil, fmt.Errorf("bulk rows %d: a job holds 1 to %d rows", opts.BulkRows, ctct.MaxActivityRows)
	}
	if opts.PollFirst <= 0 {
		opts.PollFirst = DefaultPollFirst
	}
	if opts.PollMax <= 0 {
		opts.PollMax = DefaultPollMax
	}
	if opts.Warnf == nil {
		opts.Warnf = func(string, ...any) {}
	}
	if opts.Notef == nil {
		opts.Notef = func(string, ...any) {}
	}
	switch opts.OptOuts {
	case "":
		opts.OptOuts = OptOutsCarry
	case OptOutsCarry, OptOutsSkip:
	default:
		return nil, fmt.Errorf("unknown opt-out policy %q: use carry or skip", opts.OptOuts)
	}
	if client == nil && !opts.DryRun {
		return nil, errors.New("an import that is not a dry run needs a client")
	}
	if !opts.DryRun && (opts.ReportPath == "" || opts.JournalPath == "") {
		return nil, errors.New("an import needs a report path and a journal path")
	}
	im := &Importer{client: client, opts: opts, start: opts.Now()}
	if client != nil {
		im.base = client.Counters()
	}
	return im, nil
}

// counters are the live counts of a run, safe for concurrent use.
type counters struct {
	read, created, updated, unchanged, skipped, failed, pending, valid atomic.Int64
	// blank rows (no value in any cell) are counted apart, not as rows;
	// unparsed is the physical lines of malformed stretches; optedOut the
	// contacts opted out because their row said Do Not Mail.
	blank, unparsed, optedOut atomic.Int64
	// offset is how far the reader is in the input, in bytes.
	offset atomic.Int64
	// tally counts the rows by opt-out signal and the cells cut.
	tally tally
	// jobs are the add jobs sent and exports the export jobs created;
	// sent the rows sent in add jobs, planned the contacts the plan
	// exported, verified the rows checked by the verification.
	jobs, exports, sent, planned, verified atomic.Int64
}

// Offset returns how far the run has read its input, in bytes (of the
// text as decoded, so a little ahead of the file for a single-byte
// encoding): with the file's size, the share done. Safe to call while Run
// runs.
func (im *Importer) Offset() int64 { return im.counts.offset.Load() }

// Progress returns the rows finished so far and a one-line text of the
// counters. Safe to call while Run runs.
func (im *Importer) Progress() (done int64, text string) {
	c := &im.counts
	done = c.created.Load() + c.updated.Load() + c.unchanged.Load() + c.skipped.Load() + c.failed.Load()
	if im.opts.DryRun {
		return c.read.Load(), fmt.Sprintf("read %d, valid %d, invalid %d", c.read.Load(), c.valid.Load(), c.failed.Load())
	}
	req := im.client.Counters().Requests - im.base.Requests
	if phase, _ := im.phase.Load().(string); phase != "" && im.bulk != nil {
		return done, fmt.Sprintf("%s: %d contacts planned, %d rows sent in %d jobs; %d requests",
			phase, c.planned.Load(), c.sent.Load(), c.jobs.Load(), req)
	}
	return done, fmt.Sprintf("created %d, updated %d, unchanged %d, skipped %d, failed %d; %d requests",
		c.created.Load(), c.updated.Load(), c.unchanged.Load(), c.skipped.Load(), c.failed.Load(), req)
}

// Run imports the CSV read from input. It returns the summary and an error
// only for what stops the run as a whole (unreadable input, bad header or
// mapping, a refusal to start, fatal API errors, interruption, budget);
// row failures are in the summary and the report. Nothing is written (no
// journal, no report) until the header, the mapping, the lists and the
// journal have been checked. The summary is non-nil once the run started.
func (im *Importer) Run(ctx context.Context, input io.Reader) (*Summary, error) {
	resuming := !im.opts.DryRun && im.opts.Resume && !im.opts.Recheck && exists(im.opts.JournalPath)
	if resuming || (!im.opts.DryRun && (im.opts.CreateLists || im.opts.Via != ViaContacts)) {
		// The input is read twice: once to check it against the journal,
		// or to find the lists to create.
		src, cleanup, err := seekable(input, im.opts.JournalPath)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		input = src
	}
	rd, m, err := im.open(input, true)
	if err != nil {
		return nil, err
	}
	if im.opts.DryRun {
		return im.dryRun(ctx, rd, m)
	}
	if !im.opts.Resume && exists(im.opts.JournalPath) {
		return nil, &RefusedError{Err: fmt.Errorf("%w (%s): add --resume to continue it, or delete it to start over", ErrJournalExists, im.opts.JournalPath)}
	}
	// The report and the journal must be writable before the first
	// request, but neither is touched until the lists are checked.
	for _, p := range []string{im.opts.ReportPath, im.opts.JournalPath} {
		if err := probeDir(p); err != nil {
			return nil, err
		}
	}
	var cellLists []string
	if im.opts.CreateLists && m.HasListsColumn() {
		if cellLists, rd, err = im.scanLists(rd, m, input.(io.ReadSeeker)); err != nil {
			return nil, err
		}
	}
	lists, err := newListResolver(ctx, im.client, im.opts.Lists, m, im.opts.CreateLists, cellLists, im.opts.Warnf)
	if err != nil {
		return nil, err
	}
	j, err := openJournal(journalSpec{
		path: im.opts.JournalPath, header: rd.Header(), target: im.opts.Target,
		resume: im.opts.Resume, recheck: im.opts.Recheck,
	})
	if err != nil {
		return nil, &RefusedError{Err: err}
	}
	if resuming && j.finishedRows() > 0 {
		if rd, err = im.checkResume(rd, j, input.(io.ReadSeeker)); err != nil {
			j.close()
			return nil, err
		}
	}
	rep, err := openReport(im.opts.ReportPath, rd.Header(), rd.Delimiter(), im.opts.Encoder, im.opts.Resume && !im.opts.Recheck)
	if err != nil {
		j.close()
		return nil, err
	}
	if !im.opts.Recheck {
		im.earlier = j.earlier()
	}
	if src, ok := input.(io.ReadSeeker); ok {
		bulk, rd2, err := im.useBulk(rd, m, j, src)
		if err != nil {
			j.close()
			rep.close()
			return nil, err
		}
		if bulk {
			return im.runBulk(ctx, src, m, lists, j, rep)
		}
		rd = rd2
	}
	return im.run(ctx, rd, m, lists, j, rep)
}

// open reads the header and resolves the mapping.
func (im *Importer) open(input io.Reader, warn bool) (*CSVReader, *mapping.Mapping, error) {
	rd, err := NewCSVReader(input, im.opts.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("read header: %w", err)
	}
	m, warnings, err := mapping.Resolve(rd.Header(), im.opts.Mapping)
	if err != nil {
		return nil, nil, &MappingError{Err: err}
	}
	if warn {
		if r := m.Recognised(); r != "" {
			im.opts.Notef("%s", r)
		}
		for _, w := range warnings {
			im.opts.Warnf("%s", w)
		}
	}
	return rd, m, nil
}

// checkResume reads the whole input and refuses the resume when a row the
// journal finished is no longer in it as it was (rows inserted, removed or
// edited): skipping by line would then skip rows never imported. It
// returns a reader of the input from its start.
func (im *Importer) checkResume(rd *CSVReader, j *journal, input io.ReadSeeker) (*CSVReader, error) {
	var seen, changed, first int
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
		d := j.doneDigest(row.Line)
		if d == 0 || row.Blank {
			continue
		}
		seen++
		if d != rowDigest(&row) {
			changed++
			if first == 0 {
				first = row.Line
			}
		}
	}
	if gone := j.finishedRows() - seen; changed > 0 || gone > 0 {
		where := ""
		if first > 0 {
			where = fmt.Sprintf(", the first at line %d", first)
		}
		return nil, &RefusedError{Err: fmt.Errorf("%w: %d of the %d rows the journal %s finished are no longer in the input as they were (%d changed%s, %d gone); resuming would skip rows that were never imported. Run again with --resume --recheck to check every row against the account (rows already imported are found unchanged, none is created twice), or delete the journal to start over",
			ErrInputChanged, changed+gone, j.finishedRows(), j.path, changed, where, gone)}
	}
	return im.reopen(input)
}

// reopen returns a reader of the input from its start, for a run that
// read it ahead (a resume check, the lists to create).
func (im *Importer) reopen(input io.ReadSeeker) (*CSVReader, error) {
	if _, err := input.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read input again: %w", err)
	}
	rd, _, err := im.open(input, false)
	return rd, err
}

// maxCreatedLists bounds the lists --create-lists makes in one run: more
// distinct names in a ContactLists column are most likely the wrong column.
const maxCreatedLists = 100

// scanLists reads the whole input and returns the distinct ContactLists
// entries of its valid rows (for --create-lists), then a reader of the
// input from its start.
func (im *Importer) scanLists(rd *CSVReader, m *mapping.Mapping, input io.ReadSeeker) ([]string, *CSVReader, error) {
	seen := map[string]bool{}
	var names []string
	width := len(rd.Header())
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read input: %w", err)
		}
		if row.Blank || row.Err != nil {
			continue
		}
		rec, err := m.Convert(withoutEmptyExtras(row.Cells, width), row.Line)
		if err != nil {
			continue
		}
		for _, l := range rec.Lists {
			if !seen[l] {
				seen[l] = true
				names = append(names, l)
			}
		}
		if len(names) > maxCreatedLists {
			return nil, nil, &RefusedError{Err: fmt.Errorf("--create-lists: the ContactLists column names more than %d lists (line %d): is it the right column?", maxCreatedLists, row.Line)}
		}
	}
	rd, err := im.reopen(input)
	return names, rd, err
}

// seekable returns input as an io.ReadSeeker: itself when it is a file
// that can seek (a file, or stdin redirected from one), else a temporary
// copy beside the journal, removed by cleanup.
func seekable(input io.Reader, journalPath string) (io.Reader, func(), error) {
	if f, ok := input.(io.ReadSeeker); ok {
		if _, err := f.Seek(0, io.SeekCurrent); err == nil {
			return input, func() {}, nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(journalPath), ".ctctbulk-input-*.csv")
	if err != nil {
		return nil, nil, fmt.Errorf("keep a copy of the input to check it against the journal: %w", err)
	}
	cleanup := func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	if _, err := io.Copy(tmp, input); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("copy the input: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("copy the input: %w", err)
	}
	return tmp, cleanup, nil
}

// probeDir checks that a file can be created beside path, without
// touching path itself.
func probeDir(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".ctctbulk-probe-*")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot write %s: the folder %s does not exist", path, dir)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cannot write %s: no permission to write in the folder %s", path, dir)
	case err != nil:
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// MappingError is a header or mapping problem found before any request.
type MappingError struct{ Err error }

func (e *MappingError) Error() string { return "mapping: " + e.Err.Error() }
func (e *MappingError) Unwrap() error { return e.Err }

// rowTask is one valid row on its way to the API.
type rowTask struct {
	seq    uint64
	row    reportRow
	digest uint64
	rec    *mapping.Record
	lists  []ctct.ListMembership
}

// emailGroup is the rows of one batch that share an email, in file order,
// with what the batch lookup found and the chain that orders this group
// after earlier groups of the same email.
type emailGroup struct {
	email string
	rows  []*rowTask
	found *ctct.Contact // summary contact from the batch lookup, nil if absent
	prev  *chainLink
	link  *chainLink
}

// chainLink orders the groups of one email: a group waits for its
// predecessor's done and starts from the state it left.
type chainLink struct {
	done  chan struct{}
	state contactState
}

// contactState is what is known of an email's contact.
type contactState struct {
	known   bool
	contact *ctct.Contact // nil when known to be absent
}

// batchSize is the number of emails one search request looks up.
const batchSize = 50

// maxBatchRows bounds the rows one batch holds: a file that repeats a few
// emails would otherwise fill a batch of 50 distinct emails only after
// holding most of its rows in memory.
const maxBatchRows = 500

func (im *Importer) run(ctx context.Context, rd *CSVReader, m *mapping.Mapping, lists *listResolver, j *journal, rep *report) (*Summary, error) {
	// In-flight rows finish even after ctx is cancelled (interrupt): they
	// run on a context that is cancelled only Grace after ctx, or at once
	// on a fatal error in the pool.
	workBase, cancelWork := im.graceContext(ctx)
	defer cancelWork()
	// The first signal stops new rows at once: only the rows with a request
	// already sent go on, bounded by Grace.
	stopNew := context.AfterFunc(ctx, func() { im.stopping.Store(true) })
	defer stopNew()
	g, workCtx := errgroup.WithContext(workBase)
	g.SetLimit(im.opts.Workers)

	chains := &chainMap{m: map[string]*chainLink{}}
	batches := make(chan []*emailGroup, 1)
	var stopReason atomic.Value // string
	setStop := func(reason string) { stopReason.CompareAndSwap(nil, reason) }
	o := newOutcomes(im, j, rep, func(error) {
		setStop(StopFatal)
		cancelWork()
	})

	// Stage 2: dispatch each group of each looked-up batch to the pool.
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for b := range batches {
			for _, gr := range b {
				if workCtx.Err() != nil || im.stopping.Load() {
					im.counts.pending.Add(int64(len(gr.rows)))
					chains.release(gr)
					continue
				}
				g.Go(func() error {
					err := im.runGroup(workCtx, gr, chains, o)
					switch {
					case err == nil:
						return nil
					case errors.Is(err, ctct.ErrBudgetExhausted):
						setStop(StopBudget)
						return nil
					case workCtx.Err() != nil && ctx.Err() != nil:
						setStop(StopInterrupted)
						return nil
					default:
						setStop(StopFatal)
						return err
					}
				})
			}
		}
	}()

	// Stage 1: read, convert, group by email, register chains, look up.
	complete, readErr := im.feed(ctx, workCtx, rd, m, lists, chains, o, batches, &stopReason)
	close(batches)
	<-dispatched
	poolErr := g.Wait()
	o.drain()
	if err := o.writeErr(); err != nil {
		readErr, poolErr = err, nil
	}

	sum := im.summary()
	sum.ReportPath, sum.ReportRows = rep.path, rep.rows()
	if err := rep.close(); err != nil && readErr == nil {
		readErr = fmt.Errorf("write error report: %w", err)
	}
	reason, _ := stopReason.Load().(string)
	switch {
	case reason != "":
	case readErr != nil || poolErr != nil:
		reason = StopFatal
	case !complete || sum.Pending > 0:
		reason = StopInterrupted
	}
	sum.Stopped = reason
	if reason == "" {
		if err := j.finish(); err != nil {
			return sum, fmt.Errorf("remove journal: %w", err)
		}
	} else if err := j.close(); err != nil && readErr == nil {
		readErr = fmt.Errorf("journal: %w", err)
	}
	switch {
	case readErr != nil:
		return sum, readErr
	case poolErr != nil:
		return sum, poolErr
	case reason == StopInterrupted:
		return sum, ErrInterrupted
	case reason == StopBudget:
		return sum, ctct.ErrBudgetExhausted
	}
	return sum, nil
}

// graceContext returns a context for requests that must be allowed to
// finish after ctx is cancelled (an interrupt): it is cancelled Grace
// after ctx, or by cancel.
func (im *Importer) graceContext(ctx context.Context) (context.Context, context.CancelFunc) {
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(im.opts.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWork()
		case <-work.Done():
		}
	})
	return work, func() {
		stopGrace()
		cancelWork()
	}
}

// ErrInterrupted is returned when the run was stopped by its context (a
// signal); the journal is kept so that --resume continues.
var ErrInterrupted = errors.New("interrupted")

// feed is stage 1: it reads rows until the input ends, ctx is cancelled or
// a stop is set, and sends batches of up to 50 distinct emails, looked up.
func (im *Importer) feed(ctx, workCtx context.Context, rd *CSVReader, m *mapping.Mapping, lists *listResolver,
	chains *chainMap, o *outcomes, batches chan<- []*emailGroup, stop *atomic.Value) (complete bool, err error) {
	var (
		groups []*emailGroup
		index  = map[string]*emailGroup{}
		rows   int // rows in groups
		seq    uint64
	)
	flush := func() error {
		if len(groups) == 0 {
			return nil
		}
		b := groups
		groups, index, rows = nil, map[string]*emailGroup{}, 0
		if im.stopping.Load() {
			// Asked to stop: these rows start no request; --resume does them.
			for _, gr := range b {
				im.counts.pending.Add(int64(len(gr.rows)))
			}
			return nil
		}
		if err := im.lookup(workCtx, b, chains); err != nil {
			// The rows of b never ran: they are pending, to be resumed.
			for _, gr := range b {
				im.counts.pending.Add(int64(len(gr.rows)))
				chains.release(gr)
			}
			switch {
			case errors.Is(err, ctct.ErrBudgetExhausted):
				stop.CompareAndSwap(nil, StopBudget)
				return nil
			case workCtx.Err() != nil:
				return nil
			}
			return err
		}
		select {
		case batches <- b:
			return nil
		case <-workCtx.Done():
			for _, gr := range b {
				im.counts.pending.Add(int64(len(gr.rows)))
				chains.release(gr)
			}
			return nil
		}
	}
	width := len(rd.Header())
	for {
		if ctx.Err() != nil || stop.Load() != nil {
			return false, flush()
		}
		row, err := rd.Next()
		im.counts.offset.Store(rd.Offset())
		if errors.Is(err, io.EOF) {
			return true, flush()
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return false, ferr
			}
			return false, fmt.Errorf("read input: %w", err)
		}
		if row.Blank {
			if im.bulk == nil { // else counted by the bulk path's plan
				im.counts.blank.Add(1)
			}
			continue
		}
		if !im.opts.Recheck && o.journal.doneDigest(row.Line) != 0 {
			continue // checked against the input before the run
		}
		if im.bulk != nil && !im.bulk.toContacts(row.Line) {
			continue // finished by the bulk path
		}
		im.counts.read.Add(1)
		rr := reportRow{line: row.Line, cells: row.Cells, raw: row.Raw}
		digest := rowDigest(&row)
		n := seq
		seq++
		if row.Err != nil {
			im.counts.unparsed.Add(int64(row.EndLine - row.Line + 1))
			o.finish(n, rr, digest, statusFailed, row.Err.Error())
			continue
		}
		rec, err := m.Convert(withoutEmptyExtras(row.Cells, width), row.Line)
		if err != nil {
			o.finish(n, rr, digest, statusFailed, err.Error())
			continue
		}
		rr.noteRecord(rec)
		rowLists, err := lists.forRow(rec.Lists)
		if err != nil {
			o.finish(n, rr, digest, statusFailed, fmt.Sprintf("line %d, %v", row.Line, err))
			continue
		}
		rr.noteRecord(rec)
		t := &rowTask{seq: n, row: rr, digest: digest, rec: rec, lists: rowLists}
		email := rec.Contact.EmailAddress
		rows++
		if gr, ok := index[email]; ok {
			gr.rows = append(gr.rows, t)
		} else {
			gr := &emailGroup{email: email, rows: []*rowTask{t}}
			index[email] = gr
			groups = append(groups, gr)
		}
		if len(groups) == batchSize || rows >= maxBatchRows {
			if err := flush(); err != nil {
				return false, err
			}
		}
	}
}

// withoutEmptyExtras drops the empty cells a spreadsheet leaves beyond the
// header's width (a trailing delimiter), which hold nothing to lose; the
// report still shows every cell as read.
func withoutEmptyExtras(cells []string, width int) []string {
	if len(cells) <= width || !blank(cells[width:]) {
		return cells
	}
	return cells[:width]
}

// lookup registers each group in the email chains, then searches the
// emails of the groups that have no predecessor in one request.
func (im *Importer) lookup(ctx context.Context, b []*emailGroup, chains *chainMap) error {
	var emails []string
	for _, gr := range b {
		chains.register(gr)
		if gr.prev == nil {
			emails = append(emails, gr.email)
		}
	}
	if len(emails) == 0 {
		return nil
	}
	im.inflight.Add(1)
	found, err := im.client.SearchEmails(ctx, emails)
	im.inflight.Add(-1)
	if err != nil {
		return fmt.Errorf("look up %d emails: %w", len(emails), err)
	}
	byEmail := make(map[string]*ctct.Contact, len(found))
	for i := range found {
		byEmail[strings.ToLower(found[i].EmailAddress)] = &found[i]
	}
	for _, gr := range b {
		gr.found = byEmail[gr.email]
	}
	return nil
}

// chainMap holds the last registered group of every email with rows in
// flight. Safe for concurrent use.
type chainMap struct {
	mu sync.Mutex
	m  map[string]*chainLink
}

func (c *chainMap) register(gr *emailGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gr.link = &chainLink{done: make(chan struct{})}
	gr.prev = c.m[gr.email]
	c.m[gr.email] = gr.link
}

// release marks gr finished with the state in its link and forgets the
// email when no later group is chained to it.
func (c *chainMap) release(gr *emailGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(gr.link.done)
	if c.m[gr.email] == gr.link {
		delete(c.m, gr.email)
	}
}
