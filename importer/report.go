package importer

import (
	"bufio"
	"context"
	"database/sql"
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
	// colSuperseded is the line of the later row of the same email that
	// set it, on a failed row: importing the report skips the row.
	colSuperseded = mapping.SupersededColumn
)

var reportColumns = [...]string{colLine, colStatus, colError, colExtra, colRaw, colCut, colSuperseded}

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
	// cut the cells --truncate cut, dropped the values an opt-out row was
	// carried over without: a row with either is reported whatever its
	// outcome. supersededBy is the line of the later row of the same
	// email that set it (a failed row's), 0 for none.
	cut, dropped string
	supersededBy int
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
	n     int // rows written
	extra strings.Builder
}

// openReport creates the report at path (replacing an earlier run's),
// writing in enc when it is not nil.
func openReport(path string, header []string, comma rune, enc *encoding.Encoder) (*report, error) {
	r := &report{path: path, comma: comma, width: len(header)}
	for i, h := range header {
		if isReportColumn(h) {
			continue
		}
		r.keep = append(r.keep, i)
		r.header = append(r.header, h)
	}
	r.header = append(r.header, reportColumns[:]...)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
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
	superseded := ""
	if row.supersededBy > 0 {
		superseded = strconv.Itoa(row.supersededBy)
	}
	rec = append(rec, strconv.Itoa(row.line), status, reason, extra, row.raw, row.cut, superseded)
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
	if err == nil && r.n == 0 {
		if rerr := os.Remove(r.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}
	return err
}

// writeReports writes each input's error report from the store, in file
// order: every row (of this run and the earlier ones it resumes) that was
// skipped or failed, or had cells cut or values left out; a failed row
// whose email a later row of the file set says which (_superseded_by).
// A report with no row is removed.
func (r *run) writeReports(ctx context.Context, sum *Summary) error {
	for _, src := range r.srcs {
		rep, err := openReport(src.report, src.rd.Header(), src.rd.Delimiter(), r.im.opts.Encoder)
		if err != nil {
			return err
		}
		n, err := r.reportRows(ctx, src.n, rep)
		if cerr := rep.close(); cerr != nil && err == nil {
			err = fmt.Errorf("write error report: %w", cerr)
		}
		if err != nil {
			return err
		}
		if n > 0 {
			sum.Reports = append(sum.Reports, ReportFile{Path: src.report, Rows: n})
			sum.ReportRows += n
		}
		sum.Superseded += r.superseded
		r.superseded = 0
	}
	if len(sum.Reports) > 0 {
		sum.ReportPath = sum.Reports[0].Path
	} else {
		sum.ReportPath = r.srcs[0].report
	}
	return nil
}

// reportRows writes the reported rows of one input and returns how many.
func (r *run) reportRows(ctx context.Context, file int, rep *report) (int, error) {
	after := int64(0)
	n := 0
	for {
		rows, err := r.st.db.QueryContext(ctx, `SELECT seq, line, email, cells, raw, cut, dropped, outcome, reason,
			CASE WHEN outcome = ? AND email != '' THEN (SELECT l.line FROM rows l WHERE l.file = rows.file AND l.email = rows.email AND l.seq > rows.seq
				AND l.outcome IN (?, ?, ?) ORDER BY l.seq DESC LIMIT 1) END
			FROM rows WHERE file = ? AND seq > ? AND (outcome IN (?, ?) OR (outcome != '' AND (cut != '' OR dropped != ''))) ORDER BY seq LIMIT 1000`,
			statusFailed, statusCreated, statusUpdated, statusUnchanged, file, after, statusSkipped, statusFailed)
		if err != nil {
			return n, fmt.Errorf("journal: %w", err)
		}
		type item struct {
			row             reportRow
			outcome, reason string
		}
		var items []item
		for rows.Next() {
			var it item
			var email string
			var cells []byte
			var sup sql.NullInt64
			if err := rows.Scan(&after, &it.row.line, &email, &cells, &it.row.raw, &it.row.cut, &it.row.dropped, &it.outcome, &it.reason, &sup); err != nil {
				rows.Close()
				return n, fmt.Errorf("journal: %w", err)
			}
			if it.row.cells, err = decodeCells(cells); err != nil {
				rows.Close()
				return n, err
			}
			it.row.supersededBy = int(sup.Int64)
			items = append(items, it)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return n, fmt.Errorf("journal: %w", err)
		}
		if len(items) == 0 {
			return n, nil
		}
		for _, it := range items {
			if it.row.supersededBy > 0 {
				r.superseded++
			}
			if err := rep.add(it.row, it.outcome, it.reason); err != nil {
				return n, err
			}
			n++
		}
	}
}
