package importer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"ctctbulk/ctct"
)

// Lists: the --list values and the ContactLists cells name lists by number
// or name (ctct.FindList's rule). The account's lists are read once, before
// anything is written: an unknown --list is then a usage error; with
// --create-lists the names the input holds (found by the read stage) are
// created before the first row is sent.

// listResolver turns --list values and ContactLists cells (list numbers or
// names, ctct.FindList's rule) into list memberships. The account's lists
// are read once, before the first row, when any list is named: an unknown
// --list is then a usage error before anything is sent, and an unknown list
// in a ContactLists cell fails that row alone. Not safe for concurrent
// use: the reading stage alone calls it.
type listResolver struct {
	client Client
	lists  []ctct.List
	names  []string // the --list values
	global []ctct.ListMembership
	byCell map[string]cellList // what each ContactLists entry met so far resolved to
}

// ErrUnknownList is returned when a --list value names no list.
var ErrUnknownList = fmt.Errorf("unknown list")

// newListResolver reads the account's lists when --list is given or a
// file has a ContactLists column, and resolves the --list values: an
// unknown one is refused, unless create is set and it is a name (created
// later, by createLists).
func newListResolver(ctx context.Context, client Client, global []string, hasColumn, create bool) (*listResolver, error) {
	r := &listResolver{client: client, byCell: map[string]cellList{}, names: global}
	if len(global) == 0 && !hasColumn {
		return r, nil
	}
	lists, err := client.Lists(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the account's lists: %w", err)
	}
	r.lists = lists
	for _, g := range global {
		if _, err := ctct.FindList(r.lists, g); err != nil && !(create && !ctct.IsNumber(strings.TrimSpace(g))) {
			return nil, &RefusedError{Err: fmt.Errorf("%w: --list %s: %w", ErrUnknownList, g, err)}
		}
	}
	return r, r.resolveGlobal()
}

// resolveGlobal resolves the --list values against the lists read.
func (r *listResolver) resolveGlobal() error {
	r.global = nil
	for _, g := range r.names {
		l, err := ctct.FindList(r.lists, g)
		if err != nil {
			continue // a name --create-lists creates
		}
		r.global = appendList(r.global, r.client.ListURI(ctct.Number(l.ID)))
	}
	return nil
}

// createLists creates each list that --list or a ContactLists cell (cells,
// as the read stage found them) names and the account lacks, then
// resolves the --list values again. At most maxCreatedLists.
func (r *listResolver) createLists(ctx context.Context, cells []string, warnf func(string, ...any)) error {
	names := append(slices.Clone(r.names), cells...)
	if len(cells) > maxCreatedLists {
		return &RefusedError{Err: fmt.Errorf("--create-lists: the ContactLists column names more than %d lists: is it the right column?", maxCreatedLists)}
	}
	for _, name := range names {
		if err := r.create(ctx, name, warnf); err != nil {
			return err
		}
	}
	r.byCell = map[string]cellList{}
	return r.resolveGlobal()
}

// maxCreatedLists bounds the lists --create-lists makes in one run: more
// distinct names in a ContactLists column are most likely the wrong column.
const maxCreatedLists = 100

// create creates the list called name unless a list has that number or
// name. A number that no list has cannot be created: it stays unknown. A
// create whose answer was lost, or that meets a list of the same name made
// meanwhile, reads the lists again rather than making a second one.
func (r *listResolver) create(ctx context.Context, name string, warnf func(string, ...any)) error {
	name = strings.TrimSpace(name)
	if name == "" || ctct.IsNumber(name) {
		return nil
	}
	if _, err := ctct.FindList(r.lists, name); err == nil {
		return nil
	}
	made, err := r.client.CreateList(ctx, &ctct.List{Name: name, OptInDefault: "false"})
	if err != nil {
		if !errors.Is(err, ctct.ErrConflict) && !errors.Is(err, ctct.ErrUncertain) {
			return fmt.Errorf("create list %q: %w", name, err)
		}
		lists, lerr := r.client.Lists(ctx)
		if lerr != nil {
			return fmt.Errorf("create list %q: %w", name, errors.Join(err, lerr))
		}
		r.lists = lists
		if _, ferr := ctct.FindList(lists, name); ferr != nil {
			return fmt.Errorf("create list %q: %w", name, err)
		}
		return nil
	}
	r.lists = append(r.lists, *made)
	warnf("created list %q (number %s): --create-lists", name, ctct.Number(made.ID))
	return nil
}

// cellList is what a ContactLists entry resolved to: a list URI, or why
// no list has it.
type cellList struct {
	uri string
	err error
}

// forRow returns the run's lists plus the row's.
func (r *listResolver) forRow(row []string) ([]ctct.ListMembership, error) {
	if len(row) == 0 {
		return r.global, nil
	}
	out := append([]ctct.ListMembership(nil), r.global...)
	for _, v := range row {
		c, ok := r.byCell[v]
		if !ok {
			l, err := ctct.FindList(r.lists, v)
			if err == nil {
				c.uri = r.client.ListURI(ctct.Number(l.ID))
			}
			c.err = err
			if len(r.byCell) < 10000 {
				r.byCell[v] = c
			}
		}
		if c.err != nil {
			return nil, fmt.Errorf("column ContactLists: %w", c.err)
		}
		out = appendList(out, c.uri)
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

// RefusedError is a run that refused to start: an unknown list, a journal
// of another input, target or run. Nothing was sent and nothing written.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }
