package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ctctbulk/ctct"
)

// maxEmails is the most email= parameters one search may carry.
const maxEmails = 50

func contactNotFound(n int64) *apiError {
	return newAPIError(http.StatusNotFound, "contact %d not found", n)
}

func emailConflict(email string) *apiError {
	return newAPIError(http.StatusConflict, "Email address %s already exists", email)
}

// editable returns a Contact holding only the editable fields of in, the
// email trimmed and lower-cased and an empty EmailType made HTML.
func editable(in *ctct.Contact) *ctct.Contact {
	c := &ctct.Contact{}
	for _, f := range ctct.EditableFields() {
		_ = f.Set(c, f.Get(in)) // editable fields are text
	}
	c.EmailAddress = strings.ToLower(strings.TrimSpace(c.EmailAddress))
	if c.EmailType == "" {
		c.EmailType = ctct.EmailTypeHTML
	}
	return c
}

// fullName is the computed Name: "FirstName LastName", trimmed.
func fullName(c *ctct.Contact) string {
	return strings.TrimSpace(strings.TrimSpace(c.FirstName) + " " + strings.TrimSpace(c.LastName))
}

// validate checks every editable field; the answer names each bad field
// and why.
func validate(c *ctct.Contact) *apiError {
	errs := ctct.ValidateContact(c)
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return newAPIError(http.StatusBadRequest, "%s", strings.Join(msgs, "; "))
}

// parseLists turns the ContactList elements of a request into list
// numbers (first occurrence wins), each with the OptInSource the element
// carries. Every id must be a list URI (or path) of this account.
func (s *Sandbox) parseLists(ls []ctct.ListMembership) ([]membership, *apiError) {
	var out []membership
	seen := map[int64]bool{}
	for _, l := range ls {
		n, ok := s.listNumber(l.ID)
		if !ok {
			return nil, newAPIError(http.StatusBadRequest, "ContactList %q is not a list of this account", l.ID)
		}
		if l.OptInSource != "" {
			if err := ctct.CheckOptSource(l.OptInSource); err != nil {
				return nil, newAPIError(http.StatusBadRequest, "ContactList %s OptInSource: %v", l.ID, err)
			}
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, membership{List: n, Source: l.OptInSource})
		}
	}
	return out, nil
}

// listNumber parses a user list id: an absolute URI or a path ending in
// /ws/customers/{user}/lists/{n}.
func (s *Sandbox) listNumber(id string) (int64, bool) {
	u, err := url.Parse(strings.TrimSpace(id))
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(u.Path, "/ws/customers/")
	if !ok {
		return 0, false
	}
	user, num, ok := strings.Cut(rest, "/lists/")
	if !ok || !strings.EqualFold(user, s.cfg.User) {
		return 0, false
	}
	return parseNumber(num)
}

// checkLists fails unless every list exists.
func (s *Sandbox) checkLists(ctx context.Context, tx *sql.Tx, ms []membership, what string) error {
	for _, m := range ms {
		ok, err := s.st.listExists(ctx, tx, m.List)
		if err != nil {
			return err
		}
		if !ok {
			return newAPIError(http.StatusBadRequest, "%sContactList %d does not exist", what, m.List)
		}
	}
	return nil
}

