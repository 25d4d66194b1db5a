package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// The contacts sender: the rows the plan sends through the contacts
// collection (all of them on --via contacts), in file order. Emails are
// looked up 50 per request; each email's rows then run in order on a
// bounded pool of workers, after the earlier rows of the same email (a
// chain), creating (POST), updating (GET, then PUT only when a value
// differs) or opting out (DELETE) as each row says. Every outcome goes to
// the store the moment it is known.

// Row outcomes, as written in the report's _status column and the journal.
const (
	statusCreated   = "created"
	statusUpdated   = "updated"
	statusUnchanged = "unchanged"
	statusSkipped   = "skipped"
	statusFailed    = "failed"
)

// Reasons of skipped and failed rows that both paths give.
const (
	reasonRemovedStatus = "Status is Removed in the input: the contact was on no list there, and importing it would subscribe it to this import's lists (empty the Status cell to import it)"
	reasonSkipOptOut    = "the row says the person opted out (%s): skipped (--opt-outs skip)"
	reasonNoContact     = "no contact has this email address (--mode update creates none)"
	reasonNoList        = "a new contact needs at least one list: use --list or a ContactLists column"
	reasonDoNotMail     = "contact is Do Not Mail: it is never re-subscribed"
	reasonExists        = "a contact with this email address exists (--mode create updates none)"
)

// skipOptOutReason is the reason of an opt-out row skipped by --opt-outs
// skip.
func skipOptOutReason(signal string) string { return fmt.Sprintf(reasonSkipOptOut, signal) }

// rowResult is the outcome of one row: a status and, for skipped and failed
// rows, the reason.
type rowResult struct {
	status string
	reason string
}

// rowTask is one valid row on its way to the API.
type rowTask struct {
	seq   int64
	line  int
	rec   *mapping.Record
	lists []ctct.ListMembership
}

// emailGroup is the rows of one batch that share an email, in file order,
// with what the batch lookup found and the chain that orders this group
// after earlier groups of the same email.
type emailGroup struct {
	email string
	rows  []*rowTask
	found *ctct.Contact // summary contact from the batch lookup, nil if absent
	prev  *chainLink
	link  *chainLink
}

// chainLink orders the groups of one email: a group waits for its
// predecessor's done and starts from the state it left.
type chainLink struct {
	done  chan struct{}
	state contactState
}

// contactState is what is known of an email's contact.
type contactState struct {
	known   bool
	contact *ctct.Contact // nil when known to be absent
}

// batchSize is the number of emails one search request looks up.
const batchSize = 50

// maxBatchRows bounds the rows one batch holds: a file that repeats a few
// emails would otherwise fill a batch of 50 distinct emails only after
// holding most of its rows in memory.
const maxBatchRows = 500

// contactsSender sends the rows of one run's contacts path.
type contactsSender struct {
	r      *run
	im     *Importer
	chains *chainMap
	// fail is set once, with the first error that stops the run.
	stop atomic.Value // string
}

