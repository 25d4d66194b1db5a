package importer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// Via says which way of the API an import takes (ctct.Via).
type Via = ctct.Via

// The ways of an import. ViaContacts sends each row through the contacts
// collection (a search per 50 emails, a request per row written).
// ViaActivities plans against an export of the account and sends the new
// and changed rows as ADD_CONTACTS jobs of up to BulkRows rows (BULK.md);
// the rows a job cannot carry still go through the contacts collection.
// ViaAuto takes activities when at least MinBulkRows rows are to be sent,
// the API's own rule.
const (
	ViaAuto       = ctct.ViaAuto
	ViaContacts   = ctct.ViaContacts
	ViaActivities = ctct.ViaActivities
)

// MinBulkRows is the API's rule: the contacts collection is meant for
// fewer than 25 contacts at a time, larger loads for Activities.
const MinBulkRows = 25

// DefaultBulkRows is the rows of one ADD_CONTACTS job (the most an
// activity takes, BULK.md).
const DefaultBulkRows = ctct.MaxActivityRows

// maxUnfinishedJobs is the account's limit of unfinished activities
// (BULK.md): the importer keeps under it rather than spend 429s.
const maxUnfinishedJobs = 3

// Default waits between the polls of a bulk job.
const (
	DefaultPollFirst = 2 * time.Second
	DefaultPollMax   = 30 * time.Second
)

// assumedRowsPerSecond is the speed a job's first wait is sized by until
// a finished job has shown the server's own.
const assumedRowsPerSecond = 5000

// BulkClient is what the bulk path needs besides Client; *ctct.Client
// provides it.
type BulkClient interface {
	CreateActivity(ctx context.Context, req *ctct.ActivityRequest) (*ctct.Activity, error)
	GetActivity(ctx context.Context, id string) (*ctct.Activity, error)
	WaitActivity(ctx context.Context, id string, o ctct.WaitOptions) (*ctct.Activity, error)
	ExportFile(ctx context.Context, a *ctct.Activity) (io.ReadCloser, error)
	Activities() *ctct.Pager
}

// Line states of the bulk path (bulkRun.state, by input line).
const (
	lineSettled  = 0   // finished in the plan's pass, or not met
	lineCreated  = 'c' // sent and applied, created
	lineUpdated  = 'u' // sent and applied, updated
	lineFailed   = 'f' // sent and failed (reason in bulkRun.reasons)
	lineContacts = 'k' // goes through the contacts collection
	lineSent     = 's' // in a job not ended yet
	// lineDeferred is a row decided without a request (unchanged,
	// skipped...) against what an earlier row's job, not ended when it
	// was read, was to leave: its outcome stands once that row applied,
	// and it goes through the contacts collection if that row failed.
	lineDeferred = 'd'
	// The verification turns lineCreated and lineUpdated into these once
	// the account shows the row's values.
	lineCreatedChecked = 'C'
	lineUpdatedChecked = 'U'
)

// bulkRun is the bulk path of one import: the plan, the jobs, the
// reconciliation and the verification. Its outcomes are written by the
// contacts path's run, which reads the input once more (see feed).
type bulkRun struct {
	im    *Importer
	bc    BulkClient
	m     *mapping.Mapping
	lists *listResolver
	j     *journal
	ix    *accountIndex
	src   io.ReadSeeker

	// state holds each input line's state; reasons the failed lines';
	// deferred the rows of lineDeferred.
	state    []byte
	reasons  map[int]string
	deferred map[int]deferredRow
	// open are the jobs being filled, by list set; unfinished the posted
	// jobs not ended yet, oldest first.
	open       map[string]*bulkJob
	unfinished []*bulkJob
	nextSeq    int
	sentJobs   int
	sentRows   int64
	// sameLists is the list set of every job so far ("" before the first,
	// "*" once two differ): the verification exports that list.
	sameLists string
	// rate is the rows per second the server was seen to apply a job at,
	// and queue how long the last job waited before it ran: from the
	// server's own times, never from our polls (which would feed a long
	// wait back into a longer one).
	rate  float64
	queue time.Duration
	// names maps each list name to its ids, as the plan read the lists
	// (export files name lists, memberships hold ids).
	names map[string][]string
	// held are the rows read but not finished, for the summary of a run
	// that stops before its last pass.
	held int64
}

// bulkJob is one ADD_CONTACTS job: its rows (until posted), their input
// lines and planned outcomes, and the emails it holds (until it ends).
type bulkJob struct {
	seq    int
	key    string // list set
	lists  []string
	rows   []ctct.BulkRow
	lines  []int
	class  []byte
	dataLn []int // physical line of each row in the data
	// nextData is the data line the next row starts at.
	nextData int
	hash     hashAcc
	emails   map[string]struct{}
	size     int
	act      *ctct.Activity
	posted   time.Time
	journal  *journalJob
}

