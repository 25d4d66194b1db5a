package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
)

// The messy variant of the chaos suite (-messy): an input as ops staff
// get them, with malformed lines (a quote left open) and lines of
// delimiters only, edited between kills: rows appended at the end, and
// once a blank line inserted after the header, which shifts every finished
// row, so that the resume must refuse and --recheck must then finish the
// job with nothing lost or duplicated.

// Every malformedEvery-th record is followed by a malformed line, every
// blankEvery-th by a line of delimiters only.
const (
	malformedEvery = 997
	blankEvery     = 1499
)

// writeMessyInput writes rows [0, n) of version 0 like writeInput, with
// malformed and blank lines among them, and returns how many malformed
// lines it wrote (each must end in the error report, and nothing else).
func writeMessyInput(path string, seed uint64, n int) (int, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(genHeader); err != nil {
		return 0, fmt.Errorf("write input: %w", err)
	}
	malformed := 0
	for i := range n {
		if err := w.Write(genRecord(seed, i, 0)); err != nil {
			return 0, fmt.Errorf("write input: %w", err)
		}
		w.Flush()
		if i%malformedEvery == malformedEvery-1 {
			fmt.Fprintf(&buf, "chaos-malformed-%d@example.com,\"a quote left open\n", i)
			malformed++
		}
		if i%blankEvery == blankEvery-1 {
			buf.WriteString(strings.Repeat(",", len(genHeader)-1) + "\n")
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, fmt.Errorf("write input: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("write input: %w", err)
	}
	return malformed, nil
}

// appendRows appends rows [from, to) of version 0 to the input.
func appendRows(path string, seed uint64, from, to int) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("append rows: %w", err)
	}
	bw := bufio.NewWriter(f)
	w := csv.NewWriter(bw)
	for i := from; i < to; i++ {
		if err := w.Write(genRecord(seed, i, 0)); err != nil {
			f.Close()
			return fmt.Errorf("append rows: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("append rows: %w", err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("append rows: %w", err)
	}
	return f.Close()
}

// insertBlankLine inserts an empty line after the input's header, as a
// spreadsheet edit might: every row moves down one line.
func insertBlankLine(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("edit input: %w", err)
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return fmt.Errorf("edit input: no header line")
	}
	out := append(append(append([]byte(nil), b[:i+1]...), '\n'), b[i+1:]...)
	return os.WriteFile(path, out, 0o600)
}
