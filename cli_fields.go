package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"ctctbulk/mapping"
)

func runFields(_ context.Context, s streams, args []string) error {
	fs := newFlagSet("fields", "", s)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("fields takes no arguments")
	}
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tLIMIT\tALIASES")
	for _, d := range mapping.Docs() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, d.Limit(), strings.Join(d.Aliases, ", "))
	}
	return tw.Flush()
}
