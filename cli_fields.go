package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ctctbulk/mapping"
)

func newFieldsCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "fields",
		Short: "show the mappable fields with their limits and aliases",
		Example: `  ctctbulk fields
  ctctbulk fields | grep -i phone`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return runFields(s) },
	}
}

func runFields(s streams) error {
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tLIMIT\tALIASES")
	for _, d := range mapping.Docs() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, d.Limit(), strings.Join(d.Aliases, ", "))
	}
	return tw.Flush()
}
