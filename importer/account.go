package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"ctctbulk/ctct"
)

// What the plan knows of the account, by email, in the store's account
// table: each contact's status, lists and bulk values as the plan's export
// found them, then as the rows planned so far leave them. It lives in the
// store, so that an account of millions of contacts costs the run a few
// megabytes of page cache, not a map.

// accountEntry is one email of the account table.
type accountEntry struct {
	email  string // lower-cased key
	status string // the contact's status; "" when the account has no contact (yet)
	// exists says the account has (or this run's planned rows make) a
	// contact; orig that the plan's export found one.
	exists, orig bool
	// lists are the list ids (URIs) the contact is on; listsUnknown says
	// the export named a list ambiguously, so memberships cannot be
	// compared.
	lists        []string
	listsUnknown bool
	row          ctct.BulkRow
	// conflict says the plan's exports found the email in two system
	// lists (its status changed while they ran): its rows are decided by
	// the contacts collection, which reads the contact as it is.
	conflict bool
	// route is how this run sends the email's rows (routeNone, routeJob,
	// routeContacts) and last its last row so sent.
	route int
	last  int64
}

// Routes of an email in a run.
const (
	routeNone     = 0
	routeJob      = 1
	routeContacts = 2
)

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

func (e *accountEntry) encodeLists() string {
	if e.listsUnknown {
		return listsUnknownMark
	}
	return strings.Join(e.lists, sep)
}

// clearAccount empties the account table before the plan learns it anew.
func (st *store) clearAccount(ctx context.Context) error {
	if _, err := st.db.ExecContext(ctx, "DELETE FROM account"); err != nil { // cid too: the ids to read
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// putAccount writes entries (new or changed) in tx.
func putAccount(ctx context.Context, tx *sql.Tx, entries []*accountEntry) error {
	if len(entries) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, "INSERT OR REPLACE INTO account (email, status, lists, vals, conflict, last, route, orig) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer st.Close()
	for _, e := range entries {
		status := e.status
		if !e.exists {
			status = "-"
		}
		if _, err := st.ExecContext(ctx, e.email, status, e.encodeLists(), encodeValues(&e.row), e.conflict, e.last, e.route, e.orig); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return nil
}

// maxInQuery is the emails one lookup of the store asks for.
const maxInQuery = 500

// getAccount returns the entries of the emails the account table holds,
// by email.
func (st *store) getAccount(ctx context.Context, emails []string) (map[string]*accountEntry, error) {
	out := make(map[string]*accountEntry, len(emails))
	for start := 0; start < len(emails); start += maxInQuery {
		part := emails[start:min(start+maxInQuery, len(emails))]
		q := "SELECT email, status, lists, vals, conflict, last, route, orig FROM account WHERE email IN (?" + strings.Repeat(",?", len(part)-1) + ")"
		rows, err := st.db.QueryContext(ctx, q, anys(part)...)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		for rows.Next() {
			var lists, vals string
			e := &accountEntry{}
			if err := rows.Scan(&e.email, &e.status, &lists, &vals, &e.conflict, &e.last, &e.route, &e.orig); err != nil {
				rows.Close()
				return nil, fmt.Errorf("journal: %w", err)
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
			out[e.email] = e
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	return out, nil
}

// anys returns ss as query arguments.
func anys[T any](ss []T) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
