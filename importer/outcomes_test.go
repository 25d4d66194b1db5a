package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutcomesInOrderAndStopOnReportFailure checks the sequencer: rows that
// finish out of order are written in input order, and a report that cannot
// be written stops the run before the row is journaled, so that a resume
// does that row again instead of counting a failure nobody can read.
func TestOutcomesInOrderAndStopOnReportFailure(t *testing.T) {
	dir := t.TempDir()
	header := []string{"Email"}
	j, err := openJournal(journalSpec{path: filepath.Join(dir, "j"), header: header, target: "sandbox x"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	rep, err := openReport(filepath.Join(dir, "r.csv"), header, ',', nil, false)
	if err != nil {
		t.Fatal(err)
	}
	im := &Importer{}
	var stopped error
	o := newOutcomes(im, j, rep, func(err error) { stopped = err })
	row := func(line int, email string) reportRow { return reportRow{line: line, cells: []string{email}} }

	// Rows 1 and 2 finish before row 0: nothing is written until row 0 is.
	o.finish(2, row(4, "c"), 3, statusFailed, "bad c")
	o.finish(1, row(3, "b"), 2, statusCreated, "")
	if rep.rows() != 0 || im.counts.created.Load() != 0 {
		t.Fatal("a row was written before the rows before it")
	}
	o.finish(0, row(2, "a"), 1, statusFailed, "bad a")
	b, _ := os.ReadFile(rep.path)
	if got := string(b); !strings.Contains(got, "a,2,failed,bad a") || strings.Index(got, "a,2") > strings.Index(got, "c,4") {
		t.Fatalf("report not in input order:\n%s", got)
	}
	if im.counts.created.Load() != 1 || im.counts.failed.Load() != 2 {
		t.Fatalf("counts %d created, %d failed", im.counts.created.Load(), im.counts.failed.Load())
	}

	// The report's file fails: the next failed row stops the run and is
	// not journaled; every later row is pending.
	rep.f.Close()
	o.finish(3, row(5, "d"), 4, statusFailed, "bad d")
	o.finish(4, row(6, "e"), 5, statusCreated, "")
	if stopped == nil || o.writeErr() == nil {
		t.Fatal("a failed report write did not stop the run")
	}
	if im.counts.pending.Load() != 2 || im.counts.failed.Load() != 2 {
		t.Errorf("pending %d failed %d, want 2 and 2", im.counts.pending.Load(), im.counts.failed.Load())
	}
	jb, _ := os.ReadFile(j.path)
	if strings.Contains(string(jb), "\n5 ") || strings.Contains(string(jb), "\n6 ") {
		t.Errorf("rows journaled after the report failed:\n%s", jb)
	}
}
