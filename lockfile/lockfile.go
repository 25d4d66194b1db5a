// Package lockfile gives a process exclusive use of a file (a journal, an
// export being written) through an advisory lock that the system releases
// when the process dies, so that a kill -9 never leaves a stale lock.
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Lock is a held lock on a lock file. Release it once.
type Lock struct {
	f    *os.File
	path string
}

// HeldError says that another process holds the lock, and who.
type HeldError struct {
	Path string
	// Holder is what the holder wrote in the lock file ("pid 123 on host
	// since 2026-11-30T01:02:03Z"), or "another process".
	Holder string
}

func (e *HeldError) Error() string { return e.Path + " is held by " + e.Holder }

// Acquire creates (or opens) the lock file at path and locks it without
// waiting. When another process holds it, the error is a *HeldError. The
// lock file holds the holder's pid, host and start time, and is removed by
// Release.
func Acquire(path string) (*Lock, error) {
	for attempt := 0; attempt < 5; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open lock %s: %w", path, err)
		}
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if held {
			holder := readHolder(f)
			f.Close()
			return nil, &HeldError{Path: path, Holder: holder}
		}
		// The file may have been removed by the holder that released it
		// between our open and our lock: then lock the new one.
		if same(f, path) {
			host, _ := os.Hostname()
			info := fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
			if err := f.Truncate(0); err == nil {
				_, _ = f.WriteAt([]byte(info+"\n"), 0)
			}
			return &Lock{f: f, path: path}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock %s: the lock file keeps being replaced", path)
}

// TryLockFile locks an open file without waiting and reports whether it got
// the lock (false: another process holds it). The lock lasts until f is
// closed.
func TryLockFile(f *os.File) (bool, error) {
	held, err := tryLock(f)
	return !held && err == nil, err
}

// Release removes the lock file and unlocks it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := os.Remove(l.path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	err = errors.Join(err, l.f.Close())
	l.f = nil
	return err
}

func readHolder(f *os.File) string {
	b, _ := io.ReadAll(io.LimitReader(f, 512))
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return "another process"
}

// same reports whether f is still the file at path.
func same(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// Wait opens (creating it) the lock file at path and waits for its lock,
// for a read-modify-write that must be done by one process at a time
// (a quota ledger). The lock file is left in place: removing it while
// another process waits on it would let two processes in. Release with
// the returned function. It returns ctx's error when ctx ends first.
func Wait(ctx context.Context, path string) (release func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	wait := time.Millisecond
	for {
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !held {
			return f.Close, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}
