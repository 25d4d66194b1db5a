package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"ctctbulk/ctct"
)

// maxBulkExportRequests is issue 12's budget of a bulk export, polls
// included, whatever the account's size.
const maxBulkExportRequests = 20

// bulkExportRun exports the store of cfg --via activities and checks the
// request budget and the row count; the file is e.dir/name.csv.
func bulkExportRun(ctx context.Context, e *env, name string, cfg sandboxConfig, n int) (*result, error) {
	res, err := exportScenario(ctx, e, name, cfg, n, 1000, maxBulkExportRequests, "--via", "activities")
	if res != nil {
		res.Rate, res.RateRatio = 0, 0 // the server's job time, not the client's rate, sets the pace
	}
	return res, err
}

func scenBulkExport10k(ctx context.Context, e *env) (*result, error) {
	n := e.rows(10_000)
	name := "bulk-export-10k"
	res, err := bulkExportRun(ctx, e, name, seededStore(e, n), n)
	if err != nil {
		return res, err
	}
	// The same store through the collection: the exact export to compare
	// with (n GETs and the listing pages).
	exact, err := exportScenario(ctx, e, name+"-collection", seededStore(e, n), n, 1000, int64(n)+pagesFor(n),
		"--via", "contacts", "--detail", "full", "--workers", "8")
	if err != nil {
		return res, fmt.Errorf("collection export: %w", err)
	}
	res.notef("the collection export of the same account: %d requests in %.1fs", exact.Requests, exact.ElapsedSeconds)
	rows, diffs, err := compareBulkColumns(filepath.Join(e.dir, name+".csv"), filepath.Join(e.dir, name+"-collection.csv"))
	if err != nil {
		return res, err
	}
	res.add("equal to the collection export on every bulk column", "0 differences",
		fmt.Sprintf("%d differences in %d contacts", len(diffs), rows), len(diffs) == 0 && rows == n)
	for i, d := range diffs {
		if i == 5 {
			res.notef("... %d more", len(diffs)-5)
			break
		}
		res.notef("%s", d)
	}
	return res, nil
}

func scenBulkExport1m(ctx context.Context, e *env) (*result, error) {
	n := e.rows(1_000_000)
	res, err := bulkExportRun(ctx, e, "bulk-export-1m", seededStore(e, n), n)
	if err != nil {
		return res, err
	}
	res.add("peak RSS", "< 64 MB", rssText(res.PeakRSSBytes), rssUnder(res.PeakRSSBytes, maxRSS))
	small, err := scenBulkExport10k(ctx, e)
	if small != nil {
		for _, c := range small.Checks {
			res.add("10k: "+c.Name, c.Target, c.Got, c.OK)
		}
		for _, note := range small.Notes {
			res.notef("10k: %s", note)
		}
	}
	return res, err
}

// compareBulkColumns compares two exports by email on every bulk column
// and returns the contacts of want and the differences (a contact
// missing from got, or a cell that differs). got is read as a stream
// against an index of want, which is the collection export of an
// affordable account.
func compareBulkColumns(got, want string) (int, []string, error) {
	cols := ctct.BulkFields()
	index := map[string][]string{}
	if err := eachRow(want, cols, func(email string, cells []string) {
		index[email] = append([]string(nil), cells...)
	}); err != nil {
		return 0, nil, err
	}
	var diffs []string
	seen := map[string]bool{}
	if err := eachRow(got, cols, func(email string, cells []string) {
		w, ok := index[email]
		switch {
		case !ok:
			diffs = append(diffs, email+": not in the collection export")
			return
		case seen[email]:
			diffs = append(diffs, email+": written twice")
			return
		}
		seen[email] = true
		for i, f := range cols {
			if cells[i] != w[i] {
				diffs = append(diffs, fmt.Sprintf("%s: %s = %q, the collection export has %q", email, f.Name, cells[i], w[i]))
			}
		}
	}); err != nil {
		return 0, nil, err
	}
	for email := range index {
		if !seen[email] {
			diffs = append(diffs, email+": missing from the bulk export")
		}
	}
	return len(index), diffs, nil
}

// eachRow calls f with the email and the cells of cols of each row of the
// export at path.
func eachRow(path string, cols []ctct.Field, f func(email string, cells []string)) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	defer file.Close()
	cr := csv.NewReader(bufio.NewReaderSize(file, 1<<16))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("compare %s: %w", path, err)
	}
	pos := map[string]int{}
	for i, h := range header {
		pos[h] = i
	}
	at := make([]int, len(cols))
	for i, c := range cols {
		j, ok := pos[c.Name]
		if !ok {
			return fmt.Errorf("compare %s: no column %s", path, c.Name)
		}
		at[i] = j
	}
	cells := make([]string, len(cols))
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("compare %s line %s: %w", path, strconv.Itoa(line), err)
		}
		for i, j := range at {
			cells[i] = rec[j]
		}
		f(rec[pos["EmailAddress"]], cells)
	}
}
