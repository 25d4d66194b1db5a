package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"ctctbulk/ctct"
)

// Stage 4, reconcile: when a job ends, each of its rows gets what the
// server says of it: applied, failed (an Error for its line, whose email
// must be the row's), or uncertain when the answer does not add up (the
// job ended in ERROR, Errors given as a count, a TransactionCount that
// does not match, an Error on a line that starts no row or names another
// email). Uncertain rows are never assumed: the verification checks them
// whatever --verify says. A row's outcome label is decided by what the
// rows before it did: created when no earlier row of its email was
// applied and the account did not have it.

// reconcile records what an ended job did to each of its rows.
func (js *jobSender) reconcile(ctx context.Context, pj *postedJob, a *ctct.Activity) error {
	ctx = context.WithoutCancel(ctx)
	st := js.r.st
	key := a.Key()
	uncertain := func(why string) error {
		return st.tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "UPDATE rows SET job_state = ?, reason = ? WHERE job = ? AND outcome = ''", jobUncertain, why, pj.seq)
			if err != nil {
				return fmt.Errorf("journal: %w", err)
			}
			return endJob(ctx, tx, pj.seq)
		})
	}
	if a.Status == ctct.ActivityError {
		return uncertain(fmt.Sprintf("bulk job %s ended in ERROR", key))
	}
	if a.ErrorCount > len(a.Errors) {
		return uncertain(fmt.Sprintf("bulk job %s gave its errors as a count (%d), not by line", key, a.ErrorCount))
	}
	failed := map[int64]string{}
	for _, e := range a.Errors {
		seq, ok, err := js.errorRow(ctx, pj.seq, e)
		if err != nil {
			return err
		}
		if !ok {
			js.im.opts.Warnf("bulk job %s reports an error on data line %d (%s) that no row of it matches: its rows are checked against the account", key, e.LineNumber, e.EmailAddress)
			return uncertain(fmt.Sprintf("bulk job %s reported an error this run cannot place (line %d, %s)", key, e.LineNumber, e.EmailAddress))
		}
		failed[seq] = fmt.Sprintf("bulk job %s: %s", key, e.Message)
	}
	if want := pj.rows - len(failed); a.TransactionCount != want {
		js.im.opts.Warnf("bulk job %s applied %d rows, %d were expected: its rows are checked against the account", key, a.TransactionCount, want)
		return uncertain(fmt.Sprintf("bulk job %s applied %d rows, %d were expected", key, a.TransactionCount, want))
	}
	err := st.tx(ctx, func(tx *sql.Tx) error {
		fail, err := tx.PrepareContext(ctx, "UPDATE rows SET job_state = ?, outcome = ?, reason = ?, run = ? WHERE seq = ? AND outcome = ''")
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		defer fail.Close()
		for seq, reason := range failed {
			if _, err := fail.ExecContext(ctx, jobFailed, statusFailed, reason, st.run, seq); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
			js.im.counts.finishBulk(1)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE rows SET job_state = ? WHERE job = ? AND outcome = '' AND job_state = ?", jobApplied, pj.seq, jobPending); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		return endJob(ctx, tx, pj.seq)
	})
	if err != nil || !js.im.opts.NoVerify {
		return err
	}
	// Not verified: the server's word settles the applied rows.
	return js.labelApplied(ctx, pj.seq)
}

// endJob marks a job ended in the store.
func endJob(ctx context.Context, tx *sql.Tx, job int64) error {
	if _, err := tx.ExecContext(ctx, "UPDATE jobs SET state = ? WHERE seq = ?", jobEnded, job); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// errorRow finds the row of a job an Error is about: the row starting at
// its LineNumber when the emails agree (or the Error names none), else the
// job's one row of the Error's email. ok is false when no row, or more
// than one, can be it.
func (js *jobSender) errorRow(ctx context.Context, job int64, e ctct.ActivityRowError) (int64, bool, error) {
	db := js.r.st.db
	var seq int64
	var email string
	err := db.QueryRowContext(ctx, "SELECT seq, email FROM rows WHERE job = ? AND data_line = ?", job, e.LineNumber).Scan(&seq, &email)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return 0, false, fmt.Errorf("journal: %w", err)
	case e.EmailAddress == "" || strings.EqualFold(strings.TrimSpace(e.EmailAddress), email):
		return seq, true, nil
	}
	if e.EmailAddress == "" {
		return 0, false, nil
	}
	// By email: the planner would otherwise walk the job's rows (rows_job)
	// for each error.
	rows, err := db.QueryContext(ctx, "SELECT seq FROM rows INDEXED BY rows_email WHERE email = ? AND job = ? LIMIT 2", strings.ToLower(strings.TrimSpace(e.EmailAddress)), job)
	if err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	var found []int64
	for rows.Next() {
		if err := rows.Scan(&seq); err != nil {
			return 0, false, fmt.Errorf("journal: %w", err)
		}
		found = append(found, seq)
	}
	if len(found) != 1 {
		return 0, false, rows.Err()
	}
	return found[0], true, rows.Err()
}

