package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"ctctbulk/ctct"
)

func runLists(ctx context.Context, s streams, args []string) error {
	var conn connOptions
	fs := newFlagSet("lists", "[flags]", s)
	conn.register(fs, s)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("lists takes no arguments")
	}
	if err := conn.validate(); err != nil {
		return err
	}
	c, err := conn.connect(ctx, s)
	if err != nil {
		return err
	}
	defer c.close()
	fmt.Fprintf(s.stderr, "target: %s\n", c.target) // stdout is the table
	lists, err := c.client.Lists(ctx)
	if err != nil {
		return fmt.Errorf("read lists: %w", err)
	}
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCONTACTS")
	for _, l := range lists {
		count := "?"
		if l.CountKnown {
			count = fmt.Sprint(l.ContactCount)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ctct.Number(l.ID), l.Name, count)
	}
	return tw.Flush()
}
