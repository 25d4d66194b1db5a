package importer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ErrJournalExists is returned when a journal of an unfinished run exists
// and the run was not started with Resume.
var ErrJournalExists = errors.New("a journal of an unfinished run exists")

const journalMagic = "ctctbulk-journal 1"

// journal is the append-only record of finished rows, one "LINE STATUS"
// line per row after a header that fingerprints the input's header. Each
// record is one write(2) of an O_APPEND file, so a killed process leaves at
// most a torn last line, which is ignored on resume. Safe for concurrent use.
type journal struct {
	path string

	mu     sync.Mutex
	f      *os.File
	done   []uint64         // bit per physical line of the rows already done
	n      int              // rows in done
	byKind map[string]int64 // rows in done by outcome
	err    error
}

func fingerprint(header []string) string {
	sum := sha256.Sum256([]byte(strings.Join(header, "\x1f")))
	return hex.EncodeToString(sum[:8])
}

// openJournal opens the journal at path. Without resume an existing journal
// is an error; with resume its rows are loaded as done.
func openJournal(path string, header []string, resume bool) (*journal, error) {
	j := &journal{path: path, byKind: map[string]int64{}}
	head := journalMagic + " " + fingerprint(header)
	existing, err := os.Open(path)
	switch {
	case err == nil && !resume:
		existing.Close()
		return nil, fmt.Errorf("%w (%s): add --resume to continue it, or delete it to start over", ErrJournalExists, path)
	case err == nil:
		err := j.load(existing, head)
		existing.Close()
		if err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
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

func (j *journal) load(f *os.File, head string) error {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	if !sc.Scan() {
		return nil // empty: a run killed before its first write
	}
	if got := sc.Text(); got != head {
		if strings.HasPrefix(got, journalMagic) {
			return fmt.Errorf("journal %s belongs to a file with another header: delete it to start over", j.path)
		}
		return fmt.Errorf("%s is not a ctctbulk journal", j.path)
	}
	for sc.Scan() {
		lineStr, status, ok := strings.Cut(sc.Text(), " ")
		line, err := strconv.Atoi(lineStr)
		if !ok || err != nil || line < 1 || !knownStatus(status) {
			continue // a torn record
		}
		if j.mark(line) {
			j.byKind[status]++
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

// mark records line as done and reports whether it was new.
func (j *journal) mark(line int) bool {
	w := line / 64
	for len(j.done) <= w {
		j.done = append(j.done, 0)
	}
	if j.done[w]&(1<<(line%64)) != 0 {
		return false
	}
	j.done[w] |= 1 << (line % 64)
	j.n++
	return true
}

// isDone reports whether the row starting at line finished in an earlier run.
func (j *journal) isDone(line int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	w := line / 64
	return w < len(j.done) && j.done[w]&(1<<(line%64)) != 0
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

// add records a finished row. The first write error is kept for close.
func (j *journal) add(line int, status string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil || j.err != nil {
		return
	}
	_, j.err = j.f.WriteString(strconv.Itoa(line) + " " + status + "\n")
}

// close keeps the journal for a later --resume.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return j.err
	}
	err := errors.Join(j.err, j.f.Sync(), j.f.Close())
	j.f = nil
	return err
}

// finish removes the journal of a completed run.
func (j *journal) finish() error {
	if err := j.close(); err != nil {
		return err
	}
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
