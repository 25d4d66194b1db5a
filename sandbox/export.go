package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ctctbulk/ctct"
)

// exportDateLayout is how an export file writes Date Added.
const exportDateLayout = "01/02/2006 03:04 PM GMT"

// startExport fixes an export job's contacts and their order (so that the
// file is one consistent list however long the job runs, and a resumed
// job goes on where it was) and writes the file's header as its first
// chunk. failed is true when the list no longer exists.
func (s *Sandbox) startExport(ctx context.Context, tx *sql.Tx, j *jobRow) (failed bool, err error) {
	x := &j.Export
	order := `"EmailAddress"`
	if x.SortBy == ctct.SortByDateDesc {
		order = `added DESC, "EmailAddress"`
	}
	var q string
	var args []any
	if sl, ok := lookupSystemList(x.List); ok {
		q = `SELECT id, CASE WHEN "OptInTime" != '' THEN "OptInTime" ELSE "InsertTime" END AS added,
			CASE WHEN "OptInSource" != '' THEN "OptInSource" ELSE ? END AS src, "EmailAddress"
			FROM contacts WHERE "Status" IN (?, ?)`
		args = []any{ctct.ActionByCustomer, sl.Statuses[0], sl.Statuses[len(sl.Statuses)-1]}
	} else {
		n, _ := parseNumber(x.List)
		ok, err := s.st.listExists(ctx, tx, n)
		if err != nil {
			return false, err
		}
		if !ok {
			return true, nil
		}
		q = `SELECT c.id AS id, m.opt_in_time AS added, m.opt_in_source AS src, c."EmailAddress" AS "EmailAddress"
			FROM memberships m JOIN contacts c ON c.id = m.contact_id WHERE m.list_id = ?`
		args = []any{n}
	}
	ins := `INSERT INTO activity_export (seq, n, contact_id, added, source)
		SELECT ?, ROW_NUMBER() OVER (ORDER BY ` + order + `), id, added, src FROM (` + q + `)`
	if _, err := tx.ExecContext(ctx, ins, append([]any{j.Seq}, args...)...); err != nil {
		return false, fmt.Errorf("fix export order: %w", err)
	}
	x.ListIDs = nil
	var names []string
	if x.ListNames {
		users, err := s.st.userLists(ctx, tx)
		if err != nil {
			return false, err
		}
		for _, l := range users {
			x.ListIDs = append(x.ListIDs, l.ID)
			names = append(names, l.Name)
		}
	}
	var b bytes.Buffer
	w := exportWriter(&b, x.FileType)
	if err := w.Write(exportHeader(x, names)); err != nil {
		return false, fmt.Errorf("export header: %w", err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return false, fmt.Errorf("export header: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO activity_chunks (seq, n, data) VALUES (?, 0, ?)", j.Seq, b.Bytes()); err != nil {
		return false, fmt.Errorf("export header: %w", err)
	}
	return false, nil
}

func exportWriter(w io.Writer, fileType string) *recordWriter {
	rw := &recordWriter{w: w}
	rw.cw = csv.NewWriter(&rw.rec)
	if fileType == ctct.FileTypeTXT {
		rw.cw.Comma = '\t'
	}
	return rw
}

// recordWriter writes an export file's records with CRLF line ends
// (BULK.md) and every cell as stored: encoding/csv's own CRLF mode drops a
// lone CR inside a cell and turns an LF into CRLF, so that the file would
// not say what the account holds.
type recordWriter struct {
	w   io.Writer
	rec bytes.Buffer
	cw  *csv.Writer
	err error
}

// Write writes one record.
func (rw *recordWriter) Write(record []string) error {
	if rw.err != nil {
		return rw.err
	}
	rw.rec.Reset()
	if err := rw.cw.Write(record); err != nil {
		rw.err = err
		return err
	}
	rw.cw.Flush()
	if rw.err = rw.cw.Error(); rw.err != nil {
		return rw.err
	}
	line := bytes.TrimSuffix(rw.rec.Bytes(), []byte("\n"))
	if _, rw.err = rw.w.Write(append(line, '\r', '\n')); rw.err != nil {
		return rw.err
	}
	return nil
}

// Flush does nothing: every record is written whole.
func (rw *recordWriter) Flush() {}

// Error is the first error a Write met.
func (rw *recordWriter) Error() error { return rw.err }

// exportHeader is the file's header in BULK.md's order: Email Address;
// Email Type if asked; one "List: {name}" column per user list; Date
// Added; Added By; the other asked columns in the table's order.
func exportHeader(x *exportSpec, listNames []string) []string {
	h := []string{"Email Address"}
	if x.has("EmailType") {
		h = append(h, "Email Type")
	}
	for _, n := range listNames {
		h = append(h, ctct.ExportListPrefix+n)
	}
	if x.DateAdded {
		h = append(h, ctct.ExportDateAdded)
	}
	if x.Source {
		h = append(h, ctct.ExportAddedBy)
	}
	for _, f := range x.otherFields() {
		h = append(h, f.Bulk)
	}
	return h
}

func (x *exportSpec) has(field string) bool {
	for _, c := range x.Columns {
		if c == field {
			return true
		}
	}
	return false
}

// otherFields are the asked columns after the fixed ones, in table order.
func (x *exportSpec) otherFields() []ctct.Field {
	var out []ctct.Field
	for _, f := range ctct.BulkFields() {
		if f.Name != "EmailAddress" && f.Name != "EmailType" && x.has(f.Name) {
			out = append(out, f)
		}
	}
	return out
}

// exportBatch writes the next n contacts of an export job as one chunk of
// its file and returns how many it wrote (fewer than n: the last chunk).
func (s *Sandbox) exportBatch(ctx context.Context, tx *sql.Tx, j *jobRow, n int) (int, error) {
	x := &j.Export
	quoted := make([]string, len(s.st.cols))
	for i, c := range s.st.cols {
		quoted[i] = `c."` + c + `"`
	}
	rows, err := tx.QueryContext(ctx, `SELECT e.added, e.source, c.id, `+strings.Join(quoted, ", ")+`
		FROM activity_export e JOIN contacts c ON c.id = e.contact_id
		WHERE e.seq = ? AND e.n > ? ORDER BY e.n LIMIT ?`, j.Seq, j.Done, n)
	if err != nil {
		return 0, fmt.Errorf("export rows: %w", err)
	}
	type item struct {
		added, source string
		r             contactRow
	}
	var items []item
	text := make([]string, len(s.st.fields))
	for rows.Next() {
		var it item
		dest := []any{&it.added, &it.source, &it.r.ID}
		for i := range text {
			dest = append(dest, &text[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return 0, fmt.Errorf("export rows: %w", err)
		}
		for i := range s.st.fields {
			if err := s.st.fields[i].Set(&it.r.C, text[i]); err != nil {
				rows.Close()
				return 0, fmt.Errorf("export rows: %w", err)
			}
		}
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("export rows: %w", err)
	}
	if len(items) == 0 {
		return 0, nil
	}
	member := map[int64]map[int64]bool{}
	if len(x.ListIDs) > 0 {
		for i := range items {
			ms, err := s.st.memberships(ctx, tx, items[i].r.ID)
			if err != nil {
				return 0, err
			}
			set := map[int64]bool{}
			for _, m := range ms {
				set[m.List] = true
			}
			member[items[i].r.ID] = set
		}
	}
	others := x.otherFields()
	var b bytes.Buffer
	w := exportWriter(&b, x.FileType)
	rec := make([]string, 0, 8+len(x.ListIDs)+len(others))
	for _, it := range items {
		c := &it.r.C
		rec = append(rec[:0], c.EmailAddress)
		if x.has("EmailType") {
			rec = append(rec, c.EmailType)
		}
		for _, l := range x.ListIDs {
			v := ""
			if member[it.r.ID][l] {
				v = "x"
			}
			rec = append(rec, v)
		}
		if x.DateAdded {
			rec = append(rec, exportDate(it.added))
		}
		if x.Source {
			rec = append(rec, it.source)
		}
		for _, f := range others {
			rec = append(rec, c.Get(f.Name))
		}
		if err := w.Write(rec); err != nil {
			return 0, fmt.Errorf("export rows: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, fmt.Errorf("export rows: %w", err)
	}
	var chunk int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(n), 0) + 1 FROM activity_chunks WHERE seq = ?", j.Seq).Scan(&chunk); err != nil {
		return 0, fmt.Errorf("export chunk: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO activity_chunks (seq, n, data) VALUES (?, ?, ?)", j.Seq, chunk, b.Bytes()); err != nil {
		return 0, fmt.Errorf("export chunk: %w", err)
	}
	return len(items), nil
}

// exportDate writes a stored time as Date Added, "" when it is not one.
func exportDate(v string) string {
	t, err := time.Parse(timeLayout, v)
	if err != nil {
		return ""
	}
	return t.UTC().Format(exportDateLayout)
}

// fileChunks streams the chunks of an export job's file in order, one
// chunk in memory at a time, each read in a transaction of its own.
func (s *Sandbox) fileChunks(ctx context.Context, seq int64, w io.Writer) error {
	for n := 0; ; n++ {
		var data []byte
		err := s.st.read(ctx, func(tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, "SELECT data FROM activity_chunks WHERE seq = ? AND n = ?", seq, n).Scan(&data)
		})
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("export file chunk %d: %w", n, err)
		}
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("export file: %w", err)
		}
	}
}
