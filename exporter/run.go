package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// Run writes the export as CSV to w: the header (mapping.ExportHeader, or
// for a summary export the columns it fetched), then one row per contact
// in listing order. A full export's rows, whose header is fixed, are
// marshalled by gocsv; a summary export's, whose columns depend on the
// run, go to the same writer cell by cell. With a state file, the new
// high-water mark is written once every row has been written to w; the
// temporary files of the state file that killed runs left behind are
// removed first. It returns the summary (non-nil once the run has
// started, also on error) and an error for whatever stopped the export;
// an interruption matches ErrInterrupted and the context's error.
func (e *Exporter) Run(ctx context.Context, w io.Writer) (*Summary, error) {
	e.removeStaleTemps(e.opts.StatePath)
	sum, err := e.export(ctx, w)
	if err != nil {
		return sum, err
	}
	if err := e.saveState(sum); err != nil {
		return sum, err
	}
	sum.Complete = true
	return sum, nil
}

// export is Run without the state update.
func (e *Exporter) export(ctx context.Context, w io.Writer) (*Summary, error) {
	start := e.opts.Now()
	r := &run{e: e, since: e.opts.Since, seen: newIDSet()}
	sum := e.newSummary(start)
	finish := func(err error) (*Summary, error) {
		if err != nil && ctx.Err() != nil {
			err = &interruptedError{cause: ctx.Err()}
		}
		e.fillSummary(sum, r, err)
		return sum, err
	}
	var st *State
	if e.opts.StatePath != "" {
		var err error
		// Before any request: a state of another target must not even
		// resolve a list there.
		if st, err = e.readState(); err != nil {
			return finish(err)
		}
		if st != nil && st.Target == "" && e.opts.Target != "" {
			e.opts.Warnf("state file %s names no target (an earlier version wrote it): it is bound to %s from this run on", e.opts.StatePath, e.opts.Target)
		}
	}
	via, err := e.decideVia(ctx, r, st)
	if err != nil {
		return finish(err)
	}
	e.via.Store(via)
	sum.Via = string(via)
	if via == ViaActivities {
		r.out = newRowWriter(w, e.opts.Raw)
		if e.sink != nil {
			if r.out, _, err = e.resumeOrRestart(r, sum, false); err != nil {
				return finish(err)
			}
		}
		header, pick := bulkColumns()
		r.pick, sum.LeftOut = pick, BulkEmptyColumns()
		if err := r.out.Write(header); err != nil {
			return finish(fmt.Errorf("write header: %w", err))
		}
		err := e.exportBulk(ctx, r, r.out)
		sum.List = r.listID
		if err == nil {
			if r.out.Flush(); r.out.Error() != nil {
				err = fmt.Errorf("write csv: %w", r.out.Error())
			}
		}
		return finish(err)
	}
	listID, err := e.resolveList(ctx, r.lists)
	if err != nil {
		return finish(err)
	}
	r.listID, sum.List = listID, listID
	if st != nil {
		if err := st.check(e.opts.Status, listID); err != nil {
			return finish(err)
		}
		r.since = st.HighWaterMark
	}
	sum.Since = formatTime(r.since)

	rw, headed := newRowWriter(w, e.opts.Raw), false
	if e.sink != nil {
		if rw, headed, err = e.resumeOrRestart(r, sum, true); err != nil {
			return finish(err)
		}
		if len(e.opts.Emails) == 0 {
			r.onPage = e.checkpointer(r, rw, sum)
		}
	}
	r.out = rw
	header, pick := e.columns()
	r.pick = pick
	writeHeader := rw.writeHeader // the record's csv tags: mapping.ExportHeader
	if pick != nil {
		writeHeader = func() error { return rw.Write(header) }
	}
	if !headed {
		if err := writeHeader(); err != nil {
			return finish(fmt.Errorf("write header: %w", err))
		}
	}
	if err := r.pipeline(ctx); err != nil {
		return finish(err)
	}
	if rw.Flush(); rw.Error() != nil {
		return finish(fmt.Errorf("write csv: %w", rw.Error()))
	}
	return finish(nil)
}

