package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
	"sync"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// The dry run: a streaming pass over the input with no store, that reads,
// maps and validates every row, writes the report of the rows that will
// fail, and prices the real run the way the real run chooses its ways
// (cost.go): each path's rows, requests and time, the jobs' processing and
// the account's size included. With an account it reads (the lists, and
// for a small input the rows' emails, 50 a search) and never writes: it
// then knows the account's size, an unknown --list, and which rows are new
// contacts; without one it plans for an empty account and says so.

// dryLookupMax is the most distinct emails a dry run keeps to look up: a
// small input's plan is then exact (which rows are new, which would fail
// for want of a list); a larger one's is priced from the account's size.
const dryLookupMax = 5000

// dryCounts is what the dry run's pass counted.
type dryCounts struct {
	eligible int64 // valid rows a job could carry
	contacts int64 // valid rows only the contacts collection can carry
	optOuts  int64
	removed  int64
	// emails are the rows' emails with their rows (nil once more than
	// dryLookupMax).
	emails map[string]int64
}

// dryRun reads, maps and validates every row without a write, writes the
// report of the invalid rows, and plans the real run.
func (im *Importer) dryRun(ctx context.Context, rd *CSVReader, m *mapping.Mapping) (*Summary, error) {
	var rep *report
	if im.opts.ReportPath != "" {
		var err error
		if rep, err = openReport(im.opts.ReportPath, rd.Header(), rd.Delimiter(), im.opts.Encoder); err != nil {
			return nil, err
		}
	}
	var readErr error
	var reasons reasons
	fail := func(row *Row, reason string) {
		im.counts.failed.Add(1)
		reasons.add(Example{Line: row.Line, Header: rd.Header(), Cells: row.Cells, Raw: row.Raw}, statusFailed, reason)
		if rep != nil && readErr == nil {
			readErr = rep.add(reportRow{line: row.Line, cells: row.Cells, raw: row.Raw}, statusFailed, reason)
		}
	}
	dc := dryCounts{emails: map[string]int64{}}
	// Reading, checking and counting run side by side (the checks of a
	// batch on their own goroutines), the counts and the report in file
	// order.
	for b := range im.dryBatches(ctx, rd, m) {
		if b.err != nil {
			readErr = b.err
			break
		}
		for i := range b.rows {
			row, res := &b.rows[i], &b.res[i]
			if readErr != nil {
				break
			}
			if row.Blank {
				im.counts.blank.Add(1)
				continue
			}
			im.counts.read.Add(1)
			if row.Err != nil {
				im.counts.unparsed.Add(int64(row.EndLine - row.Line + 1))
				fail(row, row.Err.Error())
				continue
			}
			if res.err != nil {
				fail(row, res.err.Error())
				continue
			}
			facts := res.facts
			im.counts.valid.Add(1)
			im.counts.noteFacts(facts, im.opts.OptOuts)
			switch {
			case facts.OptOut != "":
				dc.optOuts++
				if im.opts.OptOuts == OptOutsCarry {
					dc.contacts++
				}
			case facts.Removed:
				dc.removed++
			case im.goesThroughContacts(m, facts):
				dc.contacts++
			default:
				dc.eligible++
			}
			if dc.emails != nil {
				dc.emails[res.email]++
				if len(dc.emails) > dryLookupMax {
					dc.emails = nil
				}
			}
		}
		if readErr != nil {
			break
		}
	}
	c := &im.counts
	sum := im.baseSummary(c.read.Load())
	sum.Failed, sum.Valid, sum.Blank, sum.Unparsed, sum.Reasons = c.failed.Load(), c.valid.Load(), c.blank.Load(), c.unparsed.Load(), reasons.top()
	c.tally.fill(sum)
	sum.Columns = m.Table()
	if readErr == nil {
		readErr = im.planDry(ctx, m, &dc, sum)
	}
	if rep != nil {
		sum.ReportPath, sum.ReportRows = rep.path, rep.rows()
		if err := rep.close(); err != nil && readErr == nil {
			readErr = fmt.Errorf("write error report: %w", err)
		}
	}
	if errors.Is(readErr, ErrInterrupted) {
		sum.Stopped = StopInterrupted
	}
	return sum, readErr
}

