package sandbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"ctctbulk/ctct"
)

// The activities tables live beside the contacts in the same store, so
// that a job's writes are the collection's and the other way round, and
// so that a sandbox opened again on its file finishes an unfinished job.
const activitySchema = `
CREATE TABLE IF NOT EXISTS activities (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	id TEXT NOT NULL UNIQUE,
	type TEXT NOT NULL,
	status TEXT NOT NULL,
	lists TEXT NOT NULL,
	data TEXT NOT NULL,
	export TEXT NOT NULL,
	file_name TEXT NOT NULL DEFAULT '',
	done INTEGER NOT NULL DEFAULT 0,
	tx_count INTEGER NOT NULL DEFAULT 0,
	run_start TEXT NOT NULL DEFAULT '',
	run_finish TEXT NOT NULL DEFAULT '',
	insert_time TEXT NOT NULL,
	updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_status ON activities(status, seq);
CREATE TABLE IF NOT EXISTS activity_errors (
	seq INTEGER NOT NULL,
	line INTEGER NOT NULL,
	email TEXT NOT NULL,
	message TEXT NOT NULL,
	PRIMARY KEY (seq, line)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity_export (
	seq INTEGER NOT NULL,
	n INTEGER NOT NULL,
	contact_id INTEGER NOT NULL,
	added TEXT NOT NULL,
	source TEXT NOT NULL,
	PRIMARY KEY (seq, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity_chunks (
	seq INTEGER NOT NULL,
	n INTEGER NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (seq, n)
) WITHOUT ROWID;
`

// migrateActivities creates the activities tables when they are missing
// (a store made before they existed gains them).
func (st *store) migrateActivities(ctx context.Context) error {
	return st.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, activitySchema); err != nil {
			return fmt.Errorf("create activities schema: %w", err)
		}
		return nil
	})
}

// resetActivities forgets every activity.
func (st *store) resetActivities(ctx context.Context) error {
	return st.write(ctx, func(tx *sql.Tx) error {
		for _, t := range []string{"activities", "activity_errors", "activity_export", "activity_chunks"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
				return fmt.Errorf("reset %s: %w", t, err)
			}
		}
		return nil
	})
}

// exportSpec is the stored form of an export job's parameters.
type exportSpec struct {
	List      string   `json:"list"` // "active", "removed", "do-not-mail" or a list number
	FileType  string   `json:"file_type"`
	DateAdded bool     `json:"date_added"`
	Source    bool     `json:"source"`
	ListNames bool     `json:"list_names"`
	SortBy    string   `json:"sort_by"`
	Columns   []string `json:"columns"` // contact field names, table order
	// ListIDs are the user lists whose columns the file has, fixed when the
	// job starts.
	ListIDs []int64 `json:"list_ids,omitempty"`
}

// jobRow is a stored activity.
type jobRow struct {
	Seq        int64
	ID         string
	Type       string // as reported
	Status     string
	Lists      []int64
	Data       string
	Export     exportSpec
	FileName   string
	Done       int
	TxCount    int
	RunStart   string
	RunFinish  string
	InsertTime string
	Updated    string
	Errors     []ctct.ActivityRowError
}

const jobColumns = "seq, id, type, status, lists, data, export, file_name, done, tx_count, run_start, run_finish, insert_time, updated"

// jobSelect is jobColumns, with an empty text in place of the data (up to
// 4 MiB) unless withData.
func jobSelect(withData bool) string {
	if withData {
		return jobColumns
	}
	return strings.Replace(jobColumns, "data,", "'',", 1)
}

func scanJob(sc interface{ Scan(...any) error }, withData bool) (*jobRow, error) {
	var j jobRow
	var lists, export string
	var data sql.NullString
	if err := sc.Scan(&j.Seq, &j.ID, &j.Type, &j.Status, &lists, &data, &export, &j.FileName, &j.Done, &j.TxCount,
		&j.RunStart, &j.RunFinish, &j.InsertTime, &j.Updated); err != nil {
		return nil, err
	}
	if withData {
		j.Data = data.String
	}
	for _, f := range strings.Fields(lists) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("activity %s: bad list %q", j.ID, f)
		}
		j.Lists = append(j.Lists, n)
	}
	if export != "" {
		if err := json.Unmarshal([]byte(export), &j.Export); err != nil {
			return nil, fmt.Errorf("activity %s: export options: %w", j.ID, err)
		}
	}
	return &j, nil
}

func joinLists(ls []int64) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = strconv.FormatInt(l, 10)
	}
	return strings.Join(parts, " ")
}