// decideVia returns the way of the run: a state file's later runs take
// the collection (jobs cannot filter by update time); auto chooses for a
// full export by the size of what it exports, read from the lists feed
// (one request); and a full walk of the collection first says what it
// will cost when that is much.
func (e *Exporter) decideVia(ctx context.Context, r *run, st *State) (Via, error) {
	via := e.opts.Via
	if st != nil {
		if via == ViaActivities {
			return via, ErrIncrementalBulk
		}
		return ViaContacts, nil
	}
	if !e.opts.Since.IsZero() || len(e.opts.Emails) > 0 || via == ViaActivities {
		return via, nil
	}
	if via == ViaContacts && e.opts.StatePath == "" {
		return via, nil // chosen by the user: the cost is said for a state's first run
	}
	lists, err := e.client.Lists(ctx)
	if err != nil {
		return via, fmt.Errorf("read lists: %w", err)
	}
	r.lists = lists
	n, known := e.exportSize(lists)
	if via == ViaAuto {
		via = e.chooseVia(n, known)
	}
	if via == ViaContacts && known {
		e.sayWalkCost(n)
	}
	return via, nil
}

// resolveList returns the list number of Options.List, found by
// ctct.FindList's rule (a number, else a name) in lists (read once here
// when nil),
// so that an unknown number is refused like an unknown name and a name
// with digits in it is never taken for a number.
func (e *Exporter) resolveList(ctx context.Context, lists []ctct.List) (string, error) {
	l := e.opts.List
	if l == "" {
		return "", nil
	}
	if lists == nil {
		var err error
		if lists, err = e.client.Lists(ctx); err != nil {
			return "", fmt.Errorf("resolve list %q: %w", l, err)
		}
	}
	found, err := ctct.FindList(lists, l)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnknownList, err)
	}
	return ctct.Number(found.ID), nil
}

// run is one export in progress.
type run struct {
	e      *Exporter
	since  time.Time
	listID string
	// lists are the account's lists when the run read them to choose its
	// way (nil otherwise).
	lists []ctct.List
	seen  *idSet
	out   *rowWriter
	// pick are the columns of a summary export (see columns) or of an
	// export through jobs (bulkColumns); cells is the storage of its rows.
	pick  []int
	cells []string
	// from is where the walk starts (a resumed run's cursor); onPage, when
	// set, is told in writing order each cursor whose pages are written.
	from   cursor
	onPage func(cursor) error
}

// slot is one contact on its way from the listing to the CSV: the listing
// entry and, for a full export, the detail fetched by a worker. done is
// closed when the fetch has finished (nil when there is nothing to fetch).
type slot struct {
	// mark, when set, is no contact: the cursor past the pages before it.
	mark  *cursor
	entry ctct.Contact
	done  chan struct{}
	full  *ctct.Contact
	gone  bool // 404: deleted between the listing and the GET
	err   error
}

// pipeline runs the walk (one goroutine: the cursor is sequential), the
// detail fetches (at most Workers at a time) and the writer (one
// goroutine, in listing order). At most Window slots wait between the walk
// and the writer, which bounds memory whatever the account's size.
func (r *run) pipeline(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	slots := make(chan *slot, r.e.opts.Window)
	g.Go(func() error {
		defer close(slots)
		return r.produce(gctx, slots)
	})
	g.Go(func() error { return r.consume(gctx, slots) })
	return g.Wait()
}

