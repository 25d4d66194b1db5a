package sandbox

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"ctctbulk/ctct"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// timeLayout is how the API writes times: UTC with milliseconds. Strings in
// this layout sort like the times they denote, so the store compares them
// as text.
const timeLayout = "2006-01-02T15:04:05.000Z"

// schemaVersion is stored in PRAGMA user_version; a file with another
// non-zero version is refused.
const schemaVersion = 1

// errNotFound is returned by store reads of an unknown contact or list.
var errNotFound = errors.New("not found")

// membership is one row of the memberships table.
type membership struct {
	List   int64
	Source string
	Time   string
}

// contactRow is a stored contact: its number, its text fields (in C; C.ID
// and C.Lists are left empty) and, when loaded, its memberships.
type contactRow struct {
	ID    int64
	C     ctct.Contact
	Lists []membership
}

// listRow is a stored user list.
type listRow struct {
	ID              int64
	Name            string
	ShortName       string
	OptInDefault    string
	DisplayOnSignup string
	SortOrder       int64
	Updated         string
}

// initialLists are the user lists of an empty store.
func initialLists() []listRow {
	return []listRow{
		{ID: 1, Name: "General Interest", ShortName: "General Interest", OptInDefault: "true", DisplayOnSignup: "Yes", SortOrder: 1},
		{ID: 2, Name: "Customers", ShortName: "Customers", OptInDefault: "false", DisplayOnSignup: "No", SortOrder: 2},
		{ID: 3, Name: "Newsletter", ShortName: "Newsletter", OptInDefault: "false", DisplayOnSignup: "Yes", SortOrder: 3},
	}
}

// textFields returns the fields the contacts table holds, one text column
// each, named like the Contact elements: every field of the table but the
// Derived ones, in table order.
func textFields() []ctct.Field {
	var out []ctct.Field
	for _, f := range ctct.Fields() {
		if f.Kind != ctct.Derived {
			out = append(out, f)
		}
	}
	return out
}

// store is the SQLite side of the sandbox. Reads run in read-only
// transactions, writes in transactions serialised by writeMu (so that
// concurrent writers never meet SQLITE_BUSY). Safe for concurrent use.
type store struct {
	db      *sql.DB
	writeMu sync.Mutex
	cols    []string     // every text column
	fields  []ctct.Field // the fields of cols
	summary []ctct.Field // the fields of summaryColumns, which feeds select
	// stmts are prepared once, when the store opens (preparing later could
	// wait for the only connection of :memory: while a transaction holds
	// it); transactions use them through tx.StmtContext. Read-only after
	// openStore.
	stmts map[string]*sql.Stmt
}

// Names of the prepared statements that are not contact queries.
const (
	sqlGetContact   = "get-contact"
	sqlMemberships  = "memberships"
	sqlEmailOwner   = "email-owner"
	sqlInsert       = "insert-contact"
	sqlUpdate       = "update-contact"
	sqlDropMembers  = "delete-memberships"
	sqlAddMember    = "insert-membership"
	sqlListExists   = "list-exists"
	sqlListCount    = "list-count"
	sqlUserLists    = "user-lists"
	sqlListCounts   = "list-counts"
	sqlStatusCounts = "status-counts"
	sqlMaxID        = "max-id"
	sqlByEmail      = "by-email"
)

// summaryColumns are the columns a feed entry needs: the summary and search
// views, the entry's updated time, a member's email and name.
func summaryColumns() []string {
	return []string{"Status", "EmailAddress", "EmailType", "Name", "OptInSource", "OptInTime",
		"Confirmed", "InsertTime", "LastUpdateTime"}
}

// fieldsOf returns the fields named by cols.
func fieldsOf(cols []string) ([]ctct.Field, error) {
	out := make([]ctct.Field, len(cols))
	for i, name := range cols {
		f, ok := ctct.LookupField(name)
		if !ok || f.Kind == ctct.Derived {
			return nil, fmt.Errorf("column %s: no such text field in ctct.Contact", name)
		}
		out[i] = f
	}
	return out, nil
}

