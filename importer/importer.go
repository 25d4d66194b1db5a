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
	// ReportPath is the error report; JournalPath the run store (both
	// required unless DryRun, where the store is not used). A run of
	// several inputs writes one report per input, named after it (see
	// ReportPathFor).
	ReportPath  string
	JournalPath string
	// Resume continues from the store; without it an existing store is an
	// error. A resume first checks that the input still holds every row
	// the store finished, by content; Recheck instead starts the store
	// over and checks every row against the account again (rows already
	// imported are then found unchanged).
	Resume  bool
	Recheck bool
	// CreateLists creates, before the first row is sent, each list that
	// --list or the ContactLists column names and the account lacks (names
	// only: a number no list has stays an error).
	CreateLists bool
	// Target names the account (or sandbox) the rows go to; the store
	// records it and a resume against another target is refused.
	Target string
	// OptOuts says what becomes of a row that says its person opted out
	// (mapping.Record.OptOut): OptOutsCarry (the default) opts the contact
	// out, OptOutsSkip reports the row as skipped. Such a row never makes
	// a contact Active.
	OptOuts OptOutPolicy
	// Superseded says what becomes of a row of an error report whose
	// email a later row of its file set (the report's _superseded_by
	// column): skipped (the default), or imported with ImportSuperseded.
	ImportSuperseded bool
	// Encoder writes the error report in the input's encoding (nil: UTF-8),
	// so that it imports again with the same --encoding.
	Encoder *encoding.Encoder
	// Grace bounds how long rows in flight may take to finish once ctx is
	// cancelled (default 30s).
	Grace time.Duration

	// Via says which way of the API the rows take (default ViaContacts;
	// the CLI's default is ViaAuto). BulkRows is the most rows of one bulk
	// job (default DefaultBulkRows); NoVerify skips the export that checks
	// the rows the jobs applied (rows whose job's answer settles nothing
	// are checked all the same).
	Via      Via
	BulkRows int
	NoVerify bool
	// InputSize is the bytes of the input (of every input, for a ZIP's
	// members), for the share of it read and, after an interruption, the
	// rows never read; 0 when unknown (stdin).
	InputSize int64
	// PollFirst and PollMax are the first and the longest wait between the
	// polls of a bulk job (defaults DefaultPollFirst, DefaultPollMax).
	PollFirst, PollMax time.Duration
	// Sleep waits between polls (default ctct.Sleep).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rate is the client's requests per second, to price the ways of the
	// run (0: 4, the CLI's default).
	Rate float64

	// Warnf receives warnings (unknown columns...); may be nil.
	Warnf func(format string, args ...any)
	// Notef receives what the run says it found (the source recognised
	// and what each column was taken as); may be nil.
	Notef func(format string, args ...any)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// OptOutPolicy says what an import does with a row that says its person
// opted out.
type OptOutPolicy string

// The opt-out policies.
const (
	OptOutsCarry OptOutPolicy = "carry"
	OptOutsSkip  OptOutPolicy = "skip"
)

// Stop reasons of a run that did not finish.
const (
	StopInterrupted = "interrupted"
	StopBudget      = "request budget reached"
	StopDailyQuota  = "daily request quota reached"
	StopFatal       = "fatal error"
)

// budgetStop is the stop reason of err, which matches
// ctct.ErrBudgetExhausted: the run's --max-requests, or the key's daily
// quota.
func budgetStop(err error) string {
	if errors.Is(err, ctct.ErrDailyQuota) {
		return StopDailyQuota
	}
	return StopBudget
}

// Importer runs one import. Create it with New, watch it with Progress
// while Run runs.
type Importer struct {
	client Client
	opts   Options
	counts counters
	start  time.Time
	base   ctct.Counters
	// stopping is set when Run's context is cancelled: from then on no
	// row starts a write, and the rows in flight finish.
	stopping atomic.Bool
	// inflight counts the rows and lookups waiting for an answer.
	inflight atomic.Int64
	// phase says what the run is doing, for the progress line.
	phase atomic.Value // string
	// bulk is set once the run takes bulk jobs.
	bulk atomic.Bool
}