// produce walks the source and starts a detail fetch for each new entry.
func (r *run) produce(ctx context.Context, slots chan<- *slot) error {
	var fetches errgroup.Group
	fetches.SetLimit(r.e.opts.Workers)
	full := r.e.opts.Detail == DetailFull
	send := func(s *slot) error {
		select {
		case slots <- s:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := r.source(ctx, func(entry *ctct.Contact) error {
		s := &slot{entry: *entry}
		if full {
			s.done = make(chan struct{})
			fetches.Go(func() error {
				r.fetch(ctx, s)
				return nil
			})
		}
		return send(s)
	}, func(c cursor) error { return send(&slot{mark: &c}) })
	_ = fetches.Wait() // fetch results travel in the slots
	return err
}

// fetch GETs the slot's contact. A 404 marks it gone; any other error is
// the slot's, reported by the writer when it reaches the slot.
func (r *run) fetch(ctx context.Context, s *slot) {
	defer close(s.done)
	c, err := r.e.client.GetContact(ctx, s.entry.ID)
	switch {
	case err == nil:
		s.full = c
	case errors.Is(err, ctct.ErrNotFound):
		s.gone = true
	default:
		s.err = err
	}
}

// consume writes the slots in order as their fetches finish, recordBatch
// rows at a time.
func (r *run) consume(ctx context.Context, slots <-chan *slot) (err error) {
	c := &r.e.counts
	batch := make([]record, 0, recordBatch)
	write := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := r.out.writeRecords(batch); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		c.rows.Add(int64(len(batch)))
		batch = batch[:0]
		return nil
	}
	defer func() {
		if werr := write(); err == nil {
			err = werr
		}
	}()
	for s := range slots {
		if s.mark != nil {
			if r.onPage == nil {
				continue
			}
			if err := write(); err != nil {
				return err
			}
			if err := r.onPage(*s.mark); err != nil {
				return err
			}
			continue
		}
		if s.done != nil {
			select {
			case <-s.done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		switch {
		case s.err != nil:
			return fmt.Errorf("get contact %s: %w", ctct.Number(s.entry.ID), s.err)
		case s.gone:
			c.vanished.Add(1)
			continue
		}
		var row []string
		if s.full != nil {
			row = mapping.ExportRow(s.full, s.entry.OptInSource, s.entry.OptInTime)
		} else {
			row = mapping.ExportRow(&s.entry, "", "")
		}
		if r.pick != nil {
			r.cells = pickCells(row, r.pick, r.cells)
			if err := r.out.Write(r.cells); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
			c.rows.Add(1)
			continue
		}
		if batch = append(batch, newRecord(row)); len(batch) == recordBatch {
			if err := write(); err != nil {
				return err
			}
		}
	}
	return nil
}

// source emits the listing entries of the export, each contact once, and
// after each page of a walk marks where the walk would resume.
func (r *run) source(ctx context.Context, emit func(*ctct.Contact) error, mark func(cursor) error) error {
	if len(r.e.opts.Emails) > 0 {
		return r.searchEmails(ctx, emit)
	}
	for k, w := range r.walks() {
		q := w.q
		switch {
		case k < r.from.Query:
			continue // walked by the run this one resumes
		case k == r.from.Query && r.from.After != "":
			q.After = r.from.After
		}
		if err := r.walk(ctx, k, q, w.want, emit, mark); err != nil {
			return err
		}
	}
	return nil
}

// walkQuery is one listing of a walk and the kind of contact it keeps.
type walkQuery struct {
	q    ctct.ContactQuery
	want Status
}

// walks are the listings the export walks, in order.
func (r *run) walks() []walkQuery {
	o := &r.e.opts
	switch {
	case r.listID != "":
		return []walkQuery{{ctct.ContactQuery{UpdatedSince: r.sinceOrEpoch(), ListID: r.listID}, o.Status}}
	case o.Status == StatusAll && r.since.IsZero():
		// The plain listing holds every contact in any status once, by a
		// cursor that does not move when a contact changes kind.
		return []walkQuery{{ctct.ContactQuery{}, StatusAll}}
	case o.Status == StatusAll:
		var out []walkQuery
		for _, k := range kinds {
			out = append(out, walkQuery{ctct.ContactQuery{UpdatedSince: r.since, ListType: string(k)}, StatusAll})
		}
		return out
	}
	return []walkQuery{{ctct.ContactQuery{UpdatedSince: r.sinceOrEpoch(), ListType: string(o.Status)}, StatusAll}}
}

// cursor is where a walk resumes: the listing (its index in walks) and the
// next link of the last page read ("" for the listing's start).
type cursor struct {
	Query int    `json:"query"`
	After string `json:"after,omitempty"`
}

// sinceOrEpoch is the since time of a query that needs one.
func (r *run) sinceOrEpoch() time.Time {
	if r.since.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return r.since
}

// walk follows the next links of listing k of the walk, emitting the
// entries of the kind want that were not seen yet, and after each page
// the cursor past it (the next listing's start after the last page).
func (r *run) walk(ctx context.Context, k int, q ctct.ContactQuery, want Status, emit func(*ctct.Contact) error, mark func(cursor) error) error {
	c := &r.e.counts
	for f, err := range r.e.client.ContactPages(ctx, q) {
		if err != nil {
			return fmt.Errorf("list contacts (%s): %w", describeQuery(q), err)
		}
		c.pages.Add(1)
		for i := range f.Contacts {
			if err := r.offer(&f.Contacts[i], want, emit); err != nil {
				return err
			}
		}
		next := cursor{Query: k, After: f.Next()}
		if next.After == "" {
			next = cursor{Query: k + 1}
		}
		if err := mark(next); err != nil {
			return err
		}
	}
	return nil
}

// offer emits a listed contact unless it is not of the kind want or was
// emitted already, counting each case.
func (r *run) offer(entry *ctct.Contact, want Status, emit func(*ctct.Contact) error) error {
	c := &r.e.counts
	c.listed.Add(1)
	if !want.matches(entry.Status) {
		c.filtered.Add(1)
		return nil
	}
	if !r.seen.add(entry.ID) {
		c.duplicates.Add(1)
		return nil
	}
	return emit(entry)
}

func describeQuery(q ctct.ContactQuery) string {
	var parts []string
	if q.ListType != "" {
		parts = append(parts, "list type "+q.ListType)
	}
	if q.ListID != "" {
		parts = append(parts, "list "+q.ListID)
	}
	if !q.UpdatedSince.IsZero() && q.UpdatedSince.After(time.Unix(0, 0)) {
		parts = append(parts, "since "+formatTime(q.UpdatedSince))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}

// searchEmails looks the addresses up 50 at a time and emits the found
// contacts in the order the addresses were given, each once.
func (r *run) searchEmails(ctx context.Context, emit func(*ctct.Contact) error) error {
	c := &r.e.counts
	var emails []string
	given := make(map[string]bool, len(r.e.opts.Emails))
	for _, addr := range r.e.opts.Emails {
		addr = strings.ToLower(strings.TrimSpace(addr))
		if addr == "" || given[addr] {
			continue
		}
		given[addr] = true
		emails = append(emails, addr)
	}
	for len(emails) > 0 {
		batch := emails[:min(len(emails), ctct.MaxSearchEmails)]
		emails = emails[len(batch):]
		found, err := r.e.client.SearchEmails(ctx, batch)
		if err != nil {
			return fmt.Errorf("search emails: %w", err)
		}
		c.pages.Add(1)
		byEmail := make(map[string]*ctct.Contact, len(found))
		for i := range found {
			byEmail[strings.ToLower(found[i].EmailAddress)] = &found[i]
		}
		for _, addr := range batch {
			entry, ok := byEmail[addr]
			if !ok {
				c.notFound.Add(1)
				r.e.opts.Warnf("no contact has the address %s", addr)
				continue
			}
			if err := r.offer(entry, r.e.opts.Status, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// idSet is the set of contacts already emitted: a sparse bitset over the
// contact numbers (about one bit per contact when numbers are dense), with
// a plain set for ids that are not numbers. Not safe for concurrent use.
type idSet struct {
	words map[int64]uint64
	other map[string]struct{}
}

func newIDSet() *idSet { return &idSet{words: map[int64]uint64{}} }

// add records id and reports whether it was new.
func (s *idSet) add(id string) bool {
	n, err := strconv.ParseInt(ctct.Number(id), 10, 64)
	if err != nil || n < 0 {
		if s.other == nil {
			s.other = map[string]struct{}{}
		}
		if _, ok := s.other[id]; ok {
			return false
		}
		s.other[id] = struct{}{}
		return true
	}
	k, bit := n>>6, uint64(1)<<(n&63)
	w := s.words[k]
	if w&bit != 0 {
		return false
	}
	s.words[k] = w | bit
	return true
}

// interruptedError is an export stopped by its context: it is
// ErrInterrupted and the context's error, and says "interrupted" alone
// (never Go's "context canceled").
type interruptedError struct{ cause error }

func (e *interruptedError) Error() string   { return ErrInterrupted.Error() }
func (e *interruptedError) Unwrap() []error { return []error{ErrInterrupted, e.cause} }
