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
	// Target is what the export that wrote the state read from (see
	// Options.Target); "" in a state written before targets were recorded.
	Target string
	// Written is when the state was written; ToolVersion by what.
	Written     time.Time
	ToolVersion string
}

// stateJSON is the file layout of State.
type stateJSON struct {
	HighWaterMark string `json:"high_water_mark"`
	Status        string `json:"status"`
	List          string `json:"list,omitempty"`
	Target        string `json:"target,omitempty"`
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
	st := &State{HighWaterMark: t.UTC(), Status: j.Status, List: j.List, Target: j.Target, ToolVersion: j.ToolVersion}
	if j.Written != "" {
		st.Written, _ = time.Parse(time.RFC3339Nano, j.Written)
	}
	return st, nil
}

// WriteState writes st to path through a synced temporary file beside it
// and a rename, with mode 0600.
func WriteState(path string, st State) error {
	j := stateJSON{
		HighWaterMark: formatTime(st.HighWaterMark), Status: st.Status, List: st.List, Target: st.Target,
		Written: formatTime(st.Written), ToolVersion: st.ToolVersion,
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := WriteFileAtomic(path, append(b, '\n'), 0o600); err != nil {
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

// readState reads the state file of the options (nil when there is none
// yet) and refuses one of another target (checkTarget).
func (e *Exporter) readState() (*State, error) {
	st, err := ReadState(e.opts.StatePath)
	if err != nil || st == nil {
		return nil, err
	}
	if err := st.checkTarget(e.opts.StatePath, e.opts.Target, e.opts.ImplicitTarget); err != nil {
		return nil, err
	}
	return st, nil
}

// checkTarget refuses a state, read from path, that an export from another
// target wrote: its high-water mark says nothing of this target's changes,
// and moving it forward would lose the other target's. A state that names
// no target (written before targets were recorded) is accepted, and bound
// to this target when it is saved, unless this target was chosen only
// because nothing was configured: that is the wrong-account case itself.
func (st *State) checkTarget(path, target string, implicit bool) error {
	switch {
	case st.Target == target:
		return nil
	case st.Target == "" && !implicit:
		return nil
	case st.Target == "":
		return fmt.Errorf("%w: state file %s names no target (an earlier version wrote it) and this run is connected to %s only because no account is configured: "+
			"connect to the account the state belongs to, and the state is bound to it from then on", ErrTargetMismatch, path, target)
	}
	return fmt.Errorf("%w: state file %s was written by an export from %s, this run is connected to %s: "+
		"connect to %s again, or use another state file for %s (the first run with a new state file exports every contact)",
		ErrTargetMismatch, path, st.Target, describeTarget(target), st.Target, describeTarget(target))
}

// describeTarget names a target in a message.
func describeTarget(target string) string {
	if target == "" {
		return "an unnamed target"
	}
	return target
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
	st := State{HighWaterMark: mark, Status: sum.Status, List: sum.List, Target: e.opts.Target, Written: e.opts.Now(), ToolVersion: e.opts.Version}
	if err := WriteState(e.opts.StatePath, st); err != nil {
		sum.Stopped = err.Error()
		return err
	}
	sum.State = e.opts.StatePath
	return nil
}