// getJob loads an activity by id (without its data when withData is
// false), with its errors, or errNotFound.
func getJob(ctx context.Context, tx *sql.Tx, id string, withData bool) (*jobRow, error) {
	j, err := scanJob(tx.QueryRowContext(ctx, "SELECT "+jobSelect(withData)+" FROM activities WHERE id = ?", id), withData)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read activity %s: %w", id, err)
	}
	if j.Errors, err = jobErrors(ctx, tx, j.Seq); err != nil {
		return nil, err
	}
	return j, nil
}

func jobErrors(ctx context.Context, tx *sql.Tx, seq int64) ([]ctct.ActivityRowError, error) {
	rows, err := tx.QueryContext(ctx, "SELECT line, email, message FROM activity_errors WHERE seq = ? ORDER BY line", seq)
	if err != nil {
		return nil, fmt.Errorf("read activity errors: %w", err)
	}
	defer rows.Close()
	var out []ctct.ActivityRowError
	for rows.Next() {
		var e ctct.ActivityRowError
		if err := rows.Scan(&e.LineNumber, &e.EmailAddress, &e.Message); err != nil {
			return nil, fmt.Errorf("read activity errors: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read activity errors: %w", err)
	}
	return out, nil
}

// --- the runner ---------------------------------------------------------------

// runnerPoll is the longest the runner sleeps before it looks at the store
// and the clock again while a job waits for its queue time (so that a
// test clock moved forward is noticed).
const runnerPoll = 20 * time.Millisecond

// runner runs the stored activities one at a time, oldest first, in a
// goroutine of its own that stop ends. Safe for concurrent use.
type runner struct {
	s      *Sandbox
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func startRunner(s *Sandbox) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{s: s, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go r.loop(ctx)
	return r
}

// kick tells the runner that a job was created.
func (r *runner) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// stop ends the runner and waits for it; a job in progress stops between
// two batches (each batch is one transaction) and resumes when a sandbox
// opens the store again.
func (r *runner) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}

func (r *runner) loop(ctx context.Context) {
	defer close(r.done)
	for ctx.Err() == nil {
		wait, err := r.s.runNext(ctx)
		if err != nil && ctx.Err() == nil {
			r.s.logf("sandbox: activity runner: %v", err)
			wait = time.Second
		}
		if wait == 0 {
			continue // more to do
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// runNext runs the oldest unfinished job when its queue time is over. It
// returns how long to wait before looking again: 0 after running a job,
// runnerPoll (or less) while the oldest job waits, an hour when there is
// no job (a new one kicks the runner).
func (s *Sandbox) runNext(ctx context.Context) (time.Duration, error) {
	var j *jobRow
	err := s.st.read(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM activities WHERE status IN (?, ?, ?) ORDER BY seq LIMIT 1",
			ctct.ActivityPending, ctct.ActivityQueued, ctct.ActivityRunning)
		var err error
		j, err = scanJob(row, true)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Hour, nil
	}
	if err != nil {
		return 0, fmt.Errorf("next activity: %w", err)
	}
	if j.Status == ctct.ActivityPending {
		ins, err := time.Parse(timeLayout, j.InsertTime)
		if err != nil {
			return 0, fmt.Errorf("activity %s: insert time: %w", j.ID, err)
		}
		if left := ins.Add(s.cfg.ActivityDelay).Sub(s.cfg.Now()); left > 0 {
			return min(left, runnerPoll), nil
		}
	}
	if err := s.runJob(ctx, j); err != nil {
		return 0, fmt.Errorf("activity %s: %w", j.ID, err)
	}
	return 0, nil
}

// errGone stops a job whose activity was deleted under it (a reset).
var errGone = errors.New("activity gone")

// batchSize is the rows of one transaction: 50 ms worth at the rate,
// between 1 and 500.
func (s *Sandbox) batchSize() int {
	if s.cfg.ActivityRate <= 0 {
		return 500
	}
	return min(max(int(s.cfg.ActivityRate/20), 1), 500)
}

// runJob runs one job to its end, batch by batch: each batch is applied,
// and the job's progress recorded, in one transaction, so that a job
// stopped between two batches resumes exactly where it was.
func (s *Sandbox) runJob(ctx context.Context, j *jobRow) error {
	if j.Status == ctct.ActivityPending {
		failed, err := s.startJob(ctx, j)
		if err != nil || failed {
			return err
		}
	}
	var recs []ctct.BulkRecord
	var cols []ctct.Field
	if j.Data != "" {
		var err error
		cols, recs, err = ctct.ParseBulkData([]byte(j.Data))
		if err != nil { // checked when the job was created
			return s.failJob(ctx, j, fmt.Errorf("data: %w", err))
		}
	}
	for {
		start := time.Now()
		n := s.batchSize()
		var finished bool
		err := s.st.write(ctx, func(tx *sql.Tx) error {
			var cur struct {
				status string
				done   int
			}
			err := tx.QueryRowContext(ctx, "SELECT status, done FROM activities WHERE seq = ?", j.Seq).Scan(&cur.status, &cur.done)
			if errors.Is(err, sql.ErrNoRows) {
				return errGone
			}
			if err != nil {
				return fmt.Errorf("read progress: %w", err)
			}
			if cur.status != ctct.ActivityRunning {
				return errGone
			}
			j.Done = cur.done
			now := s.stamp()
			var applied, processed int
			switch {
			case ctct.IsAddActivity(j.Type) || j.Type == ctct.ActivityRemoveFromLists:
				applied, processed, err = s.applyRows(ctx, tx, j, cols, recs, n, now)
				finished = j.Done+processed >= len(recs)
			case j.Type == ctct.ActivityClearLists:
				applied, err = s.clearBatch(ctx, tx, j, n, now)
				processed = applied
				finished = applied == 0
			case j.Type == ctct.ActivityExportContacts:
				applied, err = s.exportBatch(ctx, tx, j, n)
				processed = applied
				finished = applied < n
			default:
				err = fmt.Errorf("unknown type %q", j.Type)
			}
			if err != nil {
				return err
			}
			j.Done += processed
			j.TxCount += applied
			status, finish, file := ctct.ActivityRunning, "", ""
			if finished {
				status, finish = ctct.ActivityComplete, now
				if ctct.IsAddActivity(j.Type) && s.cfg.JobFaults.ErrorAfterApply && s.cfg.JobFaults.failing(j.Data) {
					// Applied, and yet said ERROR (an ERROR job lists no Error).
					status = ctct.ActivityError
					if _, err := tx.ExecContext(ctx, "DELETE FROM activity_errors WHERE seq = ?", j.Seq); err != nil {
						return fmt.Errorf("fault: %w", err)
					}
				}
				if j.Type == ctct.ActivityExportContacts {
					file = j.ID + "." + strings.ToLower(j.Export.FileType)
					if _, err := tx.ExecContext(ctx, "DELETE FROM activity_export WHERE seq = ?", j.Seq); err != nil {
						return fmt.Errorf("drop export order: %w", err)
					}
				}
			}
			_, err = tx.ExecContext(ctx, "UPDATE activities SET done = ?, tx_count = tx_count + ?, status = ?, run_finish = ?, file_name = ?, updated = ? WHERE seq = ?",
				j.Done, applied, status, finish, file, now, j.Seq)
			if err != nil {
				return fmt.Errorf("record progress: %w", err)
			}
			return nil
		})
		if errors.Is(err, errGone) {
			return nil
		}
		if err != nil {
			return err
		}
		if s.cfg.afterBatch != nil {
			s.cfg.afterBatch(ctx, j.ID, j.Done)
		}
		if finished {
			return nil
		}
		if err := s.pace(ctx, n, time.Since(start)); err != nil {
			return nil // stopped: the job resumes when the runner starts again
		}
	}
}

// pace sleeps what is left of the time n rows take at ActivityRate.
func (s *Sandbox) pace(ctx context.Context, n int, spent time.Duration) error {
	if s.cfg.ActivityRate <= 0 {
		return ctx.Err()
	}
	want := time.Duration(float64(n) / s.cfg.ActivityRate * float64(time.Second))
	return s.sleep(ctx, want-spent)
}

// startJob moves a PENDING job to RUNNING, or to ERROR when it cannot run
// at all (a list it names was deleted since): an ERROR job applied
// nothing and lists no Error rows. An export job's order of contacts and
// the file's header are fixed here.
func (s *Sandbox) startJob(ctx context.Context, j *jobRow) (failed bool, err error) {
	now := s.stamp()
	err = s.st.write(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, "SELECT status FROM activities WHERE seq = ?", j.Seq).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return errGone
		}
		if err != nil {
			return fmt.Errorf("read status: %w", err)
		}
		if status != ctct.ActivityPending {
			return errGone
		}
		for _, l := range j.Lists {
			ok, err := s.st.listExists(ctx, tx, l)
			if err != nil {
				return err
			}
			if !ok {
				failed = true
			}
		}
		if j.Type == ctct.ActivityExportContacts && !failed {
			if failed, err = s.startExport(ctx, tx, j); err != nil {
				return err
			}
		}
		if ctct.IsAddActivity(j.Type) && !s.cfg.JobFaults.ErrorAfterApply && s.cfg.JobFaults.failing(j.Data) {
			failed = true
		}
		status = ctct.ActivityRunning
		finish := ""
		if failed {
			status, finish = ctct.ActivityError, now
		}
		export, err := json.Marshal(j.Export)
		if err != nil {
			return fmt.Errorf("export options: %w", err)
		}
		_, err = tx.ExecContext(ctx, "UPDATE activities SET status = ?, run_start = ?, run_finish = ?, export = ?, updated = ? WHERE seq = ?",
			status, now, finish, string(export), now, j.Seq)
		if err != nil {
			return fmt.Errorf("start: %w", err)
		}
		j.Status, j.RunStart = status, now
		return nil
	})
	if errors.Is(err, errGone) {
		return true, nil
	}
	return failed, err
}

