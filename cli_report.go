package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/importer"
	"ctctbulk/report"
)

// reportOff is the --report value that writes no run report.
const reportOff = "false"

// runReport is what a command keeps to write its run report: where, the
// command line, when it started, and the timeline of its requests.
type runReport struct {
	flag     string // --report as given: "", a path or reportOff
	command  string
	start    time.Time
	timeline *report.Timeline

	mu       sync.Mutex
	warnings []string // the run's warnings, the first maxWarnings
}

// maxWarnings is the most warnings a report lists.
const maxWarnings = 20

// warn keeps a warning of the run for its report. Safe for concurrent use.
func (rr *runReport) warn(msg string) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if len(rr.warnings) < maxWarnings {
		rr.warnings = append(rr.warnings, msg)
	}
}

// warned returns the warnings kept.
func (rr *runReport) warned() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return slices.Clone(rr.warnings)
}

// register adds --report to fs, in the flag group grp; what says where
// the report goes by default.
func (rr *runReport) register(fs *pflag.FlagSet, grp, what string) {
	fs.StringVar(&rr.flag, "report", "", "run report `FILE`, one HTML page to open in any browser or send by mail (default "+what+"; --report=false writes none)")
	group(fs, grp, "report")
}

// begin notes the command line and the start, and has the connection
// count every request in the timeline.
func (rr *runReport) begin(cmd *cobra.Command, args []string, conn *connOptions) {
	rr.command = commandLine(cmd, args)
	rr.start = time.Now()
	rr.timeline = report.NewTimeline(rr.start, report.DefaultBucket, report.DefaultMaxBuckets)
	conn.observe = rr.timeline.Observe
}

// path is where the report goes: --report's file, else beside (a path
// whose .errors.csv or extension becomes .report.html; "" for none).
func (rr *runReport) path(beside string) string {
	switch {
	case rr.flag == reportOff:
		return ""
	case rr.flag != "":
		return rr.flag
	case beside == "":
		return ""
	}
	if stem, ok := strings.CutSuffix(beside, ".errors.csv"); ok {
		return stem + ".report.html"
	}
	return beside + ".report.html"
}

// writeReport renders r to path atomically (mode 0600: it holds rows of the
// input).
func writeReport(path string, r *report.Report) error {
	var b bytes.Buffer
	if err := report.Render(&b, r); err != nil {
		return err
	}
	if err := exporter.WriteFileAtomic(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write run report %s: %w", path, err)
	}
	return nil
}

// commandLine is the command as run: its name, the flags given (never a
// secret: no flag carries one) and the arguments, quoted for a shell.
func commandLine(cmd *cobra.Command, args []string) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if m, ok := f.Value.(*multiFlag); ok {
			for _, v := range *m {
				parts = append(parts, "--"+f.Name, shellQuote(v))
			}
			return
		}
		if f.Value.Type() == "bool" {
			if f.Value.String() == "true" {
				parts = append(parts, "--"+f.Name)
			} else {
				parts = append(parts, "--"+f.Name+"="+f.Value.String())
			}
			return
		}
		parts = append(parts, "--"+f.Name, shellQuote(f.Value.String()))
	})
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fileFacts reads a file's size and SHA-256 digest; stdin has neither.
func fileFacts(name string) *report.File {
	if name == "-" {
		return &report.File{Name: "stdin", Note: "read from stdin: no size or digest"}
	}
	f, err := os.Open(name)
	if err != nil {
		return &report.File{Name: name, Note: "could not be read again: " + err.Error()}
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return &report.File{Name: name, Note: "could not be read again: " + err.Error()}
	}
	return &report.File{Name: name, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}
}

