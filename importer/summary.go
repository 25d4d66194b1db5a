package importer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
	"ctctbulk/progress"
)

// Summary is the account of a run. Created + Updated + Unchanged + Skipped
// + Failed + Pending = Read; rows done by earlier runs of a resumed import
// are counted in Resumed (and by outcome in Earlier) only. Blank lines are
// not rows: they are counted in Blank alone.
type Summary struct {
	// Target is the account or sandbox the rows went to ("" for a dry run).
	Target    string `json:"target,omitempty"`
	DryRun    bool   `json:"dry_run"`
	Read      int64  `json:"rows_read"`
	Created   int64  `json:"created"`
	Updated   int64  `json:"updated"`
	Unchanged int64  `json:"unchanged"`
	Skipped   int64  `json:"skipped"`
	Failed    int64  `json:"failed"`
	// Pending rows were read but not finished when the run stopped; a
	// --resume does them.
	Pending int64 `json:"pending"`
	// UnreadBytes is the input the run stopped before reading (0 when it
	// read it all, or its size is unknown), and UnreadRowsAbout the rows
	// they hold at the size of those read: neither counted in Read.
	UnreadBytes     int64 `json:"unread_bytes,omitempty"`
	UnreadRowsAbout int64 `json:"unread_rows_about,omitempty"`
	// Blank is the lines with no value (empty, or delimiters only);
	// Unparsed the physical lines of malformed stretches, each stretch a
	// failed row in the report; OptedOut the contacts opted out because
	// their row's Status was Do Not Mail (counted in Created or Updated).
	Blank    int64 `json:"blank_lines"`
	Unparsed int64 `json:"unparsed_lines"`
	OptedOut int64 `json:"opted_out"`
	// OptOutsCarried counts, by signal ("Mailchimp unsubscribed export",
	// "Email Opt Out", "Status=do not mail"), the rows that said their
	// person opted out and whose contact is Do Not Mail after the run (a
	// dry run: that would be carried over); OptOutsSkipped those skipped
	// by --opt-outs skip.
	OptOutsCarried map[string]int64 `json:"opt_outs_carried,omitempty"`
	OptOutsSkipped map[string]int64 `json:"opt_outs_skipped,omitempty"`
	// CarriedBy counts the carried-over opt-outs by the outcome they are
	// counted in (created, updated, unchanged), so that a report can show
	// them apart.
	CarriedBy map[string]int64 `json:"-"`
	// Cut counts the cells --truncate cut, by field (a dry run: "cells"),
	// in CutRows rows; Dropped the opt-out rows carried over without some
	// of their values (invalid ones), each in the report.
	Cut     map[string]int64 `json:"cut_cells,omitempty"`
	CutRows int64            `json:"cut_rows,omitempty"`
	Dropped int64            `json:"opt_outs_without_bad_values,omitempty"`
	Resumed int64            `json:"resumed"`
	Earlier map[string]int64 `json:"earlier_runs,omitempty"`
	// Columns is the whole mapping, one row per column (number, header,
	// taken as, by what), set by a dry run.
	Columns [][]string `json:"columns,omitempty"`
	// Valid and PlannedRequests are set by a dry run: the rows that passed
	// validation and the most requests a real run would send.
	Valid           int64 `json:"valid,omitempty"`
	PlannedRequests int64 `json:"planned_requests,omitempty"`
	// PlanBulkRows and PlanContactsRows are the valid rows a dry run plans
	// to send in bulk jobs (PlanJobs of them) and through the contacts
	// collection; the bulk rows' count is a most (unchanged rows are only
	// known from the account).
	PlanBulkRows     int64 `json:"plan_bulk_rows,omitempty"`
	PlanJobs         int64 `json:"plan_jobs,omitempty"`
	PlanContactsRows int64 `json:"plan_contacts_rows,omitempty"`
	// PlanRate, PlanSeconds, DailyQuota and PlanDays say how long the
	// planned requests take at the run's rate and in how many days they
	// fit a daily quota (set by Plan), today's included when QuotaSpent
	// (today's requests on the key, every run's) leaves some of it.
	PlanRate    float64 `json:"plan_rate,omitempty"`
	PlanSeconds float64 `json:"plan_seconds,omitempty"`
	DailyQuota  int64   `json:"daily_quota,omitempty"`
	QuotaSpent  int64   `json:"quota_spent_today,omitempty"`
	PlanDays    int64   `json:"plan_days,omitempty"`
	// PlanAccount is the account's contacts as the dry run read them;
	// PlanFailRows the valid rows it knows will fail (new contacts with no
	// list to add them to), at most that many when PlanFailAtMost (the
	// emails were not looked up, so every row counts as new); PlanNotes
	// what else it found or assumed.
	PlanAccount    int64    `json:"plan_account,omitempty"`
	PlanFailRows   int64    `json:"plan_fail_rows,omitempty"`
	PlanFailAtMost bool     `json:"plan_fail_at_most,omitempty"`
	PlanNotes      []string `json:"plan_notes,omitempty"`

	// Via is the way the rows took: "contacts", or "activities" when the
	// bulk path ran (its rows a job cannot carry still go through the
	// contacts collection: ContactsRows). BulkJobs are the add jobs sent,
	// ExportJobs the export jobs (the plan's and the verification's), BulkRows the
	// rows sent in add jobs, Planned the contacts the plan exported,
	// Verified the rows the verification found as sent; NotVerified says
	// the verification was skipped (--verify=false).
	Via          string `json:"via,omitempty"`
	BulkJobs     int64  `json:"bulk_jobs,omitempty"`
	ExportJobs   int64  `json:"export_jobs,omitempty"`
	BulkRows     int64  `json:"bulk_rows,omitempty"`
	ContactsRows int64  `json:"contacts_path_rows,omitempty"`
	Planned      int64  `json:"planned_contacts,omitempty"`
	Verified     int64  `json:"verified,omitempty"`
	NotVerified  bool   `json:"not_verified,omitempty"`
	// PlanBy and VerifyBy say how the plan learnt the account and how the
	// verification read it: "export" (export jobs) or "lookups" (a search
	// per 50 emails and a read of each contact), whichever cost less.
	PlanBy   string `json:"plan_by,omitempty"`
	VerifyBy string `json:"verify_by,omitempty"`
	// Jobs are the bulk jobs this run saw end (add and export), in the
	// order they ended, for the run report; JobsLeftOut the ended jobs
	// past the most it keeps.
	Jobs        []ctct.JobSpan `json:"-"`
	JobsLeftOut int            `json:"-"`

	Requests  int64            `json:"requests"`
	ByMethod  map[string]int64 `json:"requests_by_method,omitempty"`
	Retries   int64            `json:"retries"`
	Throttled int64            `json:"throttled"`

	ElapsedSeconds    float64 `json:"elapsed_seconds"`
	RowsPerSecond     float64 `json:"rows_per_second"`
	RequestsPerSecond float64 `json:"requests_per_second"`

	// Reasons are the most frequent reasons of this run's failed and
	// skipped rows, with the first line of each.
	Reasons []Reason `json:"failure_reasons,omitempty"`

	// NotChecked says what the run could not check (the account changed
	// while it ran, verification skipped...).
	NotChecked []string `json:"not_checked,omitempty"`

	Stopped string `json:"stopped,omitempty"`
	// ReportPath is the error report (the first, when there are several);
	// ReportRows the rows it holds (of this run and the earlier runs it
	// resumes; of every report, when several); Reports each report.
	ReportPath string       `json:"error_report,omitempty"`
	ReportRows int          `json:"error_report_rows"`
	Reports    []ReportFile `json:"error_reports,omitempty"`
	// Superseded counts the failed rows a later row of the same email set
	// (marked in the report's _superseded_by).
	Superseded int64 `json:"superseded,omitempty"`
	// RunReport is the HTML run report written (set by the command line,
	// only when it wrote one).
	RunReport string `json:"run_report,omitempty"`
}

