package importer

// The streaming CSV reader. It is built on encoding/csv rather than on
// gocsv, the project's CSV library for whole-file (un)marshalling:
// gocsv.Unmarshal reads the whole file into memory, its configuration
// (delimiter, lazy quotes) is global to the process, and the line numbers
// of its errors count records, not physical lines. Here the file is
// streamed one record at a time, and every row carries the physical line
// where it starts, as given by csv.Reader.FieldPos.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// ReaderOptions configure a CSVReader.
type ReaderOptions struct {
	// Delimiter separates the cells. 0 sniffs it among ',', ';' and '\t'
	// from the header line: the one occurring most often outside quotes,
	// ',' when none does or on a tie (then ';', then '\t').
	Delimiter rune
	// Encoding of the input: "" or "utf-8" (also "utf8"), "windows-1252"
	// (also "cp1252"), "latin1" (also "iso-8859-1"); case-insensitive.
	Encoding string
}

// Row is one record of the input.
type Row struct {
	// Line is the physical line where the record starts (the header is
	// normally line 1; blank lines are skipped but counted).
	Line int
	// Cells are the record's cells. The slice belongs to the Row: it is not
	// reused by later calls to Next. For a malformed record they are the
	// cells parsed before the error.
	Cells []string
	// Err is non-nil for a malformed record (a *csv.ParseError naming its
	// line and column). Reading goes on with the next record.
	Err error
}

// EncodingError is invalid UTF-8 met while reading a file as UTF-8. It
// stops the run: the rest of the file is most likely in another encoding.
type EncodingError struct {
	Line int   // physical line of the first invalid byte
	Err  error // what was found
}

func (e *EncodingError) Error() string {
	return fmt.Sprintf("line %d: %v: the file is not UTF-8; if it comes from Excel or another Windows program, try --encoding windows-1252", e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *EncodingError) Unwrap() error { return e.Err }

// bufSize is the read buffer, also the most the delimiter sniffing looks at.
const bufSize = 64 << 10

// slabRows is how many rows' worth of cells one allocation holds.
const slabRows = 256

// CSVReader streams the records of a CSV file: it holds a few 64 KiB
// buffers and the current record, never the file. It is not safe for concurrent
// use; the Rows it returns are independent of it and of each other.
type CSVReader struct {
	cr     *csv.Reader
	header []string
	delim  rune
	err    error    // sticky: io.EOF, an *EncodingError or a read error
	slab   []string // cells handed out to Rows in slices
}

// NewCSVReader starts reading r: it strips a UTF-8 byte order mark, sets
// up the decoding, sniffs the delimiter when opts.Delimiter is 0, and reads
// the header. It fails on empty input, a malformed header, invalid UTF-8 in
// the header (an *EncodingError), a UTF-16 file, a UTF-8 byte order mark
// with a single-byte encoding, or an unknown encoding.
func NewCSVReader(r io.Reader, opts ReaderOptions) (*CSVReader, error) {
	dec, err := decoderFor(opts.Encoding)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, bufSize)
	head, err := br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read input: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		if dec != nil {
			return nil, fmt.Errorf("the file starts with a UTF-8 byte order mark: it is UTF-8, not %s", opts.Encoding)
		}
		if _, err := br.Discard(3); err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, errors.New("the file is UTF-16 (\"Unicode text\"): save it as CSV UTF-8")
	}
	var src *bufio.Reader
	if dec != nil {
		src = bufio.NewReaderSize(dec.Reader(br), bufSize)
	} else {
		src = bufio.NewReaderSize(newUTF8Check(br), bufSize)
	}

	delim := opts.Delimiter
	if delim == 0 {
		if delim, err = sniffDelimiter(src); err != nil {
			return nil, err
		}
	}
	if delim == '"' || delim == '\r' || delim == '\n' || delim == utf8.RuneError || !utf8.ValidRune(delim) {
		return nil, fmt.Errorf("%q cannot be a delimiter", delim)
	}

	cr := csv.NewReader(src)
	cr.Comma = delim
	cr.FieldsPerRecord = -1 // the mapping reports short and long rows itself
	cr.LazyQuotes = false
	cr.ReuseRecord = true
	rd := &CSVReader{cr: cr, delim: delim}

	rec, err := cr.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, errors.New("empty input: no header line")
	case errors.As(err, &pe):
		return nil, fmt.Errorf("malformed header: %w", err)
	case err != nil:
		return nil, readError(err)
	}
	rd.header = slices.Clone(rec)
	return rd, nil
}

// Header returns the header's cells as in the file (a byte order mark
// removed).
func (r *CSVReader) Header() []string { return slices.Clone(r.header) }

// Delimiter returns the delimiter in use, given or sniffed.
func (r *CSVReader) Delimiter() rune { return r.delim }

// Next returns the next record. A malformed record is a Row whose Err is
// set, and reading goes on after it. At the end it returns io.EOF; invalid
// UTF-8 in a UTF-8 run returns an *EncodingError; both, like a read error,
// are returned again by every later call.
func (r *CSVReader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	rec, err := r.cr.Read()
	var pe *csv.ParseError
	if err != nil && !errors.As(err, &pe) {
		if !errors.Is(err, io.EOF) {
			err = readError(err)
		}
		r.err = err
		return Row{}, err
	}
	row := Row{Cells: r.cells(rec)}
	if pe != nil {
		row.Line, row.Err = pe.StartLine, pe
	} else {
		row.Line, _ = r.cr.FieldPos(0)
	}
	return row, nil
}