// counters are the live counts of a run, for its progress; the summary is
// built from the store. Safe for concurrent use.
type counters struct {
	// done are the rows finished in this run; rows the rows this run
	// handles (known once the input is read).
	done, rows atomic.Int64
	// blank lines (no value in any cell) are counted apart, not as rows;
	// optedOut the contacts opted out by a request of this run.
	blank, optedOut atomic.Int64
	// offset is how far the reader is in the input, in bytes.
	offset atomic.Int64
	// jobs are the add jobs sent and exports the export jobs created;
	// sent the rows sent in add jobs, ended those whose job ended,
	// bulkDone those finished; planned the contacts the plan saw (exported
	// or looked up), verified the rows checked by the verification.
	jobs, exports, sent, ended, bulkDone, planned, verified atomic.Int64
	bulkMu                                                  sync.Mutex
	// stored are the rows the read stage put in the store, decided the
	// rows the plan decided (a way, or an outcome).
	stored, decided atomic.Int64
	// contactsRows are the rows sent through the contacts collection.
	contactsRows atomic.Int64
	// valid and failed are a dry run's; tally its opt-outs and cuts.
	valid, failed, read, unparsed atomic.Int64
	tally                         tally
}

// finishBulk counts n rows sent in jobs as finished. done and bulkDone
// move together under bulkMu, so that Work never sees one without the
// other (and the work done never goes back).
func (c *counters) finishBulk(n int64) {
	c.bulkMu.Lock()
	defer c.bulkMu.Unlock()
	c.done.Add(n)
	c.bulkDone.Add(n)
}

// finished returns done and bulkDone as they were together.
func (c *counters) finished() (done, bulkDone int64) {
	c.bulkMu.Lock()
	defer c.bulkMu.Unlock()
	return c.done.Load(), c.bulkDone.Load()
}

// Work measures how far the run is, in steps of its rows: each row is
// read and decided (a step each), then sent in a job, its job ended and
// the row finished (a step each), or finished through the contacts
// collection or by the plan (three steps at once). total is five steps a
// row; while the input is read, the rows are estimated from the share of
// size (the input's bytes; 0: unknown) read so far. Safe to call while
// Run runs.
func (im *Importer) Work(size int64) (done, total int64) {
	c := &im.counts
	if im.opts.DryRun { // reading is all it does
		return min(c.offset.Load(), size), size
	}
	rows, stored := c.rows.Load(), c.stored.Load()
	if rows == 0 {
		off := c.offset.Load()
		if size <= 0 || off <= 0 || stored == 0 {
			return 0, 0
		}
		est := max(stored, int64(float64(stored)*float64(size)/float64(off)))
		return stored, 5 * est
	}
	// sent and ended are read after the finished rows: they only grow,
	// and a row is sent and its job ended before it is finished.
	finished, bulkDone := c.finished()
	done = min(stored, rows) + min(c.decided.Load(), rows) + 3*finished +
		max(0, c.sent.Load()-bulkDone) + max(0, c.ended.Load()-bulkDone)
	return min(done, 5*rows), 5 * rows
}

// setPhase says what the run is doing now.
func (im *Importer) setPhase(s string) { im.phase.Store(s) }

// InFlight returns the rows and lookups that have a request in flight or
// about to be sent. Safe to call while Run runs.
func (im *Importer) InFlight() int64 { return im.inflight.Load() }

// errStopping ends a row that had not sent its write when the run was
// asked to stop: the row is left pending, for --resume.
var errStopping = errors.New("stopping: row not started")

// ErrInterrupted is returned when the run was stopped by its context (a
// signal); the store is kept so that --resume continues.
var ErrInterrupted = errors.New("interrupted")

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

// Offset returns how far the run has read its input, in bytes (of the
// text as decoded, so a little ahead of the file for a single-byte
// encoding): with the file's size, the share read. Safe to call while Run
// runs.
func (im *Importer) Offset() int64 { return im.counts.offset.Load() }

