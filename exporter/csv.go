package exporter

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"hash"
	"io"
)

// rowWriter writes CSV records and keeps the byte count and SHA-256 of
// what reached the underlying writer. Not safe for concurrent use.
type rowWriter struct {
	cw  *csv.Writer
	sum *hashCounter
	raw bool
	buf []string
}

func newRowWriter(w io.Writer, raw bool) *rowWriter {
	hc := &hashCounter{w: w, h: sha256.New()}
	return &rowWriter{cw: csv.NewWriter(hc), sum: hc, raw: raw}
}

// write writes one record, escaping formula-like cells unless raw.
func (rw *rowWriter) write(cells []string) error {
	if !rw.raw {
		rw.buf = rw.buf[:0]
		for _, c := range cells {
			rw.buf = append(rw.buf, EscapeCell(c))
		}
		cells = rw.buf
	}
	return rw.cw.Write(cells)
}

// flush writes what is buffered and reports any write error.
func (rw *rowWriter) flush() error {
	rw.cw.Flush()
	return rw.cw.Error()
}

// EscapeCell defuses a cell that a spreadsheet would run as a formula
// (OWASP "CSV injection"): one that starts with = + - @ tab or carriage
// return gets a leading '. Other cells are returned unchanged.
func EscapeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// hashCounter passes writes through, counting and hashing them.
type hashCounter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hc *hashCounter) Write(p []byte) (int, error) {
	n, err := hc.w.Write(p)
	hc.h.Write(p[:n])
	hc.n += int64(n)
	return n, err
}

// sha256Hex is the hex SHA-256 of what was written.
func (hc *hashCounter) sha256Hex() string { return hex.EncodeToString(hc.h.Sum(nil)) }
