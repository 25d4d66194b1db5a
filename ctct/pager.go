package ctct

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// List types of an updated-since query.
const (
	ListTypeActive    = "active"
	ListTypeRemoved   = "removed"
	ListTypeDoNotMail = "do-not-mail"
)

// ContactQuery selects the contacts a walk returns. The zero value is the
// plain listing: every contact in any status. Setting ListType (one of
// active, removed, do-not-mail) or ListID (a list number or id URI) asks
// for the contacts of that kind whose LastUpdateTime is at or after
// UpdatedSince; a zero UpdatedSince then means "since the epoch", so the
// whole kind. UpdatedSince alone is an error: the API needs a list kind.
type ContactQuery struct {
	UpdatedSince time.Time
	ListType     string
	ListID       string
	// After, when set, resumes a walk of the query: it is the next link
	// of the last page an earlier walk read (Feed.Next), which must lie
	// under the account's contacts collection.
	After string
}

// ref returns the collection reference of the query.
func (q ContactQuery) ref(c *Client) (string, error) {
	base := c.accountPath() + "contacts"
	if q.After != "" {
		u, err := url.Parse(q.After)
		if err != nil || !strings.HasPrefix(u.EscapedPath(), base) {
			return "", fmt.Errorf("contact query: %q is not a page of the account's contacts", q.After)
		}
		return q.After, nil
	}
	if q == (ContactQuery{}) {
		return base, nil
	}
	if q.ListType != "" && q.ListID != "" {
		return "", errors.New("contact query: ListType and ListID are exclusive")
	}
	since := q.UpdatedSince
	if since.IsZero() {
		since = time.Unix(0, 0)
	}
	v := "updatedsince=" + url.QueryEscape(since.UTC().Format(TimeLayout))
	switch q.ListType {
	case ListTypeActive, ListTypeRemoved, ListTypeDoNotMail:
		return base + "?" + v + "&listtype=" + q.ListType, nil
	case "":
	default:
		return "", fmt.Errorf("contact query: list type %q is not %s, %s or %s", q.ListType, ListTypeActive, ListTypeRemoved, ListTypeDoNotMail)
	}
	if q.ListID == "" {
		return "", errors.New("contact query: UpdatedSince needs ListType or ListID")
	}
	n := lastSegment(q.ListID)
	if !IsNumber(n) {
		return "", fmt.Errorf("contact query: list id %q is not a number", q.ListID)
	}
	return base + "?" + v + "&listid=" + n, nil
}

// Pager walks a paged feed one page at a time, following rel="next"
// links; only the current page is held. A Pager is not safe for concurrent
// use; the Client under it is.
type Pager struct {
	c     *Client
	next  string // reference of the next page
	err   error  // a query error, returned by every Next
	done  bool
	pages int
}

// Contacts returns a Pager over the contacts collection selected by q.
// Entries carry the summary view (Status, EmailAddress, EmailType, Name,
// OptInTime, OptInSource); GET a contact for every field. Safe for
// concurrent use (each Pager is used by one goroutine).
func (c *Client) Contacts(q ContactQuery) *Pager {
	ref, err := q.ref(c)
	return &Pager{c: c, next: ref, err: err}
}

// ListMembers returns a Pager over the members feed of a list (number,
// word or id URI). Safe for concurrent use (each Pager is used by one
// goroutine).
func (c *Client) ListMembers(listID string) *Pager {
	id := lastSegment(listID)
	if id == "" || id == "." {
		return &Pager{c: c, err: errors.New("list members: empty list id")}
	}
	return &Pager{c: c, next: c.accountPath() + "lists/" + url.PathEscape(id) + "/members"}
}

// Next fetches the next page. After the last page (no next link) Done
// reports true and Next returns io.EOF. A failed fetch leaves the Pager
// where it was, so Next may be called again.
func (p *Pager) Next(ctx context.Context) (*Feed, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.done {
		return nil, io.EOF
	}
	res, err := p.c.do(ctx, http.MethodGet, p.next, nil)
	if err != nil {
		return nil, fmt.Errorf("page %d: %w", p.pages+1, err)
	}
	f, err := DecodeFeed(bytes.NewReader(res.body))
	if err != nil {
		return nil, fmt.Errorf("page %d: %w", p.pages+1, err)
	}
	next := f.Next()
	switch {
	case next == "":
		p.done = true
	case next == p.next:
		return nil, fmt.Errorf("page %d: the server returned the same next link again", p.pages+1)
	default:
		p.next = next
	}
	p.pages++
	return f, nil
}

// Done reports whether the last page has been returned.
func (p *Pager) Done() bool { return p.done }

// All returns an iterator over the remaining pages, each with a nil error,
// or the error that stopped the walk as the last pair. A loop that breaks
// early leaves the Pager after the last page it received.
func (p *Pager) All(ctx context.Context) iter.Seq2[*Feed, error] {
	return func(yield func(*Feed, error) bool) {
		for !p.Done() {
			f, err := p.Next(ctx)
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
}

// ContactPages returns an iterator over the pages of the contacts
// collection selected by q (see Contacts), fetched as the loop asks for
// them: only the current page is held. Safe for concurrent use (each
// iterator is used by one goroutine).
func (c *Client) ContactPages(ctx context.Context, q ContactQuery) iter.Seq2[*Feed, error] {
	return c.Contacts(q).All(ctx)
}