// link is a file beside the page, by its address relative to the page's
// folder (a mail attachment saved with its files keeps them working).
func link(page, file string, rows int) report.Link {
	href := filepath.Base(file)
	if rel, err := filepath.Rel(filepath.Dir(absPath(page)), absPath(file)); err == nil {
		href = filepath.ToSlash(rel)
	}
	return report.Link{Text: filepath.Base(file), Href: href, Rows: rows}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// spans turns the jobs' spans into the report's.
func spans(js []ctct.JobSpan) []report.Job {
	out := make([]report.Job, len(js))
	for i, j := range js {
		out[i] = report.Job{Key: j.Key, Type: j.Type, Status: j.Status, Submitted: j.Submitted, Started: j.Started, Finished: j.Finished, Rows: j.Rows, Errors: j.Errors}
	}
	return out
}

// importReport is the run report of an import that ended at end.
func importReport(rr *runReport, o *importOptions, sum *importer.Summary, page string, end time.Time) *report.Report {
	r := &report.Report{
		Kind: "import", Name: filepath.Base(o.file), Target: sum.Target, Command: rr.command,
		Start: rr.start, End: end, Input: fileFacts(o.file),
		Requests: rr.timeline.Snapshot(), Rate: o.conn.rate, Whole: sum.Read,
		Jobs: spans(sum.Jobs), JobsLeftOut: sum.JobsLeftOut,
	}
	if o.file == "-" {
		r.Name = "stdin"
	}
	switch {
	case sum.Stopped != "":
		r.Status = "stopped: " + sum.Stopped
	case sum.AllFailed() > 0:
		r.Status = "finished with failed rows"
	default:
		r.Status, r.OK = "complete", true
	}
	var optedOut int64
	for _, n := range sum.CarriedBy {
		optedOut += n
	}
	r.Outcomes = []report.Outcome{
		{Label: "created", Kind: "created", Count: sum.Created - sum.CarriedBy["created"]},
		{Label: "updated", Kind: "updated", Count: sum.Updated - sum.CarriedBy["updated"]},
		{Label: "unchanged", Kind: "unchanged", Count: sum.Unchanged - sum.CarriedBy["unchanged"]},
		{Label: "skipped", Kind: "skipped", Count: sum.Skipped},
		{Label: "opted out", Kind: "optedout", Count: optedOut},
		{Label: "failed", Kind: "failed", Count: sum.Failed},
	}
	if sum.Pending > 0 {
		r.Outcomes = append(r.Outcomes, report.Outcome{Label: "not finished", Kind: "pending", Count: sum.Pending})
	}
	elapsed := end.Sub(rr.start)
	// The figures are the bar's: an opt-out carried over counts as opted
	// out, not also as created or updated (the Details say as what).
	r.Figures = []report.Fact{
		{Label: "rows read", Value: commas(sum.Read)}, {Label: "created", Value: commas(r.Outcomes[0].Count)},
		{Label: "updated", Value: commas(r.Outcomes[1].Count)},
	}
	if optedOut > 0 {
		r.Figures = append(r.Figures, report.Fact{Label: "opted out", Value: commas(optedOut)})
	}
	r.Figures = append(r.Figures,
		report.Fact{Label: "failed", Value: commas(sum.Failed)},
		report.Fact{Label: "requests", Value: commas(sum.Requests)}, report.Fact{Label: "duration", Value: elapsed.Round(time.Second).String()})
	var shown int64
	for _, rs := range sum.Reasons {
		f := report.Failure{Reason: rs.Reason, Rows: rs.Rows}
		for _, ex := range rs.Examples {
			f.Lines = append(f.Lines, ex.Line)
			f.Examples = append(f.Examples, report.Example{Line: ex.Line, Header: ex.Header, Cells: ex.Cells, Raw: ex.Raw, Error: ex.Error})
		}
		if len(f.Lines) == 0 {
			f.Lines = []int{rs.FirstLine}
		}
		r.Failures = append(r.Failures, f)
		shown += rs.Rows
	}
	r.OtherRows = max(0, sum.Failed+sum.Skipped-shown)
	for _, rf := range sum.Reports {
		r.ErrorFiles = append(r.ErrorFiles, link(page, rf.Path, rf.Rows))
	}
	way := "the contacts collection"
	if sum.Via == string(importer.ViaActivities) {
		way = fmt.Sprintf("activities: %s rows in %s (%s), %s through the contacts collection",
			commas(sum.BulkRows), plural(int64(sum.BulkJobs), "add job"), plural(int64(sum.ExportJobs), "export job"), commas(sum.ContactsRows))
	}
	r.Details = append(r.Details,
		report.Fact{Label: "Way", Value: way},
		report.Fact{Label: "Requests", Value: fmt.Sprintf("%s sent (%s); %d retries, %d throttled",
			commas(sum.Requests), ctct.Counters{ByMethod: sum.ByMethod}.MethodsText(), sum.Retries, sum.Throttled)})
	if optedOut > 0 {
		r.Details = append(r.Details, report.Fact{Label: "Opted out", Value: fmt.Sprintf("%s rows carried over as Do Not Mail (%s): %s created, %s updated, %s unchanged as such",
			commas(optedOut), byCount(sum.OptOutsCarried), commas(sum.CarriedBy["created"]), commas(sum.CarriedBy["updated"]), commas(sum.CarriedBy["unchanged"]))})
	}
	if sum.Resumed > 0 {
		r.Details = append(r.Details, report.Fact{Label: "Resumed", Value: fmt.Sprintf("%s rows were done by earlier runs (not in the bar)", commas(sum.Resumed))})
	}
	if sum.Blank+sum.Unparsed > 0 {
		r.Details = append(r.Details, report.Fact{Label: "Lines", Value: fmt.Sprintf("%d blank (ignored), %d unparsed (each stretch a failed row)", sum.Blank, sum.Unparsed)})
	}
	if sum.NotVerified {
		r.Notes = append(r.Notes, "verification skipped (--verify=false): the bulk jobs' outcomes are the server's word")
	}
	r.Notes = append(r.Notes, sum.NotChecked...)
	if sum.UnreadBytes > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("not read: the input's last %d bytes (about %d rows): --resume reads them", sum.UnreadBytes, sum.UnreadRowsAbout))
	}
	if sum.Pending > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s rows not finished: --resume does them", commas(sum.Pending)))
	}
	if sum.CutRows > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("cut to their field's limit (--truncate) in %s rows: %s; the error report's _cut column names each cell",
			commas(sum.CutRows), byCount(sum.Cut)))
	}
	for _, w := range rr.warned() {
		r.Notes = append(r.Notes, "warning: "+w)
	}
	return r
}