// sendContacts runs the contacts path: stage 1 reads the rows to send from
// the store, groups them by email and looks them up; stage 2 runs each
// group on the pool. In-flight rows finish even after ctx is cancelled
// (an interrupt), for Grace.
func (r *run) sendContacts(ctx context.Context) error {
	im := r.im
	n, err := r.st.countPath(ctx, pathContacts)
	if err != nil || n == 0 {
		return err
	}
	im.counts.contactsRows.Add(n)
	workBase, cancelWork := im.graceContext(ctx)
	defer cancelWork()
	stopNew := context.AfterFunc(ctx, func() { im.stopping.Store(true) })
	defer stopNew()
	g, workCtx := errgroup.WithContext(workBase)
	g.SetLimit(im.opts.Workers)
	c := &contactsSender{r: r, im: im, chains: &chainMap{m: map[string]*chainLink{}}}
	setStop := func(reason string) { c.stop.CompareAndSwap(nil, reason) }

	batches := make(chan []*emailGroup, 1)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for b := range batches {
			for _, gr := range b {
				if workCtx.Err() != nil || im.stopping.Load() {
					c.chains.release(gr)
					continue
				}
				g.Go(func() error {
					err := c.runGroup(workCtx, gr)
					switch {
					case err == nil:
						return nil
					case errors.Is(err, ctct.ErrBudgetExhausted):
						setStop(budgetStop(err))
						return nil
					case workCtx.Err() != nil && ctx.Err() != nil:
						setStop(StopInterrupted)
						return nil
					default:
						setStop(StopFatal)
						return err
					}
				})
			}
		}
	}()
	feedErr := c.feed(ctx, workCtx, batches)
	close(batches)
	<-dispatched
	poolErr := g.Wait()
	if reason, _ := c.stop.Load().(string); reason != "" {
		r.stopped = reason
	}
	switch {
	case feedErr != nil:
		return feedErr
	case poolErr != nil:
		return poolErr
	case r.stopped == StopDailyQuota:
		return ctct.ErrDailyQuota
	case r.stopped == StopBudget:
		return ctct.ErrBudgetExhausted
	case ctx.Err() != nil:
		return ErrInterrupted
	}
	return nil
}