// deferredRow is a row whose outcome waits for an earlier row's job:
// dep is that row's line.
type deferredRow struct {
	dep int
	res rowResult
}

// hashAcc combines row digests in order.
type hashAcc struct{ h uint64 }

func (a *hashAcc) add(d uint64) {
	h := fnv.New64a()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(a.h >> (8 * i))
		b[8+i] = byte(d >> (8 * i))
	}
	h.Write(b[:])
	a.h = h.Sum64()
}

func (b *bulkRun) mark(line int, st byte) {
	for len(b.state) <= line {
		b.state = append(b.state, make([]byte, max(1024, len(b.state)))...)
	}
	b.state[line] = st
}

func (b *bulkRun) at(line int) byte {
	if line < len(b.state) {
		return b.state[line]
	}
	return lineSettled
}

// fail marks a sent line failed with reason.
func (b *bulkRun) fail(line int, reason string) {
	b.mark(line, lineFailed)
	b.reasons[line] = reason
}

// outcome returns the result of a line the bulk path sent, for the last
// pass; ok is false for the other lines.
func (b *bulkRun) outcome(line int) (rowResult, bool) {
	switch b.at(line) {
	case lineCreated, lineCreatedChecked:
		return rowResult{status: statusCreated}, true
	case lineUpdated, lineUpdatedChecked:
		return rowResult{status: statusUpdated}, true
	case lineFailed:
		return rowResult{status: statusFailed, reason: b.reasons[line]}, true
	}
	return rowResult{}, false
}

// toContacts reports whether line goes through the contacts collection
// (the last pass, once the bulk path wrote its own rows' outcomes).
func (b *bulkRun) toContacts(line int) bool { return b.at(line) == lineContacts }

// contactsRows is the rows sent through the contacts collection.
func (b *bulkRun) contactsRows() int64 {
	var n int64
	for _, st := range b.state {
		if st == lineContacts {
			n++
		}
	}
	return n
}

// needsContacts reports whether a row maps a field that no bulk column
// carries (with a value, or with --empty clear, which may clear it).
func (im *Importer) needsContacts(rec *mapping.Record) bool {
	if rec.NoBulkValue() {
		return true
	}
	if im.opts.Empty != mapping.EmptyClear {
		return false
	}
	for _, name := range rec.Mapped {
		if f, ok := ctct.LookupField(name); ok && f.Editable && f.Bulk == "" {
			return true
		}
	}
	return false
}

// bulkBlocker says why a whole run cannot use bulk jobs, "" when it can.
func (im *Importer) bulkBlocker(m *mapping.Mapping) string {
	switch {
	case im.opts.OptInSource == ctct.ActionByContact:
		return "--opt-in-source ACTION_BY_CONTACT: a bulk job records every contact as ACTION_BY_CUSTOMER"
	case len(im.opts.Lists) == 0 && !m.HasListsColumn():
		return "no --list and no ContactLists column: a bulk job adds its contacts to lists, and needs one"
	}
	return ""
}

// useBulk decides whether the run takes the bulk path: always when the
// journal holds bulk jobs to settle; with auto, when at least MinBulkRows
// valid rows could go in a job (a read ahead that stops at that count).
func (im *Importer) useBulk(rd *CSVReader, m *mapping.Mapping, j *journal, input io.ReadSeeker) (bool, *CSVReader, error) {
	if len(j.journaledJobs()) > 0 {
		return true, rd, nil
	}
	if im.opts.Via == ViaContacts || im.opts.Via == "" {
		return false, rd, nil
	}
	if why := im.bulkBlocker(m); why != "" {
		if im.opts.Via == ViaActivities {
			im.opts.Warnf("every row goes through the contacts collection: %s", why)
		}
		return false, rd, nil
	}
	if im.opts.Via == ViaActivities {
		return true, rd, nil
	}
	width := len(rd.Header())
	n := 0
	for n < MinBulkRows {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, nil, fmt.Errorf("read input: %w", err)
		}
		if row.Blank || row.Err != nil || j.doneDigest(row.Line) != 0 {
			continue
		}
		if rec, err := m.Convert(withoutEmptyExtras(row.Cells, width), row.Line); err == nil && rec.OptOut == "" && !rec.Removed && !im.needsContacts(rec) {
			n++
		}
	}
	rd, err := im.reopen(input)
	return n >= MinBulkRows, rd, err
}