// failJob ends a job with ERROR.
func (s *Sandbox) failJob(ctx context.Context, j *jobRow, cause error) error {
	s.logf("sandbox: activity %s failed: %v", j.ID, cause)
	now := s.stamp()
	return s.st.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE activities SET status = ?, run_finish = ?, updated = ? WHERE seq = ?",
			ctct.ActivityError, now, now, j.Seq)
		if err != nil {
			return fmt.Errorf("fail activity: %w", err)
		}
		return nil
	})
}

// --- add and remove -----------------------------------------------------------

// applyRows applies up to n records from j.Done on, in order, and records
// the failed ones. It returns the rows applied without error and the rows
// processed.
func (s *Sandbox) applyRows(ctx context.Context, tx *sql.Tx, j *jobRow, cols []ctct.Field, recs []ctct.BulkRecord, n int, now string) (applied, processed int, err error) {
	end := min(j.Done+n, len(recs))
	for i := j.Done; i < end; i++ {
		rec := &recs[i]
		var msg string
		if j.Type == ctct.ActivityRemoveFromLists {
			msg, err = s.removeRow(ctx, tx, rec, j.Lists, now)
		} else {
			msg, err = s.addRow(ctx, tx, rec, cols, j.Lists, now)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("line %d: %w", rec.Line, err)
		}
		processed++
		if msg == "" {
			applied++
			continue
		}
		_, err = tx.ExecContext(ctx, "INSERT OR REPLACE INTO activity_errors (seq, line, email, message) VALUES (?, ?, ?, ?)",
			j.Seq, rec.Line, strings.TrimSpace(rec.Row.EmailAddress), msg)
		if err != nil {
			return 0, 0, fmt.Errorf("record error of line %d: %w", rec.Line, err)
		}
	}
	return applied, processed, nil
}

