package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"ctctbulk/mapping"
)

// Stage 1, read: every input is read once, to its end, into the store
// before anything is sent. Each row keeps its lines, content digest and
// cells as read; a row that is malformed or invalid gets its outcome at
// once; a valid one its email, lists, opt-out signal and cuts. A resume
// reads the input again and holds it against the store: a row finished
// (or sent in a job) that is no longer as it was refuses the resume.

// Input is one file of an import: its name (for messages and reports) and
// a way to open it. A ZIP's members are several inputs of one run.
type Input struct {
	Name string
	Open func() (io.ReadCloser, error)
}

// source is an input being read: its reader and mapping.
type source struct {
	n      int // its number in the store's files table, from 0
	name   string
	rd     *CSVReader
	m      *mapping.Mapping
	closer io.Closer
	// report is where its error report goes.
	report string
}

// readBatch is the rows the read stage writes to the store at once.
const readBatch = 2000

// storedRow is what a resume compares of a row read before.
type storedRow struct {
	line, endLine int
	digest        uint64
	final, sent   bool
}

// readAll reads every source into the store, in order. It returns the
// number of rows whose content differs from a finished or sent row of an
// earlier run (changed, and gone from the input), with the first such
// line, for a resume to refuse.
func (im *Importer) readAll(ctx context.Context, st *store, srcs []*source) (changed, gone, first int, err error) {
	seq, base := int64(0), int64(0)
	for _, src := range srcs {
		if err := st.addFile(ctx, src); err != nil {
			return 0, 0, 0, err
		}
		c, g, f, err := im.readSource(ctx, st, src, &seq, base)
		base += src.rd.Offset()
		changed, gone = changed+c, gone+g
		if first == 0 {
			first = f
		}
		if err != nil {
			return changed, gone, first, err
		}
	}
	// Rows stored beyond the end of the last input.
	extra, err := st.rowsAfter(ctx, seq)
	if err != nil {
		return changed, gone, first, err
	}
	return changed, gone + extra, first, nil
}

// addFile records an input in the files table, or checks it against a
// resumed store's.
func (st *store) addFile(ctx context.Context, src *source) error {
	fp := fingerprint(src.rd.Header())
	var name, had string
	err := st.db.QueryRowContext(ctx, "SELECT name, fingerprint FROM files WHERE n = ?", src.n).Scan(&name, &had)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = st.db.ExecContext(ctx, "INSERT INTO files (n, name, fingerprint) VALUES (?, ?, ?)", src.n, src.name, fp)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("journal: %w", err)
	case had != fp:
		return &RefusedError{Err: fmt.Errorf("%w: the journal %s belongs to a file with another header: delete it to start over", ErrInputChanged, st.path)}
	}
	return nil
}

// readSource reads one input into the store from sequence number *seq on.
func (im *Importer) readSource(ctx context.Context, st *store, src *source, seq *int64, base int64) (changed, gone, first int, err error) {
	width := len(src.rd.Header())
	var batch []*readRow
	var blank int64
	flush := func() error {
		// Rows read before an interrupt are stored all the same: the
		// summary counts them, and a resume checks them.
		c, f, err := st.putRows(context.WithoutCancel(ctx), batch)
		changed += c
		if first == 0 {
			first = f
		}
		batch = batch[:0]
		return err
	}
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil {
			if err := flush(); err != nil {
				return changed, gone, first, err
			}
			return changed, gone, first, ErrInterrupted
		}
		row, err := src.rd.Next()
		im.counts.offset.Store(base + src.rd.Offset())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return changed, gone, first, ferr
			}
			return changed, gone, first, err
		}
		if row.Blank {
			blank++
			continue
		}
		*seq++
		im.counts.stored.Add(1)
		batch = append(batch, im.convertRow(*seq, src, &row, width))
		if len(batch) == readBatch {
			if err := flush(); err != nil {
				return changed, gone, first, err
			}
		}
	}
	if err := flush(); err != nil {
		return changed, gone, first, err
	}
	if _, err := st.db.ExecContext(ctx, "UPDATE files SET done = 1, blank = ? WHERE n = ?", blank, src.n); err != nil {
		return changed, gone, first, fmt.Errorf("journal: %w", err)
	}
	im.counts.blank.Add(blank)
	return changed, gone, first, nil
}

// readRow is one input row as the read stage stores it.
type readRow struct {
	seq           int64
	file          int
	line, endLine int
	digest        uint64
	cells         []string
	raw           string
	email, lists  string
	optOut, cut   string
	dropped       string
	flags         int
	outcome       string
	reason        string
}

