// Package report writes a run's report as one self-contained HTML page:
// what ran against what, the outcomes, the failures with example rows,
// the requests over time against the rate, the bulk jobs, and what the
// run could not check. The page has inline CSS and inline SVG and no
// script: it opens from a mail attachment with no network. Every value is
// escaped by html/template, so a cell holding markup stays text.
package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed page.html.tmpl
var pageFS embed.FS

// Report is what the page shows. The zero value of each part leaves its
// section out (no failures, no jobs...).
type Report struct {
	// Kind is the command, "import" or "export"; Name what it ran on
	// (the input file for an import, the output for an export).
	Kind, Name string
	// Target is the account or sandbox; Command the command line (it
	// never holds a secret: secrets come from the environment or a file).
	Target, Command string
	Start, End      time.Time
	// Status says how the run ended, in a few words ("complete",
	// "finished with failed rows", "stopped: interrupted"); OK whether
	// that is a success.
	Status string
	OK     bool
	// Input is the file an import read; Output the file an export wrote,
	// with Manifest its manifest (a link beside the page).
	Input, Output *File
	Manifest      *Link
	// Figures are the headline numbers (rows read, requests, rate...).
	Figures []Fact
	// Outcomes split the rows (or contacts) by outcome, in the bar's
	// order; Whole is what they add up to.
	Outcomes []Outcome
	Whole    int64
	// Failures are the reasons of the rows that did not succeed, the most
	// frequent first; OtherRows the reported rows of reasons not shown.
	Failures  []Failure
	OtherRows int64
	// ErrorFiles are the error reports (CSV) beside the page.
	ErrorFiles []Link
	// Requests is the run's requests over time; Rate the --rate, per
	// second (0: no line).
	Requests Requests
	Rate     float64
	// Jobs are the bulk jobs; JobsLeftOut those not drawn.
	Jobs        []Job
	JobsLeftOut int
	// Details are further facts of the run (way, retries...); Notes what
	// it could not check or left out.
	Details []Fact
	Notes   []string
}

// File is a file of the run: its name, size and SHA-256 digest (hex), or
// a note when they are not known (stdin).
type File struct {
	Name   string
	Bytes  int64
	SHA256 string
	Note   string
}

// Link is a file beside the page: its text, the relative address the
// page links to, and the rows it holds (0: not said).
type Link struct {
	Text, Href string
	Rows       int
}

// Fact is one labelled value.
type Fact struct{ Label, Value string }

// Outcome is one part of the outcome bar. Kind chooses its colour:
// created, updated, unchanged, skipped, optedout, failed, pending,
// written or other.
type Outcome struct {
	Label string
	Kind  string
	Count int64
}

// Failure is one reason of failed (or skipped) rows: how many rows, the
// first lines, and a few example rows as read.
type Failure struct {
	Reason   string
	Rows     int64
	Lines    []int
	Examples []Example
}

// Example is one reported row: its line, its input's header and cells as
// read (or Raw, a malformed stretch's text), and its own reason.
type Example struct {
	Line   int
	Header []string
	Cells  []string
	Raw    string
	Error  string
}

// Job is a bulk job's life: when it was posted, ran and ended (zero when
// not known), its rows and failed rows.
type Job struct {
	Key, Type, Status            string
	Submitted, Started, Finished time.Time
	Rows, Errors                 int
}

// Render writes the page. It fails only when w does.
func Render(w io.Writer, r *Report) error {
	t, err := template.New("page.html.tmpl").Funcs(template.FuncMap{
		"count":    count,
		"bytes":    humanBytes,
		"duration": humanDuration,
		"clock":    func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
		"lines":    lineList,
		"pct":      pct,
		"n":        func(n int) string { return count(int64(n)) },
		"sub": func(a int64, b ...int64) int64 {
			for _, x := range b {
				a -= x
			}
			return a
		},
	}).ParseFS(pageFS, "page.html.tmpl")
	if err != nil {
		return fmt.Errorf("run report: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, newView(r)); err != nil {
		return fmt.Errorf("run report: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write run report: %w", err)
	}
	return nil
}

// view is the page's data: the report and its drawings.
type view struct {
	*Report
	Title    string
	Duration time.Duration
	Bar      []barPart
	Chart    *chart
	Gantt    *gantt
	Failed   int64 // the rows of the Failures shown and OtherRows
}

func newView(r *Report) *view {
	v := &view{Report: r, Duration: r.End.Sub(r.Start)}
	v.Title = fmt.Sprintf("ctctbulk %s", r.Kind)
	if r.Name != "" {
		v.Title += ": " + r.Name
	}
	v.Bar = outcomeBar(r.Outcomes, r.Whole)
	v.Chart = requestChart(r.Requests, r.Rate, r.End)
	v.Gantt = jobGantt(r.Jobs, r.Start, r.End)
	for _, f := range r.Failures {
		v.Failed += f.Rows
	}
	v.Failed += r.OtherRows
	return v
}

// count writes n with thousands separators: 1,234,567.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pct writes n as a share of of: "12.5%", "<0.1%" for a small share.
func pct(n, of int64) string {
	if of <= 0 {
		return "0%"
	}
	p := float64(n) * 100 / float64(of)
	switch {
	case n == 0:
		return "0%"
	case p < 0.1:
		return "<0.1%"
	case p >= 99.95 && n < of:
		return ">99.9%"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", p), ".0") + "%"
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
	case n == 1:
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// humanDuration writes d for a person: 850 ms, 12.3 s, 4 min 05 s,
// 2 h 03 min.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}

// lineList writes lines as "3, 7, 12".
func lineList(lines []int) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprint(l)
	}
	return strings.Join(parts, ", ")
}