// createContact answers POST /contacts.
func (s *Sandbox) createContact(ctx context.Context, r *http.Request, body []byte) reply {
	in, err := ctct.DecodeContactEntry(bytes.NewReader(body))
	if err != nil {
		return errorReply(http.StatusBadRequest, "invalid entry: %v", err)
	}
	c := editable(in)
	if in.OptInSource == "" {
		return errorReply(http.StatusBadRequest, "OptInSource is required (%s or %s)", ctct.ActionByCustomer, ctct.ActionByContact)
	}
	if err := ctct.CheckOptSource(in.OptInSource); err != nil {
		return errorReply(http.StatusBadRequest, "OptInSource: %v", err)
	}
	if ae := validate(c); ae != nil {
		return s.failure(ae)
	}
	const noList = "The new contact must contain at least one valid ContactList"
	ms, ae := s.parseLists(in.Lists)
	if ae != nil {
		return errorReply(http.StatusBadRequest, "%s: %s", noList, ae.msg)
	}
	if len(ms) == 0 {
		return errorReply(http.StatusBadRequest, noList)
	}
	now := s.stamp()
	c.Status = ctct.StatusActive
	c.Name = fullName(c)
	c.OptInSource, c.OptInTime = in.OptInSource, now
	c.Confirmed = "false"
	c.InsertTime, c.LastUpdateTime = now, now
	for i := range ms {
		ms[i].Source, ms[i].Time = in.OptInSource, now
	}
	var id int64
	err = s.st.write(ctx, func(tx *sql.Tx) error {
		if err := s.checkLists(ctx, tx, ms, noList+": "); err != nil {
			return err
		}
		owner, err := s.st.emailOwner(ctx, tx, c.EmailAddress)
		if err != nil {
			return err
		}
		if owner != 0 {
			return emailConflict(c.EmailAddress)
		}
		id, err = s.st.insertContact(ctx, tx, c, ms)
		if isUnique(err) {
			return emailConflict(c.EmailAddress)
		}
		return err
	})
	if err != nil {
		return s.failure(err)
	}
	var b bytes.Buffer
	if err := s.p.writeContactEntry(&b, "", true, &contactRow{ID: id, C: *c, Lists: ms}, ctct.ViewFull, now); err != nil {
		return s.failure(fmt.Errorf("write entry: %w", err))
	}
	rep := atomReply(http.StatusCreated, b.Bytes())
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	rep.header = http.Header{"Location": {scheme + "://" + r.Host + s.p.contact(id)}}
	return rep
}

// getContact answers GET /contacts/{n} with the full contact.
func (s *Sandbox) getContact(ctx context.Context, n int64) reply {
	var row *contactRow
	err := s.st.read(ctx, func(tx *sql.Tx) error {
		var err error
		row, err = s.st.getContact(ctx, tx, n)
		return err
	})
	if errors.Is(err, errNotFound) {
		return s.failure(contactNotFound(n))
	}
	if err != nil {
		return s.failure(err)
	}
	var b bytes.Buffer
	if err := s.p.writeContactEntry(&b, "", true, row, ctct.ViewFull, s.stamp()); err != nil {
		return s.failure(fmt.Errorf("write entry: %w", err))
	}
	return atomReply(http.StatusOK, b.Bytes())
}

// updateContact answers PUT /contacts/{n}: a full replace of the editable
// fields and of the list membership. LastUpdateTime moves only when
// something changed.
func (s *Sandbox) updateContact(ctx context.Context, n int64, body []byte) reply {
	in, err := ctct.DecodeContactEntry(bytes.NewReader(body))
	if err != nil {
		return errorReply(http.StatusBadRequest, "invalid entry: %v", err)
	}
	c := editable(in)
	if ae := validate(c); ae != nil {
		return s.failure(ae)
	}
	want, ae := s.parseLists(in.Lists)
	if ae != nil {
		return s.failure(ae)
	}
	// A ContactList that carries no OptInSource takes the contact-level
	// one (PROTOCOL.md): that is how a contact opts back in.
	if in.OptInSource != "" {
		if err := ctct.CheckOptSource(in.OptInSource); err != nil {
			return errorReply(http.StatusBadRequest, "OptInSource: %v", err)
		}
		for i := range want {
			if want[i].Source == "" {
				want[i].Source = in.OptInSource
			}
		}
	}
	now := s.stamp()
	err = s.st.write(ctx, func(tx *sql.Tx) error {
		old, err := s.st.getContact(ctx, tx, n)
		if errors.Is(err, errNotFound) {
			return contactNotFound(n)
		}
		if err != nil {
			return err
		}
		if err := s.checkLists(ctx, tx, want, ""); err != nil {
			return err
		}
		if c.EmailAddress != old.C.EmailAddress {
			owner, err := s.st.emailOwner(ctx, tx, c.EmailAddress)
			if err != nil {
				return err
			}
			if owner != 0 && owner != n {
				return emailConflict(c.EmailAddress)
			}
		}
		next := old.C
		for _, f := range ctct.EditableFields() {
			_ = f.Set(&next, f.Get(c))
		}
		next.Name = fullName(&next)
		ms := mergeLists(old.Lists, want, now)
		switch {
		case old.C.Status == ctct.StatusDoNotMail:
			if len(ms) == 0 {
				break
			}
			for _, m := range ms {
				if m.Source != ctct.ActionByContact {
					return newAPIError(http.StatusBadRequest, "Status transition from Do Not Mail to Active is not allowed")
				}
			}
			next.Status = ctct.StatusActive
			next.OptOutTime, next.OptOutSource, next.OptOutReason = "", "", ""
		case len(ms) == 0:
			next.Status = ctct.StatusRemoved
		case old.C.Status == ctct.StatusRemoved:
			next.Status = ctct.StatusActive
		}
		if s.sameText(&next, &old.C) && sameLists(ms, old.Lists) {
			return nil
		}
		next.LastUpdateTime = now
		err = s.st.updateContact(ctx, tx, n, &next, ms)
		if isUnique(err) {
			return emailConflict(c.EmailAddress)
		}
		return err
	})
	if err != nil {
		return s.failure(err)
	}
	return reply{status: http.StatusNoContent}
}