// openStore opens (creating if needed) the SQLite database at path, or an
// in-memory one for ":memory:".
func openStore(ctx context.Context, path string) (*store, error) {
	if path == "" {
		return nil, errors.New("open store: empty database path")
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open store: database path %q must not contain '?'", path)
	}
	memory := path == ":memory:"
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	if !memory {
		dsn += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if memory {
		// Every connection to :memory: is a new, empty database: keep
		// exactly one, forever.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(4)
	}
	st := &store{db: db, fields: textFields()}
	for _, f := range st.fields {
		st.cols = append(st.cols, f.Name)
	}
	if st.summary, err = fieldsOf(summaryColumns()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := st.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := st.prepare(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return st, nil
}

// statements returns the SQL of every prepared statement by name.
func (st *store) statements() map[string]string {
	quote := func(cols []string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = `"` + c + `"`
		}
		return out
	}
	quoted := quote(st.cols)
	sets := make([]string, len(st.cols))
	for i, q := range quoted {
		sets[i] = q + " = ?"
	}
	sel := "SELECT id, " + strings.Join(quoted, ", ") + " FROM contacts"
	selSummary := "SELECT id, " + strings.Join(quote(summaryColumns()), ", ") + " FROM contacts"
	m := map[string]string{
		sqlGetContact:  sel + " WHERE id = ?",
		sqlMemberships: "SELECT list_id, opt_in_source, opt_in_time FROM memberships WHERE contact_id = ? ORDER BY list_id",
		sqlEmailOwner:  `SELECT id FROM contacts WHERE "EmailAddress" = ?`,
		sqlInsert: "INSERT INTO contacts (" + strings.Join(quoted, ", ") + ") VALUES (" +
			placeholders(len(quoted)) + ")",
		sqlUpdate:       "UPDATE contacts SET " + strings.Join(sets, ", ") + " WHERE id = ?",
		sqlDropMembers:  "DELETE FROM memberships WHERE contact_id = ?",
		sqlAddMember:    "INSERT INTO memberships (contact_id, list_id, opt_in_source, opt_in_time) VALUES (?, ?, ?, ?)",
		sqlListExists:   "SELECT COUNT(*) FROM lists WHERE id = ?",
		sqlListCount:    "SELECT COUNT(*) FROM memberships WHERE list_id = ?",
		sqlUserLists:    "SELECT id, name, short_name, opt_in_default, display_on_signup, sort_order, updated FROM lists ORDER BY id",
		sqlListCounts:   "SELECT list_id, COUNT(*) FROM memberships GROUP BY list_id",
		sqlStatusCounts: `SELECT "Status", COUNT(*) FROM contacts GROUP BY "Status"`,
		sqlMaxID:        "SELECT COALESCE(MAX(id), 0) FROM contacts",
		sqlByEmail:      selSummary + ` WHERE "EmailAddress" = ?`,
	}
	// One feed query per combination of filters, each with a fixed number
	// of parameters so that it can be prepared once (statuses are padded
	// by repeating the first one). Pages are read in id order: the unary +
	// keeps SQLite from choosing an index on LastUpdateTime and sorting.
	for _, sh := range allShapes() {
		where := []string{"id < ?"}
		if sh.since {
			where = append(where, `+"LastUpdateTime" >= ?`)
		}
		if sh.statuses {
			where = append(where, `"Status" IN (?, ?)`)
		}
		if sh.list {
			where = append(where, "EXISTS (SELECT 1 FROM memberships m WHERE m.contact_id = contacts.id AND m.list_id = ?)")
		}
		m[sh.name()] = selSummary + " WHERE " + strings.Join(where, " AND ") + " ORDER BY id DESC LIMIT ?"
	}
	return m
}

// shape is a combination of feed query filters.
type shape struct{ since, statuses, list bool }

func (sh shape) name() string {
	return fmt.Sprintf("contacts since=%t statuses=%t list=%t", sh.since, sh.statuses, sh.list)
}

func allShapes() []shape {
	var out []shape
	for i := range 8 {
		out = append(out, shape{i&1 != 0, i&2 != 0, i&4 != 0})
	}
	return out
}

func (st *store) prepare(ctx context.Context) error {
	st.stmts = map[string]*sql.Stmt{}
	for name, q := range st.statements() {
		s, err := st.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %s: %w", name, err)
		}
		st.stmts[name] = s
	}
	return nil
}

// stmt returns the prepared statement for use in tx.
func (st *store) stmt(ctx context.Context, tx *sql.Tx, name string) *sql.Stmt {
	return tx.StmtContext(ctx, st.stmts[name])
}

func (st *store) close() error {
	for _, s := range st.stmts {
		_ = s.Close()
	}
	if err := st.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// migrate creates the schema when the database is new and checks its
// version otherwise.
func (st *store) migrate(ctx context.Context) error {
	return st.write(ctx, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		switch v {
		case schemaVersion:
			return nil
		case 0:
		default:
			return fmt.Errorf("schema version %d, this sandbox understands %d", v, schemaVersion)
		}
		var b strings.Builder
		b.WriteString(`CREATE TABLE lists (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	short_name TEXT NOT NULL,
	opt_in_default TEXT NOT NULL,
	display_on_signup TEXT NOT NULL,
	sort_order INTEGER NOT NULL,
	updated TEXT NOT NULL
);
CREATE TABLE contacts (
	id INTEGER PRIMARY KEY`)
		for _, c := range st.cols {
			b.WriteString(",\n\t\"" + c + "\" TEXT NOT NULL DEFAULT ''")
			if c == "EmailAddress" {
				b.WriteString(" UNIQUE")
			}
		}
		b.WriteString(`
);
CREATE TABLE memberships (
	contact_id INTEGER NOT NULL REFERENCES contacts(id),
	list_id INTEGER NOT NULL REFERENCES lists(id),
	opt_in_source TEXT NOT NULL,
	opt_in_time TEXT NOT NULL,
	PRIMARY KEY (contact_id, list_id)
) WITHOUT ROWID;
CREATE INDEX memberships_list ON memberships(list_id, contact_id);
PRAGMA user_version = ` + fmt.Sprint(schemaVersion) + ";")
		if _, err := tx.ExecContext(ctx, b.String()); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		return nil
	})
}

// ensureLists creates the initial lists when the store holds no list and
// no contact.
func (st *store) ensureLists(ctx context.Context, now string) error {
	return st.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM lists) + (SELECT COUNT(*) FROM contacts)").Scan(&n); err != nil {
			return fmt.Errorf("count rows: %w", err)
		}
		if n > 0 {
			return nil
		}
		return insertInitialLists(ctx, tx, now)
	})
}