// feed is stage 1: it reads the rows to send, in file order, until none
// is left, ctx is cancelled or a stop is set, and sends batches of up to
// 50 distinct emails, looked up.
func (c *contactsSender) feed(ctx, workCtx context.Context, batches chan<- []*emailGroup) error {
	im := c.im
	var (
		groups []*emailGroup
		index  = map[string]*emailGroup{}
		rows   int
	)
	flush := func() error {
		if len(groups) == 0 {
			return nil
		}
		b := groups
		groups, index, rows = nil, map[string]*emailGroup{}, 0
		if im.stopping.Load() {
			return nil // asked to stop: these rows start no request; --resume does them
		}
		if err := im.lookup(workCtx, b, c.chains); err != nil {
			for _, gr := range b {
				c.chains.release(gr)
			}
			switch {
			case errors.Is(err, ctct.ErrBudgetExhausted):
				c.stop.CompareAndSwap(nil, budgetStop(err))
				return nil
			case workCtx.Err() != nil:
				return nil
			}
			return err
		}
		select {
		case batches <- b:
			return nil
		case <-workCtx.Done():
			for _, gr := range b {
				c.chains.release(gr)
			}
			return nil
		}
	}
	after := int64(0)
	for {
		if ctx.Err() != nil || c.stop.Load() != nil {
			return flush()
		}
		chunk, err := c.r.pendingRows(ctx, pathContacts, after, maxBatchRows)
		if err != nil {
			return err
		}
		if len(chunk) == 0 {
			return flush()
		}
		for _, pr := range chunk {
			after = pr.seq
			t, res, err := c.r.task(pr)
			if err != nil {
				return err
			}
			if res != nil {
				if err := c.finish(ctx, &rowTask{seq: pr.seq, line: pr.line}, *res); err != nil {
					return err
				}
				continue
			}
			rows++
			if gr, ok := index[pr.email]; ok {
				gr.rows = append(gr.rows, t)
			} else {
				gr := &emailGroup{email: pr.email, rows: []*rowTask{t}}
				index[pr.email] = gr
				groups = append(groups, gr)
			}
			if len(groups) == batchSize || rows >= maxBatchRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}

// finish records a row's outcome in the store, then counts it.
func (c *contactsSender) finish(ctx context.Context, t *rowTask, res rowResult) error {
	if err := c.r.st.setOutcome(context.WithoutCancel(ctx), t.seq, res.status, res.reason); err != nil {
		return err
	}
	c.im.counts.done.Add(1)
	return nil
}

// lookup registers each group in the email chains, then searches the
// emails of the groups that have no predecessor in one request.
func (im *Importer) lookup(ctx context.Context, b []*emailGroup, chains *chainMap) error {
	var emails []string
	for _, gr := range b {
		chains.register(gr)
		if gr.prev == nil {
			emails = append(emails, gr.email)
		}
	}
	if len(emails) == 0 {
		return nil
	}
	im.inflight.Add(1)
	found, err := im.client.SearchEmails(ctx, emails)
	im.inflight.Add(-1)
	if err != nil {
		return fmt.Errorf("look up %d emails: %w", len(emails), err)
	}
	byEmail := make(map[string]*ctct.Contact, len(found))
	for i := range found {
		byEmail[strings.ToLower(found[i].EmailAddress)] = &found[i]
	}
	for _, gr := range b {
		gr.found = byEmail[gr.email]
	}
	return nil
}

// chainMap holds the last registered group of every email with rows in
// flight. Safe for concurrent use.
type chainMap struct {
	mu sync.Mutex
	m  map[string]*chainLink
}

func (c *chainMap) register(gr *emailGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gr.link = &chainLink{done: make(chan struct{})}
	gr.prev = c.m[gr.email]
	c.m[gr.email] = gr.link
}

// release marks gr finished with the state in its link and forgets the
// email when no later group is chained to it.
func (c *chainMap) release(gr *emailGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(gr.link.done)
	if c.m[gr.email] == gr.link {
		delete(c.m, gr.email)
	}
}

// runGroup applies the rows of one email group in file order, after the
// group's predecessor of the same email has finished. It returns an error
// only for what must stop the run; row failures are recorded.
func (c *contactsSender) runGroup(ctx context.Context, gr *emailGroup) (err error) {
	im, chains := c.im, c.chains
	state := contactState{known: true, contact: gr.found}
	defer func() {
		gr.link.state = state
		chains.release(gr)
	}()
	if gr.prev != nil {
		<-gr.prev.done
		state = gr.prev.state
	}
	for _, t := range gr.rows {
		if im.stopping.Load() {
			// Asked to stop: this row and the rest of the group never start.
			state = contactState{}
			return nil
		}
		if !state.known {
			// The predecessor stopped half way: ask the server again.
			state, err = im.refresh(ctx, gr.email)
			if err != nil {
				state = contactState{}
				return err
			}
		}
		im.inflight.Add(1)
		res, next, err := im.applyRow(ctx, t, state)
		im.inflight.Add(-1)
		if errors.Is(err, errStopping) {
			state = contactState{}
			return nil
		}
		if err != nil {
			if stopsRun(ctx, err) {
				state = contactState{}
				return err
			}
			res = rowResult{status: statusFailed, reason: describe(err)}
			next = contactState{} // unknown after a failed request
		}
		state = next
		if err := c.finish(ctx, t, res); err != nil {
			return err
		}
	}
	return nil
}

// stopsRun reports whether err must stop the whole run rather than fail
// one row: cancellation, the request budget, bad credentials, or a failure
// to talk to the server at all (not an answer from it).
func stopsRun(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, ctct.ErrBudgetExhausted) || errors.Is(err, ctct.ErrUnauthorized) {
		return true
	}
	var apiErr *ctct.APIError
	var fieldErr *ctct.FieldError
	return !errors.As(err, &apiErr) && !errors.As(err, &fieldErr) && !errors.Is(err, ctct.ErrUncertain)
}

// describe turns a request error into a report reason.
func describe(err error) string {
	var apiErr *ctct.APIError
	if errors.As(err, &apiErr) {
		msg := strings.TrimSpace(apiErr.Message)
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", apiErr.Status)
		}
		return fmt.Sprintf("%s %s: %s", apiErr.Method, apiErr.Path, msg)
	}
	return err.Error()
}