// emailField is the field table's EmailAddress, whose Check is the API's
// email rule.
var emailField = func() ctct.Field {
	f, _ := ctct.LookupField("EmailAddress")
	return f
}()

// rowMessage is the Error message of the first rule a contact breaks, or
// "". An unknown state code reads like the API's own message.
func rowMessage(c *ctct.Contact) string {
	errs := ctct.ValidateContact(c)
	if len(errs) == 0 {
		return ""
	}
	e := errs[0]
	if e.Field == "StateCode" && !strings.Contains(e.Err.Error(), "but CountryCode is") {
		// Too long, or no such code: the API says it does not know it.
		return fmt.Sprintf("Unknown US/Canadian state/prov %q", c.StateCode)
	}
	return e.Error()
}

// rowOwner is the prelude of a job row: the row's email address, trimmed
// and lower-cased, and the number of the contact that has it (0 for none).
// An invalid address is the row's Error message instead.
func (s *Sandbox) rowOwner(ctx context.Context, tx *sql.Tx, rec *ctct.BulkRecord) (email string, owner int64, msg string, err error) {
	email = strings.ToLower(strings.TrimSpace(rec.Row.EmailAddress))
	if err := emailField.Check(email, nil); err != nil {
		return "", 0, "Invalid email address: " + err.Error(), nil
	}
	// emailOwner says "look up email" and applyRows adds the line: no
	// more context here, and no address in a log.
	owner, err = s.st.emailOwner(ctx, tx, email)
	if err != nil {
		return "", 0, "", err
	}
	return email, owner, "", nil
}