// byCount lists a map's counts, biggest first: "a 6, b 3".
func byCount(m map[string]int64) string {
	_, text := importer.BySignal(m)
	return text
}

// exportReport is the run report of an export that ended at end.
func exportReport(rr *runReport, o *exportOptions, sum *exporter.Summary, page string, end time.Time) *report.Report {
	r := &report.Report{
		Kind: "export", Name: filepath.Base(sum.Output), Target: sum.Target, Command: rr.command,
		Start: rr.start, End: end, Requests: rr.timeline.Snapshot(), Rate: o.conn.rate, Jobs: spans(sum.JobSpans),
	}
	if sum.Output == "-" {
		r.Name = "stdout"
	}
	switch {
	case sum.Stopped != "":
		r.Status = "stopped: " + sum.Stopped
	default:
		r.Status, r.OK = "complete", true
	}
	r.Outcomes = []report.Outcome{
		{Label: "written", Kind: "written", Count: sum.Rows},
		{Label: "seen twice", Kind: "unchanged", Count: sum.Duplicates},
		{Label: "other status", Kind: "skipped", Count: sum.Filtered},
		{Label: "deleted meanwhile", Kind: "other", Count: sum.Vanished},
	}
	if sum.EmailsNotFound > 0 {
		r.Outcomes = append(r.Outcomes, report.Outcome{Label: "emails not found", Kind: "failed", Count: sum.EmailsNotFound})
	}
	for _, oc := range r.Outcomes {
		r.Whole += oc.Count
	}
	if sum.Output != "-" && sum.SHA256 != "" {
		r.Output = &report.File{Name: sum.Output, Bytes: sum.Bytes, SHA256: sum.SHA256}
	}
	if sum.Manifest != "" {
		l := link(page, sum.Manifest, 0)
		r.Manifest = &l
	}
	r.Figures = []report.Fact{
		{Label: "contacts written", Value: commas(sum.Rows)}, {Label: "requests", Value: commas(sum.Requests)},
		{Label: "export jobs", Value: commas(sum.Jobs)}, {Label: "duration", Value: end.Sub(rr.start).Round(time.Second).String()},
	}
	r.Details = append(r.Details,
		report.Fact{Label: "Way", Value: sum.Via},
		report.Fact{Label: "Selection", Value: fmt.Sprintf("status %s%s, detail %s", sum.Status, map[bool]string{true: ", list " + sum.List}[sum.List != ""], sum.Detail)},
		report.Fact{Label: "Requests", Value: fmt.Sprintf("%s sent (%s); %d retries, %d throttled",
			commas(sum.Requests), ctct.Counters{ByMethod: sum.ByMethod}.MethodsText(), sum.Retries, sum.Throttled)})
	if sum.Since != "" {
		r.Details = append(r.Details, report.Fact{Label: "Changed since", Value: sum.Since})
	}
	if len(sum.LeftOut) > 0 {
		r.Notes = append(r.Notes, "columns left empty, which export jobs cannot fill (--via contacts writes them): "+strings.Join(sum.LeftOut, ", "))
	}
	if sum.Partial != "" {
		r.Notes = append(r.Notes, fmt.Sprintf("incomplete: what was written is kept in %s; the same command continues from there", sum.Partial))
	}
	return r
}

// commas writes n with thousands separators.
func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
