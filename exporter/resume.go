package exporter

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"time"

	"ctctbulk/lockfile"
)

// An export to a file that walks the collection can be resumed: while it
// runs, FILE.partial.json records after each page written (at most every
// checkpointEvery) where the walk stands and how many bytes of the file
// hold the pages before it. When the run is interrupted or fails, its file
// is kept as FILE.partial; the next run of the same export (same target,
// selection, detail and --raw) truncates it to the recorded bytes, hashes
// them again, and walks on from the recorded page instead of starting
// over. A first --state run through the collection is such an export: at
// 100,000 contacts it is 102,000 requests, days of the quota.

// checkpointEvery is the most often a checkpoint is written: pages go by
// faster than a file is worth writing, and a resume re-reads what came
// after the last checkpoint.
const checkpointEvery = 2 * time.Second

// checkpoint is the content of FILE.partial.json.
type checkpoint struct {
	Target string `json:"target"`
	Status string `json:"status"`
	List   string `json:"list,omitempty"`
	Detail string `json:"detail"`
	Since  string `json:"since,omitempty"`
	Raw    bool   `json:"raw,omitempty"`
	// HighWaterMark is the first run's: the state a resumed run writes
	// must cover the changes since the walk began.
	HighWaterMark string `json:"high_water_mark"`
	cursor
	Bytes      int64  `json:"bytes"`
	Rows       int64  `json:"rows"`
	Listed     int64  `json:"listed"`
	Pages      int64  `json:"pages"`
	Filtered   int64  `json:"filtered"`
	Duplicates int64  `json:"duplicates"`
	Vanished   int64  `json:"vanished"`
	Written    string `json:"written"`
	Version    string `json:"tool_version,omitempty"`
}

// PartialPath is where an interrupted export to path keeps what it wrote.
func PartialPath(path string) string { return path + ".partial" }

// checkpointPath is the checkpoint of the partial file of path.
func checkpointPath(path string) string { return PartialPath(path) + ".json" }

// fileSink is the output of WriteFile as the resumable walk sees it.
type fileSink struct {
	path string
	f    *atomicFile
	// from is the checkpoint of the run this one may resume (nil: none);
	// last the latest checkpoint of this run, saved when saved is true.
	from  *checkpoint
	last  *checkpoint
	saved bool
	when  time.Time
}

