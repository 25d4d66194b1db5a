package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// version is the tool's version, sent in User-Agent and written in manifests.
const version = "0.1.0"

// Exit codes, decided in one place (exitCode).
const (
	exitOK          = 0
	exitFatal       = 1
	exitUsage       = 2
	exitRowsFailed  = 3
	exitBudget      = 4
	exitInterrupted = 130
)

// streams are the standard streams and environment a command runs with;
// tests pass buffers and a map.
type streams struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitStatus is an error that carries its own exit code (rows failed,
// budget reached, interrupted) with the message to print, if any.
type exitStatus struct {
	code int
	err  error
}

func (e *exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitStatus) Unwrap() error { return e.err }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, s streams, args []string) error
}

func commands() []command {
	return []command{
		{"import", "put the rows of a CSV file into the account (FILE, or - for stdin)", runImport},
		{"export", "write the account's contacts to CSV", runExport},
		{"sandbox", "run the API emulator in the foreground", runSandbox},
		{"lists", "show the account's contact lists: id, name, contact count", runLists},
		{"fields", "show the mappable fields with their limits and aliases", runFields},
		{"verify", "check an export file against its manifest: rows, bytes, sha256", runVerify},
		{"version", "print the version", runVersion},
	}
}

// run parses the command line, runs one subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	s := streams{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, s, args[1:])
			code := exitCode(err)
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				if msg := err.Error(); msg != "" && !isSilent(err) {
					fmt.Fprintf(stderr, "ctctbulk %s: %s\n", c.name, msg)
				}
			}
			return code
		}
	}
	fmt.Fprintf(stderr, "ctctbulk: unknown command %q\n", args[0])
	printUsage(stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: ctctbulk COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'ctctbulk COMMAND -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// isSilent reports errors whose message was already shown (exit statuses
// without their own error).
func isSilent(err error) bool {
	var es *exitStatus
	return errors.As(err, &es) && es.err == nil
}

// exitCode maps a command's error to the process exit code.
func exitCode(err error) int {
	var ue *usageError
	var es *exitStatus
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &es):
		return es.code
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	default:
		return exitFatal
	}
}

// newFlagSet returns a flag set for a subcommand that reports errors as
// usage errors instead of exiting.
func newFlagSet(name, synopsis string, s streams) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() {
		fmt.Fprintf(s.stderr, "usage: ctctbulk %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args. The flag package has already printed a bad
// flag's message and the usage, so the error is a silent exit 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitStatus{code: exitUsage}
	}
	return nil
}

func runVersion(_ context.Context, s streams, args []string) error {
	fs := newFlagSet("version", "", s)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "ctctbulk %s\n", version)
	return nil
}
