package importer

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"

	"ctctbulk/mapping"
)

// Columns the error report adds to the input's own: the row's physical
// line, its outcome and why, the cells beyond the header's (as CSV text in
// the input's delimiter) and, for a malformed stretch, its text as read.
const (
	colLine   = "_line"
	colStatus = "_status"
	colError  = "_error"
	colExtra  = "_extra"
	colRaw    = "_raw"
	colCut    = "_cut"
)

var reportColumns = [...]string{colLine, colStatus, colError, colExtra, colRaw, colCut}

func isReportColumn(h string) bool {
	for _, c := range reportColumns {
		if h == c {
			return true
		}
	}
	return false
}

// reportRow is what the report keeps of one input row.
type reportRow struct {
	line  int
	cells []string // as read, extra cells included
	raw   string   // a malformed stretch's text, else ""
	// optOut is the row's opt-out signal ("" none), cut the cells
	// --truncate cut, dropped the values an opt-out row was carried over
	// without: a row with either is reported whatever its outcome.
	optOut, cut, dropped string
}

// noteRecord takes from a converted row what its outcome's accounting
// needs beyond its cells.
func (r *reportRow) noteRecord(rec *mapping.Record) {
	r.optOut, r.cut = rec.OptOut, rec.CutText()
	if rec.Dropped != nil {
		r.dropped = "carried over as an opt-out without the values it cannot hold: " + rec.Dropped.Error()
	}
}

// reported says whether a row with this outcome goes in the report: every
// row that did not succeed, and any row changed on its way in.
func (r *reportRow) reported(status string) bool {
	return status == statusSkipped || status == statusFailed || r.cut != "" || r.dropped != ""
}

// report is the error report: the input's header and cells of every row
// that did not succeed, plus _line, _status, _error, _extra and _raw, with
// the input's delimiter and encoding, so that it can be fed straight back
// to import. It is created (mode 0600) when the run starts, before any
// request, so that a report that cannot be written stops the run at once;
// a report that ends with no row is removed. Not safe for concurrent use:
// the outcomes' sequencer alone writes it, in input order.
type report struct {
	path   string
	header []string
	keep   []int // indexes of the input columns copied (not an earlier report's own columns)
	width  int   // the input header's number of cells
	comma  rune

	f     *os.File
	bw    *bufio.Writer
	w     *csv.Writer
	n     int  // rows this run wrote
	had   bool // the file held rows of an earlier run when opened
	extra strings.Builder
}

// openReport creates the report at path (replacing an earlier run's unless
// resuming, where rows are appended), writing in enc when it is not nil.
func openReport(path string, header []string, comma rune, enc *encoding.Encoder, resume bool) (*report, error) {
	r := &report{path: path, comma: comma, width: len(header)}
	for i, h := range header {
		if isReportColumn(h) {
			continue
		}
		r.keep = append(r.keep, i)
		r.header = append(r.header, h)
	}
	r.header = append(r.header, reportColumns[:]...)
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open error report: %w", err)
	}
	r.f = f
	var out io.Writer = f
	if enc != nil {
		out = encoding.ReplaceUnsupported(enc).Writer(f)
	}
	r.bw = bufio.NewWriter(out)
	r.w = csv.NewWriter(r.bw)
	r.w.Comma = comma
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		r.had = true // resuming: the header is there
		return r, nil
	}
	if err := r.write(r.header); err != nil {
		f.Close()
		return nil, fmt.Errorf("write error report: %w", err)
	}
	return r, nil
}

// add writes one row and flushes it to the file.
func (r *report) add(row reportRow, status, reason string) error {
	rec := make([]string, 0, len(r.header))
	for _, i := range r.keep {
		if i < len(row.cells) {
			rec = append(rec, row.cells[i])
		} else {
			rec = append(rec, "")
		}
	}
	extra := ""
	if len(row.cells) > r.width {
		r.extra.Reset()
		w := csv.NewWriter(&r.extra)
		w.Comma = r.comma
		_ = w.Write(row.cells[r.width:]) // a strings.Builder does not fail
		w.Flush()
		extra = strings.TrimSuffix(r.extra.String(), "\n")
	}
	if reason == "" {
		reason = row.dropped
	}
	rec = append(rec, strconv.Itoa(row.line), status, reason, extra, row.raw, row.cut)
	if err := r.write(rec); err != nil {
		return fmt.Errorf("write error report %s: %w", r.path, err)
	}
	r.n++
	return nil
}

func (r *report) write(rec []string) error {
	if err := r.w.Write(rec); err != nil {
		return err
	}
	r.w.Flush()
	if err := r.w.Error(); err != nil {
		return err
	}
	return r.bw.Flush()
}

// rows is the number of rows this run wrote.
func (r *report) rows() int { return r.n }

// close syncs and closes the report, and removes it when it holds no row.
func (r *report) close() error {
	if r.f == nil {
		return nil
	}
	err := errors.Join(r.f.Sync(), r.f.Close())
	r.f = nil
	if err == nil && r.n == 0 && !r.had {
		if rerr := os.Remove(r.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}
	return err
}
