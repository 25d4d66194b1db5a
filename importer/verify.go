package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// Stage 4, verify: once the last job ended, one export of the list every
// row went to (the one list of every job, or the active contacts) is held
// against the rows the jobs applied, or left uncertain. Each row is
// checked against what it sent, never against a merged picture: every
// non-empty value it was the last of its email to send, compared after the
// field's own normalisation, and every list it named. A row not as sent
// fails with the field and both values; an uncertain row not as sent was
// not applied. With --verify=false only the uncertain rows are checked.

// verifyBatch is the export rows checked with one lookup of the store.
const verifyBatch = 500

// verify checks the rows the jobs applied or left uncertain.
func (r *run) verify(ctx context.Context) error {
	js := r.jobs
	st := r.st
	var toCheck, uncertain int64
	err := st.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(job_state = ?), 0) FROM rows WHERE path = ? AND outcome = '' AND job_state IN (?, ?)`,
		jobUncertain, pathJob, jobApplied, jobUncertain).Scan(&toCheck, &uncertain)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if toCheck == 0 {
		return nil
	}
	if r.im.opts.NoVerify {
		r.notes = append(r.notes, fmt.Sprintf("--verify=false, but %s whose job's answer did not settle them were checked", nRows(uncertain)))
	}
	r.im.setPhase("verifying what the jobs did")
	names, err := r.accountChanges(ctx)
	if err != nil {
		return err
	}
	list, what := "active", "the active contacts"
	if js.sameLists != "" && js.sameLists != "*" && !strings.Contains(js.sameLists, ",") && hasName(names, js.sameLists) {
		list, what = js.sameLists, "list "+ctct.Number(js.sameLists)
	}
	// The cheaper way: one export of the list, or a lookup of each email.
	emails, err := r.st.emailsToCheck(ctx)
	if err != nil {
		return err
	}
	// The list as read again after the jobs holds their contacts already.
	size, ok := listSize(r.listsNow, list)
	if !ok {
		size = r.cost.account + toCheck
	}
	if price(r.cost.lookupVerify(emails)) < price(r.cost.exportVerify(size)) {
		r.verifiedBy = "lookups"
		if err := r.verifyByLookup(ctx); err != nil {
			return err
		}
		return r.notInAccount(ctx, "the account")
	}
	r.verifiedBy = "export"
	r.im.setPhase(fmt.Sprintf("verifying: exporting %s (about %d contacts)", what, size))
	var cols []string
	for _, f := range js.fields {
		if fl, ok := ctct.LookupField(f); ok && f != "EmailAddress" {
			cols = append(cols, fl.Bulk)
		}
	}
	x := &ctct.ExportOptions{List: list, FileType: ctct.FileTypeCSV, SortBy: ctct.SortByEmail, ListNames: r.lists.lists != nil, Columns: cols}
	a, err := js.createExport(x)
	if err != nil {
		return fmt.Errorf("verify: export %s: %w", what, err)
	}
	er, body, err := js.openExport(ctx, a, size, r.im.opts.Now())
	if err != nil {
		return fmt.Errorf("verify: export %s: %w", what, err)
	}
	defer body.Close()
	var batch []*ctct.ExportRow
	for {
		x, err := er.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("verify: job %s: %w", a.Key(), err)
		}
		batch = append(batch, x)
		if len(batch) == verifyBatch {
			if err := r.checkBatch(ctx, batch, names); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := r.checkBatch(ctx, batch, names); err != nil {
		return err
	}
	return r.notInAccount(ctx, what)
}

// notInAccount fails the rows the verification did not find the contact
// of (among what it looked at).
func (r *run) notInAccount(ctx context.Context, what string) error {
	st := r.st
	wctx := context.WithoutCancel(ctx)
	return st.tx(wctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(wctx, `UPDATE rows SET outcome = ?, run = ?, reason = CASE job_state
				WHEN ? THEN reason || ', and the contact is not among ' || ? || ': not applied; import the row again'
				ELSE 'verification: after its bulk job, the contact is not among ' || ? END
			WHERE path = ? AND outcome = '' AND job_state IN (?, ?)`,
			statusFailed, st.run, jobUncertain, what, what, pathJob, jobApplied, jobUncertain)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		n, _ := res.RowsAffected()
		r.im.counts.finishBulk(n)
		return nil
	})
}

// checkRow is a row the verification checks, or (settled) a row of the
// same email already applied, whose values stand in the account unless a
// later row's replaced them.
type checkRow struct {
	seq     int64
	task    *rowTask
	email   string
	state   int
	base    bool
	reason  string
	settled bool
}

// checkLoad is the most rows one lookup of the store loads for a batch of
// export rows: an email with more rows (a file that repeats a few emails)
// is checked by streaming its rows from the store.
const checkLoad = 5000

// checkBatch checks the rows of the emails of a batch of export rows.
func (r *run) checkBatch(ctx context.Context, batch []*ctct.ExportRow, names map[string][]string) error {
	if len(batch) == 0 {
		return nil
	}
	byEmail := make(map[string]*ctct.ExportRow, len(batch))
	emails := make([]string, 0, len(batch))
	for _, x := range batch {
		e := strings.ToLower(strings.TrimSpace(x.EmailAddress))
		byEmail[e] = x
		emails = append(emails, e)
	}
	rows, err := r.rowsToCheck(ctx, `email IN (?`+strings.Repeat(",?", len(emails)-1)+`)`, anys(emails), 0, checkLoad+1)
	if err != nil {
		return err
	}
	out := &verdicts{st: r.st, im: r.im}
	cut := "" // rows of this email on are not all loaded
	if len(rows) > checkLoad {
		cut = rows[len(rows)-1].email
	}
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].email == rows[start].email {
			end++
		}
		group := rows[start:end]
		start = end
		if cut != "" && group[0].email >= cut {
			break
		}
		if err := r.checkEmail(ctx, group[0].email, exportView{byEmail[group[0].email], names}, group, out); err != nil {
			return err
		}
	}
	if cut == "" {
		return out.flush(ctx)
	}
	slices.Sort(emails)
	for _, e := range emails {
		if e >= cut {
			if err := r.checkEmail(ctx, e, exportView{byEmail[e], names}, nil, out); err != nil {
				return err
			}
		}
	}
	return out.flush(ctx)
}

// checkChunk is the rows of one email checkEmail reads at once.
const checkChunk = 2000

// lastValue is the last value a field was sent for an email, and by which
// row.
type lastValue struct {
	seq     int64
	value   string
	settled bool
}

// checkEmail checks the rows of one email against the account's row x:
// every value a row was the last of its email to send must be there, and
// every list it named. The rows are group when loaded, else streamed from
// the store in two passes (the last senders first). Applied rows get
// their outcome: created for the first when the account did not have the
// email, updated otherwise; rows not as sent fail with what differs. The
// outcomes go to out, which the caller flushes.
func (r *run) checkEmail(ctx context.Context, email string, x accountView, group []*checkRow, out *verdicts) error {
	each := func(f func([]*checkRow) error) error {
		if group != nil {
			return f(group)
		}
		for after := int64(0); ; {
			chunk, err := r.rowsToCheck(ctx, "email = ?", []any{email}, after, checkChunk)
			if err != nil || len(chunk) == 0 {
				return err
			}
			after = chunk[len(chunk)-1].seq
			if err := f(chunk); err != nil {
				return err
			}
		}
	}
	last := map[string]lastValue{}
	first := int64(-1)
	err := each(func(rows []*checkRow) error {
		for _, c := range rows {
			if first < 0 {
				first = c.seq
			}
			if c.task.rec == nil {
				continue
			}
			for _, f := range r.jobs.fields {
				if v := bulkValue(c.task.rec, f); v != "" {
					last[f] = lastValue{seq: c.seq, value: v, settled: c.settled}
				}
			}
		}
		return nil
	})
	if err != nil || first < 0 {
		return err
	}
	fails := map[int64]string{}
	for _, f := range r.jobs.fields {
		lv, ok := last[f]
		if !ok || lv.settled {
			continue // the value stands from a row settled before, not checked here
		}
		if got := x.Get(f); normalizeValue(f, got) != normalizeValue(f, lv.value) {
			if _, already := fails[lv.seq]; !already {
				fails[lv.seq] = fmt.Sprintf("%s is %q in the account, %q was sent", f, got, lv.value)
			}
		}
	}
	// Every applied row of the email before first would be among the
	// rows (settled), so none was: applied starts false.
	applied := false
	return each(func(rows []*checkRow) error {
		for _, c := range rows {
			if c.settled {
				applied = true
				continue
			}
			why, bad := fails[c.seq]
			if !bad {
				for _, l := range c.task.lists {
					if known, on := x.OnList(l.ID); known && !on {
						why, bad = fmt.Sprintf("the contact is not on list %s", ctct.Number(l.ID)), true
						break
					}
				}
			}
			if bad {
				reason := "verification: after its bulk job, " + why
				if c.state == jobUncertain {
					reason = fmt.Sprintf("%s, and %s: not applied as sent; import the row again", c.reason, why)
				}
				out.add(c.seq, statusFailed, reason)
				continue
			}
			outcome := statusUpdated
			if !c.base && !applied {
				outcome = statusCreated
			}
			applied = true
			out.add(c.seq, outcome, "")
			r.im.counts.verified.Add(1)
		}
		if len(out.list) >= checkChunk { // an email of many rows, streamed
			return out.flush(ctx)
		}
		return nil
	})
}

// verdicts are the outcomes the verification gave rows, written to the
// store together (one transaction for a batch of emails, not one each).
type verdicts struct {
	st   *store
	im   *Importer
	list []verdict
}

// verdict is one row's outcome and reason.
type verdict struct {
	seq             int64
	outcome, reason string
}

func (v *verdicts) add(seq int64, outcome, reason string) {
	v.list = append(v.list, verdict{seq, outcome, reason})
}

// flush writes the outcomes given so far, in one transaction, and counts
// their rows finished.
func (v *verdicts) flush(ctx context.Context) error {
	if len(v.list) == 0 {
		return nil
	}
	wctx := context.WithoutCancel(ctx)
	err := v.st.tx(wctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(wctx, "UPDATE rows SET outcome = ?, reason = ?, run = ? WHERE seq = ?")
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		defer up.Close()
		for _, res := range v.list {
			if _, err := up.ExecContext(wctx, res.outcome, res.reason, v.st.run, res.seq); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		v.im.counts.finishBulk(int64(len(v.list)))
		return nil
	})
	v.list = v.list[:0]
	return err
}

// rowsToCheck returns up to limit rows the jobs applied or left uncertain,
// with the rows of the same emails applied before, that match where (a
// condition on email) after sequence number after, by email then file
// order.
func (r *run) rowsToCheck(ctx context.Context, where string, args []any, after int64, limit int) ([]*checkRow, error) {
	// INDEXED BY: with a few hundred emails in where, SQLite's planner
	// otherwise takes rows_open for the OR and scans every open row of
	// the run for each batch (40 times slower at 100,000 rows).
	q := `SELECT seq, file, line, email, cells, job_state, base_exists, reason, outcome != '' FROM rows INDEXED BY rows_email
		WHERE ` + where + ` AND seq > ? AND (path = ? AND outcome = '' AND job_state IN (?, ?) OR outcome IN (?, ?))
		ORDER BY email, seq LIMIT ?`
	args = append(args, after, pathJob, jobApplied, jobUncertain, statusCreated, statusUpdated, limit)
	rows, err := r.st.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var out []*checkRow
	var pend []*pendingRow
	for rows.Next() {
		c := &checkRow{}
		p := &pendingRow{}
		var cells []byte
		if err := rows.Scan(&c.seq, &p.file, &p.line, &c.email, &cells, &c.state, &c.base, &c.reason, &c.settled); err != nil {
			rows.Close()
			return nil, fmt.Errorf("journal: %w", err)
		}
		if p.cells, err = decodeCells(cells); err != nil {
			rows.Close()
			return nil, err
		}
		p.seq = c.seq
		out = append(out, c)
		pend = append(pend, p)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	for i, p := range pend {
		t, failed, err := r.task(p)
		if err != nil {
			return nil, err
		}
		if failed != nil {
			t = &rowTask{seq: p.seq, line: p.line}
		}
		out[i].task = t
	}
	return out, nil
}

// bulkValue is the value of field the row's job carried.
func bulkValue(rec *mapping.Record, field string) string {
	f, ok := ctct.LookupField(field)
	if !ok {
		return ""
	}
	return f.Get(&rec.Contact)
}

// normalizeValue is a value as the verification compares it: trimmed as
// the server trims cells, line breaks as LF, and case folded where the
// field's values are codes or an enumeration (or an email address).
func normalizeValue(field, v string) string {
	v = strings.TrimSpace(v)
	if strings.ContainsRune(v, '\r') {
		v = strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", "\n"), "\r", "\n")
	}
	switch field {
	case "EmailAddress", "EmailType", "StateCode", "CountryCode":
		return strings.ToLower(v)
	}
	return v
}

// accountChanges looks for what changed in the account while the run ran
// and this run cannot check: a list of the jobs renamed or deleted (the
// lists are read again: the export names lists), another tool's job, a
// contact whose status moved while the plan exported. It returns the list
// names to check memberships by (nil when they cannot be checked) and
// adds what it found to the run's notes.
func (r *run) accountChanges(ctx context.Context) (map[string][]string, error) {
	js := r.jobs
	var conflicts int64
	if err := r.st.db.QueryRowContext(ctx, "SELECT count(*) FROM account WHERE conflict = 1").Scan(&conflicts); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if conflicts > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%d contacts changed status while the plan exported the account: their rows were decided by the contacts collection", conflicts))
	}
	if feed, err := js.bc.Activities().Next(js.work); err == nil {
		ours, err := r.st.jobIDs(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range feed.Activities {
			if a.Type == ctct.ActivityExportContacts || ours[a.Key()] || a.InsertTime < js.started.UTC().Format("2006-01-02T15:04:05") {
				continue
			}
			r.notes = append(r.notes, fmt.Sprintf("another tool's %s job (%s) ran during this run: the verification found the account as it left it", a.Type, a.Key()))
		}
	}
	if r.lists.lists == nil {
		return nil, nil
	}
	now, err := r.im.client.Lists(js.work)
	if err != nil {
		return nil, fmt.Errorf("verify: read the account's lists again: %w", err)
	}
	r.listsNow = now
	before := map[string]string{}
	for _, l := range r.lists.lists {
		before[ctct.Number(l.ID)] = l.Name
	}
	after := map[string]string{}
	for _, l := range now {
		after[ctct.Number(l.ID)] = l.Name
	}
	changed := false
	for n, name := range before {
		switch got, ok := after[n]; {
		case !ok:
			r.notes = append(r.notes, fmt.Sprintf("list %s (%q) was deleted during the run: the jobs' memberships of it could not be checked", n, name))
			changed = true
		case got != name:
			r.notes = append(r.notes, fmt.Sprintf("list %s was renamed from %q to %q during the run: memberships were checked under its new name", n, name, got))
			changed = true
		}
	}
	if !changed {
		return js.names, nil
	}
	return ctct.ListsByName(now, func(l ctct.List) string { return r.im.client.ListURI(ctct.Number(l.ID)) }), nil
}

// jobIDs are the server's ids of this store's jobs.
func (st *store) jobIDs(ctx context.Context) (map[string]bool, error) {
	rows, err := st.db.QueryContext(ctx, "SELECT activity FROM jobs WHERE activity != ''")
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// hasName reports whether a list id is among the lists names maps (a list
// deleted during the run is not: its export would be refused).
func hasName(names map[string][]string, id string) bool {
	for _, ids := range names {
		if hasString(ids, id) {
			return true
		}
	}
	return false
}

// accountView is a contact as the verification sees it: a row of an
// export file, or a contact read by a GET.
type accountView interface {
	Get(field string) string
	// OnList says whether the contact is on the list (an id URI), and
	// whether that is known.
	OnList(id string) (known, on bool)
}

// exportView is a row of an export file; names maps its list columns to
// ids (nil: memberships cannot be checked).
type exportView struct {
	x     *ctct.ExportRow
	names map[string][]string
}

func (v exportView) Get(field string) string { return v.x.Get(field) }

func (v exportView) OnList(id string) (bool, bool) {
	if v.names == nil {
		return false, false
	}
	for _, n := range v.x.Lists {
		if hasString(v.names[n], id) {
			return true, true
		}
	}
	return true, false
}

// contactView is a contact read by a GET.
type contactView struct{ c *ctct.Contact }

func (v contactView) Get(field string) string {
	f, ok := ctct.LookupField(field)
	if !ok {
		return ""
	}
	return f.Get(v.c)
}

func (v contactView) OnList(id string) (bool, bool) { return true, v.c.HasList(id) }

// emailsToCheck counts the emails of the rows the jobs applied or left
// uncertain.
func (st *store) emailsToCheck(ctx context.Context) (int64, error) {
	var n int64
	err := st.db.QueryRowContext(ctx, `SELECT count(DISTINCT email) FROM rows WHERE path = ? AND outcome = '' AND job_state IN (?, ?)`,
		pathJob, jobApplied, jobUncertain).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

// verifyByLookup checks the rows the jobs applied or left uncertain by
// looking their emails up (50 a request) and reading each contact: for a
// few rows in a big account, cheaper than an export of it.
func (r *run) verifyByLookup(ctx context.Context) error {
	r.im.setPhase("verifying: looking the rows' contacts up")
	work := r.jobs.work
	after := ""
	for {
		emails, err := r.st.nextEmailsToCheck(ctx, after, batchSize)
		if err != nil || len(emails) == 0 {
			return err
		}
		after = emails[len(emails)-1]
		found, err := r.im.client.SearchEmails(work, emails)
		if err != nil {
			return fmt.Errorf("verify: look up %d emails: %w", len(emails), err)
		}
		out := &verdicts{st: r.st, im: r.im}
		for i := range found {
			c, err := r.im.client.GetContact(work, found[i].ID)
			if errors.Is(err, ctct.ErrNotFound) {
				continue // gone meanwhile: its rows fail as not in the account
			}
			if err != nil {
				return fmt.Errorf("verify: read %s: %w", found[i].EmailAddress, err)
			}
			if err := r.checkEmail(ctx, strings.ToLower(c.EmailAddress), contactView{c}, nil, out); err != nil {
				return err
			}
		}
		if err := out.flush(ctx); err != nil {
			return err
		}
	}
}

// nextEmailsToCheck returns up to limit emails, after after in order, of
// the rows the jobs applied or left uncertain.
func (st *store) nextEmailsToCheck(ctx context.Context, after string, limit int) ([]string, error) {
	return st.queryStrings(ctx, `SELECT DISTINCT email FROM rows WHERE path = ? AND outcome = '' AND job_state IN (?, ?) AND email > ?
		ORDER BY email LIMIT ?`, pathJob, jobApplied, jobUncertain, after, limit)
}