func insertInitialLists(ctx context.Context, tx *sql.Tx, now string) error {
	for _, l := range initialLists() {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO lists (id, name, short_name, opt_in_default, display_on_signup, sort_order, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
			l.ID, l.Name, l.ShortName, l.OptInDefault, l.DisplayOnSignup, l.SortOrder, now); err != nil {
			return fmt.Errorf("insert list %d: %w", l.ID, err)
		}
	}
	return nil
}

// reset deletes every contact and list and recreates the initial lists;
// contact numbers start again at 1.
func (st *store) reset(ctx context.Context, now string) error {
	return st.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{"DELETE FROM memberships", "DELETE FROM contacts", "DELETE FROM lists"} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("reset: %w", err)
			}
		}
		return insertInitialLists(ctx, tx, now)
	})
}

// write runs fn in a write transaction, one at a time; fn's error rolls
// the transaction back and is returned as is.
func (st *store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in a read-only transaction, so that it sees one snapshot.
func (st *store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := st.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// isUnique reports whether err is a UNIQUE constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE ||
		(se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT && strings.Contains(se.Error(), "UNIQUE"))
}

// scanContacts reads rows of id and the columns of fields.
func scanContacts(rows *sql.Rows, fields []ctct.Field) ([]contactRow, error) {
	defer rows.Close()
	var out []contactRow
	text := make([]string, len(fields))
	dest := make([]any, len(fields)+1)
	for i := range text {
		dest[i+1] = &text[i]
	}
	for rows.Next() {
		var r contactRow
		dest[0] = &r.ID
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan contact: %w", err)
		}
		for i := range fields {
			if err := fields[i].Set(&r.C, text[i]); err != nil {
				return nil, fmt.Errorf("scan contact: %w", err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	return out, nil
}

// getContact loads one contact with its memberships, or errNotFound.
func (st *store) getContact(ctx context.Context, tx *sql.Tx, id int64) (*contactRow, error) {
	rows, err := st.stmt(ctx, tx, sqlGetContact).QueryContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get contact %d: %w", id, err)
	}
	rs, err := scanContacts(rows, st.fields)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errNotFound
	}
	r := &rs[0]
	if r.Lists, err = st.memberships(ctx, tx, id); err != nil {
		return nil, err
	}
	return r, nil
}

// memberships loads a contact's lists in list order.
func (st *store) memberships(ctx context.Context, tx *sql.Tx, id int64) ([]membership, error) {
	rows, err := st.stmt(ctx, tx, sqlMemberships).QueryContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("memberships of %d: %w", id, err)
	}
	defer rows.Close()
	var out []membership
	for rows.Next() {
		var m membership
		if err := rows.Scan(&m.List, &m.Source, &m.Time); err != nil {
			return nil, fmt.Errorf("memberships of %d: %w", id, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memberships of %d: %w", id, err)
	}
	return out, nil
}

// emailOwner returns the number of the contact with this (lower-case)
// email, or 0.
func (st *store) emailOwner(ctx context.Context, tx *sql.Tx, email string) (int64, error) {
	var id int64
	err := st.stmt(ctx, tx, sqlEmailOwner).QueryRowContext(ctx, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up email: %w", err)
	}
	return id, nil
}

// textArgs returns the column values of c, with room for one more.
func (st *store) textArgs(c *ctct.Contact) []any {
	args := make([]any, 0, len(st.cols)+1)
	for i := range st.fields {
		args = append(args, st.fields[i].Get(c))
	}
	return args
}

// insertContact stores a new contact and its memberships and returns its
// number. A duplicate email fails with an error for which isUnique is true.
func (st *store) insertContact(ctx context.Context, tx *sql.Tx, c *ctct.Contact, ms []membership) (int64, error) {
	res, err := st.stmt(ctx, tx, sqlInsert).ExecContext(ctx, st.textArgs(c)...)
	if err != nil {
		return 0, fmt.Errorf("insert contact: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("insert contact: %w", err)
	}
	if err := st.addMemberships(ctx, tx, id, ms); err != nil {
		return 0, err
	}
	return id, nil
}

// updateContact rewrites every text column of contact id and replaces
// its memberships.
func (st *store) updateContact(ctx context.Context, tx *sql.Tx, id int64, c *ctct.Contact, ms []membership) error {
	args := append(st.textArgs(c), id)
	if _, err := st.stmt(ctx, tx, sqlUpdate).ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("update contact %d: %w", id, err)
	}
	if _, err := st.stmt(ctx, tx, sqlDropMembers).ExecContext(ctx, id); err != nil {
		return fmt.Errorf("update memberships of %d: %w", id, err)
	}
	return st.addMemberships(ctx, tx, id, ms)
}

func (st *store) addMemberships(ctx context.Context, tx *sql.Tx, id int64, ms []membership) error {
	if len(ms) == 0 {
		return nil
	}
	add := st.stmt(ctx, tx, sqlAddMember)
	for _, m := range ms {
		if _, err := add.ExecContext(ctx, id, m.List, m.Source, m.Time); err != nil {
			return fmt.Errorf("add contact %d to list %d: %w", id, m.List, err)
		}
	}
	return nil
}

// contactQuery selects a page of contacts, newest (highest number) first.
// The rows hold the summaryColumns only.
type contactQuery struct {
	Emails   []string // any of these addresses (lower case); nil = no filter
	Since    string   // LastUpdateTime >= Since (timeLayout); "" = no filter
	Statuses []string // Status in these (one or two); nil = no filter
	ListID   int64    // member of this user list; 0 = no filter
	Before   int64    // id < Before; 0 = from the newest
	Limit    int      // page size
}

// listContacts returns at most q.Limit contacts and whether more remain.
func (st *store) listContacts(ctx context.Context, tx *sql.Tx, q contactQuery) ([]contactRow, bool, error) {
	if q.Emails != nil {
		if q.Since != "" || q.Statuses != nil || q.ListID != 0 {
			return nil, false, errors.New("list contacts: emails cannot be combined with other filters")
		}
		return st.byEmails(ctx, tx, q)
	}
	if len(q.Statuses) > 2 {
		return nil, false, fmt.Errorf("list contacts: %d statuses, at most 2", len(q.Statuses))
	}
	sh := shape{since: q.Since != "", statuses: q.Statuses != nil, list: q.ListID != 0}
	before := q.Before
	if before == 0 {
		before = math.MaxInt64
	}
	args := []any{before}
	if sh.since {
		args = append(args, q.Since)
	}
	if sh.statuses {
		args = append(args, q.Statuses[0], q.Statuses[len(q.Statuses)-1])
	}
	if sh.list {
		args = append(args, q.ListID)
	}
	args = append(args, q.Limit+1)
	rows, err := st.stmt(ctx, tx, sh.name()).QueryContext(ctx, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list contacts: %w", err)
	}
	rs, err := scanContacts(rows, st.summary)
	if err != nil {
		return nil, false, err
	}
	if len(rs) > q.Limit {
		return rs[:q.Limit], true, nil
	}
	return rs, false, nil
}

// byEmails looks the addresses up one by one (a statement with a long IN
// list would be compiled again on every use) and pages the matches.
func (st *store) byEmails(ctx context.Context, tx *sql.Tx, q contactQuery) ([]contactRow, bool, error) {
	get := st.stmt(ctx, tx, sqlByEmail)
	var found []contactRow
	seen := map[int64]bool{}
	for _, e := range q.Emails {
		rows, err := get.QueryContext(ctx, e)
		if err != nil {
			return nil, false, fmt.Errorf("search %s: %w", e, err)
		}
		rs, err := scanContacts(rows, st.summary)
		if err != nil {
			return nil, false, err
		}
		for _, r := range rs {
			if (q.Before == 0 || r.ID < q.Before) && !seen[r.ID] {
				seen[r.ID] = true
				found = append(found, r)
			}
		}
	}
	slices.SortFunc(found, func(a, b contactRow) int { return cmp.Compare(b.ID, a.ID) })
	if len(found) > q.Limit {
		return found[:q.Limit], true, nil
	}
	return found, false, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// userLists returns every user list in id order.
func (st *store) userLists(ctx context.Context, tx *sql.Tx) ([]listRow, error) {
	rows, err := st.stmt(ctx, tx, sqlUserLists).QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("read lists: %w", err)
	}
	defer rows.Close()
	var out []listRow
	for rows.Next() {
		var l listRow
		if err := rows.Scan(&l.ID, &l.Name, &l.ShortName, &l.OptInDefault, &l.DisplayOnSignup, &l.SortOrder, &l.Updated); err != nil {
			return nil, fmt.Errorf("read lists: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lists: %w", err)
	}
	return out, nil
}

// listCounts returns the number of members of each user list.
func (st *store) listCounts(ctx context.Context, tx *sql.Tx) (map[int64]int, error) {
	return countBy[int64](ctx, st.stmt(ctx, tx, sqlListCounts))
}

// statusCounts returns the number of contacts in each status.
func (st *store) statusCounts(ctx context.Context, tx *sql.Tx) (map[string]int, error) {
	return countBy[string](ctx, st.stmt(ctx, tx, sqlStatusCounts))
}

func countBy[K comparable](ctx context.Context, stmt *sql.Stmt) (map[K]int, error) {
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	defer rows.Close()
	out := map[K]int{}
	for rows.Next() {
		var k K
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("count: %w", err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	return out, nil
}

// count runs a prepared COUNT(*) query with one argument.
func (st *store) count(ctx context.Context, tx *sql.Tx, name string, arg any) (int, error) {
	var n int
	if err := st.stmt(ctx, tx, name).QueryRowContext(ctx, arg).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// listExists reports whether a user list with this number exists.
func (st *store) listExists(ctx context.Context, tx *sql.Tx, id int64) (bool, error) {
	n, err := st.count(ctx, tx, sqlListExists, id)
	return n > 0, err
}

// maxID returns the highest contact number (0 when there is none).
func (st *store) maxID(ctx context.Context, tx *sql.Tx) (int64, error) {
	var n int64
	if err := st.stmt(ctx, tx, sqlMaxID).QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("read contact numbers: %w", err)
	}
	return n, nil
}
