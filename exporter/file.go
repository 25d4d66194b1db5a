package exporter

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Manifest describes a complete export file; it is written beside the file
// as FILE.manifest.json after the file is in place, so that the next job
// can check that what it reads is whole (VerifyFile).
type Manifest struct {
	File          string `json:"file"` // base name of the CSV file
	Rows          int64  `json:"rows"` // contacts, header not counted
	Bytes         int64  `json:"bytes"`
	SHA256        string `json:"sha256"`
	HighWaterMark string `json:"high_water_mark"`
	Since         string `json:"since,omitempty"`
	Status        string `json:"status"`
	List          string `json:"list,omitempty"`
	Detail        string `json:"detail"`
	Via           string `json:"via,omitempty"`
	Target        string `json:"target,omitempty"`
	Requests      int64  `json:"requests"`
	Start         string `json:"start"`
	End           string `json:"end"`
	ToolVersion   string `json:"tool_version"`
}

// ManifestPath is the manifest's path for an export file.
func ManifestPath(path string) string { return path + ".manifest.json" }

// WriteFile runs the export into path: the CSV goes to a temporary file in
// the same directory, which is synced and renamed over path only when the
// export is complete; then the manifest is written beside it, then the
// state file. mode is the file's permission bits (0600 when 0). When the
// export fails or is interrupted the temporary file is removed and path
// is left as it was. A state file, or an existing manifest of path, that
// names another target than Options.Target refuses the run
// (ErrTargetMismatch) before anything is sent or written. The temporary
// files of path, its manifest and the state file that killed runs left
// behind, and that no running export holds, are removed first and named
// through Warnf. The summary is nil only when the run could not start
// (refused, or the temporary file could not be created).
func (e *Exporter) WriteFile(ctx context.Context, path string, mode fs.FileMode) (*Summary, error) {
	if mode == 0 {
		mode = 0o600
	}
	// The state first: when both belong to another target, connecting to
	// it again is the fix, not removing the file. An unreadable state is
	// reported by the run, with a summary.
	if e.opts.StatePath != "" {
		if _, err := e.readState(); errors.Is(err, ErrTargetMismatch) {
			return nil, err
		}
	}
	if err := e.checkManifestTarget(path); err != nil {
		return nil, err
	}
	e.removeStaleTemps(path, ManifestPath(path), e.opts.StatePath)
	sink, err := e.openSink(path, mode)
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	e.sink = sink
	f := sink.f
	sum, err := e.export(ctx, f)
	notWritten := func() {
		// The file was not put in place: the summary names none.
		sum.Output, sum.Bytes, sum.SHA256 = "", 0, ""
	}
	if err != nil {
		if sink.keep(e.opts.Now()) {
			sum.Partial = PartialPath(path)
		}
		notWritten()
		return sum, err
	}
	sink.done()
	if err := f.commit(); err != nil {
		sum.Stopped = err.Error()
		notWritten()
		return sum, fmt.Errorf("write output: %w", err)
	}
	sum.Output = path
	m := Manifest{
		File: filepath.Base(path), Rows: sum.Rows, Bytes: sum.Bytes, SHA256: sum.SHA256,
		HighWaterMark: sum.HighWaterMark, Since: sum.Since, Status: sum.Status, List: sum.List,
		Detail: sum.Detail, Via: sum.Via, Target: e.opts.Target, Requests: sum.Requests, Start: sum.Start, End: sum.End, ToolVersion: e.opts.Version,
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err == nil {
		err = WriteFileAtomic(ManifestPath(path), append(b, '\n'), mode)
	}
	if err != nil {
		sum.Stopped = err.Error()
		return sum, fmt.Errorf("write manifest: %w", err)
	}
	sum.Manifest = ManifestPath(path)
	if err := e.saveState(sum); err != nil {
		return sum, err
	}
	sum.Complete = true
	return sum, nil
}

// checkManifestTarget refuses to replace an export file whose manifest
// says it came from another target: a job that reads the file would take
// another account's contacts (or the sandbox's) for this one's. A manifest
// that names no target, or that cannot be read, binds nothing: it is
// replaced with the file.
func (e *Exporter) checkManifestTarget(path string) error {
	m, err := ReadManifest(path)
	if err != nil || m.Target == "" || m.Target == e.opts.Target {
		return nil
	}
	return fmt.Errorf("%w: %s was exported from %s (so says %s), this run is connected to %s: "+
		"remove %s and %s if they may be replaced, or write this export to another file",
		ErrTargetMismatch, path, m.Target, ManifestPath(path), describeTarget(e.opts.Target), path, ManifestPath(path))
}

// ReadManifest reads the manifest of an export file.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(ManifestPath(path))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", ManifestPath(path), err)
	}
	return &m, nil
}

