package importer

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver

	"ctctbulk/lockfile"
)

// The run store: one SQLite file at the journal's path that holds every
// input row of a run (its lines, content digest, cells, email, what the
// plan decided, its job, its outcome and why), the bulk jobs, and what the
// plan learnt of the account. Every stage reads and writes it; nothing
// else holds a row's state. A resume reopens it and goes on; a completed
// run removes it.

// ErrJournalExists is returned when the store of an unfinished run exists
// and the run was not started with Resume.
var ErrJournalExists = errors.New("a journal of an unfinished run exists")

// ErrInputChanged is returned by a resume whose input no longer holds the
// rows its store finished: skipping them would skip other rows.
var ErrInputChanged = errors.New("the input changed since the interrupted run")

// ErrTargetMismatch is returned by a resume against another account (or
// sandbox) than the one the store's rows were sent to.
var ErrTargetMismatch = errors.New("the journal belongs to another target")

// ErrJournalLocked is returned when another run holds the store.
var ErrJournalLocked = errors.New("the journal is in use by another run")

// storeFormat is the first meta value of a store; a store of another
// format is refused with advice.
const storeFormat = "ctctbulk-store 1"

// Row paths: what the plan decided a row takes.
const (
	pathNone     = 0 // not decided yet
	pathSettled  = 1 // decided without a request (outcome, or class when it rests on an earlier row)
	pathJob      = 2 // in a bulk job
	pathContacts = 3 // through the contacts collection
)

// Row flags: what the read stage learnt of a valid row beyond its columns.
const (
	flagRemoved    = 1 // a status cell says Removed
	flagNoBulk     = 2 // a value in a field no bulk column carries (CountryName)
	flagSuperseded = 4 // an error report's row that a later row of its file set (_superseded_by)
)

// Job states of a row in a bulk job, as the server said.
const (
	jobPending   = 0 // not ended
	jobApplied   = 1 // the server says it applied
	jobFailed    = 2 // the server gave it an Error
	jobUncertain = 3 // the job's answer does not say: to be checked
)

// schema is the store's tables. rows.seq is the order of reading (the
// file's order, files one after the other); dep is the earlier row of the
// same email a decision rests on.
const schema = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (n INTEGER PRIMARY KEY, name TEXT NOT NULL, fingerprint TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,
	blank INTEGER NOT NULL DEFAULT 0);
