package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"ctctbulk/ctct"
)

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

// runGroup applies the rows of one email group in file order, after the
// group's predecessor of the same email has finished. It returns an error
// only for what must stop the run; row failures are recorded.
func (im *Importer) runGroup(ctx context.Context, gr *emailGroup, chains *chainMap, o *outcomes) (err error) {
	state := contactState{known: true, contact: gr.found}
	defer func() {
		gr.link.state = state
		chains.release(gr)
	}()
	if gr.prev != nil {
		<-gr.prev.done
		state = gr.prev.state
	}
	for i, t := range gr.rows {
		if im.stopping.Load() {
			// Asked to stop: this row and the rest of the group never start.
			state = contactState{}
			im.counts.pending.Add(int64(len(gr.rows) - i))
			return nil
		}
		if !state.known {
			// The predecessor stopped half way: ask the server again.
			state, err = im.refresh(ctx, gr.email)
			if err != nil {
				state = contactState{}
				im.counts.pending.Add(int64(len(gr.rows) - i))
				return err
			}
		}
		im.inflight.Add(1)
		res, next, err := im.applyRow(ctx, t, state)
		im.inflight.Add(-1)
		if errors.Is(err, errStopping) {
			state = contactState{}
			im.counts.pending.Add(int64(len(gr.rows) - i))
			return nil
		}
		if err != nil {
			if stopsRun(ctx, err) {
				state = contactState{}
				im.counts.pending.Add(int64(len(gr.rows) - i))
				return err
			}
			res = rowResult{status: statusFailed, reason: describe(err)}
			next = contactState{} // unknown after a failed request
		}
		state = next
		o.finish(t.seq, t.row, t.digest, res.status, res.reason)
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
