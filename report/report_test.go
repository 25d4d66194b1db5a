package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden renders the fixed sample report and compares it with
// testdata/sample.html (go test ./report -update rewrites it).
func TestGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, Sample()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample.html")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("the page differs from %s (run with -update after checking the change)", golden)
	}
}

// TestSelfContained: the page loads nothing (no script, no external
// address), and a value with markup from the input stays text.
func TestSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, Sample()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "http://", "https://cdn", "src=", "@import", "url("} {
		if strings.Contains(strings.ReplaceAll(page, "https://api.constantcontact.com", ""), bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the cell holding <script> is not escaped as text")
	}
}

// TestSections: each part of the page shows only when the report has
// something for it.
func TestSections(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Report)
		want    []string
		notWant []string
	}{
		{"whole", func(*Report) {}, []string{`id="outcome-bar"`, `id="failures"`, `id="requests"`, `id="rate-line"`, `id="jobs"`, `id="notes"`}, nil},
		{"no failures, jobs or notes", func(r *Report) { r.Failures, r.Jobs, r.Notes = nil, nil, nil },
			[]string{`id="requests"`}, []string{`id="failures"`, `id="jobs"`, `id="notes"`}},
		{"no request", func(r *Report) { r.Requests = Requests{} }, []string{"No request was sent."}, []string{`id="requests"`}},
		{"no rate line", func(r *Report) { r.Rate = 0 }, []string{`id="requests"`}, []string{`id="rate-line"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Sample()
			tt.mod(r)
			var b bytes.Buffer
			if err := Render(&b, r); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("the page lacks %s", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(b.String(), w) {
					t.Errorf("the page holds %s", w)
				}
			}
		})
	}
}

func TestOutcomeBar(t *testing.T) {
	parts := outcomeBar([]Outcome{{"created", "created", 999_999}, {"failed", "failed", 1}, {"skipped", "skipped", 0}}, 1_000_000)
	if len(parts) != 3 || parts[1].W == "0" || parts[2].W != "0" || parts[1].Pct != "<0.1%" {
		t.Errorf("parts %+v: one failure in a million must still show, a zero not", parts)
	}
	if outcomeBar(nil, 0) != nil {
		t.Error("a bar of nothing")
	}
}
