package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// Via says which way of the API an export takes (ctct.Via).
type Via = ctct.Via

// The ways of an export. ViaContacts walks the contacts collection (one
// request per 50 contacts listed, plus one per contact for a full
// export): every column, exact. ViaActivities runs one EXPORT_CONTACTS
// job per list (BULK.md): a few requests for any number of contacts, but
// the columns of BulkEmptyColumns stay empty. ViaAuto picks one (see
// Options.Via).
const (
	ViaAuto       = ctct.ViaAuto
	ViaContacts   = ctct.ViaContacts
	ViaActivities = ctct.ViaActivities
)

// Default waits between the polls of an export job: the first, and the
// longest (each wait is half as long again as the one before). A nightly
// export does not mind learning of a finished job a minute late, and the
// request budget of a big export is kept by polls that long.
const (
	DefaultPollFirst = 2 * time.Second
	DefaultPollMax   = time.Minute
)

// pollRowsPerSecond sizes the first wait of a job whose list says how
// many contacts it holds: the time the job would take at this speed (a
// fast server's), so that a big job is not polled a dozen times while it
// is sure to be running. A slower server is polled on from there, each
// wait half as long again as the one before.
const pollRowsPerSecond = 20000

// dateAddedLayout is how an export file writes Date Added (BULK.md).
const dateAddedLayout = "01/02/2006 03:04 PM GMT"

// BulkClient is what an export through Activities needs besides Client;
// *ctct.Client provides it. Every call goes through the client's request
// loop (limiter, retries, request budget).
type BulkClient interface {
	Client
	CreateActivity(ctx context.Context, req *ctct.ActivityRequest) (*ctct.Activity, error)
	WaitActivity(ctx context.Context, id string, o ctct.WaitOptions) (*ctct.Activity, error)
	ExportFile(ctx context.Context, a *ctct.Activity) (io.ReadCloser, error)
}

// ErrJobFailed: an export job ended in ERROR; nothing was put in place.
var ErrJobFailed = errors.New("export job failed")

// bulkColumns is the header of an export through jobs: the export header
// without BulkEmptyColumns, and the positions of its columns in it.
func bulkColumns() (header []string, pick []int) {
	left := map[string]bool{}
	for _, name := range BulkEmptyColumns() {
		left[name] = true
	}
	for i, name := range mapping.ExportHeader() {
		if !left[name] {
			header = append(header, name)
			pick = append(pick, i)
		}
	}
	return header, pick
}

// BulkEmptyColumns returns the columns of the export header that an
// export through Activities cannot fill, in header order: the file has no
// contact id, no server times, no opt-out data and no column for them. Its
// file leaves them out, as a summary export leaves out what it did not
// fetch: a blank cell re-imported with --empty clear would erase the value
// the account holds.
func BulkEmptyColumns() []string {
	var out []string
	for _, name := range mapping.ExportHeader() {
		switch name {
		// Filled besides the bulk columns: Status from the system list
		// (where it says one status), ContactLists from the file's list
		// columns, OptInSource from Added By, OptInTime from Date Added.
		case "Status", mapping.ListsField, "OptInSource", "OptInTime":
			continue
		}
		if f, ok := ctct.LookupField(name); ok && f.Bulk != "" {
			continue
		}
		out = append(out, name)
	}
	return out
}

// resolveVia returns the way an export with opts takes, as far as the
// options alone say: auto takes the collection for what only the
// collection can do (a --since export, given emails, a summary); for a
// full export of lists (and the first run of a state file, which is one)
// it stays auto, for the run to choose by the account's size (chooseVia).
func (opts *Options) resolveVia() Via {
	if opts.Via != ViaAuto {
		if opts.Via == "" {
			return ViaContacts
		}
		return opts.Via
	}
	if !opts.Since.IsZero() || len(opts.Emails) > 0 || opts.Detail == DetailSummary {
		return ViaContacts
	}
	return ViaAuto
}

// checkVia reports options that an export through Activities cannot
// honour (a state file's later runs are checked once it is read).
func (opts Options) checkVia() error {
	switch opts.Via {
	case "", ViaAuto, ViaContacts:
		return nil
	case ViaActivities:
	default:
		return fmt.Errorf("unknown way %q: use auto, contacts or activities", opts.Via)
	}
	switch {
	case !opts.Since.IsZero():
		return errors.New("an export of the contacts changed since a time goes through the contacts collection: bulk exports cannot filter by update time")
	case len(opts.Emails) > 0:
		return errors.New("an export of given emails goes through the contacts collection")
	case opts.Detail == DetailSummary:
		return errors.New("a summary export goes through the contacts collection (an export through activities writes every bulk column)")
	}
	return nil
}

