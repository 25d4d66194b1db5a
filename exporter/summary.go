package exporter

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"ctctbulk/ctct"
)

// Summary is the account of an export run.
type Summary struct {
	// Target is what the export read from (Options.Target).
	Target string `json:"target"`
	// Rows is the contacts written (the header not counted).
	Rows int64 `json:"rows"`
	// Listed is the entries the listings (or email searches) returned;
	// Pages the listing pages (or searches) read.
	Listed int64 `json:"listed"`
	Pages  int64 `json:"pages"`
	// Duplicates are entries of a contact already written (it changed
	// kind during a walk of several kinds); Filtered are entries of
	// another status than the one asked for.
	Duplicates int64 `json:"duplicates"`
	Filtered   int64 `json:"filtered"`
	// Vanished contacts were listed but gone (404) when their detail was
	// fetched: deleted meanwhile, skipped.
	Vanished int64 `json:"vanished"`
	// EmailsNotFound are --email addresses that no contact has.
	EmailsNotFound int64 `json:"emails_not_found,omitempty"`

	// Jobs are the export jobs an export through activities ran; their
	// files held Listed contacts.
	Jobs int64 `json:"jobs,omitempty"`

	Status string `json:"status"`
	List   string `json:"list,omitempty"`
	Detail string `json:"detail"`
	// Via is the way the export took: contacts or activities.
	Via string `json:"via"`
	// Since is the lower bound of LastUpdateTime the run used ("" for
	// every contact); HighWaterMark is the since of the next incremental
	// run: the run's start minus the overlap.
	Since         string `json:"since,omitempty"`
	HighWaterMark string `json:"high_water_mark"`

	// Output is the file written ("-" for a writer); Bytes and SHA256
	// describe its content. A file that was not written (the export
	// failed, the previous file is left) has none of them.
	Output   string `json:"output,omitempty"`
	Bytes    int64  `json:"bytes,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Manifest string `json:"manifest,omitempty"`
	State    string `json:"state,omitempty"`

	Requests  int64            `json:"requests"`
	ByMethod  map[string]int64 `json:"requests_by_method,omitempty"`
	Retries   int64            `json:"retries"`
	Throttled int64            `json:"throttled"`

	Start             string  `json:"start"`
	End               string  `json:"end"`
	ElapsedSeconds    float64 `json:"elapsed_seconds"`
	RowsPerSecond     float64 `json:"rows_per_second"`
	RequestsPerSecond float64 `json:"requests_per_second"`

	// Stopped says why an incomplete run stopped; "" when complete.
	// Complete says the export ended with every contact written (and its
	// file renamed into place); ExitCode is the command's exit status (set
	// by the command line).
	Stopped string `json:"stopped,omitempty"`
	// Resumed is the contacts an interrupted run of this export had
	// written, which this run continued from; Partial is where a run that
	// did not complete kept what it wrote, for the next run to continue.
	Resumed int64  `json:"resumed_rows,omitempty"`
	Partial string `json:"partial,omitempty"`
	// LeftOut are the columns of the export header the file does not have
	// because its way cannot fill them (an export through jobs).
	LeftOut  []string `json:"columns_left_out,omitempty"`
	Complete bool     `json:"complete"`
	ExitCode int      `json:"exit_code"`
	// RunReport is the HTML run report written (set by the command line,
	// only when it wrote one).
	RunReport string `json:"run_report,omitempty"`
	// JobSpans are the export jobs that ended, for the run report.
	JobSpans []ctct.JobSpan `json:"-"`

	start time.Time
}

// newSummary starts the summary of a run begun at start.
func (e *Exporter) newSummary(start time.Time) *Summary {
	return &Summary{
		Target: e.opts.Target, Status: string(e.opts.Status), List: e.opts.List, Detail: string(e.opts.Detail), Via: string(e.opts.Via),
		HighWaterMark: formatTime(start.Add(-e.opts.Overlap)),
		Output:        "-", Start: start.UTC().Format(time.RFC3339Nano), start: start,
	}
}

// fillSummary copies the counters, the client's request counts and the
// output's size and hash into sum, and marks it stopped when err is not nil.
func (e *Exporter) fillSummary(sum *Summary, r *run, err error) {
	c := &e.counts
	sum.Rows, sum.Listed, sum.Pages = c.rows.Load(), c.listed.Load(), c.pages.Load()
	sum.Duplicates, sum.Filtered, sum.Vanished = c.duplicates.Load(), c.filtered.Load(), c.vanished.Load()
	sum.EmailsNotFound = c.notFound.Load()
	sum.Jobs = c.jobs.Load()
	e.spansMu.Lock()
	sum.JobSpans = slices.Clone(e.spans)
	e.spansMu.Unlock()
	e.fillRequests(sum)
	if r.out != nil {
		sum.Bytes, sum.SHA256 = r.out.sum.n, r.out.sum.sha256Hex()
	}
	if err != nil {
		sum.Stopped = err.Error()
	}
}

// fillRequests sets the request counts and the end time.
func (e *Exporter) fillRequests(sum *Summary) {
	d := e.client.Counters().Since(e.base)
	sum.Requests, sum.Retries, sum.Throttled, sum.ByMethod = d.Requests, d.Retries, d.Throttled, d.ByMethod
	end := e.opts.Now()
	sum.End = end.UTC().Format(time.RFC3339Nano)
	elapsed := end.Sub(sum.start)
	sum.ElapsedSeconds = elapsed.Seconds()
	if elapsed > 0 {
		sum.RowsPerSecond = float64(sum.Rows) / elapsed.Seconds()
		sum.RequestsPerSecond = float64(sum.Requests) / elapsed.Seconds()
	}
}

// WriteText writes the human summary.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	if s.Target != "" {
		// First, so that a cron mail shows at once where the run went.
		fmt.Fprintf(&b, "target: %s\n", s.Target)
	}
	if s.Via == string(ViaActivities) {
		fmt.Fprintf(&b, "contacts written %d (%d in the files of %d export jobs", s.Rows, s.Listed, s.Jobs)
	} else {
		fmt.Fprintf(&b, "contacts written %d (listed %d in %d pages", s.Rows, s.Listed, s.Pages)
	}
	for _, x := range []struct {
		n    int64
		what string
	}{{s.Duplicates, "seen twice"}, {s.Filtered, "other status"}, {s.Vanished, "deleted meanwhile"}, {s.EmailsNotFound, "emails not found"}} {
		if x.n > 0 {
			fmt.Fprintf(&b, ", %s %d", x.what, x.n)
		}
	}
	b.WriteString(")\n")
	if s.Since != "" {
		fmt.Fprintf(&b, "changed since %s\n", s.Since)
	}
	if len(s.LeftOut) > 0 {
		fmt.Fprintf(&b, "columns left out (export jobs cannot fill them; --via contacts writes them): %s\n", strings.Join(s.LeftOut, ", "))
	}
	fmt.Fprintf(&b, "requests %d (%s), retries %d, throttled %d\n", s.Requests, ctct.Counters{ByMethod: s.ByMethod}.MethodsText(), s.Retries, s.Throttled)
	fmt.Fprintf(&b, "elapsed %s, %.1f rows/s, %.1f requests/s\n",
		time.Duration(s.ElapsedSeconds*float64(time.Second)).Round(time.Millisecond), s.RowsPerSecond, s.RequestsPerSecond)
	if s.Output != "-" && s.Stopped == "" {
		// The digest alone is 64 columns: a line of its own keeps the
		// summary within an 80-column terminal.
		fmt.Fprintf(&b, "output %s (%d bytes)\nsha256 %s\n", s.Output, s.Bytes, s.SHA256)
	}
	if s.State != "" {
		fmt.Fprintf(&b, "state %s: next run exports changes since %s\n", s.State, s.HighWaterMark)
	}
	if s.Resumed > 0 {
		fmt.Fprintf(&b, "resumed: %d contacts were written by the interrupted run\n", s.Resumed)
	}
	if s.Partial != "" {
		fmt.Fprintf(&b, "kept %s (%d contacts): the same command continues from there\n", s.Partial, s.Rows)
	}
	if s.Stopped != "" {
		fmt.Fprintf(&b, "stopped: %s\n", s.Stopped)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the summary as indented JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
