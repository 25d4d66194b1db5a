package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"ctctbulk/ctct"
)

// The bulk sender: the rows the plan put in jobs go, in file order, in
// ADD_CONTACTS jobs of up to BulkRows rows and 4 MiB (BULK.md), one open
// job per set of lists, each held as its encoded data alone. At most
// maxUnfinishedJobs are unfinished at once. A job that holds a row of an
// email whose earlier row is in an unfinished job waits for that job: the
// server orders the rows of one job, not those of two; and a row whose
// earlier row of the same email was not applied leaves its job for the
// contacts collection, which decides it against the account as it is. A
// job is written to the store before its POST and again with the server's
// id, so that a resume polls it, or sends it again (an add job is safe to
// repeat).

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

// jobHeadroom keeps a job's data under the activity limit with room for
// its last row.
const jobHeadroom = 64 << 10

// BulkClient is what the bulk path needs besides Client; *ctct.Client
// provides it.
type BulkClient interface {
	CreateActivity(ctx context.Context, req *ctct.ActivityRequest) (*ctct.Activity, error)
	GetActivity(ctx context.Context, id string) (*ctct.Activity, error)
	WaitActivity(ctx context.Context, id string, o ctct.WaitOptions) (*ctct.Activity, error)
	ExportFile(ctx context.Context, a *ctct.Activity) (io.ReadCloser, error)
	Activities() *ctct.Pager
}

// jobSender is the bulk path of one run.
type jobSender struct {
	r  *run
	im *Importer
	bc BulkClient
	// work is the context of requests: it lets those sent finish after an
	// interrupt, for Grace.
	work   context.Context
	cancel context.CancelFunc
	// fields are the fields the jobs carry: the mapped ones with a bulk
	// column, of every input.
	fields []string
	// open are the jobs being filled, by list set; unfinished the posted
	// jobs not ended yet, oldest first.
	open       map[string]*openJob
	unfinished []*postedJob
	nextSeq    int64
	// posted is the jobs this run posted; sameLists the list set of every
	// job ("" before the first, "*" once two differ): the verification
	// exports that list.
	posted    int
	sameLists string
	// assigned are the rows put in open jobs and not yet written to the
	// store: row, job, data line; assignedJob the same by row.
	assigned    [][3]int64
	assignedJob map[int64]int64
	// rate is the rows per second the server was seen to apply a job at,
	// exportRate the contacts per second it wrote an export at, and queue
	// how long the last job waited before it ran: from the server's own
	// times, never from our polls.
	rate       float64
	exportRate float64
	queue      time.Duration
	// rateFrom and exportRateFrom are the rows of the jobs the speeds
	// were learned from; lastFinish is when the last job seen ended, by
	// the server's clock.
	rateFrom, exportRateFrom int
	lastFinish               time.Time
	// seenEnd is when (by our clock) an await last saw a job end: the
	// server runs one job at a time, so a job posted behind it started
	// no sooner.
	seenEnd time.Time
	// names maps each list name to its ids, as the plan read the lists
	// (export files name lists, memberships hold ids).
	names map[string][]string
	// started is when the plan began: a job of another tool created since
	// could change what this run checks.
	started time.Time
	// spans are the ended jobs of this run (add and export), for the
	// run report: at most maxSpans, the rest counted in spansLeft.
	spansMu   sync.Mutex
	spans     []ctct.JobSpan
	spansLeft int
}

// maxSpans is how many jobs a run report draws: a run of 1,000,000 rows
// takes about 50 add jobs, so only a run of far more is cut.
const maxSpans = 500

// span records an ended job posted at submitted, of rows rows.
func (js *jobSender) span(a *ctct.Activity, submitted time.Time, rows int) {
	js.spansMu.Lock()
	defer js.spansMu.Unlock()
	if len(js.spans) >= maxSpans {
		js.spansLeft++
		return
	}
	js.spans = append(js.spans, a.Span(submitted, rows))
}

// openJob is a job being filled.
type openJob struct {
	seq     int64
	key     string
	lists   []string
	enc     *ctct.BulkEncoder
	waitFor map[int64]bool // unfinished jobs that hold an earlier row of one of its emails
}

// postedJob is a job the server took.
type postedJob struct {
	seq    int64
	act    *ctct.Activity
	posted time.Time
	rows   int
}

