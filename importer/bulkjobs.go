package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// classifyChunk is the rows the plan's pass classifies together: one
// lookup of the index for their emails, one write of what they changed.
const classifyChunk = 1000

// planItem is one row of the plan's pass: a task to classify, or an
// outcome already known (malformed, invalid), or a row of a job settled
// before the plan.
type planItem struct {
	t        *rowTask
	settled  *rowResult
	unparsed int64 // physical lines of a malformed stretch
	email    string
	fromJob  bool
}

// classify is the plan's pass: it reads the input, settles the rows that
// need no request (invalid, unchanged, skipped), marks those that go
// through the contacts collection, and puts the new and changed ones in
// jobs, sent as they fill. It returns once every job has ended.
func (b *bulkRun) classify(ctx, work context.Context, o *outcomes) error {
	b.im.setPhase("sending jobs")
	if _, err := b.src.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read input again: %w", err)
	}
	rd, _, err := b.im.open(b.src, false)
	if err != nil {
		return err
	}
	width := len(rd.Header())
	var chunk []planItem
	var seq uint64
	finish := func(t *rowTask, res rowResult) {
		o.finish(seq, t.row, t.digest, res.status, res.reason)
		seq++
	}
	for {
		if err := interrupted(ctx); err != nil {
			return err
		}
		row, err := rd.Next()
		b.im.counts.offset.Store(rd.Offset())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		if row.Blank {
			b.im.counts.blank.Add(1)
			continue
		}
		if b.j.doneDigest(row.Line) != 0 {
			continue
		}
		t := &rowTask{row: reportRow{line: row.Line, cells: row.Cells, raw: row.Raw}, digest: rowDigest(&row)}
		it := planItem{t: t}
		switch st := b.at(row.Line); {
		case st != lineSettled:
			// A row of a job of the interrupted run: its outcome is known.
			it.fromJob = true
			if rec, err := b.m.Convert(withoutEmptyExtras(row.Cells, width), row.Line); err == nil && st != lineFailed {
				if t.lists, err = b.lists.forRow(rec.Lists); err == nil {
					t.rec, it.email = rec, strings.ToLower(rec.Contact.EmailAddress)
				}
			}
		case row.Err != nil:
			it.unparsed = int64(row.EndLine - row.Line + 1)
			it.settled = &rowResult{statusFailed, row.Err.Error()}
		default:
			rec, err := b.m.Convert(withoutEmptyExtras(row.Cells, width), row.Line)
			if err != nil {
				it.settled = &rowResult{statusFailed, err.Error()}
				break
			}
			rowLists, err := b.lists.forRow(rec.Lists)
			if err != nil {
				it.settled = &rowResult{statusFailed, fmt.Sprintf("line %d, %v", row.Line, err)}
				break
			}
			t.rec, t.lists = rec, rowLists
			t.row.noteRecord(rec)
			it.email = strings.ToLower(rec.Contact.EmailAddress)
		}
		chunk = append(chunk, it)
		if err := o.writeErr(); err != nil {
			return err // the report or the journal cannot be written
		}
		if len(chunk) == classifyChunk {
			if err := b.classifyChunk(ctx, work, chunk, finish); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	if err := b.classifyChunk(ctx, work, chunk, finish); err != nil {
		return err
	}
	return b.flushAll(ctx, work)
}

// classifyChunk decides each row of chunk, in order, against the index
// and the rows before it, and writes back what changed.
func (b *bulkRun) classifyChunk(ctx, work context.Context, chunk []planItem, finish func(*rowTask, rowResult)) error {
	var emails []string
	for _, it := range chunk {
		if it.email != "" {
			emails = append(emails, it.email)
		}
	}
	entries, err := b.ix.get(work, emails)
	if err != nil {
		return err
	}
	dirty := map[string]*indexEntry{}
	for _, it := range chunk {
		if it.settled != nil {
			b.im.counts.read.Add(1)
			b.im.counts.unparsed.Add(it.unparsed)
			finish(it.t, *it.settled)
			continue
		}
		if it.fromJob {
			// A row of a job of the interrupted run, applied: the
			// verification expects the account as the plan's export
			// found it with the row's values and lists on top.
			if e := entries[it.email]; e != nil {
				merged := e.row.Contact()
				it.t.rec.Apply(merged, mapping.EmptyKeep)
				b.apply(e, it.t, merged)
				dirty[e.email] = e
			}
			continue
		}
		e := entries[it.email]
		if e == nil {
			e = &indexEntry{email: it.email}
			entries[it.email] = e
		}
		d := b.decide(it.t, e)
		if e.route == routeBulk && e.line > 0 && d.contacts == false {
			switch b.at(e.line) {
			case lineFailed:
				// The earlier row of this email failed: what the index
				// expects is wrong, the contacts collection decides.
				d = decision{contacts: true}
			case lineSent:
				if d.settled != nil {
					b.deferred[it.t.row.line] = deferredRow{dep: e.line, res: *d.settled}
					b.mark(it.t.row.line, lineDeferred)
					b.held++
					continue
				}
			}
		}
		switch {
		case d.settled != nil:
			b.im.counts.read.Add(1)
			finish(it.t, *d.settled)
		case d.contacts:
			b.mark(it.t.row.line, lineContacts)
			b.held++
			e.route = routeContacts
			dirty[e.email] = e
		default:
			b.apply(e, it.t, d.merged)
			dirty[e.email] = e
			if err := b.add(ctx, work, it.t, d.class); err != nil {
				return err
			}
		}
	}
	var out []*indexEntry
	for _, e := range dirty {
		out = append(out, e)
	}
	return b.ix.put(work, out)
}

// decision is what the bulk path does with one row.
type decision struct {
	settled  *rowResult    // no request: unchanged, skipped or failed
	contacts bool          // through the contacts collection
	class    byte          // else in a job: lineCreated or lineUpdated
	merged   *ctct.Contact // the contact as the job leaves it
}

// decide classifies a row against what the index says of its email, as
// the contacts path would (applyRow, upsertRow, updateRow), and says
// which rows a bulk job cannot carry.
func (b *bulkRun) decide(t *rowTask, e *indexEntry) decision {
	im := b.im
	settled := func(status, reason string) decision {
		return decision{settled: &rowResult{status, reason}}
	}
	switch {
	case t.rec.OptOut != "":
		if im.opts.OptOuts == OptOutsSkip {
			return settled(statusSkipped, skipOptOutReason(t.rec.OptOut))
		}
		return decision{contacts: true} // an opt-out is carried over by the contacts collection
	case t.rec.Removed:
		return settled(statusSkipped, reasonRemovedStatus)
	case e.route == routeContacts:
		return decision{contacts: true} // after an earlier row of the email, in order
	}
	if im.needsContacts(t.rec) {
		return decision{contacts: true} // no bulk column carries a value of it
	}
	if !e.exists {
		if im.opts.Mode == ModeUpdate {
			return settled(statusSkipped, reasonNoContact)
		}
		if len(t.lists) == 0 {
			return settled(statusFailed, reasonNoList)
		}
		return decision{class: lineCreated, merged: im.newContact(t)}
	}
	if e.status == ctct.StatusDoNotMail {
		return settled(statusSkipped, reasonDoNotMail)
	}
	if len(t.lists) == 0 {
		return decision{contacts: true} // an add job needs a list
	}
	if im.opts.Mode == ModeCreate {
		return settled(statusSkipped, reasonExists)
	}
	cur := e.row.Contact()
	desired := cur.Clone()
	changed := t.rec.Apply(desired, im.opts.Empty)
	if errs := ctct.ValidateContact(desired); changed && len(errs) > 0 {
		return settled(statusFailed, "merged with the existing contact: "+joinFieldErrors(errs))
	}
	if asJob := cur.Clone(); t.rec.ApplyValues(asJob) != changed || ctct.NewBulkRow(asJob) != ctct.NewBulkRow(desired) {
		return decision{contacts: true} // the row clears a value (--empty clear, a value moved): bulk cannot
	}
	for _, l := range t.lists {
		if e.listsUnknown || !hasString(e.lists, l.ID) {
			changed = true
		}
	}
	if !changed {
		return settled(statusUnchanged, "")
	}
	if errs := ctct.ValidateContact(desired); len(errs) > 0 {
		return settled(statusFailed, "merged with the existing contact: "+joinFieldErrors(errs))
	}
	return decision{class: lineUpdated, merged: desired}
}

func hasString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// apply records in the index what the row's job will leave.
func (b *bulkRun) apply(e *indexEntry, t *rowTask, merged *ctct.Contact) {
	e.exists, e.status = true, ctct.StatusActive
	e.row = ctct.NewBulkRow(merged)
	for _, l := range t.lists {
		if !hasString(e.lists, l.ID) {
			e.lists = append(e.lists, l.ID)
		}
	}
	e.route, e.line = routeBulk, t.row.line
}

// jobHeadroom keeps a job's data under the activity limit with room for
// its header.
const jobHeadroom = 64 << 10

// add puts a row in the open job of its lists, sending the job when full.
// A row whose email is in another open job sends that job first, so that
// the rows of one email are applied in input order.
func (b *bulkRun) add(ctx, work context.Context, t *rowTask, class byte) error {
	key, ids := listKey(t.lists)
	email := strings.ToLower(t.rec.Contact.EmailAddress)
	for k, other := range b.open {
		if k != key {
			if _, ok := other.emails[email]; ok {
				if err := b.send(ctx, work, other); err != nil {
					return err
				}
			}
		}
	}
	br := ctct.NewBulkRow(&t.rec.Contact)
	size := br.EncodedSize()
	jb := b.open[key]
	if jb != nil && jb.size+size > ctct.MaxActivityData-jobHeadroom {
		if err := b.send(ctx, work, jb); err != nil {
			return err
		}
		jb = nil
	}
	if jb == nil {
		jb = &bulkJob{seq: b.nextSeq, key: key, lists: ids, emails: map[string]struct{}{}}
		b.nextSeq++
		b.open[key] = jb
	}
	jb.rows = append(jb.rows, br)
	jb.lines = append(jb.lines, t.row.line)
	jb.class = append(jb.class, class)
	if jb.nextData == 0 {
		jb.nextData = 2 // the header is line 1
	}
	jb.dataLn = append(jb.dataLn, jb.nextData)
	jb.nextData += br.PhysicalLines()
	jb.hash.add(t.digest)
	jb.emails[email] = struct{}{}
	jb.size += size
	b.mark(t.row.line, lineSent)
	b.held++
	if len(jb.rows) >= b.im.opts.BulkRows {
		return b.send(ctx, work, jb)
	}
	// Many list sets would hold many open jobs: the biggest goes.
	if n := b.openRows(); n > 2*b.im.opts.BulkRows {
		var big *bulkJob
		for _, o := range b.open {
			if big == nil || len(o.rows) > len(big.rows) {
				big = o
			}
		}
		return b.send(ctx, work, big)
	}
	return nil
}

func (b *bulkRun) openRows() int {
	n := 0
	for _, o := range b.open {
		n += len(o.rows)
	}
	return n
}

// flushAll sends the open jobs, oldest first, and waits for every job. In
// auto, a run that has fewer than MinBulkRows rows to send and sent no job
// sends them through the contacts collection instead (the API's rule).
func (b *bulkRun) flushAll(ctx, work context.Context) error {
	if b.im.opts.Via == ViaAuto && b.sentJobs == 0 && len(b.unfinished) == 0 && b.openRows() < MinBulkRows {
		for _, jb := range b.open {
			for _, l := range jb.lines {
				b.mark(l, lineContacts)
			}
		}
		b.open = map[string]*bulkJob{}
	}
	for len(b.open) > 0 {
		var first *bulkJob
		for _, jb := range b.open {
			if first == nil || jb.seq < first.seq {
				first = jb
			}
		}
		if err := b.send(ctx, work, first); err != nil {
			return err
		}
	}
	return b.waitAll(ctx)
}

// waitAll waits for every unfinished job, oldest first.
func (b *bulkRun) waitAll(ctx context.Context) error {
	for len(b.unfinished) > 0 {
		if err := b.waitOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}

// send posts a job: after the unfinished jobs that hold one of its emails
// have ended (the server orders the rows of one job, not those of two),
// with fewer than maxUnfinishedJobs unfinished, and journaled before its
// POST and after the answer. A job the server refuses fails its rows.
func (b *bulkRun) send(ctx, work context.Context, jb *bulkJob) error {
	delete(b.open, jb.key)
	for i := 0; i < len(b.unfinished); i++ {
		if shares(jb, b.unfinished[i]) {
			for range i + 1 {
				if err := b.waitOldest(ctx); err != nil {
					return err
				}
			}
			i = -1
		}
	}
	for len(b.unfinished) >= maxUnfinishedJobs {
		if err := b.waitOldest(ctx); err != nil {
			return err
		}
	}
	if err := interrupted(ctx); err != nil {
		return err
	}
	fresh := jb.journal == nil // else a journaled job sent again, counted when settled
	if fresh {
		jb.journal = &journalJob{seq: jb.seq, lists: jb.lists, digest: jb.hash.h, lines: jb.lines, class: jb.class}
		if err := b.j.addJob(jb.journal); err != nil {
			return fmt.Errorf("write journal %s: %w", b.j.path, err)
		}
	}
	a, err := b.bc.CreateActivity(work, &ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: jb.lists, Rows: jb.rows})
	if err != nil {
		var apiErr *ctct.APIError
		if stopsRun(work, err) || errors.Is(err, ctct.ErrUncertain) || (errors.As(err, &apiErr) && (apiErr.Status == 429 || apiErr.Status >= 500)) {
			// Nothing known applied, or nothing said: --resume sends it again.
			return fmt.Errorf("send bulk job %d: %w", jb.seq, err)
		}
		for _, l := range jb.lines {
			b.fail(l, "bulk job refused: "+describe(err))
		}
		b.im.opts.Warnf("bulk job %d (%d rows, lines %d to %d) refused: %s", jb.seq, len(jb.lines), jb.lines[0], jb.lines[len(jb.lines)-1], describe(err))
		jb.rows = nil
		return nil
	}
	if err := b.j.jobAnswered(jb.seq, a.Key()); err != nil {
		return fmt.Errorf("write journal %s: %w", b.j.path, err)
	}
	jb.act, jb.posted, jb.rows = a, time.Now(), nil
	b.unfinished = append(b.unfinished, jb)
	b.sentJobs++
	b.sentRows += int64(len(jb.lines))
	if fresh {
		b.im.counts.jobs.Add(1)
		b.im.counts.sent.Add(int64(len(jb.lines)))
	}
	switch {
	case b.sameLists == "":
		b.sameLists = jb.key
	case b.sameLists != jb.key:
		b.sameLists = "*"
	}
	return nil
}

// shares reports whether two jobs hold an email in common.
func shares(a, b *bulkJob) bool {
	x, y := a.emails, b.emails
	if len(x) > len(y) {
		x, y = y, x
	}
	for e := range x {
		if _, ok := y[e]; ok {
			return true
		}
	}
	return false
}

// waitOldest waits for the oldest unfinished job and reconciles its rows.
func (b *bulkRun) waitOldest(ctx context.Context) error {
	jb := b.unfinished[0]
	a, err := b.await(ctx, jb.act, len(jb.lines), jb.posted)
	if err != nil {
		return fmt.Errorf("bulk job %d (%s): %w", jb.seq, jb.act.Key(), err)
	}
	b.unfinished = b.unfinished[1:]
	b.reconcile(jb, a)
	b.learn(a, len(jb.lines))
	return nil
}

// learn takes the speed and the queue time of an ended job of rows rows
// from the server's times (RunStartTime, RunFinishTime, InsertTime); a
// server that gives none leaves the guesses as they were.
func (b *bulkRun) learn(a *ctct.Activity, rows int) {
	start, err1 := time.Parse(time.RFC3339, a.RunStartTime)
	finish, err2 := time.Parse(time.RFC3339, a.RunFinishTime)
	insert, err3 := time.Parse(time.RFC3339, a.InsertTime)
	if err1 != nil || err2 != nil || a.Status != ctct.ActivityComplete {
		return
	}
	if run := finish.Sub(start).Seconds(); run > 0 {
		b.rate = min(max(float64(rows)/run, 100), 1e6)
	}
	if err3 == nil && start.After(insert) {
		b.queue = min(start.Sub(insert), b.im.opts.PollMax)
	}
}

// reconcile gives each row of an ended job its outcome: the one planned,
// or failed with the server's Error for its line, or, for a job that
// ended in ERROR, failed with that.
func (b *bulkRun) reconcile(jb *bulkJob, a *ctct.Activity) {
	jb.emails = nil
	if a.Status == ctct.ActivityError {
		reason := fmt.Sprintf("bulk job %s ended in ERROR: none of its rows was applied; import the row again", a.Key())
		for _, l := range jb.lines {
			if b.at(l) == lineSent {
				b.fail(l, reason)
			}
		}
		return
	}
	for i, l := range jb.lines {
		if b.at(l) == lineSent {
			b.mark(l, jb.class[i])
		}
	}
	failed := 0
	for _, e := range a.Errors {
		i, ok := rowAt(jb.dataLn, e.LineNumber)
		if !ok {
			b.im.opts.Warnf("bulk job %s reports an error on data line %d, which starts no row: %s", a.Key(), e.LineNumber, e.Message)
			continue
		}
		failed++
		if b.at(jb.lines[i]) != lineSettled {
			b.fail(jb.lines[i], fmt.Sprintf("bulk job %s: %s", a.Key(), e.Message))
		}
	}
	if want := len(jb.lines) - failed; a.TransactionCount != want && a.ErrorCount == len(a.Errors) {
		b.im.opts.Warnf("bulk job %s applied %d rows, %d were expected: the verification will tell which", a.Key(), a.TransactionCount, want)
	}
}

// rowAt returns the index of the row that starts at data line, by binary
// search of the rows' first lines.
func rowAt(lines []int, line int) (int, bool) {
	d := ctct.BulkData{Lines: lines}
	return d.Row(line)
}