// planDry prices the real run: the path, the way the plan learns the
// account and the way the verification checks the jobs, each with its
// rows, requests and time.
func (im *Importer) planDry(ctx context.Context, m *mapping.Mapping, dc *dryCounts, sum *Summary) error {
	var lists []ctct.List
	if im.client != nil {
		// The real run reads the lists too, and refuses an unknown --list.
		var err error
		if lists, err = im.client.Lists(ctx); err != nil {
			return fmt.Errorf("read the account's lists: %w", err)
		}
		for _, g := range im.opts.Lists {
			if _, err := ctct.FindList(lists, g); err != nil && !(im.opts.CreateLists && !ctct.IsNumber(g)) {
				return &RefusedError{Err: fmt.Errorf("%w: --list %s: %w", ErrUnknownList, g, err)}
			}
		}
	}
	cost := newCostModel(im.opts.Rate, lists)
	sum.PlanRate = cost.rate
	if cost.known {
		sum.PlanAccount = cost.account
	} else {
		sum.PlanNotes = append(sum.PlanNotes, "no account configured: the plan assumes an empty account (set CTCT_* or --sandbox to read the real one; a dry run never writes)")
	}
	var d time.Duration
	var n int64
	add := func(dd time.Duration, nn int64) { d, n = d+dd, n+nn }
	if lists != nil {
		add(cost.requests(1), 1) // the lists, read once
	}

	// What the account says of the rows' emails, when the input is small.
	noList := len(im.opts.Lists) == 0 && !m.HasListsColumn()
	var existing, newRows int64 = -1, -1
	if im.client != nil && dc.emails != nil && len(dc.emails) > 0 {
		var err error
		if existing, newRows, err = im.dryLookup(ctx, dc.emails); err != nil {
			return err
		}
		_, ns := cost.searches(int64(len(dc.emails)))
		sum.PlanNotes = append(sum.PlanNotes, fmt.Sprintf("looked the %d emails up (%d %s): %d contacts exist, %s new", len(dc.emails), ns, plural(ns, "request", "requests"), existing, nRows(newRows)))
	}
	if noList {
		switch {
		case newRows >= 0:
			sum.PlanFailRows = newRows
		default:
			sum.PlanFailRows, sum.PlanFailAtMost = dc.eligible+dc.contacts, true
		}
		switch {
		case sum.PlanFailAtMost && sum.PlanFailRows > 0:
			sum.PlanNotes = append(sum.PlanNotes, fmt.Sprintf("up to %s will fail (the emails were not looked up: each row counts as a new contact): %s", nRows(sum.PlanFailRows), reasonNoList))
		case sum.PlanFailRows > 0:
			sum.PlanNotes = append(sum.PlanNotes, fmt.Sprintf("%s will fail (their emails are new to the account): %s", nRows(sum.PlanFailRows), reasonNoList))
		}
	}

	// The path, as the real run chooses it.
	blocked := ""
	switch {
	case im.opts.OptInSource == ctct.ActionByContact:
		blocked = "--opt-in-source ACTION_BY_CONTACT: a bulk job records every contact as ACTION_BY_CUSTOMER"
	case noList:
		blocked = "no --list and no ContactLists column: a bulk job adds its contacts to lists, and needs one"
	}
	bulkRows, contactsRows := dc.eligible, dc.contacts
	switch {
	case im.opts.Via == ViaContacts:
		bulkRows, contactsRows = 0, dc.eligible+dc.contacts
	case blocked != "":
		bulkRows, contactsRows = 0, dc.eligible+dc.contacts
		sum.PlanNotes = append(sum.PlanNotes, "every row goes through the contacts collection: "+blocked)
	case im.opts.Via == ViaAuto && dc.eligible < MinBulkRows:
		bulkRows, contactsRows = 0, dc.eligible+dc.contacts
	}
	if noList && newRows >= 0 {
		contactsRows = max(0, contactsRows-newRows) // they fail before any request
	}
	sum.PlanBulkRows, sum.PlanContactsRows = bulkRows, contactsRows

	if bulkRows > 0 {
		emails := bulkRows
		if dc.emails != nil {
			emails = int64(len(dc.emails))
		}
		guess := existing
		if guess < 0 {
			guess = existingGuess(emails, cost.account)
		}
		ed, en := cost.exportPlan()
		ld, ln := cost.lookupPlan(emails, guess)
		if existing >= 0 {
			// The dry run's own searches stand for the plan's.
			ld, ln = cost.lookupPlan(0, existing)
			_, sn := cost.searches(emails)
			ld, ln = ld+cost.requests(sn), ln+sn
		}
		if price(ld, ln) < price(ed, en) {
			sum.PlanBy = "lookups"
			add(ld, ln)
		} else {
			sum.PlanBy = "export"
			add(ed, en)
		}
		sum.PlanJobs = (bulkRows + int64(im.opts.BulkRows) - 1) / int64(im.opts.BulkRows)
		add(cost.jobs(bulkRows, int64(im.opts.BulkRows)))
		if !im.opts.NoVerify {
			listRows := cost.account
			if len(im.opts.Lists) == 1 && !m.HasListsColumn() {
				if l, err := ctct.FindList(lists, im.opts.Lists[0]); err == nil {
					listRows, _ = listSize(lists, l.ID)
				}
			}
			vd, vn := cost.exportVerify(listRows + bulkRows)
			if lvd, lvn := cost.lookupVerify(emails); price(lvd, lvn) < price(vd, vn) {
				vd, vn, sum.VerifyBy = lvd, lvn, "lookups"
			} else {
				sum.VerifyBy = "export"
			}
			add(vd, vn)
		}
	}
	if contactsRows > 0 {
		known := existing
		if known < 0 {
			known = existingGuess(contactsRows, cost.account)
		}
		cd, cn := cost.collection(contactsRows, min(known, contactsRows))
		add(cd, cn)
	}
	// The read stage writes every row to the store before the first request.
	add(time.Duration(sum.Read)*storeRowTime, 0)
	sum.PlannedRequests, sum.PlanSeconds = n, d.Seconds()
	return nil
}

