package importer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"

	"ctctbulk/lockfile"
)

// ErrJournalExists is returned when a journal of an unfinished run exists
// and the run was not started with Resume.
var ErrJournalExists = errors.New("a journal of an unfinished run exists")

// ErrInputChanged is returned by a resume whose input no longer holds the
// rows its journal finished: skipping them by line would skip other rows.
var ErrInputChanged = errors.New("the input changed since the interrupted run")

// ErrTargetMismatch is returned by a resume against another account (or
// sandbox) than the one the journal's rows were sent to.
var ErrTargetMismatch = errors.New("the journal belongs to another target")

// ErrJournalLocked is returned when another run holds the journal.
var ErrJournalLocked = errors.New("the journal is in use by another run")

const journalMagic = "ctctbulk-journal 2"

// journal is the append-only record of finished rows: after a header line
// that names the input's header (a fingerprint) and the target, one
// "LINE DIGEST STATUS" line per row, DIGEST being a hash of the row's
// cells (or raw text), so that a resume knows each finished row by its
// content, not only by its place. Each record is one write(2) of an
// O_APPEND file, so a killed process leaves at most a torn last line,
// which is ignored on resume. A lock beside it (JOURNAL.lock) keeps a
// second run away while one runs. Safe for concurrent use.
type journal struct {
	path string
	lock *lockfile.Lock

	mu     sync.Mutex
	f      *os.File
	done   []uint64 // digest per physical line of the rows already done; 0 = not done
	n      int      // rows in done
	byKind map[string]int64
	// jobs are the bulk jobs the journal recorded (bulk path), by
	// sequence number, when opened.
	jobs map[int]*journalJob
	err  error
}

// fingerprint names a header in the journal's first line.
func fingerprint(header []string) string {
	sum := sha256.Sum256([]byte(strings.Join(header, "\x1f")))
	return hex.EncodeToString(sum[:8])
}

// rowDigest is the content digest of a row: its cells as read, or the raw
// text of a malformed stretch. It is never 0.
func rowDigest(row *Row) uint64 {
	h := fnv.New64a()
	if row.Err != nil {
		h.Write([]byte{1})
		h.Write([]byte(row.Raw))
	} else {
		for _, c := range row.Cells {
			h.Write([]byte(c))
			h.Write([]byte{0x1f})
		}
	}
	return max(h.Sum64(), 1)
}

// journalSpec is what a journal is opened for.
type journalSpec struct {
	path   string
	header []string
	target string
	resume bool
	// recheck starts the journal over even when resuming: every row is
	// checked again against the account.
	recheck bool
}

// openJournal locks and opens the journal. Without resume an existing
// journal is an error; with resume its rows are loaded as done, after its
// header and target are checked against this run's.
func openJournal(spec journalSpec) (*journal, error) {
	lock, err := lockfile.Acquire(spec.path + ".lock")
	if err != nil {
		var held *lockfile.HeldError
		if errors.As(err, &held) {
			return nil, fmt.Errorf("%w: %s is held by %s; wait for that run to end (or stop it) before resuming", ErrJournalLocked, spec.path, held.Holder)
		}
		return nil, fmt.Errorf("lock journal: %w", err)
	}
	j, err := openLockedJournal(spec)
	if err != nil {
		lock.Release()
		return nil, err
	}
	j.lock = lock
	return j, nil
}

func openLockedJournal(spec journalSpec) (*journal, error) {
	j := &journal{path: spec.path, byKind: map[string]int64{}, jobs: map[int]*journalJob{}}
	head := journalMagic + " " + fingerprint(spec.header) + " " + spec.target
	existing, err := os.Open(spec.path)
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	switch {
	case err == nil && !spec.resume:
		existing.Close()
		return nil, fmt.Errorf("%w (%s): add --resume to continue it, or delete it to start over", ErrJournalExists, spec.path)
	case err == nil && spec.recheck:
		existing.Close()
		flags |= os.O_TRUNC
	case err == nil:
		err := j.load(existing, spec)
		existing.Close()
		if err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open journal: %w", err)
	}
	f, err := os.OpenFile(spec.path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j.f = f
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		if _, err := f.WriteString(head + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("write journal: %w", err)
		}
	} else if err == nil {
		// A torn last record must not swallow the next one.
		if _, err := f.WriteString("\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("write journal: %w", err)
		}
	}
	return j, nil
}

func (j *journal) load(f *os.File, spec journalSpec) error {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxJobRecord)
	if !sc.Scan() {
		return nil // empty: a run killed before its first write
	}
	got := sc.Text()
	rest, ok := strings.CutPrefix(got, journalMagic+" ")
	if !ok {
		if strings.HasPrefix(got, "ctctbulk-journal ") {
			return fmt.Errorf("%s was written by another version of ctctbulk: delete it to start over (rows already imported are then found unchanged, none is duplicated)", j.path)
		}
		return fmt.Errorf("%s is not a ctctbulk journal", j.path)
	}
	fp, target, _ := strings.Cut(rest, " ")
	if fp != fingerprint(spec.header) {
		return fmt.Errorf("%w: the journal %s belongs to a file with another header: delete it to start over", ErrInputChanged, j.path)
	}
	if target != spec.target {
		return fmt.Errorf("%w: the journal %s records rows sent to %s, and this run is for %s: run against the same target, or delete the journal to start over", ErrTargetMismatch, j.path, target, spec.target)
	}
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), jobRecord); ok {
			j.loadJob(rest)
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || !knownStatus(fields[2]) {
			continue // a torn record
		}
		line, err := strconv.Atoi(fields[0])
		digest, derr := strconv.ParseUint(fields[1], 16, 64)
		if err != nil || derr != nil || line < 1 || digest == 0 {
			continue
		}
		if j.mark(line, digest) {
			j.byKind[fields[2]]++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	return nil
}

func knownStatus(s string) bool {
	switch s {
	case statusCreated, statusUpdated, statusUnchanged, statusSkipped, statusFailed:
		return true
	}
	return false
}

// mark records line as done with its digest and reports whether it was new.
func (j *journal) mark(line int, digest uint64) bool {
	for len(j.done) <= line {
		j.done = append(j.done, 0)
	}
	if j.done[line] != 0 {
		return false
	}
	j.done[line] = digest
	j.n++
	return true
}

// doneDigest returns the digest recorded for the row starting at line, 0
// when the journal holds no such row.
func (j *journal) doneDigest(line int) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	if line < len(j.done) {
		return j.done[line]
	}
	return 0
}

// finishedRows is the number of rows the journal held when opened.
func (j *journal) finishedRows() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n
}

// earlier returns the rows the journal held when opened, by outcome.
func (j *journal) earlier() map[string]int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make(map[string]int64, len(j.byKind))
	for k, v := range j.byKind {
		out[k] = v
	}
	return out
}

// add records a finished row and returns the first write error met.
func (j *journal) add(line int, digest uint64, status string) error {
	return j.write(strconv.Itoa(line) + " " + strconv.FormatUint(digest, 16) + " " + status + "\n")
}

// close keeps the journal for a later --resume and releases its lock.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.f != nil {
		err = errors.Join(j.err, j.f.Sync(), j.f.Close())
		j.f = nil
	}
	if j.lock != nil {
		err = errors.Join(err, j.lock.Release())
		j.lock = nil
	}
	return err
}

// finish removes the journal of a completed run.
func (j *journal) finish() error {
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errors.Join(err, j.close())
	}
	return j.close()
}
