// Package progress shows how a long job is going on stderr: a progress bar
// when stderr is a terminal, otherwise one plain line every interval, and
// never anything on stdout. What to show comes from a callback, so counting
// stays with the job and printing stays here.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Status is a snapshot of a job: how much is done, of how much (Total <= 0
// when unknown), and a short text of the counters.
type Status struct {
	Done  int64
	Total int64
	Text  string
}

// Reporter shows a job's status until Stop is called. It is safe for
// concurrent use.
type Reporter struct {
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	bar  *progressbar.ProgressBar
}

// Options say where and how often to report.
type Options struct {
	// Terminal selects the progress bar; otherwise plain lines.
	Terminal bool
	// Every is the interval between plain lines (default 30s).
	Every time.Duration
	// Label starts each plain line, e.g. "import".
	Label string
}

// Start reports status() on w until Stop.
func Start(w io.Writer, opts Options, status func() Status) *Reporter {
	r := &Reporter{stop: make(chan struct{})}
	every := opts.Every
	if every <= 0 {
		every = 30 * time.Second
	}
	if opts.Terminal {
		first := status()
		max := first.Total
		if max <= 0 {
			max = -1
		}
		r.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(first.Text),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
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
				s := status()
				if r.bar != nil {
					r.bar.Describe(s.Text)
					_ = r.bar.Set64(s.Done)
					continue
				}
				if s.Total > 0 {
					fmt.Fprintf(w, "%s: %d/%d %s\n", opts.Label, s.Done, s.Total, s.Text)
				} else {
					fmt.Fprintf(w, "%s: %s\n", opts.Label, s.Text)
				}
			}
		}
	}()
	return r
}

// Stop ends the reporting and clears the bar. It may be called twice.
func (r *Reporter) Stop() {
	r.once.Do(func() {
		close(r.stop)
		r.wg.Wait()
		if r.bar != nil {
			_ = r.bar.Finish()
		}
	})
}