// storeRowTime is about what the read stage takes to put a row in the
// store (measured on the bench's inputs).
const storeRowTime = 15 * time.Microsecond

// dryLookup looks the emails up, 50 a search (reads only), and returns how
// many contacts exist and how many rows are of emails the account lacks.
func (im *Importer) dryLookup(ctx context.Context, emails map[string]int64) (existing, newRows int64, err error) {
	batch := make([]string, 0, batchSize)
	found := map[string]bool{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cs, err := im.client.SearchEmails(ctx, batch)
		if err != nil {
			return fmt.Errorf("look up %d emails: %w", len(batch), err)
		}
		for i := range cs {
			found[normalizeValue("EmailAddress", cs[i].EmailAddress)] = true
		}
		batch = batch[:0]
		return nil
	}
	for e := range emails {
		batch = append(batch, e)
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return 0, 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	for e, rows := range emails {
		if found[e] {
			existing++
		} else {
			newRows += rows
		}
	}
	return existing, newRows, nil
}

// goesThroughContacts says whether a valid row goes through the contacts
// collection whatever the account holds: an opt-out to carry over, a value
// in a field with no bulk column, or any such field with --empty clear. A
// dry run knows it from the row's facts alone.
func (im *Importer) goesThroughContacts(m *mapping.Mapping, f mapping.Facts) bool {
	switch {
	case f.OptOut != "":
		return im.opts.OptOuts == OptOutsCarry
	case f.Removed:
		return false
	case f.NoBulkValue:
		return true
	}
	return im.opts.Empty == mapping.EmptyClear && mapsNoBulkField(m)
}

// mapsNoBulkField reports whether the mapping sets a field that no bulk
// column carries.
func mapsNoBulkField(m *mapping.Mapping) bool {
	for _, c := range m.Columns() {
		if f, ok := ctct.LookupField(c.Field); ok && f.Editable && f.Bulk == "" {
			return true
		}
	}
	return false
}

// dryBatch is a stretch of rows the dry run read, with each row's check
// (res) once done is closed; err ends the input (a read error, or
// ErrInterrupted).
type dryBatch struct {
	rows []Row
	res  []dryResult
	done chan struct{}
	err  error
}

// dryResult is the check of one row: its facts or why it is invalid, and
// its email.
type dryResult struct {
	facts mapping.Facts
	err   error
	email string
}

// dryBatchRows is the rows of a dry run's batch.
const dryBatchRows = 256

// dryBatches reads the input in batches and checks each batch's rows on
// the machine's processors, yielding the batches in file order once
// checked. Breaking the loop stops the reading.
func (im *Importer) dryBatches(ctx context.Context, rd *CSVReader, m *mapping.Mapping) iter.Seq[*dryBatch] {
	return func(yield func(*dryBatch) bool) {
		width := len(rd.Header())
		workers := max(1, runtime.GOMAXPROCS(0))
		ordered := make(chan *dryBatch, 2*workers)
		work := make(chan *dryBatch, 2*workers)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range work {
					for i := range b.rows {
						row := &b.rows[i]
						if row.Blank || row.Err != nil {
							continue
						}
						cells := withoutEmptyExtras(row.Cells, width)
						facts, err := m.Check(cells, row.Line)
						b.res[i] = dryResult{facts: facts, err: err}
						if err == nil {
							b.res[i].email = m.Email(cells)
						}
					}
					close(b.done)
				}
			}()
		}
		go func() {
			defer close(ordered)
			defer close(work)
			for {
				b := &dryBatch{done: make(chan struct{})}
				for len(b.rows) < dryBatchRows {
					row, err := rd.Next()
					im.counts.offset.Store(rd.Offset())
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.err = fmt.Errorf("read input: %w", err)
						break
					}
					b.rows = append(b.rows, row)
				}
				if b.err == nil && ctx.Err() != nil {
					b.err = ErrInterrupted
				}
				b.res = make([]dryResult, len(b.rows))
				if len(b.rows) == 0 {
					close(b.done)
				} else {
					select {
					case work <- b:
					case <-stop:
						return
					}
				}
				if len(b.rows) > 0 || b.err != nil {
					select {
					case ordered <- b:
					case <-stop:
						return
					}
				}
				if b.err != nil || len(b.rows) < dryBatchRows {
					return
				}
			}
		}()
		defer func() {
			close(stop)
			for range ordered { // let the reader end
			}
			wg.Wait()
		}()
		for b := range ordered {
			<-b.done
			if b.err != nil {
				// The rows read before the error count: yield them first.
				if len(b.rows) > 0 && !yield(&dryBatch{rows: b.rows, res: b.res}) {
					return
				}
				yield(&dryBatch{err: b.err})
				return
			}
			if !yield(b) {
				return
			}
		}
	}
}
