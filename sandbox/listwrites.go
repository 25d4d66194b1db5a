package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"ctctbulk/ctct"
)

// listInput is a checked ContactList of a POST or PUT.
type listInput struct {
	name, optInDefault string
	sortOrder          int64
	hasSort            bool
}

// parseListEntry reads and checks the ContactList of a list write: a Name
// (at most 50 characters), OptInDefault true or false (default false),
// SortOrder a number (optional).
func parseListEntry(body []byte) (*listInput, *apiError) {
	l, err := ctct.DecodeListEntry(bytes.NewReader(body))
	if err != nil {
		return nil, badRequest("invalid entry: %v", err)
	}
	in := &listInput{name: strings.TrimSpace(l.Name), optInDefault: strings.ToLower(strings.TrimSpace(l.OptInDefault))}
	if in.name == "" {
		return nil, badRequest("the list needs a Name")
	}
	if n := len([]rune(in.name)); n > 50 {
		return nil, badRequest("Name: %d characters, at most 50 allowed", n)
	}
	switch in.optInDefault {
	case "":
		in.optInDefault = "false"
	case "true", "false":
	default:
		return nil, badRequest("OptInDefault %q is not true or false", l.OptInDefault)
	}
	if so := strings.TrimSpace(l.SortOrder); so != "" {
		n, err := strconv.ParseInt(so, 10, 64)
		if err != nil || n < 0 {
			return nil, badRequest("SortOrder %q is not a number", so)
		}
		in.sortOrder, in.hasSort = n, true
	}
	return in, nil
}

// nameTaken reports whether another list (not except) has this name, in
// any case; the system lists' names count.
func nameTaken(ctx context.Context, tx *sql.Tx, name string, except int64) (bool, error) {
	for _, sl := range systemLists() {
		if strings.EqualFold(sl.Name, name) {
			return true, nil
		}
	}
	var n int
	err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM lists WHERE lower(name) = lower(?) AND id != ?", name, except).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up list name: %w", err)
	}
	return n > 0, nil
}

func listNameConflict(name string) *apiError {
	return newAPIError(http.StatusConflict, "a list named %q already exists", name)
}

// createList answers POST /lists: 201, Location and the new list's entry;
// an existing name is a 409.
func (s *Sandbox) createList(ctx context.Context, r *http.Request, body []byte) reply {
	in, ae := parseListEntry(body)
	if ae != nil {
		return s.failure(ae)
	}
	now := s.stamp()
	var l listRow
	err := s.st.write(ctx, func(tx *sql.Tx) error {
		taken, err := nameTaken(ctx, tx, in.name, 0)
		if err != nil {
			return err
		}
		if taken {
			return listNameConflict(in.name)
		}
		var maxID, maxSort int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0), COALESCE(MAX(sort_order), 0) FROM lists").Scan(&maxID, &maxSort); err != nil {
			return fmt.Errorf("read lists: %w", err)
		}
		l = listRow{ID: maxID + 1, Name: in.name, ShortName: in.name, OptInDefault: in.optInDefault,
			DisplayOnSignup: "No", SortOrder: maxSort + 1, Updated: now}
		if in.hasSort {
			l.SortOrder = in.sortOrder
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO lists (id, name, short_name, opt_in_default, display_on_signup, sort_order, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
			l.ID, l.Name, l.ShortName, l.OptInDefault, l.DisplayOnSignup, l.SortOrder, l.Updated)
		if err != nil {
			return fmt.Errorf("insert list: %w", err)
		}
		return nil
	})
	if err != nil {
		return s.failure(err)
	}
	var b bytes.Buffer
	s.p.writeUserListEntry(&b, "", true, &l, 0, now)
	rep := atomReply(http.StatusCreated, b.Bytes())
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	rep.header = http.Header{"Location": {scheme + "://" + r.Host + s.p.list(listKey(l.ID))}}
	return rep
}

// writableList parses the {n} of a list write: a system list is a 400,
// anything but a number a 404.
func writableList(key string) (int64, *apiError) {
	if _, system := lookupSystemList(key); system {
		return 0, badRequest("the system list %s cannot be written", key)
	}
	n, ok := parseNumber(key)
	if !ok {
		return 0, listNotFound(key)
	}
	return n, nil
}

// writeList runs fn in a write transaction on user list n once it has
// checked, in that transaction, that the list exists: a missing list is
// the 404 of key and fn does not run.
func (s *Sandbox) writeList(ctx context.Context, n int64, key string, fn func(tx *sql.Tx) error) error {
	return s.st.write(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.listExists(ctx, tx, n)
		if err != nil {
			return fmt.Errorf("list %d: %w", n, err)
		}
		if !ok {
			return listNotFound(key)
		}
		return fn(tx)
	})
}

// updateList answers PUT /lists/{n}: the list takes the entry's Name,
// OptInDefault and (when given) SortOrder; 204.
func (s *Sandbox) updateList(ctx context.Context, key string, body []byte) reply {
	n, ae := writableList(key)
	if ae != nil {
		return s.failure(ae)
	}
	in, ae := parseListEntry(body)
	if ae != nil {
		return s.failure(ae)
	}
	now := s.stamp()
	err := s.writeList(ctx, n, key, func(tx *sql.Tx) error {
		taken, err := nameTaken(ctx, tx, in.name, n)
		if err != nil {
			return err
		}
		if taken {
			return listNameConflict(in.name)
		}
		q := "UPDATE lists SET name = ?, short_name = ?, opt_in_default = ?, updated = ? WHERE id = ?"
		args := []any{in.name, in.name, in.optInDefault, now, n}
		if in.hasSort {
			q = "UPDATE lists SET name = ?, short_name = ?, opt_in_default = ?, updated = ?, sort_order = ? WHERE id = ?"
			args = []any{in.name, in.name, in.optInDefault, now, in.sortOrder, n}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("update list %d: %w", n, err)
		}
		return nil
	})
	if err != nil {
		return s.failure(err)
	}
	return reply{status: http.StatusNoContent}
}

// deleteList answers DELETE /lists/{n}: 204. The members stay in the
// account; a member left on no list becomes Removed, as when it is taken
// off its last list any other way.
func (s *Sandbox) deleteList(ctx context.Context, key string) reply {
	n, ae := writableList(key)
	if ae != nil {
		return s.failure(ae)
	}
	now := s.stamp()
	err := s.writeList(ctx, n, key, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT contact_id FROM memberships WHERE list_id = ?", n)
		if err != nil {
			return fmt.Errorf("members of list %d: %w", n, err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("members of list %d: %w", n, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("members of list %d: %w", n, err)
		}
		for _, id := range ids {
			old, err := s.st.getContact(ctx, tx, id)
			if errors.Is(err, errNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := s.takeOff(ctx, tx, id, old, []int64{n}, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM lists WHERE id = ?", n); err != nil {
			return fmt.Errorf("delete list %d: %w", n, err)
		}
		return nil
	})
	if err != nil {
		return s.failure(err)
	}
	return reply{status: http.StatusNoContent}
}