// openSink opens the output of path: the partial file of an interrupted
// run when it left one with its checkpoint (the run decides whether it
// resumes it, see resumeOrRestart), else a new temporary file.
func (e *Exporter) openSink(path string, mode fs.FileMode) (*fileSink, error) {
	s := &fileSink{path: path}
	cp, err := readCheckpoint(checkpointPath(path))
	if err != nil {
		e.opts.Warnf("%v: starting the export over", err)
	}
	if cp != nil {
		if f, err := openPartial(PartialPath(path), path); err == nil {
			s.f, s.from = f, cp
			return s, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	os.Remove(checkpointPath(path))
	os.Remove(PartialPath(path))
	f, err := createAtomic(path, mode)
	if err != nil {
		return nil, err
	}
	s.f = f
	return s, nil
}

// readCheckpoint reads a checkpoint; none gives nil and no error.
func readCheckpoint(path string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("%s is not a checkpoint: %w", path, err)
	}
	return &cp, nil
}

// openPartial opens the partial file of path for a resumed run, locked
// like a temporary file (a second run on it is refused).
func openPartial(partial, path string) (*atomicFile, error) {
	f, err := os.OpenFile(partial, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	locked, err := lockfile.TryLockFile(f)
	if err == nil && !locked {
		f.Close()
		return nil, fmt.Errorf("%s is being written by another export", partial)
	}
	return &atomicFile{f: f, bw: bufio.NewWriterSize(f, 64<<10), path: path, locked: err == nil}, nil
}

// matches reports whether the checkpoint is of this run's export.
func (cp *checkpoint) matches(e *Exporter, r *run) bool {
	return cp.Target == e.opts.Target && cp.Status == string(e.opts.Status) && cp.List == r.listID &&
		cp.Detail == string(e.opts.Detail) && cp.Since == formatTime(r.since) && cp.Raw == e.opts.Raw
}

// resumeOrRestart starts the run's output: the interrupted run's partial
// file truncated to its checkpoint and its walk's cursor when it is of
// this export and walk says this run walks the collection, else an empty
// file. It returns the row writer and whether
// the header is written already.
func (e *Exporter) resumeOrRestart(r *run, sum *Summary, walk bool) (*rowWriter, bool, error) {
	s := e.sink
	cp := s.from
	if cp == nil {
		return newRowWriter(s.f, e.opts.Raw), false, nil
	}
	if !walk || !cp.matches(e, r) {
		e.opts.Warnf("%s is an interrupted export with other options or of another target: starting over", PartialPath(s.path))
		if _, err := s.f.restartAt(0); err != nil {
			return nil, false, err
		}
		s.from = nil
		return newRowWriter(s.f, e.opts.Raw), false, nil
	}
	h, err := s.f.restartAt(cp.Bytes)
	if err != nil {
		return nil, false, err
	}
	rw := newRowWriter(s.f, e.opts.Raw)
	rw.sum.h, rw.sum.n = h, cp.Bytes
	c := &e.counts
	c.rows.Store(cp.Rows)
	c.listed.Store(cp.Listed)
	c.pages.Store(cp.Pages)
	c.filtered.Store(cp.Filtered)
	c.duplicates.Store(cp.Duplicates)
	c.vanished.Store(cp.Vanished)
	r.from = cp.cursor
	sum.HighWaterMark, sum.Resumed = cp.HighWaterMark, cp.Rows
	s.last, s.saved = cp, true
	e.opts.Warnf("resuming the interrupted export to %s: %d contacts written, the walk goes on from page %d", s.path, cp.Rows, cp.Pages+1)
	return rw, true, nil
}

// restartAt truncates the file to n bytes, positions it there and returns
// the SHA-256 state of those bytes.
func (a *atomicFile) restartAt(n int64) (hash.Hash, error) {
	if err := a.f.Truncate(n); err != nil {
		return nil, fmt.Errorf("resume %s: %w", a.f.Name(), err)
	}
	h := sha256.New()
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("resume %s: %w", a.f.Name(), err)
	}
	if m, err := io.Copy(h, io.LimitReader(a.f, n)); err != nil || m != n {
		return nil, fmt.Errorf("resume %s: read %d of %d bytes: %v", a.f.Name(), m, n, err)
	}
	a.bw.Reset(a.f)
	return h, nil
}

// checkpointer returns the run's onPage: after each page written, the
// written bytes are flushed to the file and, at most every
// checkpointEvery, the cursor saved with them.
func (e *Exporter) checkpointer(r *run, rw *rowWriter, sum *Summary) func(cursor) error {
	s := e.sink
	return func(at cursor) error {
		rw.Flush()
		if err := rw.Error(); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		if err := s.f.bw.Flush(); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		c := &e.counts
		s.last = &checkpoint{
			Target: e.opts.Target, Status: string(e.opts.Status), List: r.listID, Detail: string(e.opts.Detail),
			Since: formatTime(r.since), Raw: e.opts.Raw, HighWaterMark: sum.HighWaterMark, cursor: at,
			Bytes: rw.sum.n, Rows: c.rows.Load(), Listed: c.listed.Load(), Pages: c.pages.Load(),
			Filtered: c.filtered.Load(), Duplicates: c.duplicates.Load(), Vanished: c.vanished.Load(),
			Version: e.opts.Version,
		}
		s.saved = false
		if now := e.opts.Now(); now.Sub(s.when) >= checkpointEvery {
			s.when = now
			return s.save(e.opts.Now())
		}
		return nil
	}
}

// save writes the latest checkpoint.
func (s *fileSink) save(now time.Time) error {
	if s.last == nil || s.saved {
		return nil
	}
	s.last.Written = formatTime(now)
	b, err := json.MarshalIndent(s.last, "", "  ")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := WriteFileAtomic(checkpointPath(s.path), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	s.saved = true
	return nil
}

// keep ends a run that did not complete: with a checkpoint, its file is
// kept as the partial file for the next run (true); without, removed.
func (s *fileSink) keep(now time.Time) bool {
	if s.last == nil {
		s.f.abort()
		os.Remove(checkpointPath(s.path))
		return false
	}
	err := s.f.bw.Flush()
	if err == nil {
		err = s.save(now)
	}
	partial := PartialPath(s.path)
	if err == nil && s.f.f.Name() != partial {
		err = os.Rename(s.f.f.Name(), partial)
	}
	s.f.f.Close()
	if err != nil {
		os.Remove(s.f.f.Name())
		os.Remove(checkpointPath(s.path))
		return false
	}
	return true
}

// done removes the checkpoint of a completed run.
func (s *fileSink) done() { os.Remove(checkpointPath(s.path)) }