// startJobs sets up the bulk path of the run.
func (r *run) startJobs(ctx context.Context) error {
	bc, ok := r.im.client.(BulkClient)
	if !ok {
		return errors.New("import through activities: the client cannot run bulk jobs")
	}
	next, err := r.st.maxJob(ctx)
	if err != nil {
		return err
	}
	js := &jobSender{r: r, im: r.im, bc: bc, open: map[string]*openJob{}, nextSeq: next + 1, assignedJob: map[int64]int64{},
		rate: assumedRowsPerSecond, exportRate: assumedRowsPerSecond, started: r.im.opts.Now()}
	js.work, js.cancel = r.im.graceContext(ctx)
	seen := map[string]bool{}
	for _, s := range r.srcs {
		for _, c := range s.m.Columns() {
			if f, ok := ctct.LookupField(c.Field); ok && f.Bulk != "" && !seen[f.Name] {
				seen[f.Name] = true
			}
		}
		for _, name := range s.m.MappedFields() {
			if f, ok := ctct.LookupField(name); ok && f.Bulk != "" {
				seen[f.Name] = true
			}
		}
	}
	for _, f := range ctct.BulkFields() {
		if seen[f.Name] {
			js.fields = append(js.fields, f.Name)
		}
	}
	js.names = ctct.ListsByName(r.lists.lists, func(l ctct.List) string { return r.im.client.ListURI(ctct.Number(l.ID)) })
	r.jobs = js
	r.im.bulk.Store(true)
	return nil
}

// maxJob is the highest job number the store holds.
func (st *store) maxJob(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	if err := st.db.QueryRowContext(ctx, "SELECT max(m) FROM (SELECT max(seq) AS m FROM jobs UNION ALL SELECT max(job) FROM rows)").Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n.Int64, nil
}