// runBulk is the bulk path: settle the jobs a resumed journal holds, plan
// against an export of the account, send the new and changed rows in
// jobs, reconcile and verify them, then read the input once more to write
// every outcome in input order, sending through the contacts collection
// the rows a job cannot carry.
func (im *Importer) runBulk(ctx context.Context, input io.ReadSeeker, m *mapping.Mapping, lists *listResolver, j *journal, rep *report) (*Summary, error) {
	bc, ok := im.client.(BulkClient)
	if !ok {
		j.close()
		rep.close()
		return nil, errors.New("import through activities: the client cannot run bulk jobs")
	}
	b := &bulkRun{im: im, bc: bc, m: m, lists: lists, j: j, src: input,
		reasons: map[int]string{}, deferred: map[int]deferredRow{}, open: map[string]*bulkJob{}, rate: assumedRowsPerSecond, nextSeq: 1}
	for seq := range j.journaledJobs() {
		b.nextSeq = max(b.nextSeq, seq+1)
	}
	im.bulk = b
	// Requests already sent finish after an interrupt, for Grace: a job
	// whose POST is cut off is sent again by --resume, but a POST that
	// completes saves that.
	work, cancel := im.graceContext(ctx)
	defer cancel()

	o := newOutcomes(im, j, rep, func(error) {})
	err := b.settleJournaled(ctx, work)
	if err == nil {
		err = b.plan(ctx, work)
	}
	if err == nil {
		err = b.classify(ctx, work, o)
	}
	if b.ix != nil {
		if err == nil {
			err = b.verify(ctx, work)
		}
		if cerr := b.ix.close(); cerr != nil && err == nil {
			err = fmt.Errorf("account index: %w", cerr)
		}
	}
	if err == nil {
		err = o.writeErr()
	}
	if err != nil {
		return im.stopBulk(ctx, b, o, rep, err)
	}
	rd, err := im.reopen(input)
	if err != nil {
		return im.stopBulk(ctx, b, o, rep, err)
	}
	im.setPhase("")
	if rd, err = b.finishSent(rd, o); err == nil {
		err = o.writeErr()
	}
	if err != nil {
		return im.stopBulk(ctx, b, o, rep, err)
	}
	return im.run(ctx, rd, m, lists, j, rep)
}

// stopBulk ends a bulk run that stopped before its last pass: the journal
// is kept (its jobs and finished rows let --resume go on), and the rows
// read but not finished are pending.
func (im *Importer) stopBulk(ctx context.Context, b *bulkRun, o *outcomes, rep *report, err error) (*Summary, error) {
	o.drain()
	im.counts.read.Add(b.held)
	im.counts.pending.Add(b.held)
	sum := im.summary()
	sum.ReportPath, sum.ReportRows = rep.path, rep.rows()
	if cerr := rep.close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("write error report: %w", cerr))
	}
	if cerr := b.j.close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("journal: %w", cerr))
	}
	switch {
	case errors.Is(err, ctct.ErrBudgetExhausted):
		sum.Stopped = StopBudget
		return sum, ctct.ErrBudgetExhausted
	case ctx.Err() != nil:
		sum.Stopped = StopInterrupted
		return sum, ErrInterrupted
	}
	sum.Stopped = StopFatal
	return sum, err
}

// interrupted reports whether the run was asked to stop.
func interrupted(ctx context.Context) error {
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	return nil
}

// listKey names a set of list URIs.
func listKey(ls []ctct.ListMembership) (string, []string) {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	slices.Sort(ids)
	return strings.Join(ids, ","), ids
}

// finishSent writes, in input order, the outcome of every row the bulk
// path decided (the rows of its jobs, and the rows deferred behind them),
// before the contacts collection's pass: that pass then holds no finished
// row behind a row waiting for its lookup. A deferred row whose earlier
// row failed goes through the contacts collection. It returns a reader of
// the input from its start.
func (b *bulkRun) finishSent(rd *CSVReader, o *outcomes) (*CSVReader, error) {
	seq := o.nextSeq()
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
		if row.Blank || b.j.doneDigest(row.Line) != 0 {
			continue
		}
		res, ok := b.outcome(row.Line)
		if d, deferred := b.deferred[row.Line]; deferred {
			if res, ok = d.res, true; b.at(d.dep) == lineFailed {
				b.mark(row.Line, lineContacts)
				continue
			}
		}
		if !ok {
			continue
		}
		b.im.counts.read.Add(1)
		b.held--
		o.finish(seq, reportRow{line: row.Line, cells: row.Cells, raw: row.Raw}, rowDigest(&row), res.status, res.reason)
		seq++
	}
	return b.im.reopen(b.src)
}