// refresh looks one email up.
func (im *Importer) refresh(ctx context.Context, email string) (contactState, error) {
	found, err := im.client.SearchEmails(ctx, []string{email})
	if err != nil {
		return contactState{}, fmt.Errorf("look up %s: %w", email, err)
	}
	for i := range found {
		if strings.EqualFold(found[i].EmailAddress, email) {
			return contactState{known: true, contact: &found[i]}, nil
		}
	}
	return contactState{known: true}, nil
}

// applyRow applies one row given what is known of its contact, and returns
// the outcome and the contact's state afterwards.
func (im *Importer) applyRow(ctx context.Context, t *rowTask, state contactState) (rowResult, contactState, error) {
	switch {
	case t.rec.OptOut != "":
		return im.optOutRow(ctx, t, state)
	case t.rec.Removed:
		return rowResult{statusSkipped, reasonRemovedStatus}, state, nil
	}
	return im.upsertRow(ctx, t, state)
}

// optOutRow carries a row's Do Not Mail over (--opt-outs carry): an
// existing contact is opted out (its other values are not applied), a new
// one is created with the row's values and then opted out, whatever --mode
// says, since an opt-out must never be lost. With --opt-outs skip the row
// is skipped. Either way no contact is made or left Active by this row.
func (im *Importer) optOutRow(ctx context.Context, t *rowTask, state contactState) (rowResult, contactState, error) {
	if im.opts.OptOuts == OptOutsSkip {
		return rowResult{statusSkipped, skipOptOutReason(t.rec.OptOut)}, state, nil
	}
	done := statusUpdated
	cur := state.contact
	if cur == nil {
		res, next, err := im.upsertRow(ctx, t, state)
		if err != nil || res.status != statusCreated {
			// A new contact that could not be made (no list, a field
			// rule, a failed create) fails the row as any other.
			return res, next, err
		}
		done, cur = statusCreated, next.contact
	}
	if cur.Status == ctct.StatusDoNotMail {
		return rowResult{status: statusUnchanged}, contactState{known: true, contact: cur}, nil
	}
	if im.stopping.Load() && done != statusCreated {
		// Nothing was written for this row yet: it starts again on --resume.
		return rowResult{}, contactState{}, errStopping
	}
	if err := im.client.OptOut(ctx, cur.ID); err != nil {
		if stopsRun(ctx, err) {
			return rowResult{}, contactState{}, err
		}
		what := "the contact"
		if done == statusCreated {
			what = "the contact was created, but it"
		}
		return rowResult{statusFailed, fmt.Sprintf("the row says the person opted out (%s), and %s could not be opted out: %s; import the row again to opt it out", t.rec.OptOut, what, describe(err))}, contactState{}, nil
	}
	im.counts.optedOut.Add(1)
	out := cur.Clone()
	out.Status, out.Lists = ctct.StatusDoNotMail, nil
	return rowResult{status: done}, contactState{known: true, contact: out}, nil
}

// upsertRow creates or updates the row's contact as --mode says.
func (im *Importer) upsertRow(ctx context.Context, t *rowTask, state contactState) (rowResult, contactState, error) {
	for attempt := 1; ; attempt++ {
		if state.contact != nil {
			return im.updateRow(ctx, t, state.contact, false)
		}
		if im.opts.Mode == ModeUpdate {
			return rowResult{statusSkipped, reasonNoContact}, state, nil
		}
		desired := im.newContact(t)
		if len(desired.Lists) == 0 {
			return rowResult{statusFailed, reasonNoList}, state, nil
		}
		if im.stopping.Load() {
			return rowResult{}, contactState{}, errStopping
		}
		created, err := im.client.CreateContact(ctx, desired)
		switch {
		case err == nil:
			created.Full = true
			return rowResult{status: statusCreated}, contactState{known: true, contact: created}, nil
		case errors.Is(err, ctct.ErrConflict):
			// Someone (or an earlier attempt of ours) created it: update it.
			state, err = im.refresh(ctx, t.rec.Contact.EmailAddress)
			if err != nil {
				return rowResult{}, contactState{}, err
			}
			if state.contact == nil {
				return rowResult{statusFailed, "the server says the email exists but no contact has it"}, state, nil
			}
			return im.updateRow(ctx, t, state.contact, false)
		case errors.Is(err, ctct.ErrUncertain):
			// The POST may or may not have been processed: look before
			// trying again, so that no second contact can appear.
			state, err = im.refresh(ctx, t.rec.Contact.EmailAddress)
			if err != nil {
				return rowResult{}, contactState{}, err
			}
			if state.contact != nil {
				return im.updateRow(ctx, t, state.contact, true)
			}
			// Not created: trying again cannot make a second contact.
			if attempt > im.opts.Retries {
				return rowResult{statusFailed, fmt.Sprintf("create failed %d times with no answer from the server", attempt)}, contactState{known: true}, nil
			}
		default:
			return rowResult{}, contactState{}, err
		}
	}
}