// ErrIncrementalBulk refuses --via activities for a state file's later
// runs.
var ErrIncrementalBulk = errors.New("an incremental export (the state file has a high-water mark) goes through the contacts collection: bulk exports cannot filter by update time")

// Costs of the two ways, for auto's choice (requests at the run's rate;
// a job's queue time, polls and file; its contacts at a server's speed).
const (
	// assumedRate is the requests per second when the run does not say.
	assumedRate = 4.0
	// jobOverhead is a bulk export job's queue time and its few requests.
	jobOverhead = 3 * time.Second
	// jobRowsPerSecond is the contacts a second an export job writes.
	jobRowsPerSecond = 5000
	// exactWorth is the time auto spends to write every column exactly:
	// the collection is taken while it takes no longer than the jobs and
	// this much more.
	exactWorth = 30 * time.Second
	// assumedDailyQuota is the account's requests a day (PROTOCOL.md).
	assumedDailyQuota = 10000
)

// exportSize is the contacts the export's lists hold, as the lists feed
// counts them, and whether it says.
func (e *Exporter) exportSize(lists []ctct.List) (int64, bool) {
	want := map[string]bool{}
	switch {
	case e.opts.List != "":
		found, err := ctct.FindList(lists, e.opts.List)
		if err != nil {
			return 0, false
		}
		want[ctct.Number(found.ID)] = true
	case e.opts.Status == StatusAll:
		for _, k := range kinds {
			want[string(k)] = true
		}
	default:
		want[string(e.opts.Status)] = true
	}
	var n int64
	for _, l := range lists {
		if want[ctct.Number(l.ID)] {
			if !l.CountKnown {
				return 0, false
			}
			n += int64(l.ContactCount)
		}
	}
	return n, true
}

// collectionCost is the time and requests of walking n contacts through
// the collection: a page per 50, and a GET per contact for a full export.
func (e *Exporter) collectionCost(n int64) (time.Duration, int64) {
	req := (n + 49) / 50
	if e.opts.Detail != DetailSummary {
		req += n
	}
	rate := e.opts.Rate
	if rate <= 0 {
		rate = assumedRate
	}
	return time.Duration(float64(req) / rate * float64(time.Second)), req
}

// chooseVia is auto's way for a full export of n contacts: the collection
// (every column exact) while it is cheap, jobs otherwise.
func (e *Exporter) chooseVia(n int64, known bool) Via {
	if !known {
		return ViaActivities
	}
	jobs := int64(1)
	if e.opts.List == "" && e.opts.Status == StatusAll {
		jobs = int64(len(kinds))
	}
	bulk := time.Duration(jobs)*jobOverhead + time.Duration(float64(n)/jobRowsPerSecond*float64(time.Second))
	if walk, _ := e.collectionCost(n); walk <= bulk+exactWorth {
		return ViaContacts
	}
	return ViaActivities
}

// sayWalkCost warns, before a full walk of n contacts through the
// collection, what it will cost: requests, time at the rate, and days of
// the account's daily quota.
func (e *Exporter) sayWalkCost(n int64) {
	d, req := e.collectionCost(n)
	if req < assumedDailyQuota/10 {
		return
	}
	rate := e.opts.Rate
	if rate <= 0 {
		rate = assumedRate
	}
	e.opts.Warnf("exporting %d contacts through the contacts collection takes about %d requests: %s at --rate %g, %.1f days of a %d-request daily quota (--via activities takes a few requests)",
		n, req, humanDuration(d), rate, float64(req)/assumedDailyQuota, assumedDailyQuota)
}

// humanDuration writes d rounded for a person: 35h0m, 12m30s, 45s.
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Second).String()
}

// bulkJob is one export job of a run: the list it exports and, for a
// system list that says one status, that status.
type bulkJob struct {
	list   string // list number or system list word
	status string // contact status of every row, or ""
	// joined: the file is one side of a join, which needs it sorted;
	// emailOnly: it is the filter side (emails alone).
	joined, emailOnly bool
	rows              int // contacts of the list, -1 when the server does not say
	act               *ctct.Activity
	posted            time.Time // when the run created it
}