// Progress returns the rows finished so far and a one-line text of what
// the run is doing. Safe to call while Run runs.
func (im *Importer) Progress() (done int64, text string) {
	c := &im.counts
	if im.opts.DryRun {
		return c.read.Load(), fmt.Sprintf("read %d, valid %d, invalid %d", c.read.Load(), c.valid.Load(), c.failed.Load())
	}
	done = c.done.Load()
	req := im.client.Counters().Requests - im.base.Requests
	phase, _ := im.phase.Load().(string)
	rows := c.rows.Load()
	var b strings.Builder
	switch {
	case phase == phaseReading:
		fmt.Fprintf(&b, "%s: %d rows read", phase, c.stored.Load())
	case im.bulk.Load():
		fmt.Fprintf(&b, "%s: %d of %d rows decided", phase, c.decided.Load(), rows)
		if p := c.planned.Load(); p > 0 {
			fmt.Fprintf(&b, ", %d contacts seen", p)
		}
		fmt.Fprintf(&b, ", %d sent in %d jobs, %d in ended jobs", c.sent.Load(), c.jobs.Load(), c.ended.Load())
		if v := c.verified.Load(); v > 0 {
			fmt.Fprintf(&b, ", %d verified", v)
		}
		fmt.Fprintf(&b, ", %d done", done)
	case phase != "" && phase != phaseSending:
		fmt.Fprintf(&b, "%s: %d of %d rows done", phase, done, rows)
	default:
		fmt.Fprintf(&b, "%d of %d rows done", done, rows)
	}
	fmt.Fprintf(&b, "; %d requests", req)
	return done, b.String()
}

// Phases of a run, for the progress line.
const (
	phaseReading  = "reading the input"
	phasePlanning = "planning"
	phaseSending  = "sending"
)

// Run imports the CSV read from input: Runs of one input named after the
// journal.
func (im *Importer) Run(ctx context.Context, input io.Reader) (*Summary, error) {
	name := strings.TrimSuffix(filepath.Base(im.opts.JournalPath), ".journal")
	once := false
	in := Input{Name: name, Open: func() (io.ReadCloser, error) {
		if once {
			return nil, errors.New("the input can be read once")
		}
		once = true
		return io.NopCloser(input), nil
	}}
	return im.RunInputs(ctx, []Input{in})
}