// convertRow maps and validates one row: a malformed or invalid row gets
// its outcome (failed, with the reason) at once.
func (im *Importer) convertRow(seq int64, src *source, row *Row, width int) *readRow {
	r := &readRow{seq: seq, file: src.n, line: row.Line, endLine: row.EndLine, digest: rowDigest(row), cells: row.Cells, raw: row.Raw}
	if row.Err != nil {
		r.outcome, r.reason = statusFailed, row.Err.Error()
		return r
	}
	rec, err := src.m.Convert(withoutEmptyExtras(row.Cells, width), row.Line)
	if err != nil {
		// Whose row it is, when its email is valid: a later row of the
		// email may supersede it.
		r.email = src.m.Email(row.Cells)
		r.outcome, r.reason = statusFailed, err.Error()
		return r
	}
	r.email = strings.ToLower(rec.Contact.EmailAddress)
	r.lists = strings.Join(rec.Lists, ";")
	r.optOut, r.cut = rec.OptOut, rec.CutText()
	if rec.Removed {
		r.flags |= flagRemoved
	}
	if rec.NoBulkValue() {
		r.flags |= flagNoBulk
	}
	if rec.Superseded {
		r.flags |= flagSuperseded
	}
	if rec.Dropped != nil {
		r.dropped = droppedNote(rec.Dropped)
	}
	return r
}

// droppedNote is the report's word for an opt-out carried over without
// its bad values.
func droppedNote(e *mapping.RowError) string {
	return "carried over as an opt-out without the values it cannot hold: " + e.Error()
}

// putRows writes a batch of rows: new ones are inserted; on a resume, one
// stored before is kept when its content is the same, replaced when it
// changed and was neither finished nor sent, and counted as changed
// otherwise (first is the first such line).
func (st *store) putRows(ctx context.Context, batch []*readRow) (changed, first int, err error) {
	if len(batch) == 0 {
		return 0, 0, nil
	}
	old, err := st.storedRows(ctx, batch[0].seq, batch[len(batch)-1].seq)
	if err != nil {
		return 0, 0, err
	}
	err = st.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO rows (seq, file, line, end_line, digest, cells, raw, email, lists, opt_out, cut, dropped, flags, outcome, reason, run)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		defer ins.Close()
		for _, r := range batch {
			if o, ok := old[r.seq]; ok {
				if o.line == r.line && o.digest == r.digest {
					continue
				}
				if o.final || o.sent {
					changed++
					if first == 0 {
						first = r.line
					}
					continue
				}
			}
			run := 0
			if r.outcome != "" {
				run = st.run
			}
			if _, err := ins.ExecContext(ctx, r.seq, r.file, r.line, r.endLine, int64(r.digest), encodeCells(r.cells), r.raw, r.email, r.lists,
				r.optOut, r.cut, r.dropped, r.flags, r.outcome, r.reason, run); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		return nil
	})
	return changed, first, err
}

// storedRows returns the rows a store holds from sequence number from to
// to, for a resume to compare.
func (st *store) storedRows(ctx context.Context, from, to int64) (map[int64]storedRow, error) {
	rows, err := st.db.QueryContext(ctx, "SELECT seq, line, end_line, digest, outcome != '', job IS NOT NULL FROM rows WHERE seq BETWEEN ? AND ?", from, to)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	out := map[int64]storedRow{}
	for rows.Next() {
		var seq, digest int64
		var r storedRow
		if err := rows.Scan(&seq, &r.line, &r.endLine, &digest, &r.final, &r.sent); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		r.digest = uint64(digest)
		out[seq] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

// rowsAfter counts the rows stored after seq that were finished or sent
// (gone from a shorter input), and drops the others.
func (st *store) rowsAfter(ctx context.Context, seq int64) (int, error) {
	var n int
	if err := st.db.QueryRowContext(ctx, "SELECT count(*) FROM rows WHERE seq > ? AND (outcome != '' OR job IS NOT NULL)", seq).Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	if _, err := st.db.ExecContext(ctx, "DELETE FROM rows WHERE seq > ? AND outcome = '' AND job IS NULL", seq); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

// rowDigest is the content digest of a row: its cells as read, or the raw
// text of a malformed stretch. It is never 0.
func rowDigest(row *Row) uint64 {
	h := newFNV()
	if row.Err != nil {
		h.write([]byte{1})
		h.write([]byte(row.Raw))
	} else {
		for _, c := range row.Cells {
			h.write([]byte(c))
			h.write([]byte{0x1f})
		}
	}
	return max(h.sum(), 1)
}

// fnv64a is FNV-1a, 64 bits, without an allocation per row.
type fnv64a uint64

func newFNV() *fnv64a {
	h := fnv64a(14695981039346656037)
	return &h
}

func (h *fnv64a) write(b []byte) {
	for _, c := range b {
		*h ^= fnv64a(c)
		*h *= 1099511628211
	}
}

func (h *fnv64a) sum() uint64 { return uint64(*h) }
