package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"ctctbulk/mapping"
)

// csvTestRow is what a test expects of one Row.
type csvTestRow struct {
	line  int
	cells []string
	err   string // substring of Row.Err; "" for a good row
}

// readAllRows reads rows until io.EOF or another error, which it returns.
func readAllRows(t *testing.T, rd *CSVReader) ([]Row, error) {
	t.Helper()
	var rows []Row
	for {
		row, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return rows, nil
			}
			return rows, err
		}
		if row.Blank {
			continue
		}
		rows = append(rows, row)
		if len(rows) > 10000 {
			t.Fatal("runaway reader")
		}
	}
}

func TestCSVReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		opts    ReaderOptions
		header  []string
		delim   rune
		rows    []csvTestRow
		encLine int    // expect an *EncodingError on this line after the rows
		encMsg  string // substring of it
	}{
		{
			name:   "comma, LF",
			in:     "Email,Name\na@b.co,Ann\nc@d.co,Bob\n",
			header: []string{"Email", "Name"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co", "Ann"}, ""}, {3, []string{"c@d.co", "Bob"}, ""}},
		},
		{
			name:   "UTF-8 byte order mark",
			in:     "\xEF\xBB\xBFEmail,Name\na@b.co,Zoë\n",
			header: []string{"Email", "Name"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co", "Zoë"}, ""}},
		},
		{
			name:   "semicolon sniffed, commas inside quotes ignored",
			in:     "\"Email, work\";Name;City\na@b.co;\"Doe, J\";Paris\n",
			header: []string{"Email, work", "Name", "City"}, delim: ';',
			rows: []csvTestRow{{2, []string{"a@b.co", "Doe, J", "Paris"}, ""}},
		},
		{
			name:   "tab sniffed",
			in:     "Email\tFirst Name\tLast Name\na@b.co\tA, B\tC;D\n",
			header: []string{"Email", "First Name", "Last Name"}, delim: '\t',
			rows: []csvTestRow{{2, []string{"a@b.co", "A, B", "C;D"}, ""}},
		},
		{
			name:   "single column defaults to comma",
			in:     "Email\na@b.co\n",
			header: []string{"Email"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co"}, ""}},
		},
		{
			name:   "given delimiter wins over sniffing",
			in:     "Email;Name,Other\na@b.co;x,y\n",
			opts:   ReaderOptions{Delimiter: ';'},
			header: []string{"Email", "Name,Other"}, delim: ';',
			rows: []csvTestRow{{2, []string{"a@b.co", "x,y"}, ""}},
		},
		{
			name:   "quoted newlines, commas and quotes keep physical line numbers",
			in:     "Email,Note\na@b.co,\"line 1\nline 2, with comma\nsays \"\"hi\"\"\"\nc@d.co,x\n\"e@f.co\",\"\n\"\ng@h.co,end",
			header: []string{"Email", "Note"}, delim: ',',
			rows: []csvTestRow{
				{2, []string{"a@b.co", "line 1\nline 2, with comma\nsays \"hi\""}, ""},
				{5, []string{"c@d.co", "x"}, ""},
				{6, []string{"e@f.co", "\n"}, ""},
				{8, []string{"g@h.co", "end"}, ""},
			},
		},
		{
			name:   "CRLF",
			in:     "Email,Note\r\na@b.co,\"two\r\nlines\"\r\nc@d.co,x\r\n",
			header: []string{"Email", "Note"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co", "two\nlines"}, ""}, {4, []string{"c@d.co", "x"}, ""}},
		},
		{
			name:   "blank lines skipped but counted",
			in:     "\n\nEmail\n\na@b.co\n\n\nc@d.co\n",
			header: []string{"Email"}, delim: ',',
			rows: []csvTestRow{{5, []string{"a@b.co"}, ""}, {8, []string{"c@d.co"}, ""}},
		},
		{
			name:   "short and long rows are returned as they are",
			in:     "A,B,C\n1\n1,2,3,4\n",
			header: []string{"A", "B", "C"}, delim: ',',
			rows: []csvTestRow{{2, []string{"1"}, ""}, {3, []string{"1", "2", "3", "4"}, ""}},
		},
		{
			name:   "a quote inside an unquoted cell is a character",
			in:     "Email,Height\na@b.co,5'10\"\n",
			header: []string{"Email", "Height"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co", "5'10\""}, ""}},
		},
		{
			name:   "spaces around a quoted cell",
			in:     "Email,Name\na@b.co, \"Doe, J\" \n",
			header: []string{"Email", "Name"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co", "Doe, J"}, ""}},
		},
		{
			name:   "malformed records, the rest still read",
			in:     "Email,Name\na@b.co,\"Ann\"x\ng@h.co,ok\ne@f.co,\"multi\nline\" oops\ni@j.co,ok\n",
			header: []string{"Email", "Name"}, delim: ',',
			rows: []csvTestRow{
				{2, []string{"a@b.co", "\"Ann\"x"}, "line 2: text after the closing quote of a cell"},
				{3, []string{"g@h.co", "ok"}, ""},
				{4, []string{"e@f.co", "\"multi"}, "lines 4-5: a quote opens a cell that never closes"},
				{6, []string{"i@j.co", "ok"}, ""},
			},
		},
		{
			name:   "an unterminated quote loses no row after it",
			in:     "Email,Name,Note\nm1@x.co,M1,a\nm2@x.co,M2,\"unterminated\nm3@x.co,M3,b\nm4@x.co,M4,c\n",
			header: []string{"Email", "Name", "Note"}, delim: ',',
			rows: []csvTestRow{
				{2, []string{"m1@x.co", "M1", "a"}, ""},
				{3, []string{"m2@x.co", "M2", "\"unterminated"}, "line 3: a quote opens a cell that never closes"},
				{4, []string{"m3@x.co", "M3", "b"}, ""},
				{5, []string{"m4@x.co", "M4", "c"}, ""},
			},
		},
		{
			name:   "a quote left open to the end of the file",
			in:     "Email,Name\na@b.co,\"open\nc@d.co,x\ne@f.co,y",
			header: []string{"Email", "Name"}, delim: ',',
			rows: []csvTestRow{
				{2, []string{"a@b.co", "\"open"}, "line 2: a quote opens a cell that never closes"},
				{3, []string{"c@d.co", "x"}, ""},
				{4, []string{"e@f.co", "y"}, ""},
			},
		},
		{
			name:   "lines after a broken multi-line cell join its stretch until a record starts",
			in:     "Email,Name,Note\na@b.co,A,\"one\ntwo \"quoted\" three\",x\nc@d.co,C,ok\n",
			header: []string{"Email", "Name", "Note"}, delim: ',',
			rows: []csvTestRow{
				{2, []string{"a@b.co", "A", "\"one"}, "lines 2-3: a quote opens a cell that never closes"},
				{4, []string{"c@d.co", "C", "ok"}, ""},
			},
		},
		{
			name:   "header only",
			in:     "Email,Name\n",
			header: []string{"Email", "Name"}, delim: ',',
		},
		{
			name:   "header only, no newline",
			in:     "Email;Name",
			header: []string{"Email", "Name"}, delim: ';',
		},
		{
			name:   "invalid UTF-8 stops the run at its line",
			in:     "Email,Name\na@b.co,Ann\nc@d.co,Ren\xe9\ne@f.co,x\n",
			header: []string{"Email", "Name"}, delim: ',',
			rows:    []csvTestRow{{2, []string{"a@b.co", "Ann"}, ""}},
			encLine: 3, encMsg: "line 3: invalid UTF-8 byte 0xE9 at character 11 of the line",
		},
		{
			name:   "invalid UTF-8 inside a multi-line cell",
			in:     "Email,Note\na@b.co,\"one\r\ntwo\r\nthr\x93ee\"\n",
			header: []string{"Email", "Note"}, delim: ',',
			encLine: 4, encMsg: "byte 0x93 at character 4 of the line",
		},
		{
			name:   "windows-1252",
			in:     "Email,Note\na@b.co,\x93Caf\xe9\x94 \x80 \x9c\n",
			opts:   ReaderOptions{Encoding: "windows-1252"},
			header: []string{"Email", "Note"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co", "“Café” € œ"}, ""}},
		},
		{
			name:   "cp1252 alias, semicolons, header decoded",
			in:     "Courriel;Pr\xe9nom\na@b.co;Ren\xe9e\n",
			opts:   ReaderOptions{Encoding: "CP1252"},
			header: []string{"Courriel", "Prénom"}, delim: ';',
			rows: []csvTestRow{{2, []string{"a@b.co", "Renée"}, ""}},
		},
		{
			name:   "latin1",
			in:     "Email,Note\na@b.co,Gar\xe7on \xbd \xff\n",
			opts:   ReaderOptions{Encoding: "latin1"},
			header: []string{"Email", "Note"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co", "Garçon ½ ÿ"}, ""}},
		},
		{
			name:   "iso-8859-1 keeps 0x93 as U+0093",
			in:     "Email,Note\na@b.co,\x93\n",
			opts:   ReaderOptions{Encoding: "ISO-8859-1"},
			header: []string{"Email", "Note"}, delim: ',',
			rows: []csvTestRow{{2, []string{"a@b.co", "\u0093"}, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := NewCSVReader(strings.NewReader(tt.in), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rd.Header(), tt.header) {
				t.Errorf("Header() = %q, want %q", rd.Header(), tt.header)
			}
			if rd.Delimiter() != tt.delim {
				t.Errorf("Delimiter() = %q, want %q", rd.Delimiter(), tt.delim)
			}
			rows, err := readAllRows(t, rd)
			if tt.encLine != 0 {
				var ee *EncodingError
				if !errors.As(err, &ee) {
					t.Fatalf("error %v (%T), want *EncodingError", err, err)
				}
				if ee.Line != tt.encLine || !strings.Contains(err.Error(), tt.encMsg) || !strings.Contains(err.Error(), "--encoding windows-1252") {
					t.Errorf("EncodingError line %d %q, want line %d %q", ee.Line, err, tt.encLine, tt.encMsg)
				}
				if _, again := rd.Next(); again != err {
					t.Errorf("Next after the encoding error = %v", again)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tt.rows) {
				t.Fatalf("%d rows, want %d: %+v", len(rows), len(tt.rows), rows)
			}
			for i, want := range tt.rows {
				got := rows[i]
				if got.Line != want.line || !slices.Equal(got.Cells, want.cells) {
					t.Errorf("row %d = line %d %q, want line %d %q", i, got.Line, got.Cells, want.line, want.cells)
				}
				switch {
				case want.err == "" && got.Err != nil:
					t.Errorf("row %d: unexpected error %v", i, got.Err)
				case want.err != "":
					var me *MalformedError
					if !errors.As(got.Err, &me) || !strings.Contains(got.Err.Error(), want.err) {
						t.Errorf("row %d: error %v, want a *MalformedError containing %q", i, got.Err, want.err)
					}
				}
			}
			if tt.encLine == 0 {
				if _, err := rd.Next(); !errors.Is(err, io.EOF) {
					t.Errorf("Next after the end = %v, want io.EOF", err)
				}
			}
		})
	}
}

func TestCSVReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts ReaderOptions
		want string
	}{
		{"empty file", "", ReaderOptions{}, "empty input: no header line"},
		{"byte order mark only", "\xEF\xBB\xBF", ReaderOptions{}, "empty input"},
		{"blank lines only", "\n\r\n\n", ReaderOptions{}, "empty input"},
		{"malformed header", "Email,\"Na\"me\n", ReaderOptions{}, `malformed header: line 1: text after the closing quote of a cell`},
		{"invalid UTF-8 header", "Email,Pr\xe9nom\n", ReaderOptions{}, "line 1: invalid UTF-8 byte 0xE9 at character 9 of the line"},
		{"UTF-16", "\xFF\xFEE\x00m\x00", ReaderOptions{}, "UTF-16"},
		{"binary file", "PK\x03\x04\x14\x00\x06\x00", ReaderOptions{}, "this is not a text file"},
		{"UTF-8 BOM with windows-1252", "\xEF\xBB\xBFEmail\n", ReaderOptions{Encoding: "windows-1252"}, "it is UTF-8, not windows-1252"},
		{"unknown encoding", "Email\n", ReaderOptions{Encoding: "ebcdic"}, `unknown encoding "ebcdic"`},
		{"bad delimiter", "Email\n", ReaderOptions{Delimiter: '"'}, "cannot be a delimiter"},
		{"read error", "", ReaderOptions{}, "read input: disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(tt.in)
			if tt.name == "read error" {
				r = io.MultiReader(strings.NewReader("Email,"), errReader{errors.New("disk on fire")})
			}
			rd, err := NewCSVReader(r, tt.opts)
			if err == nil {
				t.Fatalf("no error, header %q", rd.Header())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestCSVReaderReadErrorMidway(t *testing.T) {
	r := io.MultiReader(strings.NewReader("Email\na@b.co\n"), errReader{errors.New("cable cut")})
	// The delimiter is given, so nothing peeks ahead: the rows before the
	// error are read first.
	rd, err := NewCSVReader(r, ReaderOptions{Delimiter: ','})
	if err != nil {
		t.Fatal(err)
	}
	row, err := rd.Next()
	if err != nil || row.Line != 2 {
		t.Fatalf("first row %+v, %v", row, err)
	}
	_, err = rd.Next()
	if err == nil || !strings.Contains(err.Error(), "cable cut") || errors.Is(err, io.EOF) {
		t.Fatalf("error %v, want the read error", err)
	}
	if _, again := rd.Next(); again != err {
		t.Errorf("error not sticky: %v", again)
	}
}

// TestCSVReaderUTF8Chunks reads multi-byte text and invalid bytes through
// readers that cut the input anywhere, including inside a UTF-8 sequence.
func TestCSVReaderUTF8Chunks(t *testing.T) {
	var big strings.Builder
	big.WriteString("Email,Name\n")
	for i := range 3000 {
		fmt.Fprintf(&big, "u%d@example.com,Zoë 日本 🎉 %d\n", i, i)
	}
	good := big.String()
	wrappers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+err": iotest.DataErrReader,
	}
	tests := []struct {
		name    string
		in      string
		rows    int
		encLine int
		encMsg  string
	}{
		{"valid multi-byte", good, 3000, 0, ""},
		{"invalid after the first buffer", good + "x@y.zz,Ren\xe9e\n", 3000, 3002, "byte 0xE9 at character 11 of the line"},
		{"invalid at the start of a line", good + "\xff@y.zz,x\n", 3000, 3002, "byte 0xFF at character 1"},
		{"truncated sequence at the end", good + "x@y.zz,日\xe6\x97", 3000, 3002, "byte 0xE6 at character 9"},
		{"truncated sequence before a newline", "Email\n\xe6\x97\na@b.co\n", 0, 2, "byte 0xE6 at character 1"},
		{"lone continuation byte", "Email\na@b.co\n\x80\n", 1, 3, "byte 0x80"},
	}
	for _, tt := range tests {
		for wname, wrap := range wrappers {
			t.Run(tt.name+"/"+wname, func(t *testing.T) {
				rd, err := NewCSVReader(wrap(strings.NewReader(tt.in)), ReaderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				rows, err := readAllRows(t, rd)
				if len(rows) != tt.rows {
					t.Fatalf("%d rows, want %d (error %v)", len(rows), tt.rows, err)
				}
				for i, r := range rows {
					if !strings.HasPrefix(tt.in, good) {
						break
					}
					if want := fmt.Sprintf("Zoë 日本 🎉 %d", i); r.Line != i+2 || r.Cells[1] != want {
						t.Fatalf("row %d = line %d %q, want %q", i, r.Line, r.Cells, want)
					}
				}
				if tt.encLine == 0 {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				var ee *EncodingError
				if !errors.As(err, &ee) || ee.Line != tt.encLine || !strings.Contains(err.Error(), tt.encMsg) {
					t.Fatalf("error %v, want an *EncodingError on line %d with %q", err, tt.encLine, tt.encMsg)
				}
			})
		}
	}
}

func TestUTF8CheckSmallReads(t *testing.T) {
	in := strings.Repeat("aé日🎉\r\n", 5000)
	for name, wrap := range map[string]func(io.Reader) io.Reader{"one byte": iotest.OneByteReader, "half": iotest.HalfReader, "plain": func(r io.Reader) io.Reader { return r }} {
		got, err := io.ReadAll(wrap(newUTF8Check(iotest.HalfReader(strings.NewReader(in)))))
		if err != nil || string(got) != in {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	if err := iotest.TestReader(newUTF8Check(strings.NewReader(in)), []byte(in)); err != nil {
		t.Error(err)
	}
}

// TestCSVReaderRowsIndependent checks that the cells of earlier rows are
// not overwritten by later reads (ReuseRecord and the slab).
func TestCSVReaderRowsIndependent(t *testing.T) {
	var b strings.Builder
	b.WriteString("Email,N,Lists\n")
	const n = 3*slabRows + 7
	for i := range n {
		fmt.Fprintf(&b, "u%d@example.com,%d,\"%d;%d\"\n", i, i, i, i+1)
	}
	rd, err := NewCSVReader(strings.NewReader(b.String()), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := readAllRows(t, rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		want := []string{fmt.Sprintf("u%d@example.com", i), fmt.Sprint(i), fmt.Sprintf("%d;%d", i, i+1)}
		if r.Line != i+2 || !slices.Equal(r.Cells, want) || cap(r.Cells) != len(r.Cells) {
			t.Fatalf("row %d = line %d %q (cap %d), want %q", i, r.Line, r.Cells, cap(r.Cells), want)
		}
	}
	// Appending to a row's cells must not spill into the next row.
	_ = append(rows[0].Cells, "extra")
	if rows[1].Cells[0] != "u1@example.com" {
		t.Error("rows share their backing array")
	}
}

// TestCSVReaderSniffBeyondBuffer feeds a header longer than the sniffing
// window: the delimiter is decided from what was seen.
func TestCSVReaderSniffLongHeader(t *testing.T) {
	cols := make([]string, 0, 9000)
	for i := range cap(cols) {
		cols = append(cols, fmt.Sprintf("c%d", i))
	}
	in := strings.Join(cols, ";") + "\n" + strings.Repeat("x;", len(cols)-1) + "x\n"
	rd, err := NewCSVReader(strings.NewReader(in), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rd.Delimiter() != ';' || len(rd.Header()) != len(cols) {
		t.Fatalf("delimiter %q, %d columns", rd.Delimiter(), len(rd.Header()))
	}
	row, err := rd.Next()
	if err != nil || len(row.Cells) != len(cols) || row.Line != 2 {
		t.Fatalf("row: %d cells line %d, %v", len(row.Cells), row.Line, err)
	}
}

// benchCSV returns a realistic CSV of n rows.
func benchCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Email,First Name,Last Name,Company,City,State,Country Code,Zip,Custom Field 1,Lists\n")
	for i := range n {
		fmt.Fprintf(&b, "User.%d@Example.com,John,Smith %d,\"Acme Widgets, Inc.\",Springfield,il,us,%05d,gold,1;2\n", i, i, i%100000)
	}
	return b.Bytes()
}

// BenchmarkCSVReader compares encoding/csv alone with CSVReader, and with
// CSVReader plus mapping.Convert or mapping.Validate (what import --dry-run
// needs per row).
// Each iteration reads the whole file.
func BenchmarkCSVReader(b *testing.B) {
	const rows = 20000
	data := benchCSV(rows)
	b.Run("encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			cr := csv.NewReader(bytes.NewReader(data))
			cr.FieldsPerRecord = -1
			n := 0
			for {
				_, err := cr.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != rows+1 {
				b.Fatalf("%d records", n)
			}
		}
	})
	b.Run("reader", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			rd, err := NewCSVReader(bytes.NewReader(data), ReaderOptions{})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				_, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != rows {
				b.Fatalf("%d rows", n)
			}
		}
	})
	b.Run("reader+convert", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			rd, err := NewCSVReader(bytes.NewReader(data), ReaderOptions{})
			if err != nil {
				b.Fatal(err)
			}
			m, _, err := mapping.Resolve(rd.Header(), mapping.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for {
				row, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.Convert(row.Cells, row.Line); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("reader+validate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			rd, err := NewCSVReader(bytes.NewReader(data), ReaderOptions{})
			if err != nil {
				b.Fatal(err)
			}
			m, _, err := mapping.Resolve(rd.Header(), mapping.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for {
				row, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Validate(row.Cells, row.Line); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// FuzzUTF8Check reads arbitrary bytes through utf8Check, cut into reads of
// any size: it delivers exactly the longest valid prefix, then a fault at
// the right line, or everything and io.EOF.
func FuzzUTF8Check(f *testing.F) {
	f.Add([]byte("a,b\nc,d\n"), uint8(0))
	f.Add([]byte("Zoë\n日本\xe6\x97"), uint8(1))
	f.Add([]byte("ok\n\xff\n"), uint8(2))
	f.Add([]byte("\xe6\x97\xa5\xe6"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		var r io.Reader = bytes.NewReader(data)
		switch mode % 4 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.HalfReader(r)
		case 3:
			r = iotest.DataErrReader(r)
		}
		got, err := io.ReadAll(newUTF8Check(r))
		want := 0
		for want < len(data) {
			c, size := utf8.DecodeRune(data[want:])
			if c == utf8.RuneError && size == 1 {
				break
			}
			want += size
		}
		if !bytes.Equal(got, data[:want]) {
			t.Fatalf("delivered %q, want %q", got, data[:want])
		}
		if want == len(data) {
			if err != nil {
				t.Fatalf("error %v on valid input", err)
			}
			return
		}
		var fault *utf8Fault
		if !errors.As(err, &fault) {
			t.Fatalf("error %v, want a fault", err)
		}
		line := 1 + bytes.Count(data[:want], []byte{'\n'})
		col := 1 + utf8.RuneCount(data[bytes.LastIndexByte(data[:want], '\n')+1:want])
		if fault.line != line || fault.col != col || fault.b != data[want] {
			t.Fatalf("fault %+v, want line %d col %d byte %#x", fault, line, col, data[want])
		}
	})
}
