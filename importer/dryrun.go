package importer

import (
	"context"
	"errors"
	"fmt"
	"io"

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
		if rep, err = openReport(im.opts.ReportPath, rd.Header(), rd.Delimiter(), im.opts.Encoder, false); err != nil {
			return nil, err
		}
	}
	var readErr error
	fail := func(row *Row, reason string) {
		im.counts.failed.Add(1)
		im.reasons.add(row.Line, statusFailed, reason)
		if rep != nil && readErr == nil {
			readErr = rep.add(reportRow{line: row.Line, cells: row.Cells, raw: row.Raw}, statusFailed, reason)
		}
	}
	width := len(rd.Header())
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
		if err := m.Validate(withoutEmptyExtras(row.Cells, width), row.Line); err != nil {
			fail(&row, err.Error())
			continue
		}
		im.counts.valid.Add(1)
	}
	sum := im.summary()
	valid := sum.Valid
	sum.PlannedRequests = (valid+batchSize-1)/batchSize + 2*valid
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
