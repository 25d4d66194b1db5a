package importer

// The streaming CSV reader. It is built on encoding/csv rather than on
// gocsv, which the project uses where the header is fixed (the export's
// canonical row). Here the header is known only at run time and the raw
// cells are kept for the report; gocsv.Unmarshal reads the whole file
// into memory, its configuration (delimiter, lazy quotes) is global to the
// process, and the line numbers of its errors count records, not physical
// lines. Here the file is streamed one record at a time, and every row
// carries the physical line where it starts, as given by csv.Reader.FieldPos.

import (
	"bufio"
	"bytes"
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
	// normally line 1); EndLine the last physical line it covers.
	Line, EndLine int
	// Cells are the record's cells, as read (no trimming), extra cells
	// beyond the header's included. The slice belongs to the Row: it is
	// not reused by later calls to Next. For a malformed stretch they are
	// a best effort: its first line cut at every delimiter, quotes and all.
	Cells []string
	// Err is non-nil for a malformed stretch (a *MalformedError naming its
	// lines and what is wrong); Raw is then the stretch's text exactly as
	// read, line ends included but for the last. Reading goes on at the
	// first line that starts a well-formed record.
	Err error
	Raw string
	// Blank is set for a line with no value: empty, or delimiters and
	// spaces only (a spreadsheet's ";;;;"). It is counted, not imported.
	Blank bool
}

// MalformedError is a stretch of physical lines that holds no well-formed
// CSV record.
type MalformedError struct {
	Line, EndLine int
	Reason        string
}

