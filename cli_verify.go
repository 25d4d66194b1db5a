package main

import (
	"context"
	"fmt"

	"ctctbulk/exporter"
)

// runVerify checks an export file against the manifest written beside it
// (rows, bytes, SHA-256), so that a pipeline loads only a whole file: exit
// 0 when they agree, 1 when they do not or cannot be read.
func runVerify(_ context.Context, s streams, args []string) error {
	fs := newFlagSet("verify", "FILE   (an export written with -o; FILE.manifest.json beside it)", s)
	switch err := parseFlags(fs, args); {
	case err != nil:
		return err
	case fs.NArg() != 1:
		return usagef("verify needs exactly one FILE")
	}
	file := fs.Arg(0)
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
