package exporter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"ctctbulk/ctct"
)

// State is the content of an incremental state file: the high-water mark
// of the last complete export and what that export selected.
type State struct {
	// HighWaterMark is the since time of the next run.
	HighWaterMark time.Time
	// Status and List are the selection of the export that wrote the
	// state (List is a list number, "" for none); a run with another
	// selection refuses the file.
	Status string
	List   string
	// Written is when the state was written; ToolVersion by what.
	Written     time.Time
	ToolVersion string
}

// stateJSON is the file layout of State.
type stateJSON struct {
	HighWaterMark string `json:"high_water_mark"`
	Status        string `json:"status"`
	List          string `json:"list,omitempty"`
	Written       string `json:"written,omitempty"`
	ToolVersion   string `json:"tool_version,omitempty"`
}

// ReadState reads a state file; a file that does not exist gives nil and
// no error (the first run, a full export).
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("state file %s is not valid (fix it, or remove it for a full export): %w", path, err)
	}
	t, err := time.Parse(time.RFC3339Nano, j.HighWaterMark)
	if err != nil {
		return nil, fmt.Errorf("state file %s: high_water_mark %q is not a time (fix it, or remove it for a full export)", path, j.HighWaterMark)
	}
	st := &State{HighWaterMark: t.UTC(), Status: j.Status, List: j.List, ToolVersion: j.ToolVersion}
	if j.Written != "" {
		st.Written, _ = time.Parse(time.RFC3339Nano, j.Written)
	}
	return st, nil
}

// WriteState writes st to path through a synced temporary file beside it
// and a rename, with mode 0600.
func WriteState(path string, st State) error {
	j := stateJSON{
		HighWaterMark: formatTime(st.HighWaterMark), Status: st.Status, List: st.List,
		Written: formatTime(st.Written), ToolVersion: st.ToolVersion,
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// check refuses a state written by an export of other contacts.
func (st *State) check(status Status, listID string) error {
	if st.Status != string(status) || st.List != listID {
		was, now := describeSelection(st.Status, st.List), describeSelection(string(status), listID)
		return fmt.Errorf("%w: it was written for %s, this run is for %s: use another state file", ErrStateMismatch, was, now)
	}
	return nil
}

func describeSelection(status, list string) string {
	s := "--status " + status
	if list != "" {
		s += " --list " + list
	}
	return s
}

// saveState writes the run's high-water mark when a state file is used.
func (e *Exporter) saveState(sum *Summary) error {
	if e.opts.StatePath == "" {
		return nil
	}
	mark, err := time.Parse(ctct.TimeLayout, sum.HighWaterMark)
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	st := State{HighWaterMark: mark, Status: sum.Status, List: sum.List, Written: e.opts.Now(), ToolVersion: e.opts.Version}
	if err := WriteState(e.opts.StatePath, st); err != nil {
		sum.Stopped = err.Error()
		return err
	}
	sum.State = e.opts.StatePath
	return nil
}
