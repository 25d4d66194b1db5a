package importer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
)

// reportColumns are the columns the error report adds to the input's own.
var reportColumns = [...]string{"_line", "_status", "_error"}

// report is the error report: the input's header and cells of every row
// that did not succeed, plus _line, _status and _error, with the input's
// delimiter, so that it can be fed straight back to import. The file is
// created (mode 0600) with the first row it holds. Safe for concurrent use.
type report struct {
	path   string
	header []string
	keep   []int // indexes of the input columns copied (not an earlier report's _line, _status, _error)
	comma  rune
	resume bool

	mu    sync.Mutex
	f     *os.File
	w     *csv.Writer
	n     int
	err   error
	wrote bool
}

// openReport prepares the report at path. Unless resuming, a report left by
// an earlier run is removed so that what is there afterwards is this run's.
func openReport(path string, header []string, comma rune, resume bool) (*report, error) {
	r := &report{path: path, comma: comma, resume: resume}
	for i, h := range header {
		if h == reportColumns[0] || h == reportColumns[1] || h == reportColumns[2] {
			continue
		}
		r.keep = append(r.keep, i)
		r.header = append(r.header, h)
	}
	r.header = append(r.header, reportColumns[:]...)
	if !resume {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove old error report: %w", err)
		}
	}
	return r, nil
}

func (r *report) open() error {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	st, statErr := os.Stat(r.path)
	f, err := os.OpenFile(r.path, flags, 0o600)
	if err != nil {
		return fmt.Errorf("open error report: %w", err)
	}
	r.f = f
	r.w = csv.NewWriter(f)
	r.w.Comma = r.comma
	if statErr == nil && st.Size() > 0 {
		return nil // resuming: the header is there
	}
	return r.w.Write(r.header)
}

// add writes one row. The first write error is kept and returned by close.
func (r *report) add(line int, cells []string, status, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if r.f == nil {
		if r.err = r.open(); r.err != nil {
			return
		}
	}
	rec := make([]string, 0, len(r.header))
	for _, i := range r.keep {
		if i < len(cells) {
			rec = append(rec, cells[i])
		} else {
			rec = append(rec, "")
		}
	}
	rec = append(rec, strconv.Itoa(line), status, reason)
	if r.err = r.w.Write(rec); r.err != nil {
		return
	}
	r.w.Flush()
	r.err = r.w.Error()
	r.n++
}

// rows is the number of rows this run wrote.
func (r *report) rows() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *report) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return r.err
	}
	r.w.Flush()
	err := errors.Join(r.err, r.w.Error(), r.f.Sync(), r.f.Close())
	r.f = nil
	return err
}