// newContact builds the contact to create from a row: its non-empty mapped
// values, the run's and the row's lists, and the opt-in source.
func (im *Importer) newContact(t *rowTask) *ctct.Contact {
	c := t.rec.Contact.Clone()
	c.OptInSource = im.opts.OptInSource
	c.Lists = nil
	for _, l := range t.lists {
		c.Lists = append(c.Lists, ctct.ListMembership{ID: l.ID})
	}
	return c
}

// updateRow brings an existing contact to the row's values: GET for the
// full contact when only a summary is known, merge, and PUT only when
// something changed. createdByUs marks a contact that an uncertain POST of
// this row made, which counts as created.
func (im *Importer) updateRow(ctx context.Context, t *rowTask, cur *ctct.Contact, createdByUs bool) (rowResult, contactState, error) {
	if cur.Status == ctct.StatusDoNotMail {
		return rowResult{statusSkipped, reasonDoNotMail}, contactState{known: true, contact: cur}, nil
	}
	if im.opts.Mode == ModeCreate && !createdByUs {
		return rowResult{statusSkipped, reasonExists}, contactState{known: true, contact: cur}, nil
	}
	full := cur
	if !cur.Full {
		got, err := im.client.GetContact(ctx, cur.ID)
		if err != nil {
			return rowResult{}, contactState{}, err
		}
		got.Full = true
		full = got
	}
	desired := full.Clone()
	changed := t.rec.Apply(desired, im.opts.Empty)
	for _, l := range t.lists {
		if !desired.HasList(l.ID) {
			desired.Lists = append(desired.Lists, ctct.ListMembership{ID: l.ID, OptInSource: im.opts.OptInSource})
			changed = true
		}
	}
	done := statusUpdated
	if createdByUs {
		done = statusCreated
	}
	if !changed {
		if createdByUs {
			return rowResult{status: statusCreated}, contactState{known: true, contact: full}, nil
		}
		return rowResult{status: statusUnchanged}, contactState{known: true, contact: full}, nil
	}
	if errs := ctct.ValidateContact(desired); len(errs) > 0 {
		// E.g. a new StateCode against the contact's unmapped CountryCode:
		// say so rather than spend a PUT the server would refuse.
		return rowResult{statusFailed, "merged with the existing contact: " + joinFieldErrors(errs)}, contactState{known: true, contact: full}, nil
	}
	if im.stopping.Load() && !createdByUs {
		// The GET was only a read: the row starts again on --resume.
		return rowResult{}, contactState{}, errStopping
	}
	if err := im.client.UpdateContact(ctx, desired); err != nil {
		return rowResult{}, contactState{}, err
	}
	if desired.Status == ctct.StatusRemoved && len(desired.Lists) > 0 {
		desired.Status = ctct.StatusActive
	}
	return rowResult{status: done}, contactState{known: true, contact: desired}, nil
}

func joinFieldErrors(errs []*ctct.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}
