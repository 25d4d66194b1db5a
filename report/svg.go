package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The drawings' geometry is worked out here, in SVG user units, and the
// template only writes it out: the numbers are rounded to a tenth so the
// page is the same for the same report.

// barPart is one segment of the outcome bar, in a 1000-unit-wide bar.
type barPart struct {
	Outcome
	X, W string
	Pct  string
}

// barWidth is the outcome bar's width in user units; minPart the
// narrowest segment drawn for a count that is not zero.
const (
	barWidth = 1000.0
	minPart  = 4.0
)

// outcomeBar lays the outcomes side by side, each as wide as its share
// of whole (a count that is not zero at least minPart wide, so that one
// failure in a million still shows).
func outcomeBar(outs []Outcome, whole int64) []barPart {
	var sum int64
	for _, o := range outs {
		sum += o.Count
	}
	whole = max(whole, sum)
	if whole == 0 {
		return nil
	}
	ws := make([]float64, len(outs))
	total := 0.0
	for i, o := range outs {
		if o.Count > 0 {
			ws[i] = max(float64(o.Count)/float64(whole)*barWidth, minPart)
		}
		total += ws[i]
	}
	scale := 1.0
	if total > barWidth {
		scale = barWidth / total
	}
	var parts []barPart
	x := 0.0
	for i, o := range outs {
		w := ws[i] * scale
		parts = append(parts, barPart{Outcome: o, X: num(x), W: num(w), Pct: pct(o.Count, whole)})
		x += w
	}
	return parts
}

// num writes a coordinate to a tenth.
func num(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}

// chart is the requests-over-time drawing.
type chart struct {
	W, H                       int
	Left, Top, Right, Bottom   int
	Bars                       []chartBar
	Retried                    []mark
	RateLine                   string // path data
	RateY                      string
	RateLabel                  string
	YTicks, XTicks             []tick
	BucketText                 string
	Sent, Throttled, Failed    int64
	RetriedTotal               int64
	PeakText, AverageText      string
	PlotW, PlotH, PlotX, PlotY string
}

// chartBar is one bucket's stacked rectangles: answered (2xx),
// throttled and failed, bottom up.
type chartBar struct {
	X, W                         string
	OKY, OKH, ThY, ThH, FaY, FaH string
	Title                        string
}

// mark is a point of the chart: a bucket's retries.
type mark struct {
	X, Y, Title string
}

// tick is an axis mark: its position and label.
type tick struct {
	At, Label string
}

// Chart geometry, in user units.
const (
	chartW      = 960
	chartH      = 260
	chartLeft   = 52
	chartRight  = 16
	chartTop    = 24
	chartBottom = 34
)

