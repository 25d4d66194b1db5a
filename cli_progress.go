package main

import (
	"context"
	"ctctbulk/exporter"
	"strings"

	"ctctbulk/ctct"
)

// exportTotal is the number of contacts an export will write, for the
// progress display, from the account's lists and their contact counts (one
// request), or 0 when it cannot be known beforehand: an incremental run,
// or a server that does not count.
func exportTotal(ctx context.Context, c *ctct.Client, o *exportOptions) int64 {
	if len(o.emails) > 0 {
		return int64(len(o.emails))
	}
	if o.since != "" {
		return 0
	}
	if o.statePath != "" {
		if st, err := exporter.ReadState(o.statePath); err != nil || st != nil {
			return 0 // a later run: the changes since its mark, unknown
		}
	}
	lists, err := c.Lists(ctx)
	if err != nil {
		return 0 // the export itself will say what is wrong
	}
	// The system lists count the contacts by status.
	system := map[string][]string{
		"all":         {"active", "removed", "do-not-mail"},
		"active":      {"active"},
		"removed":     {"removed"},
		"do-not-mail": {"do-not-mail"},
	}
	var total int64
	for _, l := range lists {
		if !l.CountKnown {
			continue
		}
		n := ctct.Number(l.ID)
		switch {
		case o.list != "":
			if n == o.list || l.Name == o.list {
				return int64(l.ContactCount)
			}
		default:
			for _, want := range system[o.status] {
				if strings.EqualFold(n, want) {
					total += int64(l.ContactCount)
				}
			}
		}
	}
	return total
}
