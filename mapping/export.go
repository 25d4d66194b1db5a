package mapping

import (
	"cmp"
	"strings"

	"ctctbulk/ctct"
)

// exportColumn is one column of an export file.
type exportColumn struct {
	name string
	acc  func(*ctct.Contact) *string // nil for Id and ContactLists
}

// exportColumns is the export layout, built once and never written.
var exportColumns = buildExportColumns()

func buildExportColumns() []exportColumn {
	cols := []exportColumn{{name: "Id"}}
	for _, f := range ctct.Fields() {
		cols = append(cols, exportColumn{name: f.Name, acc: accessor(f.Name)})
	}
	cols = append(cols, exportColumn{name: ListsField})
	for _, n := range []string{"OptInSource", "OptInTime", "OptOutTime", "OptOutSource", "OptOutReason", "Confirmed", "InsertTime", "LastUpdateTime"} {
		cols = append(cols, exportColumn{name: n, acc: accessor(n)})
	}
	return cols
}

// ExportHeader returns the header of an export file: Id, then every field
// of the field table in element order (Status ... CustomField15), then
// ContactLists, OptInSource, OptInTime, OptOutTime, OptOutSource,
// OptOutReason, Confirmed, InsertTime, LastUpdateTime. Every name resolves
// to itself in Resolve, so an export imports with no mapping. The slice is
// fresh on each call.
func ExportHeader() []string {
	h := make([]string, len(exportColumns))
	for i, c := range exportColumns {
		h[i] = c.name
	}
	return h
}

// ExportRow returns the cells of one contact in ExportHeader order: Id is
// the contact's number, ContactLists the list numbers joined by ';',
// OptInSource and OptInTime come from the listing entry when given
// (non-empty), else from the contact itself; times are as the API gave
// them. Cells are not escaped against formula injection: that is the
// writer's choice.
func ExportRow(c *ctct.Contact, listingOptInSource, listingOptInTime string) []string {
	row := make([]string, len(exportColumns))
	for i, col := range exportColumns {
		switch col.name {
		case "Id":
			if c.ID != "" {
				row[i] = ctct.Number(c.ID)
			}
		case ListsField:
			ids := make([]string, 0, len(c.Lists))
			for _, l := range c.Lists {
				ids = append(ids, ctct.Number(l.ID))
			}
			row[i] = strings.Join(ids, ";")
		case "OptInSource":
			row[i] = cmp.Or(listingOptInSource, c.OptInSource)
		case "OptInTime":
			row[i] = cmp.Or(listingOptInTime, c.OptInTime)
		default:
			row[i] = *col.acc(c)
		}
	}
	return row
}
