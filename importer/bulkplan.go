package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ctctbulk/ctct"
)

// settleJournaled finishes the jobs a resumed journal holds before
// anything else, so that the plan's export sees what they did: it reads
// the input once to check that their rows are still there as they were
// (a digest per job) and to rebuild what is needed of them (the data line
// of each row, for the server's Errors; the rows themselves for a job
// whose POST got no answer, which is sent again: BULK.md says an add job
// is safe to repeat), then waits for each and reconciles its rows.
func (b *bulkRun) settleJournaled(ctx, work context.Context) error {
	var jobs []*bulkJob
	for seq := 1; seq < b.nextSeq; seq++ {
		jj, ok := b.j.journaledJobs()[seq]
		if !ok {
			continue
		}
		left := 0
		for _, l := range jj.lines {
			if b.j.doneDigest(l) == 0 {
				left++
			}
		}
		if left == 0 {
			continue // every row of it is finished in the journal
		}
		jb := &bulkJob{seq: jj.seq, key: strings.Join(jj.lists, ","), lists: jj.lists, lines: jj.lines, class: jj.class, journal: jj}
		b.im.counts.jobs.Add(1)
		b.im.counts.sent.Add(int64(left))
		// The verification must see these rows too: it exports the
		// active contacts rather than one list.
		b.sameLists = "*"
		jobs = append(jobs, jb)
		for _, l := range jj.lines {
			if b.j.doneDigest(l) == 0 {
				b.mark(l, lineSent)
				b.held++
			}
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	if err := b.rebuildJobs(jobs); err != nil {
		return err
	}
	for _, jb := range jobs {
		if jb.journal.id != "" {
			a, err := b.bc.GetActivity(work, jb.journal.id)
			if errors.Is(err, ctct.ErrNotFound) {
				return &RefusedError{Err: fmt.Errorf("bulk job %s of the interrupted run is no longer on the server (jobs are kept 14 days): run again with --resume --recheck to check every row against the account (rows already imported are found unchanged)", jb.journal.id)}
			}
			if err != nil {
				return fmt.Errorf("bulk job %s of the interrupted run: %w", jb.journal.id, err)
			}
			jb.act = a
			jb.posted = time.Now()
			b.unfinished = append(b.unfinished, jb)
			continue
		}
		if err := b.send(ctx, work, jb); err != nil {
			return err
		}
	}
	return b.waitAll(ctx)
}

// rebuildJobs reads the input and gives each job its digest, data lines
// and (when it must be sent again) rows, from the rows at its lines. A
// job whose rows are no longer there as they were refuses the resume.
func (b *bulkRun) rebuildJobs(jobs []*bulkJob) error {
	if _, err := b.src.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read input again: %w", err)
	}
	rd, _, err := b.im.open(b.src, false)
	if err != nil {
		return err
	}
	next := make([]int, len(jobs)) // index of each job's next line
	dataLine := make([]int, len(jobs))
	for i := range jobs {
		dataLine[i] = 2
	}
	width := len(rd.Header())
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		for i, jb := range jobs {
			if next[i] >= len(jb.lines) || jb.lines[next[i]] != row.Line {
				continue
			}
			next[i]++
			jb.hash.add(rowDigest(&row))
			if row.Err != nil {
				break // the digest no longer matches
			}
			rec, err := b.m.Convert(withoutEmptyExtras(row.Cells, width), row.Line)
			if err != nil {
				break
			}
			br := ctct.NewBulkRow(&rec.Contact)
			jb.dataLn = append(jb.dataLn, dataLine[i])
			dataLine[i] += br.PhysicalLines()
			if jb.journal.id == "" {
				jb.rows = append(jb.rows, br)
				jb.emails = addEmail(jb.emails, br.EmailAddress)
			}
			break
		}
	}
	for i, jb := range jobs {
		if next[i] != len(jb.lines) || jb.hash.h != jb.journal.digest || len(jb.dataLn) != len(jb.lines) {
			return &RefusedError{Err: fmt.Errorf("%w: the rows of bulk job %d (lines %d to %d) are no longer in the input as they were sent; run again with --resume --recheck to check every row against the account (rows already imported are found unchanged), or delete the journal %s to start over",
				ErrInputChanged, jb.seq, jb.lines[0], jb.lines[len(jb.lines)-1], b.j.path)}
		}
	}
	return nil
}

func addEmail(set map[string]struct{}, email string) map[string]struct{} {
	if set == nil {
		set = map[string]struct{}{}
	}
	set[strings.ToLower(email)] = struct{}{}
	return set
}

// systemLists are the lists the plan exports, with the status of their
// members.
var systemLists = [...]struct{ list, status string }{
	{"active", ctct.StatusActive},
	{"removed", ctct.StatusRemoved},
	{"do-not-mail", ctct.StatusDoNotMail},
}

