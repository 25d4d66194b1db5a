package exporter

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

func TestEscapeCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"=SUM(A1)", "'=SUM(A1)"},
		{"+1 555", "'+1 555"},
		{"-42", "'-42"},
		{"@cmd", "'@cmd"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{" =x", " =x"},
		{"a=b", "a=b"},
		{"'=x", "'=x"},
		{"Zoë", "Zoë"},
	}
	for _, tt := range tests {
		if got := EscapeCell(tt.in); got != tt.want {
			t.Errorf("EscapeCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRowWriter(t *testing.T) {
	for _, raw := range []bool{false, true} {
		var buf bytes.Buffer
		rw := newRowWriter(&buf, raw)
		if err := rw.Write([]string{"=1", "two\nlines", `"q"`, "a,b"}); err != nil {
			t.Fatal(err)
		}
		if rw.Flush(); rw.Error() != nil {
			t.Fatal(rw.Error())
		}
		want := "'=1,\"two\nlines\",\"\"\"q\"\"\",\"a,b\"\n"
		if raw {
			want = want[1:]
		}
		if buf.String() != want {
			t.Errorf("raw=%v: %q, want %q", raw, buf.String(), want)
		}
		if rw.sum.n != int64(buf.Len()) || len(rw.sum.sha256Hex()) != 64 {
			t.Errorf("raw=%v: counted %d bytes of %d", raw, rw.sum.n, buf.Len())
		}
	}
}

// TestRecordHeader holds the export's record to the field table: gocsv
// writes the table's names, in its order, as the header, and each cell
// under the header of the field it came from.
func TestRecordHeader(t *testing.T) {
	var want []string
	for _, f := range ctct.Fields() {
		want = append(want, f.Name)
	}
	if h := mapping.ExportHeader(); !slices.Equal(h, want) {
		t.Fatalf("ExportHeader = %q, want the field table %q", h, want)
	}
	var buf bytes.Buffer
	rw := newRowWriter(&buf, true)
	if err := rw.writeHeader(); err != nil {
		t.Fatal(err)
	}
	if err := rw.writeRecords([]record{newRecord(want), newRecord(want)}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want a header and 2 rows", len(recs))
	}
	for i, rec := range recs {
		if !slices.Equal(rec, want) {
			t.Errorf("record %d = %q, want %q", i, rec, want)
		}
	}
	var empty bytes.Buffer
	if err := newRowWriter(&empty, false).writeHeader(); err != nil || empty.String() != strings.Join(want, ",")+"\n" {
		t.Errorf("header alone: %q, %v", empty.String(), err)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // TimeLayout, "" for an error
	}{
		{"2008-07-23T14:21:06.407Z", "2008-07-23T14:21:06.407Z"},
		{"2024-05-01T08:00:00+02:00", "2024-05-01T06:00:00.000Z"},
		{" 2024-05-01 ", "2024-05-01T00:00:00.000Z"},
		{"2024-05-01 08:00", ""},
		{"yesterday", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseTime(%q) = %v, want an error", tt.in, got)
		case tt.want != "" && (err != nil || got.Format(ctct.TimeLayout) != tt.want):
			t.Errorf("ParseTime(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestIDSet(t *testing.T) {
	s := newIDSet()
	ids := []string{
		"http://api.constantcontact.com/ws/customers/joe/contacts/1",
		"http://api.constantcontact.com/ws/customers/joe/contacts/64",
		"http://api.constantcontact.com/ws/customers/joe/contacts/63",
		"http://api.constantcontact.com/ws/customers/joe/contacts/9223372036854775807",
		"http://api.constantcontact.com/ws/customers/joe/contacts/abc",
		"/ws/customers/joe/contacts/0",
	}
	for _, id := range ids {
		if !s.add(id) {
			t.Errorf("add(%q) the first time reported a duplicate", id)
		}
	}
	for _, id := range ids {
		if s.add(id) {
			t.Errorf("add(%q) the second time reported a new id", id)
		}
	}
	if !s.add("/ws/customers/joe/contacts/65") || s.add("65") {
		t.Error("number 65 not recognised across id forms")
	}
	// 100,000 dense numbers take about one bit each.
	d := newIDSet()
	for n := range 100_000 {
		d.add("/contacts/" + strconv.Itoa(n))
	}
	if len(d.words) > 100_000/64+1 {
		t.Errorf("%d words for 100,000 dense ids", len(d.words))
	}
}

func TestNewOptions(t *testing.T) {
	c := &ctct.Client{}
	tests := []struct {
		name string
		opts Options
		err  string // "" for success
	}{
		{"defaults", Options{}, ""},
		{"bad status", Options{Status: "gone"}, "unknown status"},
		{"bad detail", Options{Detail: "some"}, "unknown detail"},
		{"since and state", Options{Since: time.Now(), StatePath: "s"}, "exclusive"},
		{"emails and list", Options{Emails: []string{"a@b.cc"}, List: "1"}, "cannot be combined"},
		{"emails and state", Options{Emails: []string{"a@b.cc"}, StatePath: "s"}, "cannot be combined"},
		{"system list", Options{List: "do-not-mail"}, "use the status"},
		{"negative overlap", Options{Overlap: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		e, err := New(c, tt.opts)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
		case tt.err == "" && (e.opts.Status != StatusAll || e.opts.Detail != DetailFull || e.opts.Workers != DefaultWorkers || e.opts.Window != DefaultWindow):
			t.Errorf("%s: defaults %+v", tt.name, e.opts)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	st, err := ReadState(path)
	if st != nil || err != nil {
		t.Fatalf("missing state: %v %v", st, err)
	}
	mark := time.Date(2024, 6, 1, 12, 0, 0, 123e6, time.UTC)
	if err := WriteState(path, State{HighWaterMark: mark, Status: "active", List: "7", Written: mark, ToolVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	st, err = ReadState(path)
	if err != nil || !st.HighWaterMark.Equal(mark) || st.Status != "active" || st.List != "7" || st.ToolVersion != "1" {
		t.Fatalf("read back %+v, %v", st, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v %v", fi.Mode(), err)
	}
	if err := st.check(StatusActive, "7"); err != nil {
		t.Error(err)
	}
	if err := st.check(StatusAll, "7"); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("check(all) = %v", err)
	}
	if err := st.check(StatusActive, ""); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("check(no list) = %v", err)
	}
	for _, bad := range []string{"{", `{"high_water_mark": "soon"}`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadState(path); err == nil || !strings.Contains(err.Error(), "remove it for a full export") {
			t.Errorf("state %q: err = %v", bad, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the directory, want the state alone", len(entries))
	}
}

func TestWriteFileCreateFails(t *testing.T) {
	e, err := New(&ctct.Client{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := e.WriteFile(context.Background(), filepath.Join(t.TempDir(), "no", "such", "dir.csv"), 0)
	if err == nil || sum != nil {
		t.Errorf("WriteFile into a missing directory: %v, %v", sum, err)
	}
}

func TestVerifyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.csv")
	if err := os.WriteFile(path, []byte("Id\n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := `{"file": "x.csv", "rows": 1, "bytes": 5, "sha256": "not it"}`
	if err := os.WriteFile(ManifestPath(path), []byte(m), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFile(path); !errors.Is(err, ErrManifestMismatch) {
		t.Errorf("VerifyFile = %v, want ErrManifestMismatch", err)
	}
}