// exportBulk writes the export through Activities: one EXPORT_CONTACTS
// job per list (the system lists the status selects, or the --list),
// all created first so that the server runs them while the earlier files
// are read, then each waited for and its file streamed into the
// canonical header, one row in memory at a time. The system lists are
// disjoint (a contact has one status), so their files need no merge. The
// members of a list that have one status are the list's file joined with
// the emails of the status's system list: both files are sorted by email,
// so the join streams them side by side.
func (e *Exporter) exportBulk(ctx context.Context, r *run, rw *rowWriter) error {
	bc, ok := e.client.(BulkClient)
	if !ok {
		return errors.New("export through activities: the client cannot run bulk jobs")
	}
	lists := r.lists
	if lists == nil {
		var err error
		if lists, err = e.client.Lists(ctx); err != nil {
			return fmt.Errorf("read lists: %w", err)
		}
	}
	var jobs []*bulkJob
	switch {
	case e.opts.List != "":
		found, err := ctct.FindList(lists, e.opts.List)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnknownList, err)
		}
		r.listID = ctct.Number(found.ID)
		jobs = append(jobs, &bulkJob{list: r.listID})
		if e.opts.Status != StatusAll {
			jobs[0].status, jobs[0].joined = kindStatus(e.opts.Status), true
			jobs = append(jobs, &bulkJob{list: string(e.opts.Status), joined: true, emailOnly: true})
		}
	case e.opts.Status == StatusAll:
		for _, k := range kinds {
			jobs = append(jobs, &bulkJob{list: string(k), status: kindStatus(k)})
		}
	default:
		jobs = append(jobs, &bulkJob{list: string(e.opts.Status), status: kindStatus(e.opts.Status)})
	}
	var cols []string
	for _, f := range ctct.BulkFields() {
		if f.Name != "EmailAddress" {
			cols = append(cols, f.Bulk)
		}
	}
	for _, j := range jobs {
		x := &ctct.ExportOptions{List: j.list, FileType: ctct.FileTypeCSV, SortBy: ctct.SortByEmail}
		if !j.emailOnly {
			x.DateAdded, x.Source, x.ListNames, x.Columns = true, true, true, cols
		}
		a, err := bc.CreateActivity(ctx, &ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: x})
		if err != nil {
			return fmt.Errorf("export list %s: %w", j.list, err)
		}
		j.act, j.posted = a, e.opts.Now()
		e.counts.jobs.Add(1)
	}
	for _, j := range jobs {
		j.rows = -1
		for _, l := range lists {
			if ctct.Number(l.ID) == j.list && l.CountKnown {
				j.rows = l.ContactCount
			}
		}
	}
	names := ctct.ListsByName(lists, func(l ctct.List) string { return l.ID })
	if len(jobs) == 2 && jobs[1].emailOnly {
		return e.joinFiles(ctx, bc, jobs[0], jobs[1], names, r, rw)
	}
	for _, j := range jobs {
		f, err := e.openFile(ctx, bc, j, names, r)
		if err != nil {
			return err
		}
		err = f.copyTo(ctx, rw)
		f.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// joinFiles writes the rows of the list's file whose email is in the
// filter's file. Both are sorted by email (sortBy EMAIL_ADDRESS); a file
// found out of order is an error, never a silent miss.
func (e *Exporter) joinFiles(ctx context.Context, bc BulkClient, list, filter *bulkJob, names map[string][]string, r *run, rw *rowWriter) error {
	lf, err := e.openFile(ctx, bc, list, names, r)
	if err != nil {
		return err
	}
	defer lf.close()
	ff, err := e.openFile(ctx, bc, filter, names, r)
	if err != nil {
		return err
	}
	defer ff.close()
	var fkey string
	fdone := false
	for {
		x, key, err := lf.next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for !fdone && fkey < key {
			if _, fkey, err = ff.next(ctx); err == io.EOF {
				fdone = true
			} else if err != nil {
				return err
			}
		}
		if !fdone && fkey == key {
			if err := lf.write(rw, x); err != nil {
				return err
			}
		}
	}
}

// bulkFile is the file of a finished job, read one row at a time.
type bulkFile struct {
	e     *Exporter
	r     *run
	j     *bulkJob
	body  io.ReadCloser
	er    *ctct.ExportReader
	ids   map[string]string // list name to id URI, for ContactLists
	prev  string            // the last email key read, to check the order
	dated bool              // a Date Added was found unreadable (warned once)
}

// openFile waits for the job to finish and opens its file. A job that
// ended in ERROR is ErrJobFailed.
func (e *Exporter) openFile(ctx context.Context, bc BulkClient, j *bulkJob, names map[string][]string, r *run) (*bulkFile, error) {
	first := e.opts.PollFirst
	if j.rows > 0 {
		first = max(first, time.Duration(float64(j.rows)/pollRowsPerSecond*float64(time.Second)))
	}
	what := fmt.Sprintf("export job of list %s", j.list)
	if j.rows >= 0 {
		what += fmt.Sprintf(" (%d contacts)", j.rows)
	}
	e.phase.Store(what + ": waiting for it to run")
	since := e.opts.Now()
	a, err := bc.WaitActivity(ctx, j.act.ID, ctct.WaitOptions{First: first, Max: max(e.opts.PollMax, first),
		OnPoll: func(a *ctct.Activity) {
			e.phase.Store(fmt.Sprintf("%s: %s (waited %s)", what, strings.ToLower(a.Status), e.opts.Now().Sub(since).Round(time.Second)))
		}})
	e.phase.Store("")
	if err != nil {
		return nil, fmt.Errorf("export list %s (job %s): %w", j.list, j.act.Key(), err)
	}
	if a.Status == ctct.ActivityError {
		return nil, fmt.Errorf("%w: the export of list %s (job %s) ended in %s", ErrJobFailed, j.list, a.Key(), a.Status)
	}
	j.act = a
	e.span(a.Span(j.posted, a.TransactionCount))
	body, err := bc.ExportFile(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("export list %s (job %s): %w", j.list, a.Key(), err)
	}
	er, err := ctct.NewExportReader(body, ctct.ExportFileType(a.FileName))
	if err != nil {
		body.Close()
		return nil, fmt.Errorf("export list %s (job %s): %w", j.list, a.Key(), err)
	}
	// The list columns, resolved once per file. A name that is not (or
	// no longer) one list's is left out of ContactLists, with a warning.
	ids := make(map[string]string, len(er.ListNames))
	for _, n := range er.ListNames {
		switch found := names[n]; len(found) {
		case 1:
			ids[n] = found[0]
		case 0:
			e.opts.Warnf("the export file of list %s has a column for list %q, which the account's lists do not name: its memberships are left out of ContactLists", j.list, n)
		default:
			e.opts.Warnf("%d lists are named %q: their memberships are left out of ContactLists (--via contacts writes them)", len(found), n)
		}
	}
	return &bulkFile{e: e, r: r, j: j, body: body, er: er, ids: ids}, nil
}

func (f *bulkFile) close() { f.body.Close() }

// next returns the next row and its email key (lower-cased), io.EOF
// after the last. Keys must not go down: the join relies on the order.
func (f *bulkFile) next(ctx context.Context) (*ctct.ExportRow, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	x, err := f.er.Read()
	if err == io.EOF {
		return nil, "", io.EOF
	}
	if err != nil {
		return nil, "", fmt.Errorf("export list %s (job %s): %w", f.j.list, f.j.act.Key(), err)
	}
	if !f.j.emailOnly {
		f.e.counts.listed.Add(1)
	}
	key := strings.ToLower(x.EmailAddress)
	if f.j.joined {
		if key < f.prev {
			return nil, "", fmt.Errorf("export list %s (job %s): the file is not sorted by email (%q after %q): "+
				"the members of a list of one status cannot be picked out; use --via contacts", f.j.list, f.j.act.Key(), x.EmailAddress, f.prev)
		}
		f.prev = key
	}
	return x, key, nil
}

// copyTo writes every row of the file.
func (f *bulkFile) copyTo(ctx context.Context, rw *rowWriter) error {
	for {
		x, _, err := f.next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := f.write(rw, x); err != nil {
			return err
		}
	}
}

// write writes one row of the file in the header of bulkColumns: the
// bulk columns, Status when the list says it, ContactLists from the list
// columns, OptInSource from Added By and OptInTime from Date Added.
func (f *bulkFile) write(rw *rowWriter, x *ctct.ExportRow) error {
	ct := x.BulkRow.Contact()
	ct.Status = f.j.status
	for _, n := range x.Lists {
		if id, ok := f.ids[n]; ok {
			ct.Lists = append(ct.Lists, ctct.ListMembership{ID: id})
		}
	}
	slices.SortFunc(ct.Lists, func(a, b ctct.ListMembership) int { return compareNumbers(ctct.Number(a.ID), ctct.Number(b.ID)) })
	optIn := ""
	if x.DateAdded != "" {
		if t, err := time.Parse(dateAddedLayout, x.DateAdded); err == nil {
			optIn = formatTime(t)
		} else if !f.dated {
			f.dated = true
			f.e.opts.Warnf("the export file of list %s has a Date Added %q that is not %s: such dates are left out of OptInTime", f.j.list, x.DateAdded, dateAddedLayout)
		}
	}
	row := mapping.ExportRow(ct, x.AddedBy, optIn)
	if f.r.pick != nil {
		f.r.cells = pickCells(row, f.r.pick, f.r.cells)
		row = f.r.cells
	}
	if err := rw.Write(row); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	f.e.counts.rows.Add(1)
	return nil
}

// kindStatus is the contact status of every member of a system list, ""
// for the active list (Active or Unconfirmed: the file does not say).
func kindStatus(k Status) string {
	switch k {
	case StatusRemoved:
		return ctct.StatusRemoved
	case StatusDoNotMail:
		return ctct.StatusDoNotMail
	}
	return ""
}

// compareNumbers orders list numbers numerically (then as text).
func compareNumbers(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}
