package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ctctbulk/ctct"
)

func newListsCmd(s streams) *cobra.Command {
	var conn connOptions
	cmd := &cobra.Command{
		Use:   "lists [flags]",
		Short: "show the account's contact lists: id, name, contact count",
		Example: `  ctctbulk lists
  ctctbulk lists --sandbox rehearsal.db
  CTCT_USERNAME=acme CTCT_API_KEY=... CTCT_PASSWORD=... ctctbulk lists`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLists(cmd.Context(), s, &conn)
		},
	}
	conn.register(cmd.Flags())
	return cmd
}

func runLists(ctx context.Context, s streams, conn *connOptions) error {
	conn.fromEnv(s)
	conn.kind = "lists"
	if err := conn.validate(); err != nil {
		return err
	}
	c, err := conn.connect(ctx, s)
	if err != nil {
		return err
	}
	return c.done(listsWith(ctx, s, c))
}

// listsWith prints the lists over an open connection.
func listsWith(ctx context.Context, s streams, c *connection) error {
	fmt.Fprintf(s.stderr, "target: %s\n", c.target) // stdout is the table
	lists, err := c.client.Lists(ctx)
	if refused := c.refusal(err); refused != nil {
		return refused
	}
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
