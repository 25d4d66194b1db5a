package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ctctbulk/exporter"
)

func newVerifyCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE",
		Short: "check an export file against its manifest: rows, bytes, sha256",
		Long: "Verify checks an export written with -o FILE against FILE.manifest.json\n" +
			"beside it (rows, bytes, sha256), so that a pipeline loads only a whole file:\n" +
			"exit 0 when they agree, 1 when they do not or cannot be read.",
		Example: `  ctctbulk verify contacts.csv
  ctctbulk verify nightly.csv && load-into-warehouse nightly.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("verify needs exactly one FILE")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error { return runVerify(s, args[0]) },
	}
}

// runVerify checks an export file against the manifest written beside it
// (rows, bytes, SHA-256).
func runVerify(s streams, file string) error {
	m, err := exporter.VerifyFile(file)
	if err != nil {
		return err
	}
	from := ""
	if m.Target != "" {
		from = " from " + m.Target
	}
	fmt.Fprintf(s.stdout, "%s: ok, %d rows, %d bytes, sha256 %s, exported %s%s\n", file, m.Rows, m.Bytes, m.SHA256, m.End, from)
	return nil
}
