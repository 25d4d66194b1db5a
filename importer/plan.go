package importer

import (
	"context"
	"database/sql"
	"fmt"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// Stage 2, plan: the lists are resolved (once, before anything was
// written); the jobs an interrupted run left are settled first, so that
// what they did is seen; the path is chosen; on the bulk path the account
// is learnt from three export jobs and every row is decided in file
// order, each against the account as the rows before it leave it: settled
// (unchanged, skipped, failed) with no request, in a job, or through the
// contacts collection. A decision that rests on an earlier row of the same
// email sent in a job is kept pending (dep) until that row's outcome is
// known.

// pendingRow is a row of the store not finished yet, as a stage reads it.
type pendingRow struct {
	seq        int64
	file, line int
	email      string
	cells      []string
	optOut     string
	flags      int
	dep        sql.NullInt64
	baseExists bool
}

// pendingRows returns up to limit rows not finished, on the given path
// (pathNone for undecided ones), after sequence number after, in order.
func (r *run) pendingRows(ctx context.Context, path int, after int64, limit int) ([]*pendingRow, error) {
	return r.st.queryPendingRows(ctx, `SELECT seq, file, line, email, cells, opt_out, flags, dep, base_exists FROM rows
		WHERE outcome = '' AND path = ? AND seq > ? AND job IS NULL ORDER BY seq LIMIT ?`, path, after, limit)
}

// queryPendingRows runs a query of the pending rows' columns (seq, file,
// line, email, cells, opt_out, flags, dep, base_exists) and decodes them.
func (st *store) queryPendingRows(ctx context.Context, query string, args ...any) ([]*pendingRow, error) {
	rows, err := st.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	var out []*pendingRow
	for rows.Next() {
		p := &pendingRow{}
		var cells []byte
		if err := rows.Scan(&p.seq, &p.file, &p.line, &p.email, &cells, &p.optOut, &p.flags, &p.dep, &p.baseExists); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if p.cells, err = decodeCells(cells); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

// queryStrings runs a query of one text column and returns its values.
func (st *store) queryStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := st.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

// task converts a stored row into a task: its record and memberships. A
// row whose ContactLists names no list gets its outcome instead.
func (r *run) task(p *pendingRow) (*rowTask, *rowResult, error) {
	src := r.srcs[p.file]
	rec, err := src.m.Convert(withoutEmptyExtras(p.cells, len(src.rd.Header())), p.line)
	if err != nil {
		// Valid when read: the mapping is the same, so only a damaged store.
		return nil, nil, fmt.Errorf("journal: row of line %d no longer converts: %w", p.line, err)
	}
	lists, err := r.lists.forRow(rec.Lists)
	if err != nil {
		return nil, &rowResult{statusFailed, fmt.Sprintf("line %d, %v", p.line, err)}, nil
	}
	return &rowTask{seq: p.seq, line: p.line, rec: rec, lists: lists}, nil, nil
}

// countPath counts the rows not finished on a path.
func (st *store) countPath(ctx context.Context, path int) (int64, error) {
	var n int64
	if err := st.db.QueryRowContext(ctx, "SELECT count(*) FROM rows WHERE outcome = '' AND path = ?", path).Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

// plan resets the decisions of the rows not finished nor sent, settles
// the jobs of an interrupted run, chooses the path and decides every row.
func (r *run) plan(ctx context.Context) error {
	im := r.im
	// A row put in a job that a killed run never wrote before its POST
	// was never sent: it is decided again, like every row not sent.
	_, err := r.st.db.ExecContext(ctx, `UPDATE rows SET job = NULL, data_line = NULL, job_state = 0
		WHERE outcome = '' AND job IS NOT NULL AND job NOT IN (SELECT seq FROM jobs)`)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	_, err = r.st.db.ExecContext(ctx, `UPDATE rows SET path = 0, class = '', reason = '', dep = NULL, base_exists = 0
		WHERE outcome = '' AND job IS NULL`)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := r.skipSuperseded(ctx); err != nil {
		return err
	}
	earlier, err := r.st.jobCount(ctx)
	if err != nil {
		return err
	}
	if earlier > 0 {
		if err := r.startJobs(ctx); err != nil {
			return err
		}
		if err := r.jobs.settleEarlier(ctx); err != nil {
			return err
		}
	}
	bulk, err := r.choosePath(ctx)
	if err != nil {
		return err
	}
	if !bulk {
		_, err := r.st.db.ExecContext(ctx, "UPDATE rows SET path = ? WHERE outcome = '' AND path = 0 AND job IS NULL", pathContacts)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		return nil
	}
	if r.jobs == nil {
		if err := r.startJobs(ctx); err != nil {
			return err
		}
	}
	if err := r.sayContactsRowsAhead(ctx); err != nil {
		return err
	}
	if err := r.jobs.learnTheAccount(ctx); err != nil {
		return err
	}
	im.setPhase("planning: deciding each row")
	if err := r.decideAll(ctx); err != nil {
		return err
	}
	if err := r.smallLoadToContacts(ctx); err != nil {
		return err
	}
	if err := r.sayContactsRows(ctx); err != nil {
		return err
	}
	return r.jobs.sendPlanned(ctx)
}

// skipSuperseded settles the rows of an error report whose email a later
// row of the original file set (its _superseded_by column): importing
// them would put an older value over a newer one. ImportSuperseded
// imports them all the same.
func (r *run) skipSuperseded(ctx context.Context) error {
	if r.im.opts.ImportSuperseded {
		return nil
	}
	_, err := r.st.db.ExecContext(ctx, `UPDATE rows SET outcome = ?, reason = ?, run = ? WHERE outcome = '' AND flags & ? != 0`,
		statusSkipped, reasonSuperseded, r.st.run, flagSuperseded)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// reasonSuperseded is the reason of an error report's row skipped because
// a later row of its original file set its email.
const reasonSuperseded = "superseded: a later row of the original file set this email (its line is in _superseded_by); importing this older row would undo it (--import-superseded imports it anyway)"

// bulkBlocker says why a whole run cannot use bulk jobs, "" when it can.
func (r *run) bulkBlocker() string {
	im := r.im
	hasColumn := false
	for _, s := range r.srcs {
		hasColumn = hasColumn || s.m.HasListsColumn()
	}
	switch {
	case im.opts.OptInSource == ctct.ActionByContact:
		return "--opt-in-source ACTION_BY_CONTACT: a bulk job records every contact as ACTION_BY_CUSTOMER"
	case len(im.opts.Lists) == 0 && !hasColumn:
		return "no --list and no ContactLists column: a bulk job adds its contacts to lists, and needs one"
	}
	return ""
}

// choosePath says whether the run takes bulk jobs: always when jobs of an
// interrupted run were settled; with auto, when at least MinBulkRows rows
// could go in a job (what the rows alone tell: an opt-out to carry, a
// value with no bulk column or an empty value to clear go through the
// contacts collection whatever the account holds).
func (r *run) choosePath(ctx context.Context) (bool, error) {
	im := r.im
	if r.jobs != nil {
		return true, nil
	}
	if im.opts.Via == ViaContacts {
		return false, nil
	}
	if why := r.bulkBlocker(); why != "" {
		if im.opts.Via == ViaActivities {
			im.opts.Warnf("every row goes through the contacts collection: %s", why)
		}
		return false, nil
	}
	if im.opts.Via == ViaActivities {
		return true, nil
	}
	if im.opts.Empty == mapping.EmptyClear && r.mapsNoBulkField() {
		return false, nil
	}
	var n int
	err := r.st.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM rows WHERE outcome = '' AND path = 0 AND opt_out = '' AND flags & ? = 0 LIMIT ?)`,
		flagRemoved|flagNoBulk, MinBulkRows).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	return n >= MinBulkRows, nil
}

// mapsNoBulkField reports whether an input maps a field no bulk column
// carries.
func (r *run) mapsNoBulkField() bool {
	for _, s := range r.srcs {
		if mapsNoBulkField(s.m) {
			return true
		}
	}
	return false
}

// decideChunk is the rows the plan decides together: one lookup of the
// account for their emails, one write of what they changed.
const decideChunk = 1000

// decideAll decides every undecided row, in file order.
func (r *run) decideAll(ctx context.Context) error {
	after := int64(0)
	for {
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		chunk, err := r.pendingRows(ctx, pathNone, after, decideChunk)
		if err != nil || len(chunk) == 0 {
			return err
		}
		after = chunk[len(chunk)-1].seq
		if err := r.decideChunk(ctx, chunk); err != nil {
			return err
		}
	}
}

// decision is what the plan does with one row.
type decision struct {
	path   int
	class  string // a job row's planned outcome; a settled row's outcome
	reason string
	dep    int64 // the earlier row it rests on, 0 for none
	base   bool  // the account had the email before the run
	merged *ctct.Contact
	why    string // why a row goes through the contacts collection
}

// decideChunk decides each row of chunk, in order, against the account
// and the rows before it, and writes the decisions and what they change.
func (r *run) decideChunk(ctx context.Context, chunk []*pendingRow) error {
	emails := make([]string, 0, len(chunk))
	for _, p := range chunk {
		emails = append(emails, p.email)
	}
	entries, err := r.st.getAccount(ctx, emails)
	if err != nil {
		return err
	}
	dirty := map[string]*accountEntry{}
	type write struct {
		seq int64
		d   decision
	}
	var writes []write
	for _, p := range chunk {
		t, failed, err := r.task(p)
		if err != nil {
			return err
		}
		if failed != nil {
			writes = append(writes, write{p.seq, decision{path: pathSettled, class: failed.status, reason: failed.reason}})
			continue
		}
		e := entries[p.email]
		if e == nil {
			e = &accountEntry{email: p.email}
			entries[p.email] = e
		}
		d := r.decide(t, e)
		d.base = e.orig
		switch {
		case d.path == pathSettled && e.route == routeJob:
			d.dep = e.last // rests on the email's last row in a job
		case d.path == pathContacts:
			e.route, e.last = routeContacts, p.seq
			dirty[e.email] = e
			r.contactsReasons[d.why]++
		case d.path == pathJob:
			if e.route == routeJob {
				d.dep = e.last
			}
			r.jobs.planned(e, t, d.merged)
			e.route, e.last = routeJob, p.seq
			dirty[e.email] = e
		}
		writes = append(writes, write{p.seq, d})
	}
	return r.st.tx(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, "UPDATE rows SET path = ?, class = ?, reason = ?, dep = ?, base_exists = ?, outcome = ?, run = ? WHERE seq = ?")
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		defer up.Close()
		for _, w := range writes {
			d := w.d
			var dep any
			if d.dep > 0 {
				dep = d.dep
			}
			outcome, run, class, reason := "", 0, d.class, d.reason
			if d.path == pathSettled && d.dep == 0 {
				outcome, run, class = d.class, r.st.run, ""
				r.im.counts.done.Add(1)
			}
			if _, err := up.ExecContext(ctx, d.path, class, reason, dep, d.base, outcome, run, w.seq); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		r.im.counts.decided.Add(int64(len(writes)))
		var out []*accountEntry
		for _, e := range dirty {
			out = append(out, e)
		}
		return putAccount(ctx, tx, out)
	})
}

// decide classifies a row against what the account table says of its
// email, as the contacts path would (applyRow, upsertRow, updateRow), and
// says which rows a bulk job cannot carry.
func (r *run) decide(t *rowTask, e *accountEntry) decision {
	im := r.im
	settled := func(status, reason string) decision {
		return decision{path: pathSettled, class: status, reason: reason}
	}
	contacts := func(why string) decision { return decision{path: pathContacts, why: why} }
	switch {
	case t.rec.OptOut != "":
		if im.opts.OptOuts == OptOutsSkip {
			return settled(statusSkipped, skipOptOutReason(t.rec.OptOut))
		}
		return contacts("opt-outs to carry over (no bulk job can opt a contact out; --opt-outs skip reports them instead)")
	case t.rec.Removed:
		return settled(statusSkipped, reasonRemovedStatus)
	case e.route == routeContacts:
		return contacts("an earlier row of the same email goes that way (one email's rows apply in order)")
	case e.conflict:
		return contacts("contacts whose status changed while the plan exported the account")
	case t.rec.NoBulkValue():
		return contacts("a Country Name no ISO code stands for (or another field no bulk column carries)")
	case im.needsContacts(t.rec):
		return contacts("a field no bulk column carries, to clear with --empty clear")
	}
	if !e.exists {
		if im.opts.Mode == ModeUpdate {
			return settled(statusSkipped, reasonNoContact)
		}
		if len(t.lists) == 0 {
			return settled(statusFailed, reasonNoList)
		}
		return decision{path: pathJob, class: statusCreated, merged: im.newContact(t)}
	}
	if e.status == ctct.StatusDoNotMail {
		return settled(statusSkipped, reasonDoNotMail)
	}
	if len(t.lists) == 0 {
		return contacts("existing contacts with no list to add them to (an add job needs one: use --list)")
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
		return contacts("a value to clear (--empty clear, or moved by the names-to-codes rules): a bulk job cannot clear a field")
	}
	for _, l := range t.lists {
		if e.listsUnknown || !hasString(e.lists, l.ID) {
			changed = true
		}
	}
	if !changed {
		return settled(statusUnchanged, "")
	}
	return decision{path: pathJob, class: statusUpdated, merged: desired}
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
		if f, ok := ctct.LookupField(name); ok && f.Editable && f.Bulk == "" && !rec.DerivedOnly(name) {
			return true
		}
	}
	return false
}

func hasString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// smallLoadToContacts sends through the contacts collection what auto
// planned for jobs when it is fewer than MinBulkRows rows and no job was
// sent (the API's rule), with the rows whose decision rested on them.
func (r *run) smallLoadToContacts(ctx context.Context) error {
	if r.im.opts.Via != ViaAuto || r.jobs.posted > 0 {
		return nil
	}
	n, err := r.st.countPath(ctx, pathJob)
	if err != nil || n >= MinBulkRows {
		return err
	}
	_, err = r.st.db.ExecContext(ctx, `UPDATE rows SET path = ?, class = '', reason = '', dep = NULL
		WHERE outcome = '' AND job IS NULL AND (path = ? OR (path = ? AND dep IS NOT NULL))`, pathContacts, pathJob, pathSettled)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// sayContactsRowsAhead warns, before the plan's first request, when a
// bulk run will send more than MinBulkRows rows through the contacts
// collection for what the rows alone say (an opt-out to carry over, a
// Country Name no code stands for): how many, why, and how to avoid it.
// The run goes on: an opt-out has no other way in.
func (r *run) sayContactsRowsAhead(ctx context.Context) error {
	var optOuts, noBulk int64
	err := r.st.db.QueryRowContext(ctx, `SELECT coalesce(sum(opt_out != ''), 0), coalesce(sum(opt_out = '' AND flags & ? != 0), 0)
		FROM rows WHERE outcome = '' AND path = 0`, flagNoBulk).Scan(&optOuts, &noBulk)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if r.im.opts.OptOuts == OptOutsSkip {
		optOuts = 0
	}
	why := map[string]int64{}
	if optOuts > 0 {
		why["opt-outs to carry over (no bulk job can opt a contact out; --opt-outs skip reports them instead)"] = optOuts
	}
	if noBulk > 0 {
		why["a Country Name no ISO code stands for (make it a name or code ctctbulk knows, or map the column to - to leave it out)"] = noBulk
	}
	if n := optOuts + noBulk; n > MinBulkRows {
		_, text := BySignal(why)
		r.im.opts.Warnf("%d rows will go through the contacts collection, a request or more each, rather than in bulk jobs: %s", n, text)
		r.saidContacts = n
	}
	return nil
}

// sayContactsRows warns, before the first row is sent, when a bulk run
// sends more than MinBulkRows rows through the contacts collection: how
// many, why, and how to avoid it. The API wants such loads in jobs; the
// run goes on, since opt-outs have no other way in.
func (r *run) sayContactsRows(ctx context.Context) error {
	n, err := r.st.countPath(ctx, pathContacts)
	if err != nil || n <= MinBulkRows || n == r.saidContacts {
		return err
	}
	total, text := BySignal(r.contactsReasons)
	if total == 0 {
		return nil
	}
	r.im.opts.Warnf("%d rows go through the contacts collection, a request or more each, rather than in bulk jobs: %s", n, text)
	return nil
}
