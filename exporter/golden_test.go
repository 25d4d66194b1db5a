package exporter_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctctbulk/exporter"
	"ctctbulk/importer"
	"ctctbulk/mapping"
	"ctctbulk/sandbox"
)

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("export differs from %s (run with -update to accept):\n%s", golden, got)
	}
}

// TestExportSamplesGolden imports each sample of samples/ into a fresh
// sandbox, one row at a time on a fixed clock, and pins the bytes of its
// full export, escaped and raw.
func TestExportSamplesGolden(t *testing.T) {
	t.Parallel()
	crmMap, err := os.ReadFile(filepath.Join("..", "samples", "crm.map"))
	if err != nil {
		t.Fatal(err)
	}
	mapFile, err := mapping.ParseMapFile(string(crmMap))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file  string
		opts  importer.Options
		valid int64
	}{
		{"contacts.csv", importer.Options{}, 25},
		{"cc_export.csv", importer.Options{Lists: []string{"Newsletter"}}, 6},
		{"crm_export.csv", importer.Options{Lists: []string{"2"}, Mapping: mapping.Options{MapFile: mapFile}}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{})
			input, err := os.Open(filepath.Join("..", "samples", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer input.Close()
			dir := t.TempDir()
			opts := tt.opts
			opts.Workers, opts.ReportPath, opts.JournalPath = 1, filepath.Join(dir, "errors.csv"), filepath.Join(dir, "journal")
			im, err := importer.New(e.client, opts)
			if err != nil {
				t.Fatal(err)
			}
			if sum, err := im.Run(t.Context(), input); err != nil || sum.Created != tt.valid {
				t.Fatalf("import: %v, %+v", err, sum)
			}
			name := strings.TrimSuffix(tt.file, ".csv")
			got, _ := runExport(t, e.client, exporter.Options{})
			checkGolden(t, filepath.Join("samples", name+".csv"), got)
			got, _ = runExport(t, e.client, exporter.Options{Raw: true})
			checkGolden(t, filepath.Join("samples", name+".raw.csv"), got)
		})
	}
}

// TestExportFixtureGolden pins the bytes of every export of the 1,234
// contact fixture (built the same on every run): their size and SHA-256,
// one line per kind of export.
func TestExportFixtureGolden(t *testing.T) {
	t.Parallel()
	fx := sharedFixture(t)
	e := fx.open(t, sandbox.Options{})
	var b strings.Builder
	for _, x := range []struct {
		name string
		opts exporter.Options
	}{
		{"full", exporter.Options{}},
		{"full raw", exporter.Options{Raw: true}},
		{"summary", exporter.Options{Detail: exporter.DetailSummary}},
		{"summary raw", exporter.Options{Detail: exporter.DetailSummary, Raw: true}},
	} {
		got, sum := runExport(t, e.client, x.opts)
		fmt.Fprintf(&b, "%-11s rows %d, %d bytes, sha256 %x\n", x.name, sum.Rows, len(got), sha256.Sum256(got))
	}
	checkGolden(t, "fixture_exports.txt", []byte(b.String()))
}