// mergeLists is the membership after a PUT that asks for want: kept lists
// keep their opt-in; new ones take the element's OptInSource (or
// ACTION_BY_CUSTOMER) and now.
func mergeLists(old, want []membership, now string) []membership {
	out := make([]membership, 0, len(want))
	for _, w := range want {
		m := membership{List: w.List, Source: w.Source, Time: now}
		if m.Source == "" {
			m.Source = ctct.ActionByCustomer
		}
		for _, o := range old {
			if o.List == w.List {
				m = o
				break
			}
		}
		out = append(out, m)
	}
	return out
}

func sameLists(a, b []membership) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[int64]membership{}
	for _, m := range b {
		in[m.List] = m
	}
	for _, m := range a {
		if o, ok := in[m.List]; !ok || o != m {
			return false
		}
	}
	return true
}

// sameText reports whether two contacts have the same stored text.
func (s *Sandbox) sameText(a, b *ctct.Contact) bool {
	for i := range s.st.fields {
		if f := &s.st.fields[i]; f.Get(a) != f.Get(b) {
			return false
		}
	}
	return true
}

// optOutContact answers DELETE /contacts/{n}: the contact becomes Do Not
// Mail and leaves every list. Opting out a Do Not Mail contact changes
// nothing.
func (s *Sandbox) optOutContact(ctx context.Context, n int64) reply {
	now := s.stamp()
	err := s.st.write(ctx, func(tx *sql.Tx) error {
		old, err := s.st.getContact(ctx, tx, n)
		if errors.Is(err, errNotFound) {
			return contactNotFound(n)
		}
		if err != nil {
			return err
		}
		if old.C.Status == ctct.StatusDoNotMail {
			return nil
		}
		next := old.C
		next.Status = ctct.StatusDoNotMail
		next.OptOutTime, next.OptOutSource, next.OptOutReason = now, ctct.ActionByCustomer, ""
		next.LastUpdateTime = now
		return s.st.updateContact(ctx, tx, n, &next, nil)
	})
	if err != nil {
		return s.failure(err)
	}
	return reply{status: http.StatusNoContent}
}

// contactFilter is a parsed query of the contacts collection.
type contactFilter struct {
	emails   []string // lower case
	since    string   // the updatedsince value as given
	sinceKey string   // updatedsince in timeLayout, rounded up to the millisecond
	listType string
	listID   string
}

