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
	if err := tw.Flush(); err != nil {
		return err
	}
	// The pseudo fields: what a column can say of a row besides a value.
	var b strings.Builder
	b.WriteString("\nPSEUDO FIELDS: what a column can say of a row (--col 'Header=OptOut')\n")
	for _, p := range mapping.PseudoFields() {
		b.WriteString(wrap(p.Name+": "+p.Limit, 80, "  ") + "\n")
		if len(p.Aliases) > 0 {
			b.WriteString(wrap("  recognised: "+strings.Join(p.Aliases, ", "), 80, "    ") + "\n")
		}
	}
	_, err := fmt.Fprint(s.stdout, b.String())
	return err
}

// wrap breaks text at spaces into lines of at most width columns, the
// lines after the first starting with indent.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	lead := len(text) - len(strings.TrimLeft(text, " "))
	b.WriteString(text[:lead])
	col := lead
	for i, w := range strings.Fields(text) {
		switch {
		case i == 0:
		case col+1+len([]rune(w)) > width:
			b.WriteString("\n" + indent)
			col = len(indent)
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len([]rune(w))
	}
	return b.String()
}