// plan learns the account's state: one EXPORT_CONTACTS job per system
// list, every bulk column (and the list names when the run names lists),
// read as they stream into the account index.
func (b *bulkRun) plan(ctx, work context.Context) error {
	if err := b.waitOthers(ctx, work); err != nil {
		return err
	}
	ix, err := openAccountIndex(work, b.j.path+".index")
	if err != nil {
		return err
	}
	b.ix = ix
	b.im.setPhase("planning: exporting the account")
	var cols []string
	for _, f := range ctct.BulkFields() {
		if f.Name != "EmailAddress" {
			cols = append(cols, f.Bulk)
		}
	}
	acts := make([]*ctct.Activity, len(systemLists))
	for i, s := range systemLists {
		x := &ctct.ExportOptions{List: s.list, FileType: ctct.FileTypeCSV, SortBy: ctct.SortByEmail, ListNames: b.lists.lists != nil, Columns: cols}
		a, err := b.createExport(work, x)
		if err != nil {
			return fmt.Errorf("plan: export list %s: %w", s.list, err)
		}
		acts[i] = a
		b.im.counts.exports.Add(1)
	}
	b.names = ctct.ListsByName(b.lists.lists, func(l ctct.List) string { return b.im.client.ListURI(ctct.Number(l.ID)) })
	for i, s := range systemLists {
		n, err := b.loadExport(ctx, acts[i], s.status, b.names)
		if err != nil {
			return fmt.Errorf("plan: export list %s: %w", s.list, err)
		}
		b.im.counts.planned.Add(n)
	}
	return nil
}

// loadExport waits for an export job and puts its contacts in the index.
func (b *bulkRun) loadExport(ctx context.Context, a *ctct.Activity, status string, names map[string][]string) (int64, error) {
	er, body, err := b.openExport(ctx, a, 0)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var batch []*indexEntry
	var n int64
	for {
		x, err := er.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("job %s: %w", a.Key(), err)
		}
		e := &indexEntry{email: strings.ToLower(x.EmailAddress), status: status, exists: true, row: x.BulkRow}
		for _, name := range x.Lists {
			ids := names[name]
			if len(ids) != 1 {
				e.listsUnknown = true
				break
			}
			e.lists = append(e.lists, ids[0])
		}
		batch = append(batch, e)
		n++
		if len(batch) == 2000 {
			if err := b.ix.put(ctx, batch); err != nil {
				return n, err
			}
			batch = batch[:0]
		}
	}
	return n, b.ix.put(ctx, batch)
}

// openExport waits for an export job of about rows contacts and opens
// its file.
func (b *bulkRun) openExport(ctx context.Context, a *ctct.Activity, rows int) (*ctct.ExportReader, io.ReadCloser, error) {
	a, err := b.await(ctx, a, rows, time.Now())
	if err != nil {
		return nil, nil, err
	}
	if a.Status == ctct.ActivityError {
		return nil, nil, fmt.Errorf("job %s ended in %s", a.Key(), a.Status)
	}
	body, err := b.bc.ExportFile(ctx, a)
	if err != nil {
		return nil, nil, fmt.Errorf("job %s: %w", a.Key(), err)
	}
	er, err := ctct.NewExportReader(body, ctct.ExportFileType(a.FileName))
	if err != nil {
		body.Close()
		return nil, nil, fmt.Errorf("job %s: %w", a.Key(), err)
	}
	return er, body, nil
}

// await waits for a job of about rows rows, created at posted, the
// oldest unfinished (jobs run oldest first): no poll before the server
// can have queued and run it at the speed seen so far, then polls whose
// waits grow by half.
func (b *bulkRun) await(ctx context.Context, a *ctct.Activity, rows int, posted time.Time) (*ctct.Activity, error) {
	first := b.im.opts.PollFirst
	if rows > 0 {
		need := b.queue + time.Duration(float64(rows)/b.rate*float64(time.Second))
		first = max(first, need-time.Since(posted))
	}
	if err := b.im.opts.Sleep(ctx, first); err != nil {
		return nil, err
	}
	got, err := b.bc.WaitActivity(ctx, a.ID, ctct.WaitOptions{First: max(b.im.opts.PollFirst, first/4), Max: max(b.im.opts.PollMax, first/4)})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// createExport creates an export job. A POST whose outcome is uncertain
// is sent again (up to the run's retries): a second export job costs the
// account nothing but the time it runs, where giving up costs the run.
func (b *bulkRun) createExport(ctx context.Context, x *ctct.ExportOptions) (*ctct.Activity, error) {
	for attempt := 0; ; attempt++ {
		a, err := b.bc.CreateActivity(ctx, &ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: x})
		if err == nil || !errors.Is(err, ctct.ErrUncertain) || attempt >= b.im.opts.Retries {
			return a, err
		}
	}
}

// waitOthers waits for the unfinished add, remove and clear jobs of the
// account's newest page of activities (one request): a job that a killed
// run created without learning its id, or another tool's, would otherwise
// change contacts after the plan read them, or run after a later job of
// this run with an older value.
func (b *bulkRun) waitOthers(ctx, work context.Context) error {
	feed, err := b.bc.Activities().Next(work)
	if err != nil {
		return fmt.Errorf("plan: read the account's activities: %w", err)
	}
	for i := range feed.Activities {
		a := &feed.Activities[i]
		if a.Final() || a.Type == ctct.ActivityExportContacts {
			continue
		}
		b.im.setPhase("waiting for the account's unfinished jobs")
		if _, err := b.await(ctx, a, 0, time.Now()); err != nil {
			return fmt.Errorf("plan: wait for job %s: %w", a.Key(), err)
		}
	}
	return nil
}
