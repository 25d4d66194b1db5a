package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ctctbulk/progress"
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
	// now is the clock of the daily quota (nil: time.Now); tests move it
	// to another day.
	now func() time.Time
	// notes prints the lines that come while a job runs (warnings,
	// retries, stopping) without tearing its progress bar.
	notes *notes
}

// clock returns the streams' clock, time.Now unless a test set one.
func (s streams) clock() func() time.Time {
	if s.now == nil {
		return time.Now
	}
	return s.now
}

// notes prints lines on stderr; while a progress bar is shown, through
// it, so that the bar is drawn again below the line. Safe for concurrent
// use.
type notes struct {
	mu  sync.Mutex
	w   io.Writer
	rep *progress.Reporter
}

// printf prints one line.
func (n *notes) printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	n.mu.Lock()
	rep := n.rep
	n.mu.Unlock()
	if rep != nil {
		rep.Note(msg)
		return
	}
	fmt.Fprintln(n.w, msg)
}

// show prints through rep from now on, until hide.
func (n *notes) show(rep *progress.Reporter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rep = rep
}

// hide stops printing through the reporter, before it stops.
func (n *notes) hide() { n.show(nil) }

// runMain runs the command line until it ends or a second signal arrives
// on sigs. The first signal cancels the command's context: an import
// starts no new row and lets the rows in flight finish; the second returns
// exitInterrupted at once, leaving the command's goroutines to the
// process's exit (the journal is append-only, so it stays consistent).
func runMain(sigs <-chan os.Signal, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, stdin, stdout, stderr, getenv) }()
	select {
	case code := <-done:
		return code
	case <-sigs:
		cancel()
	}
	select {
	case code := <-done:
		return code
	case <-sigs:
		fmt.Fprintln(stderr, "\nctctbulk: quitting now; rows in flight may have been sent: --resume checks them")
		return exitInterrupted
	}
}

// run parses the command line, runs one subcommand and returns the exit
// code, printing the error, if any, in words.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return runWith(ctx, args, streams{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now, notes: &notes{w: stderr}})
}

// runWith is run with the streams given (a test's clock).
func runWith(ctx context.Context, args []string, s streams) int {
	stderr := s.stderr
	root := newRootCmd(ctx, s)
	root.SetArgs(gnuDashes(root, args))
	cmd, err := root.ExecuteC()
	if err != nil {
		name := "ctctbulk"
		if cmd != nil && cmd != root {
			name = cmd.CommandPath()
		}
		if msg := errorText(err); msg != "" {
			fmt.Fprintf(stderr, "%s: %s\n", name, msg)
		}
	}
	return exitCode(err)
}

// newRootCmd builds the command tree. Nothing is global: every command
// closes over its own options, ctx and the streams.
func newRootCmd(ctx context.Context, s streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "ctctbulk",
		Short: "move contacts between CSV files and a Constant Contact account",
		Long: "ctctbulk moves contacts between CSV files and a Constant Contact account through\n" +
			"the XML/Atom contacts API, and ships a local emulator of that API (the sandbox)\n" +
			"to rehearse on.",
		Example: `  ctctbulk import --list 1 contacts.csv
  ctctbulk export -o contacts.csv
  ctctbulk help import`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Unknown commands are usage errors that suggest the nearest name.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if sug := cmd.SuggestionsFor(args[0]); len(sug) > 0 {
				msg += fmt.Sprintf(": did you mean %q?", sug[0])
			}
			return usagef("%s (see 'ctctbulk --help')", msg)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(s.stderr)
			_ = cmd.Help()
			return usagef("")
		},
	}
	root.SetIn(s.stdin)
	root.SetOut(s.stdout)
	root.SetErr(s.stderr)
	root.SetContext(ctx)
	root.SuggestionsMinimumDistance = 2
	root.CompletionOptions.HiddenDefaultCmd = false
	root.SetFlagErrorFunc(flagError)
	root.SetHelpFunc(helpFunc)
	root.AddCommand(
		newImportCmd(s),
		newExportCmd(s),
		newListsCmd(s),
		newFieldsCmd(s),
		newSandboxCmd(s),
		newVerifyCmd(s),
		newQuotaCmd(s),
		&cobra.Command{
			Use:   "version",
			Short: "print the version",
			Example: `  ctctbulk version
  ctctbulk version | cut -d' ' -f2`,
			Args: noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintf(s.stdout, "ctctbulk %s\n", version)
				return err
			},
		},
	)
	return root
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, not %q", cmd.Name(), args[0])
	}
	return nil
}

// usageError is a mistake in the command line: exit code 2. An empty
// message is not printed (the usage was shown instead).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagError turns pflag's parse errors into usage errors, with the nearest
// flag name for an unknown one.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		if sug := nearestFlag(cmd, name); sug != "" {
			msg += fmt.Sprintf(": did you mean --%s?", sug)
		}
	}
	return usagef("%s (see 'ctctbulk %s --help')", msg, cmd.Name())
}

// nearestFlag returns the flag of cmd closest to name in edit distance,
// if it is close enough to be a typo.
func nearestFlag(cmd *cobra.Command, name string) string {
	best, bestD := "", 3
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if d := editDistance(name, f.Name); d < bestD || (d == bestD && best == "") && d <= 2 {
			best, bestD = f.Name, d
		}
		if strings.HasPrefix(f.Name, name) && best == "" {
			best = f.Name
		}
	})
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// gnuDashes rewrites the single-dash long flags of earlier versions
// (-base-url URL, -rate=2) into GNU form (--base-url URL), so that scripts
// written for them keep working. Only names of the subcommand's flags
// longer than one letter are rewritten, and nothing after "--".
func gnuDashes(root *cobra.Command, args []string) []string {
	var sub *cobra.Command
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			for _, c := range root.Commands() {
				if c.Name() == a {
					sub = c
				}
			}
			break
		}
	}
	if sub == nil {
		return args
	}
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && sub.Flags().Lookup(name) != nil {
			out[i] = "-" + a
		}
	}
	return out
}

// rowsFailedError ends a run that finished with rows failed: exit 3.
type rowsFailedError struct {
	n      int64
	report string
	// willFail is the valid rows a dry run knows a real run will fail,
	// and why: they are not in the report, which holds the invalid rows.
	willFail int64
	atMost   bool
	why      string
}

func (e *rowsFailedError) Error() string {
	if e.willFail == 0 {
		return fmt.Sprintf("%s failed: see %s", plural(e.n, "row"), e.report)
	}
	upTo := ""
	if e.atMost {
		upTo = "up to "
	}
	if e.n == 0 {
		return fmt.Sprintf("a real run would fail %s%s: %s", upTo, plural(e.willFail, "row"), e.why)
	}
	return fmt.Sprintf("%s failed: see %s; a real run would fail %s%s more: %s", plural(e.n, "row"), e.report, upTo, plural(e.willFail, "row"), e.why)
}

// plural writes n with its noun, in the plural when n is not 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
