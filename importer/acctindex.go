package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver

	"ctctbulk/ctct"
)

// accountIndex is what the bulk path knows of the account, by email: each
// contact's status, lists and bulk values, as the plan's export found them
// and as this run's rows left them. It lives in a temporary SQLite file
// (removed by close), so that an account of millions of contacts costs the
// run a few megabytes of page cache, not a map of every contact. Not safe
// for concurrent use: the reading stage alone uses it.
type accountIndex struct {
	path string
	db   *sql.DB
}

// indexEntry is one email of the index.
type indexEntry struct {
	email  string // lower-cased key
	status string // the contact's status; "" when the account has no contact (yet)
	// exists says the account has (or this run's rows made) a contact.
	exists bool
	// lists are the list ids (URIs) the contact is on; listsUnknown says
	// the export named a list ambiguously, so memberships cannot be
	// compared.
	lists        []string
	listsUnknown bool
	row          ctct.BulkRow
	// route says which way this run sent the email's rows (routeNone,
	// routeBulk, routeContacts); line is the input line of its last row
	// sent in bulk.
	route int
	line  int
}

// Routes of an email in a run.
const (
	routeNone     = 0
	routeBulk     = 1
	routeContacts = 2
)

// openAccountIndex creates the index in the file path, replacing what a
// killed run left there (the caller holds the journal's lock, which
// guards it).
func openAccountIndex(ctx context.Context, path string) (*accountIndex, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove the account index a killed run left: %w", err)
	}
	// The file is a scratch copy of the account: no journal, no fsync,
	// a bounded page cache.
	dsn := "file:" + filepath.ToSlash(path) + "?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-8000)&_pragma=temp_store(FILE)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("open account index: %w", err)
	}
	db.SetMaxOpenConns(1)
	ix := &accountIndex{path: path, db: db}
	_, err = db.ExecContext(ctx, `CREATE TABLE contacts (
		email TEXT PRIMARY KEY,
		status TEXT NOT NULL,
		lists TEXT NOT NULL,
		vals TEXT NOT NULL,
		route INTEGER NOT NULL,
		line INTEGER NOT NULL
	) WITHOUT ROWID`)
	if err != nil {
		ix.close()
		return nil, fmt.Errorf("create account index: %w", err)
	}
	return ix, nil
}

// close removes the index.
func (ix *accountIndex) close() error {
	err := ix.db.Close()
	return errors.Join(err, os.Remove(ix.path))
}

// sep joins an entry's values and lists in one column: no stored value
// holds it (XML 1.0 forbids the character).
const sep = "\x1f"

// listsUnknownMark is the lists column of an entry whose memberships are
// not known.
const listsUnknownMark = "?"

func encodeValues(r *ctct.BulkRow) string { return strings.Join(r.Values(), sep) }

func decodeValues(s string) ctct.BulkRow {
	var r ctct.BulkRow
	r.SetValues(strings.Split(s, sep))
	return r
}

func encodeLists(e *indexEntry) string {
	if e.listsUnknown {
		return listsUnknownMark
	}
	return strings.Join(e.lists, sep)
}

// put writes entries (new or changed) in one transaction.
func (ix *accountIndex) put(ctx context.Context, entries []*indexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("account index: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, "INSERT OR REPLACE INTO contacts (email, status, lists, vals, route, line) VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("account index: %w", err)
	}
	defer st.Close()
	for _, e := range entries {
		status := e.status
		if !e.exists {
			status = "-"
		}
		if _, err := st.ExecContext(ctx, e.email, status, encodeLists(e), encodeValues(&e.row), e.route, e.line); err != nil {
			return fmt.Errorf("account index: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("account index: %w", err)
	}
	return nil
}

// maxIndexQuery is the emails one lookup asks for.
const maxIndexQuery = 500

// get returns the entries of the emails the index holds, by email.
func (ix *accountIndex) get(ctx context.Context, emails []string) (map[string]*indexEntry, error) {
	out := make(map[string]*indexEntry, len(emails))
	for start := 0; start < len(emails); start += maxIndexQuery {
		part := emails[start:min(start+maxIndexQuery, len(emails))]
		q := "SELECT email, status, lists, vals, route, line FROM contacts WHERE email IN (?" + strings.Repeat(",?", len(part)-1) + ")"
		args := make([]any, len(part))
		for i, e := range part {
			args[i] = e
		}
		rows, err := ix.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("account index: %w", err)
		}
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[e.email] = e
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("account index: %w", err)
		}
	}
	return out, nil
}

func scanEntry(sc interface{ Scan(...any) error }) (*indexEntry, error) {
	var lists, vals string
	e := &indexEntry{}
	if err := sc.Scan(&e.email, &e.status, &lists, &vals, &e.route, &e.line); err != nil {
		return nil, fmt.Errorf("account index: %w", err)
	}
	e.exists = e.status != "-"
	if !e.exists {
		e.status = ""
	}
	switch lists {
	case listsUnknownMark:
		e.listsUnknown = true
	case "":
	default:
		e.lists = strings.Split(lists, sep)
	}
	e.row = decodeValues(vals)
	return e, nil
}

// eachSent calls f for every email this run sent in bulk, in email order.
func (ix *accountIndex) eachSent(ctx context.Context, f func(*indexEntry) error) error {
	rows, err := ix.db.QueryContext(ctx, "SELECT email, status, lists, vals, route, line FROM contacts WHERE route = ? AND line > 0 ORDER BY email", routeBulk)
	if err != nil {
		return fmt.Errorf("account index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return err
		}
		if err := f(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("account index: %w", err)
	}
	return nil
}
