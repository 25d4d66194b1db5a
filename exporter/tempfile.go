package exporter

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ctctbulk/lockfile"
)

// staleAge is how long a temporary file must have been left unchanged to
// be taken as stale on a system without file locks: no export writes
// nothing for that long.
const staleAge = 24 * time.Hour

// createLockedTemp creates the temporary file of base in dir, named
// .BASE.NNNN.tmp as os.CreateTemp makes it, and locks it (an advisory lock
// that lasts until the file is closed, even when the process is killed),
// so that removeStaleTemps of another run leaves it alone. locked is false
// on a system without file locks: the file is then written unlocked, and
// other runs go by its age.
func createLockedTemp(dir, base string) (f *os.File, locked bool, err error) {
	const attempts = 10
	for range attempts {
		f, err := os.CreateTemp(dir, "."+base+".*.tmp")
		if err != nil {
			return nil, false, err
		}
		got, err := lockfile.TryLockFile(f)
		if err != nil {
			return f, false, nil
		}
		if got && sameFile(f, f.Name()) {
			return f, true, nil
		}
		// Another run took the new file for a stale one in the instant
		// before the lock, and removes it: take another name.
		f.Close()
	}
	return nil, false, fmt.Errorf("create a temporary file for %s in %s: %d files were taken by other runs", base, dir, attempts)
}

// isTempOf reports whether name is a temporary file that createLockedTemp
// made for base: "." + base + "." + digits + ".tmp". The temporary files of
// FILE.manifest.json do not match FILE.
func isTempOf(name, base string) bool {
	mid, ok := strings.CutPrefix(name, "."+base+".")
	if !ok {
		return false
	}
	if mid, ok = strings.CutSuffix(mid, ".tmp"); !ok || mid == "" {
		return false
	}
	return strings.Trim(mid, "0123456789") == ""
}

// removeStaleTemps removes the temporary files of each path that a run
// killed while writing it left behind (see removeIfStale for which are
// stale) and names them in one warning. A file that cannot be removed is
// named in a warning of its own; none stops the export.
func (e *Exporter) removeStaleTemps(paths ...string) {
	var removed []string
	for _, p := range paths {
		dir, base := filepath.Split(p)
		if base == "" {
			continue
		}
		entries, err := os.ReadDir(cmp.Or(dir, "."))
		if err != nil {
			continue // creating the output reports an unusable directory
		}
		for _, de := range entries {
			if !isTempOf(de.Name(), base) {
				continue
			}
			name := filepath.Join(dir, de.Name())
			stale, err := removeIfStale(name, e.opts.Now())
			switch {
			case err != nil:
				e.opts.Warnf("could not remove %s, which an interrupted export may have left: %v", name, err)
			case stale:
				removed = append(removed, name)
			}
		}
	}
	if len(removed) > 0 {
		e.opts.Warnf("removed %s: temporary files left by an export that was killed", strings.Join(removed, ", "))
	}
}

// removeIfStale removes the temporary file name when no running export
// holds it, and reports whether it did. Its lock is the test: when it can
// be taken, the writer is gone; a file locked by a live writer is kept. On
// a system without file locks, a file unchanged for staleAge before now is
// taken as stale instead.
func removeIfStale(name string, now time.Time) (bool, error) {
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // removed meanwhile, or renamed into place
	}
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, nil
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	got, err := lockfile.TryLockFile(f)
	switch {
	case err != nil:
		f.Close() // some systems cannot remove an open file
		if now.Sub(fi.ModTime()) < staleAge {
			return false, nil
		}
	case !got:
		f.Close()
		return false, nil // a running export holds it
	default:
		// Removed while locked, and only if it is still the file opened.
		defer f.Close()
		if !sameFile(f, name) {
			return false, nil
		}
	}
	if err := os.Remove(name); err != nil {
		return false, err
	}
	return true, nil
}

// sameFile reports whether the open file f is still the plain file at
// path (not replaced, not a link).
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
