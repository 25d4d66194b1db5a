package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ctctbulk/mapping"
)

// TestGenRecord checks that generated rows are deterministic, valid for
// the importer as they are (already normalised: Convert changes nothing),
// and that version 1 changes every value but the email.
func TestGenRecord(t *testing.T) {
	m, warnings, err := mapping.Resolve(genHeader, mapping.Options{})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("resolve the generated header: %v %v", err, warnings)
	}
	for i := range 200 {
		v0, v1 := genRecord(7, i, 0), genRecord(7, i, 1)
		if !slices.Equal(v0, genRecord(7, i, 0)) {
			t.Fatalf("row %d: not deterministic", i)
		}
		for v, rec := range [][]string{v0, v1} {
			r, err := m.Convert(rec, i+2)
			if err != nil {
				t.Fatalf("row %d v%d: %v", i, v, err)
			}
			for k, name := range genHeader {
				if name == "ContactLists" {
					if got := strings.Join(r.Lists, ";"); got != rec[k] {
						t.Errorf("row %d v%d: lists %q, want %q", i, v, got, rec[k])
					}
					continue
				}
				if got := r.Contact.Get(name); got != rec[k] {
					t.Errorf("row %d v%d: %s normalised to %q from %q", i, v, name, got, rec[k])
				}
			}
		}
		for k, name := range genHeader {
			if same := v0[k] == v1[k]; same != (name == "EmailAddress") {
				t.Errorf("row %d: %s is %q in v0 and %q in v1", i, name, v0[k], v1[k])
			}
		}
	}
}

// TestWriteInput reads a generated file back with encoding/csv.
func TestWriteInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.csv")
	if _, err := writeInput(path, 3, 120, 1); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 121 || !slices.Equal(recs[0], genHeader) {
		t.Fatalf("read %d records, header %q", len(recs), recs[0])
	}
	for i, rec := range recs[1:] {
		if want := genRecord(3, i, 1); !slices.Equal(rec, want) {
			t.Errorf("row %d: %q, want %q", i, rec, want)
		}
	}
}

// TestCompareState checks that every kind of difference is counted.
func TestCompareState(t *testing.T) {
	const n = 5
	exact := func() map[string][]record {
		got := map[string][]record{}
		for i := range n {
			rec := genRecord(1, i, 0)
			r := record{}
			for k, name := range genHeader {
				r[name] = rec[k]
			}
			got[rec[0]] = []record{r}
		}
		return got
	}
	tests := []struct {
		name   string
		change func(map[string][]record)
		want   stateDiff
	}{
		{"exact", func(map[string][]record) {}, stateDiff{Contacts: n}},
		{"more lists is fine", func(g map[string][]record) { g[genEmail(1)][0]["ContactLists"] = "1;2;3" }, stateDiff{Contacts: n}},
		{"lost", func(g map[string][]record) { delete(g, genEmail(2)) }, stateDiff{Contacts: n - 1, Lost: 1}},
		{"duplicate", func(g map[string][]record) { g[genEmail(0)] = append(g[genEmail(0)], g[genEmail(0)][0]) },
			stateDiff{Contacts: n, Duplicates: 1}},
		{"wrong field", func(g map[string][]record) { g[genEmail(3)][0]["City"] = "Nowhere" },
			stateDiff{Contacts: n, WrongFields: 1, WrongRows: 1}},
		{"list missing", func(g map[string][]record) { g[genEmail(4)][0]["ContactLists"] = "" },
			stateDiff{Contacts: n, WrongFields: 1, WrongRows: 1}},
		{"extra", func(g map[string][]record) { g["someone@example.com"] = []record{{}} }, stateDiff{Contacts: n + 1, Extra: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exact()
			tt.change(got)
			d := compareState(expectedState(1, n, 0), got)
			if len(d.Examples) == 0 != tt.want.ok() {
				t.Errorf("examples %q with ok %v", d.Examples, tt.want.ok())
			}
			d.Examples = nil
			if d.String() != tt.want.String() || d.Contacts != tt.want.Contacts || d.ok() != tt.want.ok() {
				t.Errorf("got %+v, want %+v", d, tt.want)
			}
		})
	}
}

// TestKillPlan checks that kill moments are deterministic, sorted and
// inside the run.
func TestKillPlan(t *testing.T) {
	at, delays := killPlan(9, 10_000, 5)
	at2, delays2 := killPlan(9, 10_000, 5)
	if !slices.Equal(at, at2) || !slices.Equal(delays, delays2) {
		t.Fatal("kill plan not deterministic")
	}
	if !slices.IsSorted(at) || len(at) != 5 {
		t.Fatalf("kill plan %v not sorted", at)
	}
	for i := range at {
		if at[i] < 500 || at[i] > 9000 || delays[i] < 0 || delays[i] >= 250e6 {
			t.Errorf("kill %d at %d POSTs + %s: out of range", i, at[i], delays[i])
		}
	}
}

// TestReadReport reads an error report as the importer writes it.
func TestReadReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.csv.errors.csv")
	text := "EmailAddress,FirstName,_line,_status,_error\n" +
		"a@example.com,Ann,3405,failed,create failed 3 times with no answer from the server\n" +
		"b@example.com,\"Bo, Jr\",3672,skipped,contact is Do Not Mail\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	n, lines, err := readReport(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"line 3405 a@example.com: failed: create failed 3 times with no answer from the server",
		"line 3672 b@example.com: skipped: contact is Do Not Mail",
	}
	if n != 2 || !slices.Equal(lines, want) {
		t.Errorf("got %d %q, want 2 %q", n, lines, want)
	}
}
