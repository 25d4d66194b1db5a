package importer_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/importer"
	"ctctbulk/sandbox"
)

// TestProgressMeasuresWork samples a bulk import's progress while it runs
// against jobs that take time: the work done never goes back, moves
// before any row is finished (planning, sending, jobs running: not "0
// rows" until the end), and ends at its total; the text says what the rows
// are doing (decided, sent, in ended jobs, done).
func TestProgressMeasuresWork(t *testing.T) {
	const n = 120
	e := newEnv(t, sandbox.Options{ActivityDelay: 200 * time.Millisecond, ActivityRate: -1})
	o := e.bulkOptions(importer.ViaActivities)
	o.BulkRows = 40
	im, err := importer.New(e.client, o)
	if err != nil {
		t.Fatal(err)
	}
	input := generate(n, 1)
	var (
		mu          sync.Mutex
		last        int64
		back        bool
		before      bool // work moved while no row was done
		texts       []string
		sawTotal    int64
		stop        = make(chan struct{})
		sampledDone = make(chan struct{})
	)
	go func() {
		defer close(sampledDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			work, total := im.Work(int64(len(input)))
			done, text := im.Progress()
			mu.Lock()
			if work < last {
				back = true
			}
			last = work
			if total > 0 {
				sawTotal = total
			}
			if done == 0 && work > 0 {
				before = true
			}
			if len(texts) == 0 || texts[len(texts)-1] != text {
				texts = append(texts, text)
			}
			mu.Unlock()
		}
	}()
	// The input comes slowly, as from a disk or a pipe, so that the read
	// stage lasts long enough to be sampled however loaded the machine.
	sum, err := im.Run(context.Background(), &trickle{r: strings.NewReader(input), every: 256, pause: time.Millisecond})
	close(stop)
	<-sampledDone
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != n {
		t.Fatalf("created %d, want %d", sum.Created, n)
	}
	work, total := im.Work(int64(len(input)))
	if total != 5*n || work != total {
		t.Errorf("at the end: work %d of %d, want %d of %d", work, total, 5*n, 5*n)
	}
	if back {
		t.Errorf("the work done went back")
	}
	if !before {
		t.Errorf("the work did not move before the first row was done")
	}
	if sawTotal != 5*n {
		t.Errorf("total %d, want %d", sawTotal, 5*n)
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"rows read", "rows decided", "sent in", "in ended jobs", "verified"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no progress text says %q:\n%s", want, joined)
		}
	}
}

// trickle gives its reader's bytes every at a time, pausing before each.
type trickle struct {
	r     io.Reader
	every int
	pause time.Duration
}

func (t *trickle) Read(p []byte) (int, error) {
	time.Sleep(t.pause)
	if len(p) > t.every {
		p = p[:t.every]
	}
	return t.r.Read(p)
}

// cancelAfter is an input that cancels the run after giving limit bytes.
type cancelAfter struct {
	r      io.Reader
	limit  int
	given  int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.given >= c.limit {
		c.cancel()
		time.Sleep(5 * time.Millisecond)
	}
	if len(p) > 512 {
		p = p[:512]
	}
	k, err := c.r.Read(p)
	c.given += k
	return k, err
}

// TestInterruptedReadCountsTheUnread: a run stopped while it reads its
// input says how much of it was never read, in bytes and about in rows,
// and the rows read and never read add up to the input's.
func TestInterruptedReadCountsTheUnread(t *testing.T) {
	const n = 4000
	e := newEnv(t, fastJobs())
	input := generate(n, 1)
	o := e.options()
	o.InputSize = int64(len(input))
	im, err := importer.New(e.client, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum, err := im.Run(ctx, &cancelAfter{r: strings.NewReader(input), limit: len(input) / 3, cancel: cancel})
	if err == nil {
		t.Fatal("the run was not interrupted")
	}
	if sum == nil || sum.UnreadBytes <= 0 || sum.UnreadRowsAbout <= 0 {
		t.Fatalf("summary %+v: want the unread part counted", sum)
	}
	if got := sum.Read + sum.UnreadRowsAbout; got < n*9/10 || got > n*11/10 {
		t.Errorf("read %d + about %d unread = %d, want about %d", sum.Read, sum.UnreadRowsAbout, got, n)
	}
	var b strings.Builder
	if err := sum.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "not read: the input's last") {
		t.Errorf("the summary does not say what was never read:\n%s", b.String())
	}
}