// ErrManifestMismatch: an export file is not the one its manifest
// describes (incomplete, changed, or the manifest is stale).
var ErrManifestMismatch = errors.New("export file does not match its manifest")

// VerifyFile checks an export file against its manifest (rows, size and
// SHA-256) and returns the manifest. A file that differs gives an error
// matching ErrManifestMismatch that says how; a file that is not CSV
// counts as differing.
func VerifyFile(path string) (*Manifest, error) {
	m, err := ReadManifest(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return m, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	hc := &hashCounter{w: io.Discard, h: sha256.New()}
	rows, csvErr := countRows(io.TeeReader(f, hc))
	if _, err := io.Copy(hc, f); err != nil { // the rest, after a CSV error
		return m, fmt.Errorf("verify %s: %w", path, err)
	}
	if csvErr != nil {
		var pe *csv.ParseError
		if !errors.As(csvErr, &pe) {
			return m, fmt.Errorf("verify %s: %w", path, csvErr)
		}
		return m, fmt.Errorf("%w: %s is not a whole CSV file: %w", ErrManifestMismatch, path, csvErr)
	}
	if sum := hc.sha256Hex(); rows != m.Rows || hc.n != m.Bytes || sum != m.SHA256 {
		return m, fmt.Errorf("%w: %s has %d rows, %d bytes, sha256 %s; the manifest says %d rows, %d bytes, sha256 %s",
			ErrManifestMismatch, path, rows, hc.n, sum, m.Rows, m.Bytes, m.SHA256)
	}
	return m, nil
}

// countRows counts the records of a CSV stream after its header.
func countRows(r io.Reader) (int64, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	var n int64
	for {
		if _, err := cr.Read(); errors.Is(err, io.EOF) {
			return max(n-1, 0), nil
		} else if err != nil {
			return 0, err
		}
		n++
	}
}

// atomicFile is a temporary file beside its final path, renamed into place
// by commit. Not safe for concurrent use.
type atomicFile struct {
	f    *os.File
	bw   *bufio.Writer
	path string
	// locked: f holds its lock (createLockedTemp) until it is closed.
	locked bool
}

func createAtomic(path string, mode fs.FileMode) (*atomicFile, error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("%q is a directory, not a file name", path)
	}
	if dir == "" {
		dir = "."
	}
	f, locked, err := createLockedTemp(dir, base)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{f: f, bw: bufio.NewWriterSize(f, 64<<10), path: path, locked: locked}, nil
}

func (a *atomicFile) Write(p []byte) (int, error) { return a.bw.Write(p) }

// commit flushes, syncs and closes the file, renames it over the final
// path and syncs the directory. A locked temporary file is renamed before
// it is closed (which releases the lock), so that it never sits unlocked
// under its temporary name for a cleaner to take as stale; its data is
// synced by then, so a failing close loses nothing. An unlocked one is
// closed first: some systems cannot rename an open file. On failure the
// temporary file is removed.
func (a *atomicFile) commit() error {
	err := a.bw.Flush()
	if err == nil {
		err = a.f.Sync()
	}
	if err != nil {
		a.abort()
		return err
	}
	if a.locked {
		err = os.Rename(a.f.Name(), a.path)
		a.f.Close()
	} else if err = a.f.Close(); err == nil {
		err = os.Rename(a.f.Name(), a.path)
	}
	if err != nil {
		os.Remove(a.f.Name())
		return err
	}
	syncDir(filepath.Dir(a.path))
	return nil
}

// abort closes and removes the temporary file.
func (a *atomicFile) abort() {
	a.f.Close()
	os.Remove(a.f.Name())
}

// WriteFileAtomic writes data to path with the given permission bits
// through a temporary file beside it, which is synced, closed and renamed
// over path, then the directory is synced: a reader sees the old file or
// the whole new one, even after a crash. On failure the temporary file is
// removed.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	a, err := createAtomic(path, mode)
	if err != nil {
		return err
	}
	if _, err := a.Write(data); err != nil {
		a.abort()
		return err
	}
	return a.commit()
}

// syncDir makes a rename in dir durable where the system supports it;
// failure only weakens durability, so it is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
