package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// groupAnnotation is the flag annotation that names a flag's help group.
const groupAnnotation = "ctctbulk_group"

// helpWidth is the width help is wrapped to: an 80-column terminal.
const helpWidth = 80

// groupOrder is the order of the flag groups in help, as gh orders them.
var groupOrder = []string{"Input", "Output", "Mapping", "Lists", "Bulk", "Selection", "Run control", "Quota", "Store", "Credentials", "Realism", "Job faults", "Connection"}

// group puts the named flags of fs in a help group.
func group(fs *pflag.FlagSet, name string, flags ...string) {
	for _, f := range flags {
		if err := fs.SetAnnotation(f, groupAnnotation, []string{name}); err != nil {
			panic(fmt.Sprintf("flag group %s: %v", name, err)) // a mistake in this file, found by any test
		}
	}
}

// helpFunc writes a command's help to stdout: what it does, its usage, its
// subcommands, its flags by group, and examples last.
func helpFunc(cmd *cobra.Command, _ []string) {
	fmt.Fprint(cmd.OutOrStdout(), helpText(cmd))
}

func helpText(cmd *cobra.Command) string {
	var b strings.Builder
	desc := cmd.Long
	if desc == "" {
		desc = upperFirst(cmd.Short) + "."
	}
	use := cmd.UseLine()
	if cmd.HasAvailableSubCommands() {
		use = cmd.CommandPath() + " COMMAND [flags]"
	}
	fmt.Fprintf(&b, "%s\n\nUsage:\n  %s\n", desc, use)
	if cmd.HasAvailableSubCommands() {
		b.WriteString("\nCommands:\n")
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() || c.Name() == "help" {
				fmt.Fprintf(&b, "  %-11s %s\n", c.Name(), c.Short)
			}
		}
	}
	groups := map[string]*pflag.FlagSet{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := "Other"
		if g := f.Annotations[groupAnnotation]; len(g) > 0 {
			name = g[0]
		}
		if groups[name] == nil {
			groups[name] = pflag.NewFlagSet(name, pflag.ContinueOnError)
			groups[name].SortFlags = false
		}
		groups[name].AddFlag(f)
	})
	// The groups in their order, then any group the order does not name
	// (so that no flag is ever left out of the help), then the others.
	names := slices.Clone(groupOrder)
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		if !slices.Contains(names, name) && name != "Other" {
			names = append(names, name)
		}
	}
	for _, name := range append(names, "Other") {
		if fs := groups[name]; fs != nil {
			fmt.Fprintf(&b, "\n%s flags:\n%s", name, fs.FlagUsagesWrapped(helpWidth))
		}
	}
	if cmd.Example != "" {
		fmt.Fprintf(&b, "\nExamples:\n%s\n", cmd.Example)
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\nRun '%s help COMMAND' (or COMMAND --help) for a command's flags.\n", cmd.CommandPath())
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