// labelApplied gives the applied rows of a job their outcome: created
// when the account did not have the email and no earlier row of it was
// applied, updated otherwise.
func (js *jobSender) labelApplied(ctx context.Context, job int64) error {
	st := js.r.st
	rows, err := st.db.QueryContext(ctx, "SELECT seq, email, base_exists FROM rows WHERE job = ? AND outcome = '' AND job_state = ? ORDER BY seq", job, jobApplied)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	type applied struct {
		seq   int64
		email string
		base  bool
	}
	var all []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.seq, &a.email, &a.base); err != nil {
			rows.Close()
			return fmt.Errorf("journal: %w", err)
		}
		all = append(all, a)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	outcomes := make([]string, len(all))
	seen := map[string]bool{}
	for i, a := range all {
		outcomes[i] = statusUpdated
		if !a.base && !seen[a.email] {
			earlier, err := st.appliedBefore(ctx, a.email, a.seq)
			if err != nil {
				return err
			}
			if !earlier {
				outcomes[i] = statusCreated
			}
		}
		seen[a.email] = true
	}
	return st.tx(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, "UPDATE rows SET outcome = ?, reason = '', run = ? WHERE seq = ?")
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		defer up.Close()
		for i, a := range all {
			if _, err := up.ExecContext(ctx, outcomes[i], st.run, a.seq); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		js.im.counts.finishBulk(int64(len(all)))
		return nil
	})
}

// appliedBefore reports whether a row of email before seq was applied by
// a job.
func (st *store) appliedBefore(ctx context.Context, email string, seq int64) (bool, error) {
	var n int
	err := st.db.QueryRowContext(ctx, "SELECT count(*) FROM rows WHERE email = ? AND seq < ? AND path = ? AND outcome IN (?, ?)",
		email, seq, pathJob, statusCreated, statusUpdated).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	return n > 0, nil
}

// settleDependents ends the rows whose decision rested on an earlier row
// of the same email sent in a job: as decided when that row was applied;
// otherwise through the contacts collection, which decides them against
// the account as it is, unless a later row of the email was applied
// since (its row would then undo the later one: it fails, saying so).
func (r *run) settleDependents(ctx context.Context) error {
	st := r.st
	return st.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE rows SET outcome = class, class = '', run = ?
			WHERE path = ? AND outcome = '' AND EXISTS (SELECT 1 FROM rows d WHERE d.seq = rows.dep AND d.outcome IN (?, ?, ?))`,
			st.run, pathSettled, statusCreated, statusUpdated, statusUnchanged)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		n, _ := res.RowsAffected()
		r.im.counts.done.Add(n)
		res, err = tx.ExecContext(ctx, `UPDATE rows SET outcome = ?, reason = ?, run = ?
			WHERE path = ? AND outcome = '' AND dep IS NOT NULL AND EXISTS (SELECT 1 FROM rows l WHERE l.email = rows.email AND l.seq > rows.seq
				AND l.path = ? AND l.outcome IN (?, ?))`,
			statusFailed, reasonUndone, st.run, pathSettled, pathJob, statusCreated, statusUpdated)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		n, _ = res.RowsAffected()
		r.im.counts.done.Add(n)
		_, err = tx.ExecContext(ctx, `UPDATE rows SET path = ?, class = '', reason = '', dep = NULL WHERE path = ? AND outcome = '' AND dep IS NOT NULL`,
			pathContacts, pathSettled)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		return nil
	})
}

// reasonUndone fails a row whose earlier row of the same email was not
// applied as planned after a later row of that email was.
const reasonUndone = "its earlier row of the same email was not applied as sent, and a later row of it was: importing this row now would undo the later one; import it again alone if it still matters"