CREATE TABLE rows (
	seq INTEGER PRIMARY KEY,
	file INTEGER NOT NULL,
	line INTEGER NOT NULL,
	end_line INTEGER NOT NULL,
	digest INTEGER NOT NULL,
	cells BLOB,
	raw TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	lists TEXT NOT NULL DEFAULT '',
	opt_out TEXT NOT NULL DEFAULT '',
	cut TEXT NOT NULL DEFAULT '',
	dropped TEXT NOT NULL DEFAULT '',
	flags INTEGER NOT NULL DEFAULT 0,
	path INTEGER NOT NULL DEFAULT 0,
	class TEXT NOT NULL DEFAULT '',
	dep INTEGER,
	base_exists INTEGER NOT NULL DEFAULT 0,
	job INTEGER,
	data_line INTEGER,
	job_state INTEGER NOT NULL DEFAULT 0,
	outcome TEXT NOT NULL DEFAULT '',
	reason TEXT NOT NULL DEFAULT '',
	run INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rows_email ON rows(email, seq);
CREATE INDEX rows_job ON rows(job, data_line);
CREATE INDEX rows_open ON rows(outcome, path, seq);
CREATE TABLE jobs (
	seq INTEGER PRIMARY KEY,
	lists TEXT NOT NULL,
	activity TEXT NOT NULL DEFAULT '',
	state INTEGER NOT NULL DEFAULT 0,
	rows INTEGER NOT NULL DEFAULT 0,
	posted TEXT NOT NULL DEFAULT ''
);
CREATE TABLE account (
	email TEXT PRIMARY KEY,
	status TEXT NOT NULL,
	lists TEXT NOT NULL,
	vals TEXT NOT NULL,
	conflict INTEGER NOT NULL DEFAULT 0,
	last INTEGER NOT NULL DEFAULT 0,
	route INTEGER NOT NULL DEFAULT 0,
	orig INTEGER NOT NULL DEFAULT 0,
	cid TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
`

// Job states in the jobs table.
const (
	jobOpen   = 0 // written before its POST; no id yet
	jobPosted = 1 // the server answered with its id
	jobEnded  = 2 // ended and reconciled
)

// store is the run store. Not safe for concurrent writes from several
// goroutines except through its methods, which take the connection in
// turn (database/sql with one connection).
type store struct {
	path string
	db   *sql.DB
	lock *lockfile.Lock
	run  int // this run's number: rows finished now carry it
}

// storeSpec is what a store is opened for.
type storeSpec struct {
	path   string
	target string
	resume bool
	// recheck starts the store over even when resuming: every row is
	// checked again against the account.
	recheck bool
}

// checkLock refuses a store another run holds, naming the holder.
func checkLock(path string) error {
	lock, err := lockfile.Acquire(path + ".lock")
	if err != nil {
		var held *lockfile.HeldError
		if errors.As(err, &held) {
			return fmt.Errorf("%w: %s is held by %s; wait for that run to end (or stop it)", ErrJournalLocked, path, held.Holder)
		}
		return fmt.Errorf("lock journal: %w", err)
	}
	return lock.Release()
}

// openStore locks and opens the store. Without resume an existing store
// is an error; with resume its target is checked against this run's.
func openStore(ctx context.Context, spec storeSpec) (*store, error) {
	lock, err := lockfile.Acquire(spec.path + ".lock")
	if err != nil {
		var held *lockfile.HeldError
		if errors.As(err, &held) {
			return nil, fmt.Errorf("%w: %s is held by %s; wait for that run to end (or stop it) before resuming", ErrJournalLocked, spec.path, held.Holder)
		}
		return nil, fmt.Errorf("lock journal: %w", err)
	}
	st, err := openLockedStore(ctx, spec)
	if err != nil {
		lock.Release()
		return nil, err
	}
	st.lock = lock
	return st, nil
}

func openLockedStore(ctx context.Context, spec storeSpec) (*store, error) {
	_, err := os.Stat(spec.path)
	exists := err == nil
	switch {
	case exists && !spec.resume:
		return nil, fmt.Errorf("%w (%s): add --resume to continue it, or delete it to start over", ErrJournalExists, spec.path)
	case exists && spec.recheck:
		if err := removeStoreFiles(spec.path); err != nil {
			return nil, err
		}
		exists = false
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if exists {
		if err := checkStoreFile(spec.path); err != nil {
			return nil, err
		}
	}
	// WAL and synchronous=NORMAL: a commit survives a killed process; the
	// page cache is bounded, so a store of millions of rows costs the run
	// a few megabytes.
	dsn := "file:" + filepath.ToSlash(spec.path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-2000)&_pragma=temp_store(FILE)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	db.SetMaxOpenConns(1)
	st := &store{path: spec.path, db: db}
	if !exists {
		if err := st.create(ctx, spec.target); err != nil {
			db.Close()
			removeStoreFiles(spec.path)
			return nil, err
		}
	} else if err := st.checkTarget(ctx, spec.target); err != nil {
		db.Close()
		return nil, err
	}
	n, err := st.nextRun(ctx)
	if err != nil {
		st.db.Close()
		return nil, err
	}
	st.run = n
	return st, nil
}

// checkStoreFile refuses a file that is not a store: the append-only
// journal of earlier versions, or anything else.
func checkStoreFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	switch {
	case n == 0:
		return nil // a run killed before its first write: SQLite takes it
	case strings.HasPrefix(string(head[:n]), "SQLite format 3"):
		return nil
	case strings.HasPrefix(string(head[:n]), "ctctbulk-journal"):
		return fmt.Errorf("%s was written by another version of ctctbulk: delete it to start over (rows already imported are then found unchanged, none is duplicated)", path)
	}
	return fmt.Errorf("%s is not a ctctbulk journal", path)
}

func (st *store) create(ctx context.Context, target string) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create journal: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create journal: %w", err)
	}
	for k, v := range map[string]string{"format": storeFormat, "target": target, "runs": "0"} {
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?)", k, v); err != nil {
			return fmt.Errorf("create journal: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create journal: %w", err)
	}
	return nil
}

// checkTarget refuses a store of another format or target.
func (st *store) checkTarget(ctx context.Context, target string) error {
	format, err := st.meta(ctx, "format")
	if err != nil || format != storeFormat {
		return fmt.Errorf("%s was written by another version of ctctbulk: delete it to start over (rows already imported are then found unchanged, none is duplicated)", st.path)
	}
	had, err := st.meta(ctx, "target")
	if err != nil {
		return err
	}
	if had != target {
		return fmt.Errorf("%w: the journal %s records rows sent to %s, and this run is for %s: run against the same target, or delete the journal to start over", ErrTargetMismatch, st.path, had, target)
	}
	return nil
}

// nextRun counts this run in the store and returns its number.
func (st *store) nextRun(ctx context.Context) (int, error) {
	v, err := st.meta(ctx, "runs")
	if err != nil {
		return 0, err
	}
	n, _ := strconv.Atoi(v)
	n++
	return n, st.setMeta(ctx, "runs", strconv.Itoa(n))
}

func (st *store) meta(ctx context.Context, key string) (string, error) {
	var v string
	err := st.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	return v, nil
}

func (st *store) setMeta(ctx context.Context, key, value string) error {
	if _, err := st.db.ExecContext(ctx, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// close keeps the store for a later --resume and releases its lock.
func (st *store) close() error {
	err := st.db.Close()
	if st.lock != nil {
		err = errors.Join(err, st.lock.Release())
		st.lock = nil
	}
	return err
}

// finish removes the store of a completed run.
func (st *store) finish() error {
	err := st.db.Close()
	err = errors.Join(err, removeStoreFiles(st.path))
	if st.lock != nil {
		err = errors.Join(err, st.lock.Release())
		st.lock = nil
	}
	return err
}

// removeStoreFiles removes a store and its WAL files.
func removeStoreFiles(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove journal: %w", errors.Join(errs...))
	}
	return nil
}

// tx runs f in one transaction.
func (st *store) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// setOutcome records a row's final outcome in this run.
func (st *store) setOutcome(ctx context.Context, seq int64, outcome, reason string) error {
	_, err := st.db.ExecContext(ctx, "UPDATE rows SET outcome = ?, reason = ?, run = ? WHERE seq = ?", outcome, reason, st.run, seq)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// fingerprint names a header in the files table.
func fingerprint(header []string) string {
	sum := sha256.Sum256([]byte(strings.Join(header, "\x1f")))
	return hex.EncodeToString(sum[:8])
}

// encodeCells packs a row's cells into one value: a count, then each cell
// with its length (uvarints).
func encodeCells(cells []string) []byte {
	n := binary.MaxVarintLen32
	for _, c := range cells {
		n += binary.MaxVarintLen32 + len(c)
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(cells)))
	for _, c := range cells {
		b = binary.AppendUvarint(b, uint64(len(c)))
		b = append(b, c...)
	}
	return b
}

// decodeCells unpacks what encodeCells packed.
func decodeCells(b []byte) ([]string, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errors.New("journal: a row's cells are damaged")
	}
	b = b[k:]
	cells := make([]string, 0, n)
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errors.New("journal: a row's cells are damaged")
		}
		cells = append(cells, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return cells, nil
}

// listNames returns the distinct ContactLists entries of the rows not
// finished, for --create-lists.
func (st *store) listNames(ctx context.Context) ([]string, error) {
	rows, err := st.db.QueryContext(ctx, "SELECT DISTINCT lists FROM rows WHERE lists != '' AND outcome = ''")
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []string
	for rows.Next() {
		var cell string
		if err := rows.Scan(&cell); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		for _, l := range strings.Split(cell, ";") {
			if l != "" && !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
		if len(out) > maxCreatedLists {
			break
		}
	}
	return out, rows.Err()
}

// finishedRows counts the rows the store holds finished or sent.
func (st *store) finishedRows(ctx context.Context) (int, error) {
	var n int
	if err := st.db.QueryRowContext(ctx, "SELECT count(*) FROM rows WHERE outcome != '' OR job IS NOT NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}
