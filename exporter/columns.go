package exporter

import (
	"ctctbulk/ctct"
	"ctctbulk/mapping"
)

// columns returns the header of the export and, for a summary export, the
// positions of its columns in mapping.ExportHeader (nil: every column).
//
// A full export writes every column. A summary export writes only what it
// fetched, the cells a listing entry fills: Id, the fields marked Summary
// in the field table, OptInSource and OptInTime, and for an email search
// Confirmed and InsertTime too. A column it never fetched would be written
// blank, and a blank cell re-imported with --empty clear would erase the
// value the account holds.
func (e *Exporter) columns() (header []string, pick []int) {
	full := mapping.ExportHeader()
	if e.opts.Detail != DetailSummary {
		return full, nil
	}
	keep := map[string]bool{"Id": true, "OptInSource": true, "OptInTime": true}
	for _, f := range ctct.Fields() {
		if f.Summary {
			keep[f.Name] = true
		}
	}
	if len(e.opts.Emails) > 0 {
		keep["Confirmed"], keep["InsertTime"] = true, true
	}
	for i, name := range full {
		if keep[name] {
			header = append(header, name)
			pick = append(pick, i)
		}
	}
	return header, pick
}

// pickCells returns the cells of row at the positions pick, in buf's
// storage.
func pickCells(row []string, pick []int, buf []string) []string {
	buf = buf[:0]
	for _, i := range pick {
		buf = append(buf, row[i])
	}
	return buf
}
