package importer

import (
	"context"
	"fmt"
	"strings"

	"ctctbulk/ctct"
)

// outcomes records the end of each row: the counters, the error report for
// rows that did not succeed, and the journal. Safe for concurrent use.
type outcomes struct {
	im      *Importer
	journal *journal
	report  *report
}

// finish records one row's outcome. The report is written before the
// journal, so that a crash between the two repeats a report line rather
// than losing it.
func (o *outcomes) finish(line int, cells []string, status, reason string) {
	c := &o.im.counts
	switch status {
	case statusCreated:
		c.created.Add(1)
	case statusUpdated:
		c.updated.Add(1)
	case statusUnchanged:
		c.unchanged.Add(1)
	case statusSkipped:
		c.skipped.Add(1)
	default:
		c.failed.Add(1)
	}
	if status == statusSkipped || status == statusFailed {
		o.report.add(line, cells, status, reason)
	}
	o.journal.add(line, status)
}

// listResolver turns --list values and ContactLists cells (numeric ids or
// exact list names) into list memberships. Numeric ids are taken as they
// are (the server refuses an unknown one, and that row's report says so),
// so that an import by ids costs no extra request; the account's lists are
// read once, the first time a name is met. Not safe for concurrent use: the
// reading stage alone calls it.
type listResolver struct {
	client Client
	byName map[string]string // lower-cased name -> number; nil until read
	global []ctct.ListMembership
}

func newListResolver(ctx context.Context, client Client, global []string) (*listResolver, error) {
	r := &listResolver{client: client}
	for _, g := range global {
		n, err := r.resolve(ctx, g)
		if err != nil {
			return nil, &MappingError{Err: fmt.Errorf("--list %w", err)}
		}
		r.global = appendList(r.global, client.ListURI(n))
	}
	return r, nil
}

// resolve returns the number of the list named by v (a number or a name).
func (r *listResolver) resolve(ctx context.Context, v string) (string, error) {
	v = strings.TrimSpace(v)
	if isNumber(v) {
		return v, nil
	}
	if r.byName == nil {
		lists, err := r.client.Lists(ctx)
		if err != nil {
			return "", fmt.Errorf("%q: read the account's lists: %w", v, err)
		}
		r.byName = map[string]string{}
		for _, l := range lists {
			// System lists (active, removed, do-not-mail) cannot be joined.
			if n := ctct.Number(l.ID); isNumber(n) {
				r.byName[strings.ToLower(l.Name)] = n
			}
		}
	}
	if n, ok := r.byName[strings.ToLower(v)]; ok {
		return n, nil
	}
	return "", fmt.Errorf("%q: no list has this name (see ctctbulk lists)", v)
}

// forRow returns the run's lists plus the row's.
func (r *listResolver) forRow(ctx context.Context, row []string) ([]ctct.ListMembership, error) {
	if len(row) == 0 {
		return r.global, nil
	}
	out := append([]ctct.ListMembership(nil), r.global...)
	for _, v := range row {
		n, err := r.resolve(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("column ContactLists: list %w", err)
		}
		out = appendList(out, r.client.ListURI(n))
	}
	return out, nil
}

func appendList(ls []ctct.ListMembership, id string) []ctct.ListMembership {
	for _, l := range ls {
		if l.ID == id {
			return ls
		}
	}
	return append(ls, ctct.ListMembership{ID: id})
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