// addRow applies one row of an add job (BULK.md "What an add job does to
// each row") and returns its Error message, or "" when it applied.
func (s *Sandbox) addRow(ctx context.Context, tx *sql.Tx, rec *ctct.BulkRecord, cols []ctct.Field, lists []int64, now string) (string, error) {
	email, owner, msg, err := s.rowOwner(ctx, tx, rec)
	if msg != "" || err != nil {
		return msg, err
	}
	if owner == 0 {
		c := editable(rec.Row.Contact())
		if msg := rowMessage(c); msg != "" {
			return msg, nil
		}
		c.Status = ctct.StatusActive
		c.Name = fullName(c)
		c.OptInSource, c.OptInTime = ctct.ActionByCustomer, now
		c.Confirmed = "false"
		c.InsertTime, c.LastUpdateTime = now, now
		ms := make([]membership, len(lists))
		for i, l := range lists {
			ms[i] = membership{List: l, Source: ctct.ActionByCustomer, Time: now}
		}
		_, err := s.st.insertContact(ctx, tx, c, ms)
		return "", err
	}
	old, err := s.st.getContact(ctx, tx, owner)
	if err != nil {
		return "", err
	}
	if old.C.Status == ctct.StatusDoNotMail {
		return fmt.Sprintf("%s is on the Do Not Mail list", email), nil
	}
	next := old.C
	for _, f := range cols {
		if f.Name == "EmailAddress" {
			continue
		}
		if v := rec.Row.Get(f.Name); v != "" {
			_ = next.Set(f.Name, v) // names come from the field table
		}
	}
	if msg := rowMessage(editable(&next)); msg != "" {
		return msg, nil
	}
	next.Name = fullName(&next)
	next.Status = ctct.StatusActive
	ms := append([]membership(nil), old.Lists...)
	for _, l := range lists {
		if !hasList(ms, l) {
			ms = append(ms, membership{List: l, Source: ctct.ActionByCustomer, Time: now})
		}
	}
	if s.sameText(&next, &old.C) && sameLists(ms, old.Lists) {
		return "", nil
	}
	next.LastUpdateTime = now
	return "", s.st.updateContact(ctx, tx, owner, &next, ms)
}

func hasList(ms []membership, l int64) bool {
	for _, m := range ms {
		if m.List == l {
			return true
		}
	}
	return false
}

// removeRow applies one row of a remove job: the contact leaves the lists;
// left on no list it becomes Removed.
func (s *Sandbox) removeRow(ctx context.Context, tx *sql.Tx, rec *ctct.BulkRecord, lists []int64, now string) (string, error) {
	email, owner, msg, err := s.rowOwner(ctx, tx, rec)
	if msg != "" || err != nil {
		return msg, err
	}
	if owner == 0 {
		return fmt.Sprintf("%s is not a contact of this account", email), nil
	}
	old, err := s.st.getContact(ctx, tx, owner)
	if err != nil {
		return "", err
	}
	return "", s.takeOff(ctx, tx, owner, old, lists, now)
}

// takeOff removes a stored contact from lists; a contact left on no list
// becomes Removed (a Do Not Mail contact is on none and stays as it is).
func (s *Sandbox) takeOff(ctx context.Context, tx *sql.Tx, id int64, old *contactRow, lists []int64, now string) error {
	var ms []membership
	for _, m := range old.Lists {
		drop := false
		for _, l := range lists {
			drop = drop || m.List == l
		}
		if !drop {
			ms = append(ms, m)
		}
	}
	if len(ms) == len(old.Lists) {
		return nil
	}
	next := old.C
	if len(ms) == 0 && next.Status != ctct.StatusDoNotMail {
		next.Status = ctct.StatusRemoved
	}
	next.LastUpdateTime = now
	return s.st.updateContact(ctx, tx, id, &next, ms)
}

// clearBatch takes up to n members off the job's lists and returns how
// many contacts it changed (0: the lists are empty, the job is done).
func (s *Sandbox) clearBatch(ctx context.Context, tx *sql.Tx, j *jobRow, n int, now string) (int, error) {
	if len(j.Lists) == 0 {
		return 0, nil
	}
	args := make([]any, 0, len(j.Lists)+1)
	for _, l := range j.Lists {
		args = append(args, l)
	}
	args = append(args, n)
	rows, err := tx.QueryContext(ctx, "SELECT DISTINCT contact_id FROM memberships WHERE list_id IN ("+placeholders(len(j.Lists))+") ORDER BY contact_id LIMIT ?", args...)
	if err != nil {
		return 0, fmt.Errorf("clear lists: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("clear lists: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("clear lists: %w", err)
	}
	for _, id := range ids {
		old, err := s.st.getContact(ctx, tx, id)
		if err != nil {
			return 0, err
		}
		if err := s.takeOff(ctx, tx, id, old, j.Lists, now); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