// requestChart draws the requests per second of each bucket (answered,
// throttled and failed stacked; retried as a line) against the rate, over
// the run from its start to end. It is nil when no request was sent.
func requestChart(r Requests, rate float64, end time.Time) *chart {
	tot := r.Total()
	if tot.Sent == 0 || r.Width <= 0 {
		return nil
	}
	c := &chart{W: chartW, H: chartH, Left: chartLeft, Top: chartTop, Right: chartW - chartRight, Bottom: chartH - chartBottom,
		Sent: tot.Sent, Throttled: tot.Throttled, Failed: tot.Failed, RetriedTotal: tot.Retried}
	pw, ph := float64(c.Right-c.Left), float64(c.Bottom-c.Top)
	c.PlotX, c.PlotY, c.PlotW, c.PlotH = num(float64(c.Left)), num(float64(c.Top)), num(pw), num(ph)
	slots := len(r.Buckets)
	if span := end.Sub(r.Start); span > 0 {
		slots = max(slots, int(math.Ceil(float64(span)/float64(r.Width))))
	}
	secs := r.Width.Seconds()
	peak := 0.0
	for _, b := range r.Buckets {
		peak = max(peak, float64(b.Sent)/secs)
	}
	yMax := niceCeil(max(peak, rate*1.15, 1))
	y := func(perSec float64) float64 { return float64(c.Bottom) - perSec/yMax*ph }
	bw := pw / float64(slots)
	gap := 0.0
	if bw >= 4 {
		gap = bw * 0.15
	}
	for i, b := range r.Buckets {
		x := float64(c.Left) + float64(i)*bw
		ok := float64(b.Sent-b.Throttled-b.Failed) / secs
		th, fa := float64(b.Throttled)/secs, float64(b.Failed)/secs
		okY, thY, faY := y(ok), y(ok+th), y(ok+th+fa)
		c.Bars = append(c.Bars, chartBar{
			X: num(x + gap/2), W: num(max(bw-gap, 0.5)),
			OKY: num(okY), OKH: num(float64(c.Bottom) - okY),
			ThY: num(thY), ThH: num(okY - thY),
			FaY: num(faY), FaH: num(thY - faY),
			Title: fmt.Sprintf("%s to %s: %d sent, %d throttled, %d retried, %d failed",
				elapsed(time.Duration(i)*r.Width), elapsed(time.Duration(i+1)*r.Width), b.Sent, b.Throttled, b.Retried, b.Failed),
		})
		if b.Retried > 0 {
			c.Retried = append(c.Retried, mark{X: num(x + bw/2), Y: num(y(float64(b.Retried) / secs)),
				Title: fmt.Sprintf("%s: %d retried", elapsed(time.Duration(i)*r.Width), b.Retried)})
		}
	}
	if rate > 0 {
		c.RateY = num(y(rate))
		c.RateLine = fmt.Sprintf("M%d,%s H%d", c.Left, c.RateY, c.Right)
		c.RateLabel = fmt.Sprintf("--rate %s/s", strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", rate), "0"), "."))
	}
	for _, f := range []float64{0, 0.5, 1} {
		c.YTicks = append(c.YTicks, tick{At: num(y(yMax * f)), Label: strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", yMax*f), "0"), ".")})
	}
	span := time.Duration(slots) * r.Width
	for i := 0; i <= 4; i++ {
		c.XTicks = append(c.XTicks, tick{At: num(float64(c.Left) + pw*float64(i)/4), Label: elapsed(span * time.Duration(i) / 4)})
	}
	c.BucketText = "each bar is " + humanDuration(r.Width)
	c.PeakText = fmt.Sprintf("%.1f/s", peak)
	if s := end.Sub(r.Start).Seconds(); s > 0 {
		c.AverageText = fmt.Sprintf("%.1f/s", float64(tot.Sent)/s)
	}
	return c
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v-1e-9 {
			return m * p
		}
	}
	return 10 * p
}

// elapsed writes a time since the start: 0:00, 4:05, 1:02:03.
func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// gantt is the jobs drawing: a row per job, queued then running.
type gantt struct {
	W, H, Label, Right, AxisY int
	Rows                      []ganttRow
	XTicks                    []tick
}

// ganttRow is one job's bar: from posted to started (queued), then to
// finished (running).
type ganttRow struct {
	Job
	Y, TextY, QX, QW, RX, RW string
	Text, Title              string
}

// Gantt geometry, in user units.
const (
	ganttW     = 960
	ganttLabel = 250
	ganttRow0  = 8
	ganttRowH  = 24
	ganttAxis  = 30
)

// jobGantt draws the jobs on the run's time axis (stretched to the last
// job's end when the server's clock puts it after the run's). It is nil
// without jobs.
func jobGantt(jobs []Job, start, end time.Time) *gantt {
	if len(jobs) == 0 {
		return nil
	}
	jobs = slices.Clone(jobs)
	slices.SortStableFunc(jobs, func(a, b Job) int { return a.Submitted.Compare(b.Submitted) })
	for _, j := range jobs {
		if j.Finished.After(end) {
			end = j.Finished
		}
		if !j.Submitted.IsZero() && j.Submitted.Before(start) {
			start = j.Submitted
		}
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Second
	}
	g := &gantt{W: ganttW, Label: ganttLabel, Right: ganttW - 16}
	pw := float64(g.Right - g.Label)
	x := func(t time.Time) float64 {
		return float64(g.Label) + pw*float64(t.Sub(start))/float64(span)
	}
	for i, j := range jobs {
		sub := j.Submitted
		// The server's times are to the second: a job cannot run before
		// it was posted nor end before it ran.
		run := j.Started
		if run.IsZero() || run.Before(sub) {
			run = sub
		}
		fin := j.Finished
		if fin.IsZero() {
			fin = end
		}
		if fin.Before(run) {
			fin = run
		}
		top := float64(ganttRow0 + i*ganttRowH)
		rw := max(x(fin)-x(run), 2)
		row := ganttRow{Job: j, Y: num(top + 4), TextY: num(top + 16),
			QX: num(x(sub)), QW: num(max(x(run)-x(sub), 0)), RX: num(x(run)), RW: num(rw)}
		kind := strings.ToLower(strings.ReplaceAll(j.Type, "_", " "))
		row.Text = fmt.Sprintf("%s · %s rows", kind, count(int64(j.Rows)))
		if j.Errors > 0 {
			row.Text += fmt.Sprintf(" · %s errors", count(int64(j.Errors)))
		}
		row.Title = fmt.Sprintf("job %s (%s, %s): posted at %s, ran %s, ended at %s; %d rows, %d errors",
			j.Key, j.Type, j.Status, elapsed(sub.Sub(start)), humanDuration(fin.Sub(run)), elapsed(fin.Sub(start)), j.Rows, j.Errors)
		g.Rows = append(g.Rows, row)
	}
	g.AxisY = ganttRow0 + len(jobs)*ganttRowH + 4
	g.H = g.AxisY + ganttAxis
	for i := 0; i <= 4; i++ {
		g.XTicks = append(g.XTicks, tick{At: num(float64(g.Label) + pw*float64(i)/4), Label: elapsed(span * time.Duration(i) / 4)})
	}
	return g
}
