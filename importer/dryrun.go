package importer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// dryRun reads, maps and validates every row without any request, writes
// the report of the invalid rows, and plans the most requests a real run
// would send: one search per 50 rows, two requests (GET and PUT) per row,
// and one read of the lists when lists are named.
func (im *Importer) dryRun(ctx context.Context, rd *CSVReader, m *mapping.Mapping) (*Summary, error) {
	var rep *report
	if im.opts.ReportPath != "" {
		var err error
		if rep, err = openReport(im.opts.ReportPath, rd.Header(), rd.Delimiter(), im.opts.Encoder); err != nil {
			return nil, err
		}
	}
	var readErr error
	var reasons reasons
	fail := func(row *Row, reason string) {
		im.counts.failed.Add(1)
		reasons.add(row.Line, statusFailed, reason)
		if rep != nil && readErr == nil {
			readErr = rep.add(reportRow{line: row.Line, cells: row.Cells, raw: row.Raw}, statusFailed, reason)
		}
	}
	width := len(rd.Header())
	var contactsRows int64
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			readErr = ErrInterrupted
			break
		}
		row, err := rd.Next()
		im.counts.offset.Store(rd.Offset())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("read input: %w", err)
			break
		}
		if readErr != nil {
			break
		}
		if row.Blank {
			im.counts.blank.Add(1)
			continue
		}
		im.counts.read.Add(1)
		if row.Err != nil {
			im.counts.unparsed.Add(int64(row.EndLine - row.Line + 1))
			fail(&row, row.Err.Error())
			continue
		}
		facts, err := m.Check(withoutEmptyExtras(row.Cells, width), row.Line)
		if err != nil {
			fail(&row, err.Error())
			continue
		}
		im.counts.valid.Add(1)
		im.counts.noteFacts(facts, im.opts.OptOuts)
		if im.goesThroughContacts(m, facts) {
			contactsRows++
		}
	}
	c := &im.counts
	sum := im.baseSummary(c.read.Load())
	sum.Failed, sum.Valid, sum.Blank, sum.Unparsed, sum.Reasons = c.failed.Load(), c.valid.Load(), c.blank.Load(), c.unparsed.Load(), reasons.top()
	c.tally.fill(sum)
	sum.Columns = m.Table()
	valid := sum.Valid
	bulkRows := valid - contactsRows
	blocked := im.opts.OptInSource == ctct.ActionByContact || len(im.opts.Lists) == 0 && !m.HasListsColumn()
	if im.opts.Via == ViaContacts || (im.opts.Via == ViaAuto && bulkRows < MinBulkRows) || blocked {
		bulkRows, contactsRows = 0, valid
	}
	sum.PlanBulkRows, sum.PlanContactsRows = bulkRows, contactsRows
	sum.PlannedRequests = (contactsRows+batchSize-1)/batchSize + 2*contactsRows
	if bulkRows > 0 {
		sum.PlanJobs = (bulkRows + int64(im.opts.BulkRows) - 1) / int64(im.opts.BulkRows)
		sum.PlannedRequests += planBulkRequests(sum.PlanJobs, !im.opts.NoVerify)
	}
	if len(im.opts.Lists) > 0 || m.HasListsColumn() {
		sum.PlannedRequests++
	}
	if rep != nil {
		sum.ReportPath, sum.ReportRows = rep.path, rep.rows()
		if err := rep.close(); err != nil && readErr == nil {
			readErr = fmt.Errorf("write error report: %w", err)
		}
	}
	if errors.Is(readErr, ErrInterrupted) {
		sum.Stopped = StopInterrupted
	}
	return sum, readErr
}

// Requests a bulk job is planned to take: its POST and the polls of a job
// the server runs as fast as it was seen to (the bench's figures: two or
// three polls); an export adds the GET of its file.
const (
	plannedJobRequests    = 4
	plannedExportRequests = plannedJobRequests + 1
)

// planBulkRequests is the most requests of the bulk path with jobs add
// jobs: the plan's three exports, the jobs, and the verification's export.
func planBulkRequests(jobs int64, verify bool) int64 {
	n := int64(len(systemLists))*plannedExportRequests + jobs*plannedJobRequests
	if verify {
		n += plannedExportRequests
	}
	return n
}

// goesThroughContacts says whether a valid row goes through the contacts
// collection whatever the account holds: an opt-out to carry over, a value
// in a field with no bulk column, or any such field with --empty clear. A
// dry run knows it from the row's facts alone.
func (im *Importer) goesThroughContacts(m *mapping.Mapping, f mapping.Facts) bool {
	switch {
	case f.OptOut != "":
		return im.opts.OptOuts == OptOutsCarry
	case f.Removed:
		return false
	case f.NoBulkValue:
		return true
	}
	return im.opts.Empty == mapping.EmptyClear && mapsNoBulkField(m)
}

// mapsNoBulkField reports whether the mapping sets a field that no bulk
// column carries.
func mapsNoBulkField(m *mapping.Mapping) bool {
	for _, c := range m.Columns() {
		if f, ok := ctct.LookupField(c.Field); ok && f.Editable && f.Bulk == "" {
			return true
		}
	}
	return false
}
