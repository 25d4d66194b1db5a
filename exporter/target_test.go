package exporter_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ctctbulk/exporter"
)

// TestExportTargetBinding: a state file or an output's manifest written
// for another target refuses the run before any request, and leaves every
// file as it was; one that names no target is bound to this target, except
// when the target was chosen only because nothing was configured.
func TestExportTargetBinding(t *testing.T) {
	t.Parallel()
	const (
		here  = "https://api.example.com account joe"
		there = "sandbox /srv/other.db"
	)
	state := func(target string) string {
		s := `{"high_water_mark": "2020-01-01T00:00:00.000Z", "status": "all"`
		if target != "" {
			s += `, "target": "` + target + `"`
		}
		return s + "}\n"
	}
	manifest := func(target string) string { return fmt.Sprintf(`{"file": "contacts.csv", "target": %q}`+"\n", target) }
	tests := []struct {
		name     string
		state    string // content of the state file; "" for none
		manifest string // content of the output's manifest; "" for none
		implicit bool
		refused  []string // in the error: both targets, what to do
		warning  string
	}{
		{name: "state of this target", state: state(here)},
		{name: "state of another target", state: state(there), refused: []string{there, here, "another state file"}},
		{name: "state of another target, implicit", state: state(there), implicit: true, refused: []string{there, here}},
		{name: "state of no target", state: state(""), warning: "bound to " + here},
		{name: "state of no target, implicit", state: state(""), implicit: true, refused: []string{"names no target", here, "no account is configured"}},
		{name: "manifest of this target", manifest: manifest(here)},
		{name: "manifest of another target", manifest: manifest(there), refused: []string{there, here, "remove", "another file"}},
		{name: "manifest of no target", manifest: `{"file": "contacts.csv"}` + "\n"},
		{name: "unreadable manifest", manifest: "{\n"},
	}
	e := seededEnv(t, 60)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "contacts.csv")
			statePath := filepath.Join(dir, "export.state")
			previous := map[string]string{out: "previous export\n"}
			if tt.state != "" {
				previous[statePath] = tt.state
			}
			if tt.manifest != "" {
				previous[exporter.ManifestPath(out)] = tt.manifest
			}
			for p, s := range previous {
				if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var warnings []string
			opts := exporter.Options{Target: here, ImplicitTarget: tt.implicit, Now: e.clock.Now,
				Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) }}
			if tt.state != "" {
				opts.StatePath = statePath
			}
			ex, err := exporter.New(e.client, opts)
			if err != nil {
				t.Fatal(err)
			}
			var sum *exporter.Summary
			n := requests(e, func() { sum, err = ex.WriteFile(t.Context(), out, 0) })
			if tt.refused != nil {
				if !errors.Is(err, exporter.ErrTargetMismatch) {
					t.Fatalf("err = %v, want ErrTargetMismatch", err)
				}
				for _, s := range tt.refused {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("message %q does not say %q", err, s)
					}
				}
				if n != 0 {
					t.Errorf("%d requests sent to a target the run refused", n)
				}
				checkUntouched(t, dir, previous)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum.Target != here || !strings.HasPrefix(textOf(t, sum), "target: "+here+"\n") {
				t.Errorf("summary target %q, text %q", sum.Target, textOf(t, sum))
			}
			if m, err := exporter.VerifyFile(out); err != nil || m.Target != here {
				t.Errorf("manifest %+v, %v; want target %q", m, err, here)
			}
			if tt.state != "" {
				if st, err := exporter.ReadState(statePath); err != nil || st.Target != here {
					t.Errorf("state %+v, %v; want target %q", st, err, here)
				}
			}
			if tt.warning == "" && len(warnings) > 0 || tt.warning != "" && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, tt.warning) }) {
				t.Errorf("warnings %q, want %q", warnings, tt.warning)
			}
		})
	}
}

// textOf returns the human summary.
func textOf(t *testing.T, sum *exporter.Summary) string {
	t.Helper()
	var b strings.Builder
	if err := sum.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