// jobCount is the jobs of the store not ended.
func (st *store) jobCount(ctx context.Context) (int, error) {
	var n int
	if err := st.db.QueryRowContext(ctx, "SELECT count(*) FROM jobs WHERE state < ?", jobEnded).Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

// settleEarlier finishes the jobs an interrupted run left, before the
// plan reads the account: a job with the server's id is polled; one whose
// POST got no answer is sent again from its rows in the store.
func (js *jobSender) settleEarlier(ctx context.Context) error {
	rows, err := js.r.st.db.QueryContext(ctx, "SELECT seq, lists, activity, rows FROM jobs WHERE state < ? ORDER BY seq", jobEnded)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	type earlier struct {
		seq   int64
		lists []string
		id    string
		rows  int
	}
	var jobs []earlier
	for rows.Next() {
		var e earlier
		var lists string
		if err := rows.Scan(&e.seq, &lists, &e.id, &e.rows); err != nil {
			rows.Close()
			return fmt.Errorf("journal: %w", err)
		}
		e.lists = strings.Split(lists, ",")
		jobs = append(jobs, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, e := range jobs {
		js.sameLists = "*" // the verification must see these rows too: the active contacts
		if e.id == "" {
			oj := &openJob{seq: e.seq, key: strings.Join(e.lists, ","), lists: e.lists}
			if err := js.rebuild(ctx, oj); err != nil {
				return err
			}
			if oj.enc.Rows() == 0 {
				continue
			}
			if err := js.post(ctx, oj, false); err != nil {
				return err
			}
			continue
		}
		a, err := js.bc.GetActivity(js.work, e.id)
		if errors.Is(err, ctct.ErrNotFound) {
			return &RefusedError{Err: fmt.Errorf("bulk job %s of the interrupted run is no longer on the server (jobs are kept 14 days): run again with --resume --recheck to check every row against the account (rows already imported are found unchanged)", e.id)}
		}
		if err != nil {
			return fmt.Errorf("bulk job %s of the interrupted run: %w", e.id, err)
		}
		js.im.counts.jobs.Add(1)
		js.im.counts.sent.Add(int64(e.rows))
		js.unfinished = append(js.unfinished, &postedJob{seq: e.seq, act: a, posted: js.im.opts.Now(), rows: e.rows})
	}
	return js.waitAll(ctx)
}

// planned records in the account entry what a row's job will leave.
func (js *jobSender) planned(e *accountEntry, t *rowTask, merged *ctct.Contact) {
	e.exists, e.status = true, ctct.StatusActive
	e.row = ctct.NewBulkRow(merged)
	for _, l := range t.lists {
		if !hasString(e.lists, l.ID) {
			e.lists = append(e.lists, l.ID)
		}
	}
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

// sendPlanned sends the rows the plan put in jobs, in file order, and
// waits for every job.
func (js *jobSender) sendPlanned(ctx context.Context) error {
	js.im.setPhase("sending jobs")
	after := int64(0)
	for {
		if err := interrupted(ctx); err != nil {
			return err
		}
		chunk, err := js.r.pendingRows(ctx, pathJob, after, decideChunk)
		if err != nil {
			return err
		}
		if len(chunk) == 0 {
			break
		}
		after = chunk[len(chunk)-1].seq
		for _, p := range chunk {
			if err := js.add(ctx, p); err != nil {
				return err
			}
		}
		if err := js.flushAssigned(ctx); err != nil {
			return err
		}
	}
	for len(js.open) > 0 {
		var first *openJob
		for _, oj := range js.open {
			if first == nil || oj.seq < first.seq {
				first = oj
			}
		}
		if err := js.post(ctx, first, true); err != nil {
			return err
		}
	}
	return js.waitAll(ctx)
}

// interrupted reports whether the run was asked to stop.
func interrupted(ctx context.Context) error {
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	return nil
}

// add puts one row in the open job of its lists. A row whose earlier row
// of the same email sits in another open job sends that job first; in an
// unfinished job, makes its own job wait for it; was not applied, goes
// through the contacts collection instead.
func (js *jobSender) add(ctx context.Context, p *pendingRow) error {
	t, failed, err := js.r.task(p)
	if err != nil {
		return err
	}
	if failed != nil {
		return js.r.st.setOutcome(ctx, p.seq, failed.status, failed.reason)
	}
	key, ids := listKey(t.lists)
	var waitFor int64
	if p.dep.Valid {
		job, ok, err := js.depJob(ctx, p.dep.Int64)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			return js.toContacts(ctx, p.seq)
		case job > 0:
			if other := js.openBySeq(job); other != nil && other.key != key {
				if err := js.post(ctx, other, true); err != nil {
					return err
				}
			}
			if js.isUnfinished(job) {
				waitFor = job
			}
		}
	}
	br := ctct.NewBulkRow(&t.rec.Contact)
	oj := js.open[key]
	if oj != nil && oj.enc.Size()+br.EncodedSize() > ctct.MaxActivityData-jobHeadroom {
		if err := js.post(ctx, oj, true); err != nil {
			return err
		}
		oj = nil
	}
	if oj == nil {
		oj = &openJob{seq: js.nextSeq, key: key, lists: ids, enc: ctct.NewBulkEncoder(js.fields), waitFor: map[int64]bool{}}
		js.nextSeq++
		js.open[key] = oj
	}
	line, err := oj.enc.Add(&br)
	if err != nil {
		return js.r.st.setOutcome(ctx, p.seq, statusFailed, fmt.Sprintf("line %d: %v", p.line, err))
	}
	if waitFor > 0 {
		oj.waitFor[waitFor] = true
	}
	js.assigned = append(js.assigned, [3]int64{p.seq, oj.seq, int64(line)})
	js.assignedJob[p.seq] = oj.seq
	if oj.enc.Rows() >= js.im.opts.BulkRows {
		return js.post(ctx, oj, true)
	}
	// Many list sets would hold many open jobs: the biggest goes.
	if n := js.openRows(); n > 2*js.im.opts.BulkRows {
		var big *openJob
		for _, o := range js.open {
			if big == nil || o.enc.Rows() > big.enc.Rows() {
				big = o
			}
		}
		return js.post(ctx, big, true)
	}
	return nil
}

// depJob says where the earlier row a row rests on stands: in job (an
// open, unfinished or ended-and-applied job: ok), or not applied, or gone
// through the contacts collection (not ok).
func (js *jobSender) depJob(ctx context.Context, dep int64) (job int64, ok bool, err error) {
	if job, ok := js.assignedJob[dep]; ok {
		return job, true, nil
	}
	var j sql.NullInt64
	var path, state int
	err = js.r.st.db.QueryRowContext(ctx, "SELECT job, path, job_state FROM rows WHERE seq = ?", dep).Scan(&j, &path, &state)
	if err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	if path != pathJob || state == jobFailed || state == jobUncertain {
		return 0, false, nil
	}
	return j.Int64, true, nil
}

// toContacts sends a row through the contacts collection rather than in a
// job: an earlier row of its email was not applied as planned.
func (js *jobSender) toContacts(ctx context.Context, seq int64) error {
	_, err := js.r.st.db.ExecContext(ctx, "UPDATE rows SET path = ?, class = '', reason = '', dep = NULL WHERE seq = ?", pathContacts, seq)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

func (js *jobSender) openBySeq(seq int64) *openJob {
	for _, oj := range js.open {
		if oj.seq == seq {
			return oj
		}
	}
	return nil
}

func (js *jobSender) isUnfinished(seq int64) bool {
	for _, pj := range js.unfinished {
		if pj.seq == seq {
			return true
		}
	}
	return false
}

func (js *jobSender) openRows() int {
	n := 0
	for _, o := range js.open {
		n += o.enc.Rows()
	}
	return n
}

// flushAssigned writes to the store the rows put in open jobs.
func (js *jobSender) flushAssigned(ctx context.Context) error {
	if len(js.assigned) == 0 {
		return nil
	}
	err := js.r.st.tx(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, "UPDATE rows SET job = ?, data_line = ? WHERE seq = ?")
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		defer up.Close()
		for _, a := range js.assigned {
			if _, err := up.ExecContext(ctx, a[1], a[2], a[0]); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		return nil
	})
	js.assigned = js.assigned[:0]
	clear(js.assignedJob)
	return err
}

// post sends a job: after the unfinished jobs it waits for have ended
// (its rows whose earlier row of the same email was not applied then
// leave it for the contacts collection), with fewer than
// maxUnfinishedJobs unfinished, written to the store before its POST and
// after the answer. A job the server refuses fails its rows. fresh is
// false for a job of an interrupted run sent again.
func (js *jobSender) post(ctx context.Context, oj *openJob, fresh bool) error {
	delete(js.open, oj.key)
	if err := js.flushAssigned(ctx); err != nil {
		return err
	}
	for w := range oj.waitFor {
		for js.isUnfinished(w) {
			if err := js.waitOldest(ctx); err != nil {
				return err
			}
		}
	}
	if len(oj.waitFor) > 0 {
		moved, err := js.pullOut(ctx, oj.seq)
		if err != nil {
			return err
		}
		if moved {
			if err := js.rebuild(ctx, oj); err != nil {
				return err
			}
		}
	}
	if oj.enc.Rows() == 0 {
		return nil
	}
	for len(js.unfinished) >= maxUnfinishedJobs {
		if err := js.waitOldest(ctx); err != nil {
			return err
		}
	}
	if err := interrupted(ctx); err != nil {
		return err
	}
	rows := oj.enc.Rows()
	if fresh {
		_, err := js.r.st.db.ExecContext(ctx, "INSERT INTO jobs (seq, lists, state, rows) VALUES (?, ?, ?, ?)", oj.seq, strings.Join(oj.lists, ","), jobOpen, rows)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	a, err := js.bc.CreateActivity(js.work, &ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: oj.lists, Data: oj.enc.Data()})
	if err != nil {
		var apiErr *ctct.APIError
		if stopsRun(js.work, err) || errors.Is(err, ctct.ErrUncertain) || (errors.As(err, &apiErr) && (apiErr.Status == 429 || apiErr.Status >= 500)) {
			// Nothing known applied, or nothing said: --resume sends it again.
			return fmt.Errorf("send bulk job %d: %w", oj.seq, err)
		}
		js.im.opts.Warnf("bulk job %d (%d rows) refused: %s", oj.seq, rows, describe(err))
		return js.refused(ctx, oj.seq, "bulk job refused: "+describe(err))
	}
	if _, err := js.r.st.db.ExecContext(context.WithoutCancel(ctx), "UPDATE jobs SET activity = ?, state = ?, posted = ? WHERE seq = ?",
		a.Key(), jobPosted, js.im.opts.Now().UTC().Format(time.RFC3339), oj.seq); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	js.unfinished = append(js.unfinished, &postedJob{seq: oj.seq, act: a, posted: js.im.opts.Now(), rows: rows})
	js.posted++
	js.im.counts.jobs.Add(1)
	js.im.counts.sent.Add(int64(rows))
	switch {
	case js.sameLists == "":
		js.sameLists = oj.key
	case js.sameLists != oj.key:
		js.sameLists = "*"
	}
	return nil
}

// pullOut moves out of a job, to the contacts collection, its rows whose
// earlier row of the same email was not applied (or went that way), and
// the rows after them of those emails. It reports whether any moved.
func (js *jobSender) pullOut(ctx context.Context, job int64) (bool, error) {
	moved := false
	for {
		res, err := js.r.st.db.ExecContext(ctx, `UPDATE rows SET path = ?, job = NULL, data_line = NULL, class = '', reason = '', dep = NULL
			WHERE job = ? AND EXISTS (SELECT 1 FROM rows d WHERE d.seq = rows.dep AND (d.path != ? OR d.job_state IN (?, ?)))`,
			pathContacts, job, pathJob, jobFailed, jobUncertain)
		if err != nil {
			return moved, fmt.Errorf("journal: %w", err)
		}
		n, _ := res.RowsAffected()
		if n == 0 {
			return moved, nil
		}
		moved = true
	}
}

// rebuild encodes a job again from its rows in the store: a job of an
// interrupted run sent again, or one some rows left.
func (js *jobSender) rebuild(ctx context.Context, oj *openJob) error {
	oj.enc = ctct.NewBulkEncoder(js.fields)
	after := int64(0)
	for {
		rows, err := js.jobRows(ctx, oj.seq, after)
		if err != nil || len(rows) == 0 {
			return err
		}
		var lines [][2]int64
		for _, p := range rows {
			after = p.seq
			t, _, err := js.r.task(p)
			if err != nil {
				return err
			}
			br := ctct.NewBulkRow(&t.rec.Contact)
			line, err := oj.enc.Add(&br)
			if err != nil {
				return fmt.Errorf("rebuild bulk job %d: %w", oj.seq, err)
			}
			lines = append(lines, [2]int64{p.seq, int64(line)})
		}
		err = js.r.st.tx(ctx, func(tx *sql.Tx) error {
			for _, l := range lines {
				if _, err := tx.ExecContext(ctx, "UPDATE rows SET data_line = ? WHERE seq = ?", l[1], l[0]); err != nil {
					return fmt.Errorf("journal: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
}

// jobRows returns up to decideChunk rows of a job after sequence number
// after, in order.
func (js *jobSender) jobRows(ctx context.Context, job, after int64) ([]*pendingRow, error) {
	return js.r.st.queryPendingRows(ctx, `SELECT seq, file, line, email, cells, opt_out, flags, dep, base_exists FROM rows
		WHERE job = ? AND seq > ? ORDER BY seq LIMIT ?`, job, after, decideChunk)
}

// refused fails the rows of a job the server refused.
func (js *jobSender) refused(ctx context.Context, job int64, reason string) error {
	return js.r.st.tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE rows SET outcome = ?, reason = ?, run = ?, job_state = ? WHERE job = ? AND outcome = ''",
			statusFailed, reason, js.r.st.run, jobFailed, job)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		n, _ := res.RowsAffected()
		js.im.counts.ended.Add(n)
		js.im.counts.finishBulk(n)
		if _, err := tx.ExecContext(ctx, "UPDATE jobs SET state = ? WHERE seq = ?", jobEnded, job); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		return nil
	})
}

// finish waits for every job.
func (js *jobSender) finish(ctx context.Context) error { return js.waitAll(ctx) }

// waitAll waits for every unfinished job, oldest first.
func (js *jobSender) waitAll(ctx context.Context) error {
	for len(js.unfinished) > 0 {
		if err := js.waitOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}

// waitOldest waits for the oldest unfinished job and reconciles its rows.
func (js *jobSender) waitOldest(ctx context.Context) error {
	pj := js.unfinished[0]
	a, err := js.await(ctx, pj.act, pj.rows, pj.posted)
	if err != nil {
		return fmt.Errorf("bulk job %d (%s): %w", pj.seq, pj.act.Key(), err)
	}
	js.unfinished = js.unfinished[1:]
	js.span(a, pj.posted, pj.rows)
	if err := js.reconcile(ctx, pj, a); err != nil {
		return err
	}
	js.im.counts.ended.Add(int64(pj.rows))
	js.learn(a, pj.rows)
	return nil
}

// learn takes the speed and the queue time of an ended job of rows rows
// from the server's times (RunStartTime, RunFinishTime, InsertTime); a
// server that gives none leaves the guesses as they were. An export's
// speed is its own: writing a file is not applying rows.
func (js *jobSender) learn(a *ctct.Activity, rows int) {
	start, err1 := time.Parse(time.RFC3339, a.RunStartTime)
	finish, err2 := time.Parse(time.RFC3339, a.RunFinishTime)
	insert, err3 := time.Parse(time.RFC3339, a.InsertTime)
	if err1 != nil || err2 != nil || a.Status != ctct.ActivityComplete {
		return
	}
	speed, from := &js.rate, &js.rateFrom
	if a.Type == ctct.ActivityExportContacts {
		speed, from, rows = &js.exportRate, &js.exportRateFrom, a.TransactionCount
	}
	if run := finish.Sub(start).Seconds(); run > 0 && rows >= minLearnRows && rows >= *from/2 {
		*speed, *from = min(max(float64(rows)/run, 100), 1e6), max(*from, rows)
	}
	// The server runs one job at a time: a job created behind others
	// waited for them, which is not its queue time.
	if err3 == nil {
		if js.lastFinish.After(insert) {
			insert = js.lastFinish
		}
		if start.After(insert) {
			js.queue = min(start.Sub(insert), js.im.opts.PollMax)
		}
	}
	if finish.After(js.lastFinish) {
		js.lastFinish = finish
	}
}

// minLearnRows is the fewest rows a job must have run for its speed to be
// learned: a few rows' time is mostly the server's overhead; for the same
// reason a job of less than half the rows of the one the speed was
// learned from does not change it.
const minLearnRows = 1000

// await waits for a job of about rows rows (contacts, for an export),
// created at posted: no poll before the server can have queued and run it
// at the speed seen so far. Jobs run oldest first and the caller awaits
// those first, so a job created behind others started no sooner than the
// last one was seen to end: its run is counted from then, not from its
// posting (which had it polled while it still waited, once per job at a
// million rows). Then it polls a tenth of that time apart, growing by
// half up to PollMax: a job that ends a little late is seen a little
// late, not one long wait later.
func (js *jobSender) await(ctx context.Context, a *ctct.Activity, rows int, posted time.Time) (*ctct.Activity, error) {
	first, follow := js.im.opts.PollFirst, js.im.opts.PollFirst
	if rows > 0 {
		speed := js.rate
		if a.Type == ctct.ActivityExportContacts {
			speed = js.exportRate
		}
		run := time.Duration(float64(rows) / speed * float64(time.Second))
		start := posted.Add(js.queue)
		if js.seenEnd.After(start) {
			start = js.seenEnd
		}
		first = max(js.im.opts.PollFirst/4, start.Add(run).Sub(js.im.opts.Now()))
		follow = max(js.im.opts.PollFirst/2, (js.queue+run)/10)
	}
	if err := js.im.opts.Sleep(ctx, first); err != nil {
		return nil, err
	}
	done, err := js.bc.WaitActivity(js.work, a.ID, ctct.WaitOptions{First: follow, Max: max(js.im.opts.PollMax, follow)})
	if err == nil {
		js.seenEnd = js.im.opts.Now()
	}
	return done, err
}

// createExport creates an export job. A POST whose outcome is uncertain
// is sent again (up to the run's retries): a second export job costs the
// account nothing but the time it runs, where giving up costs the run.
func (js *jobSender) createExport(x *ctct.ExportOptions) (*ctct.Activity, error) {
	for attempt := 0; ; attempt++ {
		a, err := js.bc.CreateActivity(js.work, &ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: x})
		if err == nil || !errors.Is(err, ctct.ErrUncertain) || attempt >= js.im.opts.Retries {
			if err == nil {
				js.im.counts.exports.Add(1)
			}
			return a, err
		}
	}
}

// openExport waits for an export job of about rows contacts, created at
// posted, and opens its file.
func (js *jobSender) openExport(ctx context.Context, a *ctct.Activity, rows int64, posted time.Time) (*ctct.ExportReader, io.ReadCloser, error) {
	a, err := js.await(ctx, a, int(rows), posted)
	if err != nil {
		return nil, nil, err
	}
	js.span(a, posted, a.TransactionCount)
	js.learn(a, 0)
	if a.Status == ctct.ActivityError {
		return nil, nil, fmt.Errorf("job %s ended in %s", a.Key(), a.Status)
	}
	body, err := js.bc.ExportFile(js.work, a)
	if err != nil {
		return nil, nil, fmt.Errorf("job %s: %w", a.Key(), err)
	}
	er, err := ctct.NewExportReader(body, ctct.ExportFileType(a.FileName))
	if err != nil {
		body.Close()
		return nil, nil, fmt.Errorf("job %s: %w", a.Key(), err)
	}
	return er, body, nil
}

// systemLists are the lists the plan exports, with the status of their
// members.
var systemLists = [...]struct{ list, status string }{
	{"active", ctct.StatusActive},
	{"removed", ctct.StatusRemoved},
	{"do-not-mail", ctct.StatusDoNotMail},
}

// learnTheAccount learns what the plan needs of the account, the cheaper
// way: by looking the rows' emails up (a search per 50) and reading each
// existing contact, or from an export of each system list. The searches
// are tried when they alone cost less than the exports; the first few say
// what share of the emails the account holds, and the exports are taken
// after all as soon as reading the contacts found would cost more.
func (js *jobSender) learnTheAccount(ctx context.Context) error {
	r := js.r
	emails, err := r.st.undecidedEmails(ctx)
	if err != nil {
		return err
	}
	exportCost := price(r.cost.exportPlan())
	if !r.cost.known || price(r.cost.searches(emails)) >= exportCost {
		r.learnedBy = "export"
		return js.learnAccount(ctx)
	}
	if err := r.st.clearAccount(ctx); err != nil {
		return err
	}
	js.im.setPhase("planning: looking the emails up")
	// A first search, of emails spread over the rows, says what share of
	// them the account holds; the rest of the lookups go on only while
	// they stay the cheaper way.
	probe, err := r.st.sampleUndecidedEmails(ctx, emails, probeEmails)
	if err != nil {
		return err
	}
	toRead, err := js.searchBatch(ctx, probe)
	if err != nil {
		return err
	}
	guess := toRead * emails / max(int64(len(probe)), 1)
	if price(r.cost.lookupPlan(emails, guess))-price(r.cost.searches(int64(len(probe)))) >= exportCost {
		r.learnedBy = "export"
		return js.learnAccount(ctx)
	}
	skip := make(map[string]bool, len(probe))
	for _, e := range probe {
		skip[e] = true
	}
	more, err := js.searchEmails(ctx, skip)
	if err != nil {
		return err
	}
	toRead += more
	if price(r.cost.lookupPlan(emails, toRead))-price(r.cost.searches(emails)) >= exportCost {
		r.learnedBy = "export"
		return js.learnAccount(ctx)
	}
	r.learnedBy = "lookups"
	return js.readFound(ctx)
}

// probeEmails is how many emails the plan looks up (one search) before it
// judges, from the share of them the account holds, whether looking up
// the rest and reading the contacts found beats exporting the account.
const probeEmails = batchSize

// undecidedEmails counts the emails of the rows the plan decides.
func (st *store) undecidedEmails(ctx context.Context) (int64, error) {
	var n int64
	if err := st.db.QueryRowContext(ctx, "SELECT count(DISTINCT email) FROM rows WHERE outcome = '' AND path = 0").Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

// searchEmails looks the emails of the undecided rows up, 50 a request,
// but those in skip (already looked up), and puts what it finds in the
// account table (searchBatch). It returns the contacts to read.
func (js *jobSender) searchEmails(ctx context.Context, skip map[string]bool) (int64, error) {
	var toRead int64
	after := ""
	for {
		if err := interrupted(ctx); err != nil {
			return toRead, err
		}
		emails, err := js.r.st.nextUndecidedEmails(ctx, after, batchSize)
		if err != nil || len(emails) == 0 {
			return toRead, err
		}
		after = emails[len(emails)-1]
		emails = slices.DeleteFunc(emails, func(e string) bool { return skip[e] })
		if len(emails) == 0 {
			continue
		}
		n, err := js.searchBatch(ctx, emails)
		toRead += n
		if err != nil {
			return toRead, err
		}
	}
}

// searchBatch looks up to 50 emails up in one request and puts what it
// finds in the account table: the status of each contact, and its id to
// read (not a Do Not Mail contact's: its rows are skipped whatever it
// holds). It returns the contacts to read.
func (js *jobSender) searchBatch(ctx context.Context, emails []string) (int64, error) {
	found, err := js.im.client.SearchEmails(js.work, emails)
	if err != nil {
		return 0, fmt.Errorf("plan: look up %d emails: %w", len(emails), err)
	}
	var toRead int64
	var entries []*accountEntry
	var ids []string
	for i := range found {
		c := &found[i]
		e := &accountEntry{email: strings.ToLower(c.EmailAddress), status: c.Status, exists: true, orig: true}
		entries = append(entries, e)
		id := ""
		if c.Status != ctct.StatusDoNotMail {
			id = c.ID
			toRead++
		}
		ids = append(ids, id)
	}
	js.im.counts.planned.Add(int64(len(found)))
	err = js.r.st.tx(ctx, func(tx *sql.Tx) error {
		if err := putAccount(ctx, tx, entries); err != nil {
			return err
		}
		for i, e := range entries {
			if _, err := tx.ExecContext(ctx, "UPDATE account SET cid = ? WHERE email = ?", ids[i], e.email); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		return nil
	})
	return toRead, err
}

// sampleUndecidedEmails returns up to k of the n distinct emails of the
// undecided rows, evenly spread over them in order (a file's first rows
// are often its oldest, or the ones already imported).
func (st *store) sampleUndecidedEmails(ctx context.Context, n, k int64) ([]string, error) {
	step := max(n/max(k, 1), 1)
	var out []string
	for i := int64(0); i < k && i*step < n; i++ {
		var e string
		err := st.db.QueryRowContext(ctx, "SELECT DISTINCT email FROM rows WHERE outcome = '' AND path = 0 ORDER BY email LIMIT 1 OFFSET ?", i*step).Scan(&e)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// nextUndecidedEmails returns up to limit emails of the undecided rows,
// after after in order.
func (st *store) nextUndecidedEmails(ctx context.Context, after string, limit int) ([]string, error) {
	return st.queryStrings(ctx, "SELECT DISTINCT email FROM rows WHERE outcome = '' AND path = 0 AND email > ? ORDER BY email LIMIT ?", after, limit)
}

// readFound reads every contact the searches found (but the Do Not Mail
// ones) and puts its values and lists in the account table.
func (js *jobSender) readFound(ctx context.Context) error {
	st := js.r.st
	js.im.setPhase("planning: reading the contacts found")
	after := ""
	for {
		if err := interrupted(ctx); err != nil {
			return err
		}
		rows, err := st.db.QueryContext(ctx, "SELECT email, cid FROM account WHERE cid != '' AND email > ? ORDER BY email LIMIT 50", after)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		var emails, ids []string
		for rows.Next() {
			var e, id string
			if err := rows.Scan(&e, &id); err != nil {
				rows.Close()
				return fmt.Errorf("journal: %w", err)
			}
			emails, ids = append(emails, e), append(ids, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		after = emails[len(emails)-1]
		var entries []*accountEntry
		for i, id := range ids {
			c, err := js.im.client.GetContact(js.work, id)
			if errors.Is(err, ctct.ErrNotFound) {
				// Gone since the search: the account has no contact.
				entries = append(entries, &accountEntry{email: emails[i]})
				continue
			}
			if err != nil {
				return fmt.Errorf("plan: read %s: %w", emails[i], err)
			}
			e := &accountEntry{email: emails[i], status: c.Status, exists: true, orig: true, row: ctct.NewBulkRow(c)}
			for _, l := range c.Lists {
				e.lists = append(e.lists, js.im.client.ListURI(ctct.Number(l.ID)))
			}
			entries = append(entries, e)
		}
		if err := st.tx(ctx, func(tx *sql.Tx) error { return putAccount(ctx, tx, entries) }); err != nil {
			return err
		}
	}
}

// learnAccount learns the account's state: one EXPORT_CONTACTS job per
// system list, every bulk column (and the list names when the run names
// lists), read as they stream into the account table. An email two
// exports hold changed status while they ran: it is marked, and its rows
// are decided by the contacts collection.
func (js *jobSender) learnAccount(ctx context.Context) error {
	if err := js.waitOthers(ctx); err != nil {
		return err
	}
	if err := js.r.st.clearAccount(ctx); err != nil {
		return err
	}
	js.im.counts.planned.Store(0) // a probe's lookups are forgotten with the table
	js.im.setPhase("planning: exporting the account")
	js.started = js.im.opts.Now()
	var cols []string
	for _, f := range ctct.BulkFields() {
		if f.Name != "EmailAddress" {
			cols = append(cols, f.Bulk)
		}
	}
	acts := make([]*ctct.Activity, len(systemLists))
	posted := js.im.opts.Now()
	for i, s := range systemLists {
		x := &ctct.ExportOptions{List: s.list, FileType: ctct.FileTypeCSV, SortBy: ctct.SortByEmail, ListNames: js.r.lists.lists != nil, Columns: cols}
		a, err := js.createExport(x)
		if err != nil {
			return fmt.Errorf("plan: export list %s: %w", s.list, err)
		}
		acts[i] = a
	}
	var rows int64
	for i, s := range systemLists {
		// The server runs them in turn: each ends after the ones before.
		size, _ := listSize(js.r.lists.lists, s.list)
		rows += size
		js.im.setPhase(fmt.Sprintf("planning: exporting the account (job %d of %d: list %s, about %d contacts)", i+1, len(systemLists), s.list, size))
		if _, err := js.loadExport(ctx, acts[i], s.status, rows, posted); err != nil {
			return fmt.Errorf("plan: export list %s: %w", s.list, err)
		}
	}
	return nil
}

// loadExport waits for an export job of about rows contacts, created at
// posted, and puts its contacts in the account table.
func (js *jobSender) loadExport(ctx context.Context, a *ctct.Activity, status string, rows int64, posted time.Time) (int64, error) {
	er, body, err := js.openExport(ctx, a, rows, posted)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var batch []*accountEntry
	var n int64
	put := func() error {
		emails := make([]string, len(batch))
		for i, e := range batch {
			emails[i] = e.email
		}
		// An email another system list's export already gave moved
		// between them.
		had, err := js.r.st.getAccount(ctx, emails)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if had[e.email] != nil {
				e.conflict = true
			}
		}
		err = js.r.st.tx(ctx, func(tx *sql.Tx) error { return putAccount(ctx, tx, batch) })
		batch = batch[:0]
		return err
	}
	for {
		x, err := er.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("job %s: %w", a.Key(), err)
		}
		e := &accountEntry{email: strings.ToLower(x.EmailAddress), status: status, exists: true, orig: true, row: x.BulkRow}
		for _, name := range x.Lists {
			ids := js.names[name]
			if len(ids) != 1 {
				e.listsUnknown = true
				break
			}
			e.lists = append(e.lists, ids[0])
		}
		batch = append(batch, e)
		n++
		js.im.counts.planned.Add(1) // contacts seen, for the progress
		if len(batch) == 2000 {
			if err := put(); err != nil {
				return n, err
			}
		}
	}
	return n, put()
}

// waitOthers waits for the unfinished add, remove and clear jobs of the
// account's newest page of activities (one request): a job that a killed
// run created without learning its id, or another tool's, would otherwise
// change contacts after the plan read them, or run after a later job of
// this run with an older value.
func (js *jobSender) waitOthers(ctx context.Context) error {
	feed, err := js.bc.Activities().Next(js.work)
	if err != nil {
		return fmt.Errorf("plan: read the account's activities: %w", err)
	}
	for i := range feed.Activities {
		a := &feed.Activities[i]
		if a.Final() || a.Type == ctct.ActivityExportContacts {
			continue
		}
		js.im.setPhase("waiting for the account's unfinished jobs")
		if _, err := js.await(ctx, a, 0, js.im.opts.Now()); err != nil {
			return fmt.Errorf("plan: wait for job %s: %w", a.Key(), err)
		}
	}
	return nil
}
