package importer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// outcome is the end of one row, waiting for its turn to be written.
type outcome struct {
	row    reportRow
	digest uint64
	status string
	reason string
}

// outcomes records the end of each row in input order: first the error
// report (for rows that did not succeed), then the journal, then the
// counters, so that what the summary says can be rebuilt from the files
// and a crash between two writes repeats a report line rather than losing
// it. Rows finish out of order (workers run in parallel); each carries the
// sequence number the reader gave it, and a row is written once every row
// before it is. When a write fails, nothing more is written: the run stops
// and the rows left are pending, for --resume. Safe for concurrent use.
type outcomes struct {
	im      *Importer
	journal *journal
	report  *report
	// stop is called once, with the first write error.
	stop func(error)

	mu      sync.Mutex
	next    uint64 // sequence number of the next row to write
	waiting map[uint64]outcome
	err     error
}

func newOutcomes(im *Importer, j *journal, rep *report, stop func(error)) *outcomes {
	return &outcomes{im: im, journal: j, report: rep, stop: stop, waiting: map[uint64]outcome{}}
}

// finish records the outcome of the row with sequence number seq.
func (o *outcomes) finish(seq uint64, row reportRow, digest uint64, status, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiting[seq] = outcome{row: row, digest: digest, status: status, reason: reason}
	for {
		x, ok := o.waiting[o.next]
		if !ok {
			return
		}
		delete(o.waiting, o.next)
		o.next++
		o.write(x)
	}
}

// nextSeq returns the sequence number the next row must have.
func (o *outcomes) nextSeq() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.next + uint64(len(o.waiting))
}

// drain writes, in input order, the outcomes still waiting behind rows that
// will not finish in this run (the run stopped).
func (o *outcomes) drain() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.waiting) > 0 {
		if x, ok := o.waiting[o.next]; ok {
			delete(o.waiting, o.next)
			o.write(x)
		}
		o.next++
	}
}

// write records one outcome; o.mu is held.
func (o *outcomes) write(x outcome) {
	c := &o.im.counts
	if o.err != nil {
		c.pending.Add(1)
		return
	}
	if x.row.reported(x.status) {
		if err := o.report.add(x.row, x.status, x.reason); err != nil {
			o.fail(err)
			return
		}
	}
	if err := o.journal.add(x.row.line, x.digest, x.status); err != nil {
		o.fail(fmt.Errorf("write journal %s: %w", o.journal.path, err))
		return
	}
	switch x.status {
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
	if x.status == statusSkipped || x.status == statusFailed {
		o.im.reasons.add(x.row.line, x.status, x.reason)
	}
	c.noteOutcome(&x.row, x.status)
}

// fail keeps the first write error, counts the row as pending and stops
// the run; o.mu is held.
func (o *outcomes) fail(err error) {
	o.err = err
	o.im.counts.pending.Add(1)
	o.stop(err)
}

// writeErr returns the first write error, if any.
func (o *outcomes) writeErr() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// listResolver turns --list values and ContactLists cells (list numbers or
// names, ctct.FindList's rule) into list memberships. The account's lists
// are read once, before the first row, when any list is named: an unknown
// --list is then a usage error before anything is sent, and an unknown list
// in a ContactLists cell fails that row alone. Not safe for concurrent
// use: the reading stage alone calls it.
type listResolver struct {
	client Client
	lists  []ctct.List
	global []ctct.ListMembership
	byCell map[string]cellList // what each ContactLists entry met so far resolved to
}

// ErrUnknownList is returned when a --list value names no list.
var ErrUnknownList = fmt.Errorf("unknown list")

// newListResolver reads the account's lists when --list is given or the
// file has a ContactLists column, creates the named lists that do not exist
// when create is set (names in global and in cells, the ContactLists
// entries of the file), and resolves the --list values.
func newListResolver(ctx context.Context, client Client, global []string, m *mapping.Mapping, create bool, cells []string, warnf func(string, ...any)) (*listResolver, error) {
	r := &listResolver{client: client, byCell: map[string]cellList{}}
	if len(global) == 0 && !m.HasListsColumn() {
		return r, nil
	}
	lists, err := client.Lists(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the account's lists: %w", err)
	}
	r.lists = lists
	if create {
		for _, name := range append(slices.Clone(global), cells...) {
			if err := r.create(ctx, name, warnf); err != nil {
				return nil, err
			}
		}
	}
	for _, g := range global {
		l, err := ctct.FindList(r.lists, g)
		if err != nil {
			return nil, &RefusedError{Err: fmt.Errorf("%w: --list %s: %w", ErrUnknownList, g, err)}
		}
		r.global = appendList(r.global, client.ListURI(ctct.Number(l.ID)))
	}
	return r, nil
}

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