// cells copies a reused record into memory of its own, carved from a slab
// shared by the next few rows to save an allocation per row.
func (r *CSVReader) cells(rec []string) []string {
	n := len(rec)
	if n == 0 {
		return nil
	}
	if len(r.slab) < n {
		r.slab = make([]string, n*slabRows)
	}
	out := r.slab[:n:n]
	r.slab = r.slab[n:]
	copy(out, rec)
	return out
}

// readError turns the error of a read into an *EncodingError when it is
// invalid UTF-8, or wraps it.
func readError(err error) error {
	var f *utf8Fault
	if errors.As(err, &f) {
		return &EncodingError{Line: f.line, Err: fmt.Errorf("invalid UTF-8 byte 0x%02X at character %d of the line", f.b, f.col)}
	}
	return fmt.Errorf("read input: %w", err)
}

// utf8Fault is what utf8Check returns at the first invalid byte.
type utf8Fault struct {
	line int  // physical line of the byte
	col  int  // 1-based position of the byte in its line, in characters
	b    byte // the byte
}

func (f *utf8Fault) Error() string {
	return fmt.Sprintf("line %d, character %d: invalid UTF-8 byte 0x%02X", f.line, f.col, f.b)
}

// utf8Check passes a UTF-8 input through, validating it in bulk: at the
// first invalid byte it delivers what comes before, then a *utf8Fault
// naming its physical line, for ever. This costs far less than checking
// every cell, and encoding/csv hands the fault over at the record that
// holds the byte.
type utf8Check struct {
	r       io.Reader
	buf     []byte
	next    int   // buf[next:ok] is checked, ready to deliver
	ok      int   // buf[ok:end] is an incomplete sequence waiting for more
	end     int   //
	err     error // returned once the ready bytes are delivered: a read error or the fault
	line    int   // 1 + the line feeds delivered
	col     int   // characters delivered since the last line feed
	idleMax int   // consecutive empty reads tolerated
}

func newUTF8Check(r io.Reader) *utf8Check {
	return &utf8Check{r: r, buf: make([]byte, bufSize), line: 1, idleMax: 100}
}

func (u *utf8Check) Read(p []byte) (int, error) {
	for idle := 0; u.next == u.ok; idle++ {
		if u.err != nil {
			return 0, u.err
		}
		if idle == u.idleMax {
			return 0, io.ErrNoProgress
		}
		u.fill()
	}
	n := copy(p, u.buf[u.next:u.ok])
	u.next += n
	return n, nil
}

// fill reads more input after the held-back bytes and checks it.
func (u *utf8Check) fill() {
	u.end = copy(u.buf, u.buf[u.ok:u.end])
	u.next, u.ok = 0, 0
	n, err := u.r.Read(u.buf[u.end:])
	u.end += n
	data := u.buf[:u.end]
	i := len(data)
	if !utf8.Valid(data) {
		i = validPrefix(data)
	}
	u.ok = i
	u.count(data[:i])
	switch {
	case i == len(data):
	case err == nil && !utf8.FullRune(data[i:]):
		// A sequence cut by the read: finish it with the next one.
		return
	default:
		u.err = &utf8Fault{line: u.line, col: u.col + 1, b: data[i]}
		return
	}
	if err != nil {
		u.err = err
	}
}

// validPrefix returns the length of the longest valid UTF-8 prefix of
// data. The common case, a sequence cut at the end of the read, costs one
// more bulk check.
func validPrefix(data []byte) int {
	start := len(data) - 1
	for start > 0 && start >= len(data)-utf8.UTFMax && !utf8.RuneStart(data[start]) {
		start--
	}
	if start >= 0 && !utf8.FullRune(data[start:]) && utf8.Valid(data[:start]) {
		return start
	}
	i := 0
	for i < len(data) {
		c, size := utf8.DecodeRune(data[i:])
		if c == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return i
}

// count advances the position past valid data.
func (u *utf8Check) count(data []byte) {
	last := bytes.LastIndexByte(data, '\n')
	if last < 0 {
		u.col += utf8.RuneCount(data)
		return
	}
	u.line += bytes.Count(data[:last+1], []byte{'\n'})
	u.col = utf8.RuneCount(data[last+1:])
}

// decoderFor returns the decoder of a single-byte encoding, or nil for
// UTF-8.
func decoderFor(name string) (*encoding.Decoder, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8":
		return nil, nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder(), nil
	case "latin1", "iso-8859-1":
		return charmap.ISO8859_1.NewDecoder(), nil
	}
	return nil, fmt.Errorf("unknown encoding %q: use utf-8, windows-1252 or latin1", name)
}

// sniffDelimiter counts ',', ';' and '\t' outside double quotes in the
// first non-blank line among the buffered bytes, without consuming them.
func sniffDelimiter(br *bufio.Reader) (rune, error) {
	buf, err := br.Peek(bufSize)
	var f *utf8Fault
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) && !errors.As(err, &f) {
		// Invalid UTF-8 is reported at its row, by Next.
		return 0, fmt.Errorf("read input: %w", err)
	}
	var comma, semi, tab int
	quoted, started := false, false
scan:
	for _, b := range buf {
		switch {
		case b == '"':
			quoted = !quoted
		case quoted:
		case b == '\n' || b == '\r':
			if started {
				break scan
			}
			continue
		case b == ',':
			comma++
		case b == ';':
			semi++
		case b == '\t':
			tab++
		}
		started = true
	}
	switch {
	case semi > comma && semi >= tab:
		return ';', nil
	case tab > comma && tab > semi:
		return '\t', nil
	}
	return ',', nil
}
