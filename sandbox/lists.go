package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
)

func listNotFound(key string) *apiError {
	return newAPIError(http.StatusNotFound, "list %s not found", key)
}

// listCountsAll returns the member counts of the user lists and the
// number of contacts in each status.
func (s *Sandbox) listCountsAll(ctx context.Context, tx *sql.Tx) (map[int64]int, map[string]int, error) {
	byList, err := s.st.listCounts(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	byStatus, err := s.st.statusCounts(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	return byList, byStatus, nil
}

func systemCount(l systemList, byStatus map[string]int) int {
	n := 0
	for _, st := range l.Statuses {
		n += byStatus[st]
	}
	return n
}

// listsFeed answers GET /lists: the system lists, then the user lists by
// number, each with its ContactCount.
func (s *Sandbox) listsFeed(ctx context.Context) reply {
	var users []listRow
	var byList map[int64]int
	var byStatus map[string]int
	err := s.st.read(ctx, func(tx *sql.Tx) error {
		var err error
		if users, err = s.st.userLists(ctx, tx); err != nil {
			return err
		}
		byList, byStatus, err = s.listCountsAll(ctx, tx)
		return err
	})
	if err != nil {
		return s.failure(err)
	}
	now := s.stamp()
	var b bytes.Buffer
	s.p.startFeed(&b, s.p.listsHead(now))
	for _, l := range systemLists() {
		s.p.writeSystemListEntry(&b, "  ", false, l, systemCount(l, byStatus), now)
	}
	for i := range users {
		s.p.writeUserListEntry(&b, "  ", false, &users[i], byList[users[i].ID], now)
	}
	endFeed(&b)
	return atomReply(http.StatusOK, b.Bytes())
}

// listEntry answers GET /lists/{id}.
func (s *Sandbox) listEntry(ctx context.Context, key string) reply {
	now := s.stamp()
	var b bytes.Buffer
	if sl, ok := lookupSystemList(key); ok {
		var byStatus map[string]int
		err := s.st.read(ctx, func(tx *sql.Tx) error {
			var err error
			byStatus, err = s.st.statusCounts(ctx, tx)
			return err
		})
		if err != nil {
			return s.failure(err)
		}
		s.p.writeSystemListEntry(&b, "", true, sl, systemCount(sl, byStatus), now)
		return atomReply(http.StatusOK, b.Bytes())
	}
	n, ok := parseNumber(key)
	if !ok {
		return s.failure(listNotFound(key))
	}
	var l *listRow
	var count int
	err := s.st.read(ctx, func(tx *sql.Tx) error {
		users, err := s.st.userLists(ctx, tx)
		if err != nil {
			return err
		}
		for i := range users {
			if users[i].ID == n {
				l = &users[i]
			}
		}
		if l == nil {
			return errNotFound
		}
		count, err = s.st.count(ctx, tx, sqlListCount, n)
		return err
	})
	if errors.Is(err, errNotFound) {
		return s.failure(listNotFound(key))
	}
	if err != nil {
		return s.failure(err)
	}
	s.p.writeUserListEntry(&b, "", true, l, count, now)
	return atomReply(http.StatusOK, b.Bytes())
}

// membersFeed answers GET /lists/{id}/members, a page at a time, newest
// contact first. The members of a system list are the contacts in its
// statuses.
func (s *Sandbox) membersFeed(ctx context.Context, r *http.Request, key string) reply {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errorReply(http.StatusBadRequest, "invalid query: %v", err)
	}
	if len(q["next"]) > 1 {
		return errorReply(http.StatusBadRequest, "next may be given only once")
	}
	cq := contactQuery{Limit: s.cfg.PageSize}
	sl, system := lookupSystemList(key)
	if system {
		cq.Statuses = sl.Statuses
	} else {
		n, ok := parseNumber(key)
		if !ok {
			return s.failure(listNotFound(key))
		}
		cq.ListID = n
		key = listKey(n)
	}
	filterKey := "members/" + key
	tok := q.Get("next")
	if cq.Before, err = decodeToken(tok, filterKey); err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	var rows []contactRow
	var more bool
	err = s.st.read(ctx, func(tx *sql.Tx) error {
		if !system {
			ok, err := s.st.listExists(ctx, tx, cq.ListID)
			if err != nil {
				return err
			}
			if !ok {
				return listNotFound(key)
			}
		}
		var err error
		rows, more, err = s.st.listContacts(ctx, tx, cq)
		return err
	})
	if err != nil {
		return s.failure(err)
	}
	path := s.p.members(key)
	h := feedHead{
		ID: apiOrigin + path, Title: "Contacts for Customer: " + s.p.user, Alt: apiOrigin + path,
		Updated: s.stamp(), First: path, Current: path,
	}
	if tok != "" {
		h.Current = withQuery(path, url.Values{"next": {tok}})
	}
	if more {
		h.Next = withQuery(path, url.Values{"next": {encodeToken(rows[len(rows)-1].ID, filterKey)}})
	}
	var b bytes.Buffer
	s.p.startFeed(&b, h)
	for i := range rows {
		s.p.writeMemberEntry(&b, "  ", key, &rows[i])
	}
	endFeed(&b)
	return atomReply(http.StatusOK, b.Bytes())
}
