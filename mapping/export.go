package mapping

import (
	"cmp"

	"ctctbulk/ctct"
)

// ExportHeader returns the header of an export file: the names of the
// field table in its order (Id, Status ... CustomField15, ContactLists,
// OptInSource ... LastUpdateTime). Every name resolves to itself in
// Resolve, so an export imports with no mapping. The slice is fresh on
// each call.
func ExportHeader() []string {
	fs := ctct.Fields()
	h := make([]string, len(fs))
	for i := range fs {
		h[i] = fs[i].Name
	}
	return h
}

// ExportRow returns the cells of one contact in ExportHeader order, each as
// the field table reads it (Id is the contact's number, ContactLists the
// list numbers joined by ';', times as the API gave them), except that
// OptInSource and OptInTime come from the listing entry when given
// (non-empty). Cells are not escaped against formula injection: that is
// the writer's choice.
func ExportRow(c *ctct.Contact, listingOptInSource, listingOptInTime string) []string {
	v := *c // the fields read below are strings: a shallow copy is enough
	v.OptInSource = cmp.Or(listingOptInSource, c.OptInSource)
	v.OptInTime = cmp.Or(listingOptInTime, c.OptInTime)
	row := make([]string, len(exportFields))
	for i := range exportFields {
		row[i] = exportFields[i].Get(&v)
	}
	return row
}

// exportFields is the field table as ExportRow walks it; never written.
var exportFields = ctct.Fields()
