package exporter_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ctctbulk/exporter"
)

// TestExportStaleTemps: an export of FILE removes the temporary files
// that killed exports of FILE (and of its manifest) left, and says so in
// one warning, but keeps the temporary file of an export of FILE that is
// still running, and any other file.
func TestExportStaleTemps(t *testing.T) {
	t.Parallel()
	e := seededEnv(t, 60)
	dir := t.TempDir()
	out := filepath.Join(dir, "contacts.csv")
	stale := []string{".contacts.csv.123456.tmp", ".contacts.csv.manifest.json.42.tmp"}
	others := []string{".contacts.csv.notes.tmp", ".other.csv.7.tmp", "contacts.csv.123.tmp"} // sorted

	// A live export of the same file, held at its first contact fetch,
	// after its temporary file was created; then the files that killed
	// exports left.
	reached, release := make(chan struct{}), make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	hc := &hookClient{Client: e.client, onGet: func(n int64) {
		if n == 1 {
			close(reached)
			<-release
		}
	}}
	live, err := exporter.New(hc, exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	liveErr := make(chan error, 1)
	go func() {
		_, err := live.WriteFile(t.Context(), out, 0)
		liveErr <- err
	}()
	<-reached
	before := tempNames(t, dir)
	for _, name := range append(slices.Clone(stale), others...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("Id,Status\n1,Act"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if len(before) != 1 {
		t.Fatalf("temporary files %q, want the running export's alone", before)
	}
	liveTemp := before[0]

	var warnings []string
	ex, err := exporter.New(e.client, exporter.Options{Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.WriteFile(t.Context(), out, 0); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "removed") ||
		!strings.Contains(warnings[0], filepath.Join(dir, stale[0])) || !strings.Contains(warnings[0], filepath.Join(dir, stale[1])) ||
		strings.Contains(warnings[0], liveTemp) {
		t.Errorf("warnings %q, want one that names the stale files %q alone", warnings, stale)
	}
	want := append([]string{liveTemp}, others...)
	slices.Sort(want)
	if got := tempNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("files left %q, want %q: the running export's and the others", got, want)
	}

	released = true
	close(release)
	if err := <-liveErr; err != nil {
		t.Errorf("the running export failed: %v", err)
	}
	if _, err := exporter.VerifyFile(out); err != nil {
		t.Error(err)
	}
	if got := tempNames(t, dir); !slices.Equal(got, others) {
		t.Errorf("files left %q, want %q", got, others)
	}
}

// tempNames returns the sorted names of the files in dir that end in .tmp.
func tempNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range entries {
		if strings.HasSuffix(de.Name(), ".tmp") {
			names = append(names, de.Name())
		}
	}
	slices.Sort(names)
	return names
}
