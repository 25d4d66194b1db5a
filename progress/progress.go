// Package progress shows how a long job is going on stderr: a progress bar
// within the terminal's width when stderr is a terminal, otherwise one
// timestamped line every interval, and never anything on stdout. What to
// show comes from a callback, so counting stays with the job and printing
// stays here.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Status is a snapshot of a job.
type Status struct {
	// Done and Total measure how far the job is, in any unit (bytes of the
	// input file, contacts of an export): they give the percentage and the
	// time left. Total <= 0 when unknown: a counter is shown instead.
	Done  int64
	Total int64
	// Rows is the rows (or contacts) finished; Requests the requests sent.
	Rows     int64
	Requests int64
	// Text is a short text of the job's own counters, shown when the
	// width allows.
	Text string
}

// Options say where and how often to report.
type Options struct {
	// Terminal selects the progress bar; otherwise plain lines.
	Terminal bool
	// Width is the terminal's width in columns; 0 asks the writer (80 when
	// it cannot say).
	Width int
	// Every is the interval between plain lines (default 30s).
	Every time.Duration
	// Label starts each plain line, e.g. "import".
	Label string
	// Unit names what Rows counts (default "rows").
	Unit string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Reporter shows a job's status until Stop is called. It is safe for
// concurrent use.
type Reporter struct {
	w      io.Writer
	opts   Options
	status func() Status
	start  time.Time

	mu   sync.Mutex // orders the bar's drawing and notes
	bar  *progressbar.ProgressBar
	max  int64 // the bar's total (-1: unknown, a spinner)
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// barColumns is what the bar, percentage and times take beside the
// description: " 100% |" + bar + "| [1h2m3s:1h2m3s]".
const (
	barWidth   = 20
	barColumns = barWidth + 32
)

// Start reports status() on w until Stop.
func Start(w io.Writer, opts Options, status func() Status) *Reporter {
	if opts.Every <= 0 {
		opts.Every = 30 * time.Second
	}
	if opts.Unit == "" {
		opts.Unit = "rows"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Reporter{w: w, opts: opts, status: status, start: opts.Now(), stop: make(chan struct{})}
	every := opts.Every
	if opts.Terminal {
		first := status()
		max := first.Total
		if max <= 0 {
			max = -1
		}
		r.max = max
		r.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(r.describe(first)),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(barWidth),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSpinnerType(14),
			// No spinner goroutine of the bar's own: it reads the bar's
			// state without its lock (a data race) and outlives the bar;
			// our ticker redraws, and each redraw turns the spinner.
			progressbar.OptionSetSpinnerChangeInterval(0),
			progressbar.OptionUseANSICodes(true),
		)
		every = 250 * time.Millisecond
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				r.update()
			}
		}
	}()
	return r
}

// update draws the bar or writes one plain line.
func (r *Reporter) update() {
	s := r.status()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		r.bar.Describe(r.describe(s))
		// The total may become known (an input's rows once read) or
		// change (an estimate refined): the bar follows it.
		if max := max(s.Total, -1); max != r.max && (max > 0 || max == -1) {
			r.max = max
			r.bar.ChangeMax64(max)
		}
		if s.Total > 0 {
			_ = r.bar.Set64(min(s.Done, s.Total))
		} else {
			_ = r.bar.Set64(s.Done)
		}
		return
	}
	fmt.Fprintf(r.w, "%s %s: %s\n", r.opts.Now().UTC().Format(time.RFC3339), r.opts.Label, Line(s, r.opts.Now().Sub(r.start), r.opts.Unit))
}

// Line is the plain progress line of s after elapsed: percentage and time
// left when the total is known, rows, rates, and the job's counters.
func Line(s Status, elapsed time.Duration, unit string) string {
	var b strings.Builder
	if s.Total > 0 {
		fmt.Fprintf(&b, "%d%%, ", percent(s))
	}
	fmt.Fprintf(&b, "%d %s, %s/s, %s requests/s", s.Rows, unit, rate(s.Rows, elapsed), rate(s.Requests, elapsed))
	if s.Total > 0 {
		if left, ok := timeLeft(s, elapsed); ok {
			fmt.Fprintf(&b, ", about %s left", Human(left))
		}
	}
	if s.Text != "" {
		fmt.Fprintf(&b, "; %s", s.Text)
	}
	return b.String()
}

// describe is the bar's description: the rows and rates, and the job's
// counters when the terminal is wide enough; never wider than the room
// the bar leaves.
func (r *Reporter) describe(s Status) string {
	elapsed := r.opts.Now().Sub(r.start)
	room := r.width() - barColumns
	short := fmt.Sprintf("%d %s %s/s %s req/s", s.Rows, r.opts.Unit, rate(s.Rows, elapsed), rate(s.Requests, elapsed))
	if long := short + "; " + s.Text; s.Text != "" && utf8.RuneCountInString(long) <= room {
		return long
	}
	return clip(short, room)
}

// width is the terminal's width now (it may be resized), or Options.Width.
func (r *Reporter) width() int {
	if r.opts.Width > 0 {
		return r.opts.Width
	}
	if f, ok := r.w.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// Note prints msg on a line of its own, above the bar when there is one.
func (r *Reporter) Note(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		_ = r.bar.Clear()
		fmt.Fprintf(r.w, "\r%s\n", msg)
		return
	}
	fmt.Fprintln(r.w, msg)
}

// Stop ends the reporting and clears the bar. It may be called twice.
func (r *Reporter) Stop() {
	r.once.Do(func() {
		close(r.stop)
		r.wg.Wait()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.bar != nil {
			_ = r.bar.Finish()
		}
	})
}

func percent(s Status) int64 {
	if s.Total <= 0 {
		return 0
	}
	return min(100, s.Done*100/s.Total)
}

// timeLeft estimates the time to the total from the rate measured so far.
func timeLeft(s Status, elapsed time.Duration) (time.Duration, bool) {
	if s.Done <= 0 || elapsed <= 0 || s.Done >= s.Total {
		return 0, s.Done >= s.Total
	}
	perUnit := float64(elapsed) / float64(s.Done)
	return time.Duration(perUnit * float64(s.Total-s.Done)), true
}

// rate formats n per second over elapsed with one decimal.
func rate(n int64, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "0.0"
	}
	return fmt.Sprintf("%.1f", float64(n)/elapsed.Seconds())
}

// Human writes a duration for a person planning: "45 s", "12 min",
// "2 h 48 min", "3 days 4 h".
func Human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()+0.5))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%d days %d h", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// clip shortens s to n characters, marking the cut.
func clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}