// parseContactFilter reads email=, updatedsince=, listtype= and listid=.
func parseContactFilter(q url.Values) (contactFilter, error) {
	var f contactFilter
	for _, k := range []string{"updatedsince", "listtype", "listid", "next"} {
		if len(q[k]) > 1 {
			return f, fmt.Errorf("%s may be given only once", k)
		}
	}
	if es, ok := q["email"]; ok {
		if len(es) > maxEmails {
			return f, fmt.Errorf("at most %d email parameters, got %d", maxEmails, len(es))
		}
		for _, e := range es {
			e = strings.ToLower(strings.TrimSpace(e))
			if e == "" {
				return f, errors.New("empty email parameter")
			}
			f.emails = append(f.emails, e)
		}
	}
	_, hasSince := q["updatedsince"]
	_, hasType := q["listtype"]
	_, hasID := q["listid"]
	if f.emails != nil && (hasSince || hasType || hasID) {
		return f, errors.New("email cannot be combined with updatedsince, listtype or listid")
	}
	if (hasType || hasID) && !hasSince {
		return f, errors.New("listtype and listid need updatedsince")
	}
	if hasSince && hasType == hasID {
		return f, errors.New("updatedsince needs exactly one of listtype or listid")
	}
	if hasSince {
		f.since = q.Get("updatedsince")
		t, err := time.Parse(time.RFC3339Nano, f.since)
		if err != nil {
			return f, fmt.Errorf("updatedsince %q is not a time like 2008-07-23T14:21:06.407Z", f.since)
		}
		t = t.UTC()
		if tr := t.Truncate(time.Millisecond); !tr.Equal(t) {
			t = tr.Add(time.Millisecond)
		}
		f.sinceKey = t.Format(timeLayout)
	}
	if hasType {
		f.listType = q.Get("listtype")
		if _, ok := lookupSystemList(f.listType); !ok {
			return f, fmt.Errorf("listtype %q must be active, removed or do-not-mail", f.listType)
		}
	}
	if hasID {
		f.listID = q.Get("listid")
		if _, ok := parseNumber(f.listID); !ok {
			return f, fmt.Errorf("listid %q is not a list number", f.listID)
		}
	}
	return f, nil
}

// values is the canonical query of the filter (without next).
func (f contactFilter) values() url.Values {
	v := url.Values{}
	if f.emails != nil {
		v["email"] = f.emails
	}
	if f.since != "" {
		v.Set("updatedsince", f.since)
	}
	if f.listType != "" {
		v.Set("listtype", f.listType)
	}
	if f.listID != "" {
		v.Set("listid", f.listID)
	}
	return v
}

// withQuery appends an encoded query to a path when there is one.
func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// listContactsFeed answers GET /contacts: the whole collection, an email
// search or an updatedsince query, a page at a time.
func (s *Sandbox) listContactsFeed(ctx context.Context, r *http.Request) reply {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errorReply(http.StatusBadRequest, "invalid query: %v", err)
	}
	f, err := parseContactFilter(q)
	if err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	fv := f.values()
	filterKey := "contacts?" + fv.Encode()
	tok := q.Get("next")
	before, err := decodeToken(tok, filterKey)
	if err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	cq := contactQuery{Emails: f.emails, Since: f.sinceKey, Before: before, Limit: s.cfg.PageSize}
	if f.listType != "" {
		l, _ := lookupSystemList(f.listType)
		cq.Statuses = l.Statuses
	}
	var rows []contactRow
	var more bool
	err = s.st.read(ctx, func(tx *sql.Tx) error {
		if f.listID != "" {
			cq.ListID, _ = parseNumber(f.listID)
			ok, err := s.st.listExists(ctx, tx, cq.ListID)
			if err != nil {
				return err
			}
			if !ok {
				return newAPIError(http.StatusBadRequest, "listid %s is not a list of this account", f.listID)
			}
		}
		var err error
		rows, more, err = s.st.listContacts(ctx, tx, cq)
		return err
	})
	if err != nil {
		return s.failure(err)
	}
	now := s.stamp()
	h := s.p.contactsHead(now)
	h.First = withQuery(s.p.contacts(), fv)
	cur := f.values()
	if tok != "" {
		cur.Set("next", tok)
	}
	h.Current = withQuery(s.p.contacts(), cur)
	if more {
		nv := f.values()
		nv.Set("next", encodeToken(rows[len(rows)-1].ID, filterKey))
		h.Next = withQuery(s.p.contacts(), nv)
	}
	view := ctct.ViewSummary
	if f.emails != nil {
		view = ctct.ViewSearch
	}
	var b bytes.Buffer
	s.p.startFeed(&b, h)
	for i := range rows {
		if err := s.p.writeContactEntry(&b, "  ", false, &rows[i], view, now); err != nil {
			return s.failure(fmt.Errorf("write entry: %w", err))
		}
	}
	endFeed(&b)
	return atomReply(http.StatusOK, b.Bytes())
}