// RunInputs imports the CSV files of inputs, in order, as one run: one
// store, one plan, one summary, one error report per input. It returns the
// summary and an error only for what stops the run as a whole (unreadable
// input, bad header or mapping, a refusal to start, fatal API errors,
// interruption, budget); row failures are in the summary and the reports.
// Nothing is written (no store, no report) and nothing sent until the
// headers, the mappings and the lists have been checked. The summary is
// non-nil once the run started.
//
// The run's stages, each a file: read.go (every input into the store),
// plan.go (lists, path, the account, a decision per row in file order),
// jobs.go and contacts.go (the two senders), reconcile.go and verify.go
// (what the jobs did, checked), report.go and summary.go (from the store).
func (im *Importer) RunInputs(ctx context.Context, inputs []Input) (*Summary, error) {
	srcs, err := im.openSources(inputs)
	defer func() {
		for _, s := range srcs {
			s.closer.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	if im.opts.DryRun {
		return im.dryRun(ctx, srcs[0].rd, srcs[0].m)
	}
	// The report and the store must be writable before the first
	// request, but neither is touched until the lists are checked.
	for _, p := range []string{im.opts.ReportPath, im.opts.JournalPath} {
		if err := probeDir(p); err != nil {
			return nil, err
		}
	}
	// A store another run holds is in use, not left over: say who holds
	// it before any advice to resume it or delete it.
	if err := checkLock(im.opts.JournalPath); err != nil {
		return nil, &RefusedError{Err: err}
	}
	if !im.opts.Resume && exists(im.opts.JournalPath) {
		return nil, &RefusedError{Err: fmt.Errorf("%w (%s): add --resume to continue it, or delete it to start over", ErrJournalExists, im.opts.JournalPath)}
	}
	hasColumn := false
	for _, s := range srcs {
		hasColumn = hasColumn || s.m.HasListsColumn()
	}
	lists, err := newListResolver(ctx, im.client, im.opts.Lists, hasColumn, im.opts.CreateLists)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, storeSpec{path: im.opts.JournalPath, target: im.opts.Target, resume: im.opts.Resume, recheck: im.opts.Recheck})
	if err != nil {
		return nil, &RefusedError{Err: err}
	}
	r := &run{im: im, st: st, srcs: srcs, lists: lists, contactsReasons: map[string]int64{}, cost: newCostModel(im.opts.Rate, lists.lists)}
	runErr := r.stages(ctx)
	return r.end(ctx, runErr)
}

// openSources opens every input, reads its header and resolves its
// mapping: a bad header or mapping stops the run before anything is
// written. The warnings and what was recognised are said once.
func (im *Importer) openSources(inputs []Input) ([]*source, error) {
	var srcs []*source
	for i, in := range inputs {
		f, err := in.Open()
		if err != nil {
			return srcs, fmt.Errorf("open %s: %w", in.Name, err)
		}
		rd, err := NewCSVReader(f, im.opts.Reader)
		if err != nil {
			f.Close()
			if len(inputs) > 1 {
				return srcs, fmt.Errorf("%s: read header: %w", in.Name, err)
			}
			return srcs, fmt.Errorf("read header: %w", err)
		}
		mo := im.opts.Mapping
		if len(inputs) > 1 || mo.FileName == "" {
			mo.FileName = in.Name
		}
		m, warnings, err := mapping.Resolve(rd.Header(), mo)
		if err != nil {
			f.Close()
			if len(inputs) > 1 {
				err = fmt.Errorf("%s: %w", in.Name, err)
			}
			return srcs, &MappingError{Err: err}
		}
		prefix := ""
		if len(inputs) > 1 {
			prefix = in.Name + ": "
		}
		if r := m.Recognised(); r != "" {
			im.opts.Notef("%s%s", prefix, r)
		}
		for _, w := range warnings {
			im.opts.Warnf("%s%s", prefix, w)
		}
		report := im.opts.ReportPath
		if len(inputs) > 1 {
			report = ReportPathFor(im.opts.ReportPath, in.Name)
		}
		srcs = append(srcs, &source{n: i, name: in.Name, rd: rd, m: m, closer: f, report: report})
	}
	if len(srcs) == 0 {
		return nil, errors.New("no input")
	}
	return srcs, nil
}

// ReportPathFor is the error report of one input of a run of several: the
// run's report path with the input's name before ".errors.csv"
// ("audience.zip.errors.csv" and "cleaned_members.csv" give
// "audience.zip.cleaned_members.errors.csv").
func ReportPathFor(report, input string) string {
	stem := strings.TrimSuffix(filepath.Base(input), filepath.Ext(input))
	if base, ok := strings.CutSuffix(report, ".errors.csv"); ok {
		return base + "." + stem + ".errors.csv"
	}
	ext := filepath.Ext(report)
	return strings.TrimSuffix(report, ext) + "." + stem + ext
}

// run is one import over its store, stage by stage.
type run struct {
	im    *Importer
	st    *store
	srcs  []*source
	lists *listResolver
	// jobs is the bulk sender, nil until the run takes bulk jobs.
	jobs *jobSender
	// notes are what the run could not check, for the summary.
	notes []string
	// stopped is why the run stopped before its end ("" when it did not).
	stopped string
	// contactsReasons count why the plan sent rows through the contacts
	// collection rather than in jobs.
	contactsReasons map[string]int64
	// superseded counts the failed rows the report marks superseded;
	// saidContacts the rows a warning said go through the collection.
	superseded   int64
	saidContacts int64
	// cost prices the ways of the run; learnedBy and verifiedBy say which
	// ways the plan and the verification took ("export", "lookups");
	// listsNow are the lists as the verification read them again.
	cost                  costModel
	learnedBy, verifiedBy string
	listsNow              []ctct.List
}

// stages runs the stages in order. An error stops the run; rows not
// finished stay in the store for --resume.
func (r *run) stages(ctx context.Context) error {
	im := r.im
	defer func() {
		if r.jobs != nil {
			r.jobs.cancel()
		}
	}()
	im.setPhase(phaseReading)
	changed, gone, first, err := im.readAll(ctx, r.st, r.srcs)
	if err != nil {
		return err
	}
	if changed+gone > 0 {
		return r.inputChanged(ctx, changed, gone, first)
	}
	if err := r.countRows(ctx); err != nil {
		return err
	}
	if im.opts.CreateLists {
		names, err := r.st.listNames(ctx)
		if err != nil {
			return err
		}
		if err := r.lists.createLists(ctx, names, im.opts.Warnf); err != nil {
			return err
		}
	}
	im.setPhase(phasePlanning)
	if err := r.plan(ctx); err != nil {
		return err
	}
	if r.jobs != nil {
		if err := r.jobs.finish(ctx); err != nil {
			return err
		}
		if err := r.verify(ctx); err != nil {
			return err
		}
		if err := r.settleDependents(ctx); err != nil {
			return err
		}
	}
	im.setPhase(phaseSending)
	return r.sendContacts(ctx)
}

// inputChanged refuses a resume whose input no longer holds the rows the
// store finished.
func (r *run) inputChanged(ctx context.Context, changed, gone, first int) error {
	finished, err := r.st.finishedRows(ctx)
	if err != nil {
		return err
	}
	where := ""
	if first > 0 {
		where = fmt.Sprintf(", the first at line %d", first)
	}
	return &RefusedError{Err: fmt.Errorf("%w: %d of the %d rows the journal %s finished or sent are no longer in the input as they were (%d changed%s, %d gone); resuming would skip rows that were never imported. Run again with --resume --recheck to check every row against the account (rows already imported are found unchanged, none is created twice), or delete the journal to start over",
		ErrInputChanged, changed+gone, finished, r.st.path, changed, where, gone)}
}

// countRows sets the rows this run handles, for the progress.
func (r *run) countRows(ctx context.Context) error {
	var n int64
	if err := r.st.db.QueryRowContext(ctx, "SELECT count(*) FROM rows WHERE outcome = '' OR run = ?", r.st.run).Scan(&n); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	r.im.counts.rows.Store(n)
	var done int64
	if err := r.st.db.QueryRowContext(ctx, "SELECT count(*) FROM rows WHERE run = ?", r.st.run).Scan(&done); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	r.im.counts.done.Store(done)
	return nil
}

// end writes the reports and the summary from the store, and removes the
// store when every row is finished, or keeps it for --resume.
func (r *run) end(ctx context.Context, runErr error) (*Summary, error) {
	im := r.im
	// The last writes happen even after an interrupt.
	wctx := context.WithoutCancel(ctx)
	var refused *RefusedError
	if errors.As(runErr, &refused) {
		r.st.close()
		return nil, runErr
	}
	sum, err := r.summary(wctx)
	if err == nil {
		err = r.writeReports(wctx, sum)
	}
	if err != nil {
		r.st.close()
		return sum, errors.Join(runErr, err)
	}
	reason := r.stopped
	switch {
	case reason != "":
	case errors.Is(runErr, ctct.ErrBudgetExhausted):
		reason = budgetStop(runErr)
	case errors.Is(runErr, ErrInterrupted) || (runErr != nil && ctx.Err() != nil):
		reason, runErr = StopInterrupted, ErrInterrupted
	case runErr != nil:
		reason = StopFatal
	case sum.Pending > 0:
		reason = StopInterrupted
		if ctx.Err() != nil {
			runErr = ErrInterrupted
		}
	}
	sum.Stopped = reason
	if reason == "" {
		if err := r.st.finish(); err != nil {
			return sum, fmt.Errorf("remove journal: %w", err)
		}
		return sum, nil
	}
	if err := r.st.close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("journal: %w", err)
	}
	switch {
	case runErr != nil:
		return sum, runErr
	case reason == StopDailyQuota:
		return sum, ctct.ErrDailyQuota
	case reason == StopBudget:
		return sum, ctct.ErrBudgetExhausted
	}
	_ = im
	return sum, ErrInterrupted
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

// withoutEmptyExtras drops the empty cells a spreadsheet leaves beyond the
// header's width (a trailing delimiter), which hold nothing to lose; the
// report still shows every cell as read.
func withoutEmptyExtras(cells []string, width int) []string {
	if len(cells) <= width || !blank(cells[width:]) {
		return cells
	}
	return cells[:width]
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