func (e *MalformedError) Error() string {
	if e.EndLine > e.Line {
		return fmt.Sprintf("lines %d-%d: %s", e.Line, e.EndLine, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Limits of one record: a quoted cell may hold line breaks, but a quote
// left open is given up after this many lines or bytes, so that it cannot
// swallow the rest of the file (nor hold it in memory).
const (
	maxRecordLines = 1000
	maxRecordBytes = 1 << 20
)

// Reasons of a MalformedError, in the words the error report uses.
const (
	reasonUnclosed   = "a quote opens a cell that never closes"
	reasonAfterQuote = "text after the closing quote of a cell"
	reasonLongQuote  = "a quoted cell runs over more than 1000 lines or 1 MiB"
	reasonCellCount  = "a quoted cell spans several lines, but the record does not have the header's number of cells"
)

// ErrNotText is a file that holds binary data (NUL bytes) at its start: a
// spreadsheet, an archive, an image, rather than CSV.
var ErrNotText = errors.New("this is not a text file: import reads CSV (in a spreadsheet, save the sheet as \"CSV UTF-8\")")

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

// CSVReader streams the records of a CSV file (RFC 4180, with a quote
// inside an unquoted cell taken as a character): it holds a 64 KiB buffer
// and the lines of the current record, never the file. Unlike encoding/csv
// it never lets a bad quote swallow the lines after it: every physical line
// belongs to exactly one Row, well-formed, malformed or blank. It is not
// safe for concurrent use; the Rows it returns are independent of it and of
// each other.
type CSVReader struct {
	src    *bufio.Reader
	header []string
	delim  rune
	err    error // sticky: io.EOF, an *EncodingError or a read error

	lines   []string // lines read ahead, from line number first; each with its line end
	offset  int64    // bytes of the lines consumed
	first   int      // physical line number of lines[0]
	srcErr  error    // the error that ended src, once met
	slab    []string // cells handed out to Rows in slices
	scratch []string // cells of the record being parsed
	// Cells that needed unquoting (a doubled quote, a line break) are
	// built in buf and made strings once per record, at spans.
	buf   []byte
	spans []span
}

// span is the place of an unquoted cell in CSVReader.buf.
type span struct{ cell, start, end int }

// NewCSVReader starts reading r: it strips a UTF-8 byte order mark, sets
// up the decoding, sniffs the delimiter when opts.Delimiter is 0, and reads
// the header (blank lines before it are skipped). It fails on empty input,
// a malformed header, invalid UTF-8 in the header (an *EncodingError), a
// UTF-16 file, a UTF-8 byte order mark with a single-byte encoding, or an
// unknown encoding.
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
	// What the first read brought, without reading more: enough to tell
	// binary data.
	start, _ := br.Peek(br.Buffered())
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
	case bytes.IndexByte(start, 0) >= 0:
		return nil, ErrNotText
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
	rd := &CSVReader{src: src, delim: delim, first: 1}
	for {
		row, err := rd.next(0)
		switch {
		case errors.Is(err, io.EOF):
			return nil, errors.New("empty input: no header line")
		case err != nil:
			return nil, err
		case row.Err != nil:
			return nil, fmt.Errorf("malformed header: %w", row.Err)
		case row.Blank && len(row.Cells) <= 1:
			continue
		}
		rd.header = row.Cells
		return rd, nil
	}
}

// Header returns the header's cells as in the file (a byte order mark
// removed).
func (r *CSVReader) Header() []string { return slices.Clone(r.header) }

// Offset returns the bytes of input read by the records returned so far,
// the header included (of the text as decoded).
func (r *CSVReader) Offset() int64 { return r.offset }

// Delimiter returns the delimiter in use, given or sniffed.
func (r *CSVReader) Delimiter() rune { return r.delim }

// Next returns the next record: well-formed, a malformed stretch (Err
// set) or a blank line (Blank set). At the end it returns io.EOF; invalid
// UTF-8 in a UTF-8 run returns an *EncodingError; both, like a read error,
// are returned again by every later call.
func (r *CSVReader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	row, err := r.next(len(r.header))
	if err != nil {
		r.err = err
	}
	return row, err
}

// next reads the record at the current line. want is the header's number
// of cells (0 while reading the header itself).
func (r *CSVReader) next(want int) (Row, error) {
	line, err := r.peek(0)
	if err != nil {
		return Row{}, err
	}
	start := r.first
	if strings.IndexByte(line, '"') < 0 {
		// The fast path: no quote, one line.
		cells := r.split(trimEOL(line))
		r.consume(1)
		return Row{Line: start, EndLine: start, Cells: cells, Blank: blank(cells)}, nil
	}
	cells, n, reason, err := r.parse(want)
	if err != nil {
		return Row{}, err
	}
	if reason == "" {
		r.consume(n)
		return Row{Line: start, EndLine: start + n - 1, Cells: cells, Blank: blank(cells)}, nil
	}
	// A malformed stretch: this line, and the lines after it that start
	// no record with the header's number of cells.
	end := 1
	for end < maxRecordLines {
		if _, err := r.peek(end); err != nil {
			break // the end of the input (its error comes with the next call)
		}
		if r.startsRecord(end, want) {
			break
		}
		end++
	}
	raw := strings.Join(r.lines[:end], "")
	raw = trimEOL(raw)
	row := Row{
		Line: start, EndLine: start + end - 1, Raw: raw,
		Cells: r.split(trimEOL(r.lines[0])),
		Err:   &MalformedError{Line: start, EndLine: start + end - 1, Reason: reason},
	}
	r.consume(end)
	return row, nil
}

// startsRecord reports whether the line at index i of the look-ahead
// starts a well-formed record of want cells (any number when want is 0),
// or is blank.
func (r *CSVReader) startsRecord(i, want int) bool {
	line := r.lines[i]
	if strings.IndexByte(line, '"') < 0 {
		cells := r.splitScratch(trimEOL(line))
		return want == 0 || len(cells) == want || blank(cells)
	}
	cells, _, reason, err := r.parseFrom(i, want)
	return err == nil && reason == "" && (want == 0 || len(cells) == want)
}

// parse parses the record that starts at the current line, reading more
// lines while a quoted cell holds line breaks. It returns the cells and
// the number of lines used, or the reason why no well-formed record
// starts there. err is a read error other than the end of the input.
func (r *CSVReader) parse(want int) (cells []string, n int, reason string, err error) {
	cells, n, reason, err = r.parseFrom(0, want)
	if err != nil || reason != "" {
		return nil, 0, reason, err
	}
	out := r.alloc(len(cells))
	copy(out, cells)
	return out, n, "", nil
}

// parseFrom parses the record starting at look-ahead line i into
// r.scratch (valid until the next parse).
func (r *CSVReader) parseFrom(i, want int) (cells []string, n int, reason string, err error) {
	d := r.delim
	r.scratch = r.scratch[:0]
	r.buf, r.spans = r.buf[:0], r.spans[:0]
	li := i
	line := trimEOL(r.lines[li])
	pos := 0
	bytesUsed := len(r.lines[li])
	for {
		// The start of a cell. Spaces before an opening quote are dropped.
		j := pos
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') && rune(line[j]) != d {
			j++
		}
		if j < len(line) && line[j] == '"' {
			// A quoted cell, perhaps over several lines. The common case,
			// one line and no doubled quote, is a substring of the line.
			k, bufStart := j+1, len(r.buf)
			if q := strings.IndexByte(line[k:], '"'); q >= 0 && (k+q+1 == len(line) || line[k+q+1] != '"') {
				r.scratch = append(r.scratch, line[k:k+q])
				k += q + 1
				goto closed
			}
			for {
				q := strings.IndexByte(line[k:], '"')
				if q < 0 {
					r.buf = append(r.buf, line[k:]...)
					// The line ends inside the quotes: the cell holds a
					// line break and goes on on the next line.
					li++
					if li-i+1 > maxRecordLines || bytesUsed > maxRecordBytes {
						return nil, 0, reasonLongQuote, nil
					}
					next, err := r.peek(li)
					if errors.Is(err, io.EOF) {
						return nil, 0, reasonUnclosed, nil
					}
					if err != nil {
						return nil, 0, "", err
					}
					bytesUsed += len(next)
					r.buf = append(r.buf, '\n')
					line, k = trimEOL(next), 0
					continue
				}
				r.buf = append(r.buf, line[k:k+q]...)
				k += q + 1
				if k < len(line) && line[k] == '"' {
					r.buf = append(r.buf, '"') // a doubled quote
					k++
					continue
				}
				break
			}
			r.spans = append(r.spans, span{len(r.scratch), bufStart, len(r.buf)})
			r.scratch = append(r.scratch, "")
		closed:
			switch {
			case k == len(line):
				return r.finish(i, li, want)
			case rune(line[k]) == d || strings.HasPrefix(line[k:], string(d)):
				pos = k + utf8.RuneLen(d)
				continue
			}
			// Spaces after the closing quote are tolerated.
			rest := strings.TrimLeft(line[k:], " ")
			switch {
			case rest == "":
				return r.finish(i, li, want)
			case strings.HasPrefix(rest, string(d)):
				pos = len(line) - len(rest) + utf8.RuneLen(d)
				continue
			}
			if li > i {
				// The quote "closed" on a later line, in the middle of
				// other text: it most likely never closed where meant.
				return nil, 0, reasonUnclosed, nil
			}
			return nil, 0, reasonAfterQuote, nil
		}
		// An unquoted cell: up to the next delimiter; a quote in it is
		// an ordinary character (5'10").
		c := strings.IndexRune(line[pos:], d)
		if c < 0 {
			r.scratch = append(r.scratch, line[pos:])
			return r.finish(i, li, want)
		}
		r.scratch = append(r.scratch, line[pos:pos+c])
		pos += c + utf8.RuneLen(d)
	}
}

// finish ends a record that started at look-ahead line i and ended on line
// last. A record over several lines must have the header's number of
// cells: otherwise the line breaks are more likely a stray quote's doing
// than a multi-line cell's.
func (r *CSVReader) finish(i, last, want int) ([]string, int, string, error) {
	if last > i && want > 0 && len(r.scratch) != want {
		return nil, 0, reasonCellCount, nil
	}
	if len(r.spans) > 0 {
		all := string(r.buf)
		for _, sp := range r.spans {
			r.scratch[sp.cell] = all[sp.start:sp.end]
		}
	}
	return r.scratch, last - i + 1, "", nil
}

// peek returns look-ahead line i (0 is the current line), reading it when
// needed. At the end of the input it returns io.EOF; invalid UTF-8 an
// *EncodingError.
func (r *CSVReader) peek(i int) (string, error) {
	for len(r.lines) <= i {
		if r.srcErr != nil {
			return "", r.srcErr
		}
		line, err := r.src.ReadString('\n')
		switch {
		case errors.Is(err, io.EOF):
			r.srcErr = io.EOF
			if line == "" {
				continue
			}
		case err != nil:
			// The line holding a fault cannot be trusted: it is not
			// delivered, the error is.
			r.srcErr = readError(err)
			continue
		}
		r.lines = append(r.lines, line)
	}
	return r.lines[i], nil
}

// consume drops the first n look-ahead lines.
func (r *CSVReader) consume(n int) {
	for _, l := range r.lines[:n] {
		r.offset += int64(len(l))
	}
	r.first += n
	if n == len(r.lines) {
		r.lines = r.lines[:0]
		return
	}
	r.lines = r.lines[n:]
}

// split cuts a line without quotes at every delimiter, into cells of
// their own.
func (r *CSVReader) split(line string) []string {
	cells := r.splitScratch(line)
	out := r.alloc(len(cells))
	copy(out, cells)
	return out
}

// splitScratch cuts a line at every delimiter into r.scratch.
func (r *CSVReader) splitScratch(line string) []string {
	r.scratch = r.scratch[:0]
	d := string(r.delim)
	for {
		c := strings.Index(line, d)
		if c < 0 {
			r.scratch = append(r.scratch, line)
			return r.scratch
		}
		r.scratch = append(r.scratch, line[:c])
		line = line[c+len(d):]
	}
}

// trimEOL removes a line's LF or CRLF.
func trimEOL(line string) string {
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r")
}

// blank reports whether every cell is empty or spaces.
func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// alloc hands out n cells carved from a slab shared by the next few rows,
// to save an allocation per row.
func (r *CSVReader) alloc(n int) []string {
	if n == 0 {
		return nil
	}
	if len(r.slab) < n {
		r.slab = make([]string, max(n*slabRows, 1))
	}
	out := r.slab[:n:n]
	r.slab = r.slab[n:]
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