// ReportFile is one error report and the rows it holds.
type ReportFile struct {
	Path string `json:"path"`
	Rows int    `json:"rows"`
}

// baseSummary is what every summary says of the run: its target, the
// requests it sent, its time.
func (im *Importer) baseSummary(read int64) *Summary {
	s := &Summary{DryRun: im.opts.DryRun, Read: read}
	if !im.opts.DryRun {
		s.Target = im.opts.Target
		s.Via = string(ViaContacts)
		d := im.client.Counters().Since(im.base)
		s.Requests, s.Retries, s.Throttled, s.ByMethod = d.Requests, d.Retries, d.Throttled, d.ByMethod
	}
	elapsed := im.opts.Now().Sub(im.start)
	s.ElapsedSeconds = elapsed.Seconds()
	if elapsed > 0 {
		s.RowsPerSecond = float64(s.Read) / elapsed.Seconds()
		s.RequestsPerSecond = float64(s.Requests) / elapsed.Seconds()
	}
	return s
}

// summary builds the run's summary from the store: this run's outcomes,
// the earlier runs' it resumes, the rows not finished, and the tallies by
// signal, cut and reason.
func (r *run) summary(ctx context.Context) (*Summary, error) {
	im, st := r.im, r.st
	mine := map[string]int64{}
	earlier := map[string]int64{}
	var pending, unparsed int64
	rows, err := st.db.QueryContext(ctx, `SELECT outcome, run = ?, count(*), sum(CASE WHEN raw != '' THEN end_line - line + 1 ELSE 0 END)
		FROM rows GROUP BY outcome, run = ?`, st.run, st.run)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	for rows.Next() {
		var outcome string
		var this bool
		var n, lines int64
		if err := rows.Scan(&outcome, &this, &n, &lines); err != nil {
			rows.Close()
			return nil, fmt.Errorf("journal: %w", err)
		}
		switch {
		case outcome == "":
			pending += n
		case this:
			mine[outcome] += n
			unparsed += lines
		default:
			earlier[outcome] += n
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var read int64
	for _, n := range mine {
		read += n
	}
	s := im.baseSummary(read + pending)
	s.Created, s.Updated, s.Unchanged, s.Skipped, s.Failed = mine[statusCreated], mine[statusUpdated], mine[statusUnchanged], mine[statusSkipped], mine[statusFailed]
	s.Pending, s.Unparsed, s.Blank, s.OptedOut = pending, unparsed, im.counts.blank.Load(), im.counts.optedOut.Load()
	if len(earlier) > 0 {
		s.Earlier = earlier
		for _, n := range earlier {
			s.Resumed += n
		}
	}
	if err := r.tallies(ctx, s); err != nil {
		return nil, err
	}
	c := &im.counts
	s.ContactsRows = c.contactsRows.Load()
	if r.jobs != nil {
		s.Via = string(ViaActivities)
		s.BulkJobs, s.ExportJobs, s.BulkRows, s.Planned, s.Verified = c.jobs.Load(), c.exports.Load(), c.sent.Load(), c.planned.Load(), c.verified.Load()
		s.NotVerified = im.opts.NoVerify && s.BulkRows > 0
		s.PlanBy, s.VerifyBy = r.learnedBy, r.verifiedBy
		r.jobs.spansMu.Lock()
		s.Jobs, s.JobsLeftOut = slices.Clone(r.jobs.spans), r.jobs.spansLeft
		r.jobs.spansMu.Unlock()
	}
	s.NotChecked = r.notes
	if phase, _ := im.phase.Load().(string); phase == phaseReading && im.opts.InputSize > 0 {
		off := c.offset.Load()
		if s.UnreadBytes = max(0, im.opts.InputSize-off); off > 0 {
			s.UnreadRowsAbout = int64(float64(c.stored.Load()) * float64(s.UnreadBytes) / float64(off))
		}
	}
	return s, nil
}

// tallies fills what the summary counts by kind: this run's opt-outs by
// signal, cells cut, opt-outs without their bad values, and the failed and
// skipped rows by reason.
func (r *run) tallies(ctx context.Context, s *Summary) error {
	st := r.st
	var t tally
	var reasons reasons
	rows, err := st.db.QueryContext(ctx, `SELECT seq, file, line, opt_out, cut, dropped, outcome, reason FROM rows
		WHERE run = ? AND (opt_out != '' OR cut != '' OR dropped != '' OR outcome IN (?, ?)) ORDER BY seq`, st.run, statusSkipped, statusFailed)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var file, line int
		var rr reportRow
		var optOut, outcome, reason string
		if err := rows.Scan(&seq, &file, &line, &optOut, &rr.cut, &rr.dropped, &outcome, &reason); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		t.note(optOut, &rr, outcome)
		if outcome == statusSkipped || outcome == statusFailed {
			var header []string
			if file >= 0 && file < len(r.srcs) {
				header = r.srcs[file].rd.Header()
			}
			reasons.add(Example{Line: line, Header: header, seq: seq}, outcome, reason)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	t.fill(s)
	s.Reasons = reasons.top()
	return r.exampleCells(ctx, s.Reasons)
}

// exampleCells reads the cells of the reasons' example rows from the
// store (a few rows: the tally does not hold every row's cells).
func (r *run) exampleCells(ctx context.Context, rs []Reason) error {
	for i := range rs {
		for j := range rs[i].Examples {
			ex := &rs[i].Examples[j]
			var cells []byte
			if err := r.st.db.QueryRowContext(ctx, "SELECT cells, raw FROM rows WHERE seq = ?", ex.seq).Scan(&cells, &ex.Raw); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
			var err error
			if ex.Cells, err = decodeCells(cells); err != nil {
				return err
			}
		}
	}
	return nil
}

// Plan works out how long a dry run's planned requests take at rate
// requests per second and, when quota > 0, how many days of that daily
// quota they need, counting today as one when the spent requests of
// today leave some of its quota.
func (s *Summary) Plan(rate float64, quota, spent int64) {
	if !s.DryRun || rate <= 0 {
		return
	}
	if s.PlanRate == 0 {
		s.PlanRate, s.PlanSeconds = rate, float64(s.PlannedRequests)/rate
	}
	if quota <= 0 {
		return
	}
	s.DailyQuota, s.QuotaSpent = quota, max(spent, 0)
	left := max(quota-s.QuotaSpent, 0)
	switch {
	case s.PlannedRequests <= left:
		s.PlanDays = min(s.PlannedRequests, 1)
	case left > 0:
		s.PlanDays = 1 + (s.PlannedRequests-left+quota-1)/quota
	default:
		s.PlanDays = (s.PlannedRequests + quota - 1) / quota
	}
}

// AllFailed is the rows that failed in this run and, when resumed, in the
// earlier runs it continues; with PlanFailRows, what decides exit code 3.
func (s *Summary) AllFailed() int64 { return s.Failed + s.Earlier[statusFailed] }

// PlanFailReason is why a dry run's PlanFailRows will fail.
func (s *Summary) PlanFailReason() string { return reasonNoList }

// Finished is the rows that reached an outcome in this run.
func (s *Summary) Finished() int64 {
	return s.Created + s.Updated + s.Unchanged + s.Skipped + s.Failed
}

// WriteText writes the human summary.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	if s.Target != "" {
		fmt.Fprintf(&b, "target: %s\n", s.Target)
	}
	if s.DryRun {
		writeTable(&b, s.Columns)
		fmt.Fprintf(&b, "dry run: %s read, %d valid, %d invalid\n", nRows(s.Read), s.Valid, s.Failed)
		if s.PlanAccount > 0 || s.Target != "" {
			fmt.Fprintf(&b, "account: %d contacts\n", s.PlanAccount)
		}
		for _, n := range s.PlanNotes {
			b.WriteString(wrapWords(n, summaryWidth, 2) + "\n")
		}
		if s.PlanBulkRows > 0 {
			plan := "3 exports of the account to plan"
			if s.PlanBy == "lookups" {
				plan = "the emails looked up to plan"
			}
			verify := ", no verification (--verify=false)"
			switch s.VerifyBy {
			case "export":
				verify = ", an export to verify"
			case "lookups":
				verify = ", each contact looked up to verify"
			}
			b.WriteString(wrapWords(fmt.Sprintf("activities: %s in %d %s, %s%s", nRows(s.PlanBulkRows), s.PlanJobs, plural(s.PlanJobs, "job", "jobs"), plan, verify), summaryWidth, 2) + "\n")
		}
		if s.PlanContactsRows > 0 || s.PlanBulkRows == 0 {
			fmt.Fprintf(&b, "contacts collection: %s, a request per 50 to look up and up to 2 each to write\n", nRows(s.PlanContactsRows))
		}
		fmt.Fprintf(&b, "a real run would send about %d requests", s.PlannedRequests)
		if s.PlanRate > 0 {
			fmt.Fprintf(&b, " and take about %s at --rate %g", progress.Human(time.Duration(s.PlanSeconds*float64(time.Second))), s.PlanRate)
			if s.PlanBulkRows > 0 {
				b.WriteString(", the jobs' processing and the account's size included")
			}
		}
		b.WriteString("\n")
		if s.DailyQuota > 0 {
			days := fmt.Sprintf("%d days", s.PlanDays)
			if s.PlanDays == 1 {
				days = "1 day"
			}
			switch left := s.DailyQuota - s.QuotaSpent; {
			case s.QuotaSpent == 0:
				fmt.Fprintf(&b, "with a daily quota of %s requests it needs %s\n", thousands(s.DailyQuota), days)
			case left > 0:
				fmt.Fprintf(&b, "with a daily quota of %s requests it needs %s: %s of today's %s are already spent\n",
					thousands(s.DailyQuota), days, thousands(s.QuotaSpent), thousands(s.DailyQuota))
			default:
				fmt.Fprintf(&b, "with a daily quota of %s requests it needs %s from tomorrow: today's %s are all spent\n",
					thousands(s.DailyQuota), days, thousands(s.DailyQuota))
			}
		}
	} else {
		fmt.Fprintf(&b, "rows read %d: created %d, updated %d, unchanged %d, skipped %d, failed %d",
			s.Read, s.Created, s.Updated, s.Unchanged, s.Skipped, s.Failed)
		if s.Pending > 0 {
			fmt.Fprintf(&b, ", not finished %d", s.Pending)
		}
		b.WriteString("\n")
		if s.UnreadBytes > 0 {
			fmt.Fprintf(&b, "not read: the input's last %s (about %d rows): --resume reads them\n", humanBytes(s.UnreadBytes), s.UnreadRowsAbout)
		}
		if s.Via == string(ViaActivities) {
			fmt.Fprintf(&b, "bulk: %d rows in %d add jobs, %d through the contacts collection\n", s.BulkRows, s.BulkJobs, s.ContactsRows)
			switch s.PlanBy {
			case "lookups":
				fmt.Fprintf(&b, "planned by looking the emails up: %d contacts found; export jobs %d\n", s.Planned, s.ExportJobs)
			default:
				fmt.Fprintf(&b, "planned by exporting the account: %d contacts; export jobs %d\n", s.Planned, s.ExportJobs)
			}
			switch {
			case s.NotVerified && s.Verified == 0:
				b.WriteString("not verified (--verify=false): the jobs' outcomes are the server's word\n")
			case s.Verified > 0 || s.BulkRows > 0 && s.Stopped == "":
				by := "export"
				if s.VerifyBy == "lookups" {
					by = "looking each contact up"
				}
				fmt.Fprintf(&b, "verified by %s: %d rows as sent\n", by, s.Verified)
			}
		}
		if s.Resumed > 0 {
			fmt.Fprintf(&b, "resumed: %s done by earlier runs:\n  created %d, updated %d, unchanged %d, skipped %d, failed %d\n",
				nRows(s.Resumed), s.Earlier[statusCreated], s.Earlier[statusUpdated], s.Earlier[statusUnchanged], s.Earlier[statusSkipped], s.Earlier[statusFailed])
		}
		fmt.Fprintf(&b, "requests %d (%s), retries %d, throttled %d\n", s.Requests, ctct.Counters{ByMethod: s.ByMethod}.MethodsText(), s.Retries, s.Throttled)
	}
	s.writeOptOuts(&b)
	if s.Blank > 0 {
		fmt.Fprintf(&b, "blank lines %d (no value in any cell): ignored\n", s.Blank)
	}
	if s.Unparsed > 0 {
		fmt.Fprintf(&b, "unparsed lines %d: malformed CSV, each stretch reported with its text\n", s.Unparsed)
	}
	fmt.Fprintf(&b, "elapsed %s, %.1f rows/s", (time.Duration(s.ElapsedSeconds * float64(time.Second))).Round(time.Millisecond), s.RowsPerSecond)
	if !s.DryRun {
		fmt.Fprintf(&b, ", %.1f requests/s", s.RequestsPerSecond)
	}
	b.WriteString("\n")
	switch {
	case len(s.Reports) > 1:
		b.WriteString("error reports:\n")
		for _, rf := range s.Reports {
			fmt.Fprintf(&b, "  %s (%s)\n", rf.Path, nRows(int64(rf.Rows)))
		}
	case s.ReportRows > 0:
		fmt.Fprintf(&b, "error report: %s (%s)\n", s.ReportPath, nRows(int64(s.ReportRows)))
	}
	if s.Superseded > 0 {
		fmt.Fprintf(&b, "%s failed but a later row of the same email set it: marked in _superseded_by, and skipped when the report is imported\n", nRows(s.Superseded))
	}
	for _, n := range s.NotChecked {
		b.WriteString(wrapWords("not checked: "+n, summaryWidth, 2) + "\n")
	}
	if len(s.Reasons) > 0 {
		// Rows, reason, first line; a reason too long for an 80-column
		// screen goes on under itself rather than wrap at the edge.
		b.WriteString("failed rows by reason, with the first line of each:\n")
		width := len(fmt.Sprint(s.Reasons[0].Rows))
		for _, r := range s.Reasons {
			prefix := fmt.Sprintf("  %*d  ", width, r.Rows)
			b.WriteString(prefix + wrapWords(fmt.Sprintf("%s (line %d)", r.Reason, r.FirstLine), summaryWidth-len(prefix), len(prefix)) + "\n")
		}
	}
	if s.Stopped != "" {
		fmt.Fprintf(&b, "stopped: %s\n", s.Stopped)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeOptOuts writes the opt-outs by signal and the cells cut, each a
// line wrapped to the summary's width.
func (s *Summary) writeOptOuts(b *strings.Builder) {
	line := func(head string, m map[string]int64, tail string) {
		n, text := BySignal(m)
		if n == 0 {
			return
		}
		msg := fmt.Sprintf("%s %d: %s%s", head, n, text, tail)
		b.WriteString(wrapWords(msg, summaryWidth, 2) + "\n")
	}
	if s.DryRun {
		line("opt-outs to carry over (Do Not Mail)", s.OptOutsCarried, "")
		line("opt-outs to skip (--opt-outs skip)", s.OptOutsSkipped, "")
	} else {
		line("opt-outs carried over (Do Not Mail)", s.OptOutsCarried, "")
		line("opt-outs skipped (--opt-outs skip)", s.OptOutsSkipped, "")
	}
	if s.CutRows > 0 {
		line(fmt.Sprintf("cut to their field's limit (--truncate), in %s, cells", nRows(s.CutRows)), s.Cut, ": in the report's _cut column")
	}
	if s.Dropped > 0 {
		fmt.Fprintf(b, "opt-outs carried over without their invalid values: %s (in the report)\n", nRows(s.Dropped))
	}
}

// writeTable writes rows (the first a header) as columns two spaces
// apart, the last column as it is.
func writeTable(b *strings.Builder, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush() // a strings.Builder does not fail
}

// summaryWidth is the terminal width the text summary fits.
const summaryWidth = 80

// wrapWords breaks text at spaces into lines of at most width columns
// (a longer word stays whole), the lines after the first indented by
// indent spaces.
func wrapWords(text string, width, indent int) string {
	var b strings.Builder
	col := 0
	for i, w := range strings.Fields(text) {
		n := utf8.RuneCountInString(w)
		switch {
		case i == 0:
		case col+1+n > width:
			b.WriteString("\n" + strings.Repeat(" ", indent))
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	return b.String()
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// nRows writes n rows, "1 row" for one.
// thousands writes n with a comma between thousands: 10,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func nRows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

// WriteJSON writes the summary as indented JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// tally counts what the summary tells by kind: the opt-out rows by signal
// (carried over or skipped), the cells --truncate cut by field, the opt-out
// rows carried over without some of their values. Safe for concurrent use.
type tally struct {
	mu      sync.Mutex
	carried map[string]int64
	byOut   map[string]int64
	skipped map[string]int64
	cut     map[string]int64
	cutRows int64
	dropped int64
}

func bump(m *map[string]int64, k string) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[k]++
}

// note counts a finished row.
func (t *tally) note(optOut string, r *reportRow, status string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if optOut != "" {
		switch status {
		case statusCreated, statusUpdated, statusUnchanged:
			bump(&t.carried, optOut)
			bump(&t.byOut, status)
		case statusSkipped:
			bump(&t.skipped, optOut)
		}
	}
	if r.cut != "" {
		t.cutRows++
		for _, part := range strings.Split(r.cut, "; ") {
			field, _, _ := strings.Cut(part, " ")
			bump(&t.cut, field)
		}
	}
	if r.dropped != "" {
		t.dropped++
	}
}

// noteFacts counts what a dry run learns of a valid row: its opt-out, as
// the policy would end it, and its cuts.
func (c *counters) noteFacts(f mapping.Facts, policy OptOutPolicy) {
	t := &c.tally
	t.mu.Lock()
	defer t.mu.Unlock()
	if f.OptOut != "" {
		if policy == OptOutsSkip {
			bump(&t.skipped, f.OptOut)
		} else {
			bump(&t.carried, f.OptOut)
		}
	}
	if f.Cuts > 0 {
		t.cutRows++
		if t.cut == nil {
			t.cut = map[string]int64{}
		}
		t.cut["cells"] += int64(f.Cuts)
	}
	if f.Dropped {
		t.dropped++
	}
}

// fill copies the tallies into s.
func (t *tally) fill(s *Summary) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.OptOutsCarried, s.OptOutsSkipped, s.CarriedBy = maps.Clone(t.carried), maps.Clone(t.skipped), maps.Clone(t.byOut)
	s.Cut, s.CutRows, s.Dropped = maps.Clone(t.cut), t.cutRows, t.dropped
}

// BySignal writes counts by key, the largest first: "Mailchimp
// unsubscribed export 300, UNSUB_TIME 2".
func BySignal(m map[string]int64) (total int64, text string) {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return cmp.Compare(m[b], m[a])
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		total += m[k]
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return total, strings.Join(parts, ", ")
}

// humanBytes writes n bytes for a person: 512 bytes, 3.4 KB, 1.2 MB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
