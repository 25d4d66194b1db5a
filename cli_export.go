package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ctctbulk/exporter"
	"ctctbulk/progress"
)

type exportOptions struct {
	conn        connOptions
	output      string
	status      string
	list        string
	since       string
	statePath   string
	emails      multiFlag
	detail      string
	via         string
	workers     int
	raw         bool
	overlap     time.Duration
	fileMode    string
	logEvery    time.Duration
	summaryJSON string
	report      runReport
}

func newExportCmd(s streams) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export [flags]",
		Short: "write the account's contacts to CSV",
		Long: `Export writes the account's contacts to CSV with the canonical header, so that
an export imports with no mapping. -o FILE is written beside the target and
renamed when complete, with FILE.manifest.json; --state FILE exports only what
changed since the last complete run. A full export goes through bulk export
jobs (--via activities: a few requests whatever the size, some columns empty)
unless --via contacts asks for the exact, one-request-per-contact path.`,
		Example: `  ctctbulk export -o contacts.csv
  ctctbulk export --via contacts -o contacts.csv
  ctctbulk export --state nightly.state -o changes.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.report.begin(cmd, args, &o.conn)
			return runExport(cmd.Context(), s, &o)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.output, "output", "o", "", "output `FILE`, written to a temporary file and renamed when complete (default stdout; - for stdout)")
	flags.StringVar(&o.fileMode, "file-mode", "0600", "permissions of the output file, in octal")
	flags.BoolVar(&o.raw, "raw", false, "do not prefix cells starting with = + - @ with '")
	group(flags, "Output", "output", "file-mode", "raw")
	flags.StringVar(&o.status, "status", "all", "contacts to export: all, active, removed or do-not-mail")
	flags.StringVar(&o.list, "list", "", "export the members of this list `ID|NAME`")
	flags.StringVar(&o.since, "since", "", "export the contacts changed since this `TIME` (2008-07-23T14:21:06.407Z or 2008-07-23)")
	flags.StringVar(&o.statePath, "state", "", "incremental state `FILE`: export the changes since the last complete run, then record this run")
	flags.Var(&o.emails, "email", "export the contact with this `ADDRESS` (repeatable)")
	flags.DurationVar(&o.overlap, "overlap", exporter.DefaultOverlap, "with --state, the next run starts this long before this run's start")
	group(flags, "Selection", "status", "list", "since", "state", "email", "overlap")
	flags.StringVar(&o.detail, "detail", "full", "`full` (one request per contact, every field) or summary (the listing's fields, one request per 50 contacts)")
	flags.StringVar(&o.via, "via", string(exporter.ViaAuto), "way through the API: contacts (the contacts collection: every column, exact; about one request per contact), "+
		"activities (one bulk export job per list: a few requests for any size; the file has no column it cannot fill: "+strings.Join(exporter.BulkEmptyColumns(), ", ")+
		"; Status is empty for active contacts (Active or Unconfirmed: the file does not say) and with --list alone; OptInTime is to the minute) "+
		"or auto (contacts for --since, --email, --detail summary, the later runs of --state, and a small account; activities otherwise, a first --state run included)")
	flags.IntVar(&o.workers, "workers", exporter.DefaultWorkers, "contact details fetched at once")
	flags.DurationVar(&o.logEvery, "log-every", 30*time.Second, "interval of the progress lines when stderr is not a terminal")
	flags.StringVar(&o.summaryJSON, "summary-json", "", "also write the summary as JSON to this `FILE`")
	group(flags, "Run control", "detail", "via", "workers", "log-every", "summary-json")
	o.report.register(flags, "Run control", "-o FILE's FILE.report.html; none for stdout unless given")
	o.conn.register(flags)
	return cmd
}

func runExport(ctx context.Context, s streams, o *exportOptions) error {
	o.conn.fromEnv(s)
	o.conn.kind = "export"
	opts, mode, err := o.validate()
	if err != nil {
		return err
	}
	// Nothing configured: connect falls back to the built-in sandbox,
	// which a state file of an earlier version must not be bound to.
	unconfigured := o.conn.sandboxDB == ""
	conn, err := o.conn.connect(ctx, s)
	if err != nil {
		return err
	}
	err = exportWith(ctx, s, o, opts, mode, conn, unconfigured)
	return conn.done(err)
}

// exportWith runs the export over an open connection.
func exportWith(ctx context.Context, s streams, o *exportOptions, opts exporter.Options, mode os.FileMode, conn *connection, unconfigured bool) error {
	opts.Target, opts.ImplicitTarget = conn.target, unconfigured && conn.sandbox != nil
	opts.Warnf = func(format string, args ...any) { s.notes.printf("warning: "+format, args...) }
	ex, err := exporter.New(conn.client, opts)
	if err != nil {
		return usagef("%v", err)
	}
	// Read once the exporter counts: the request it may take is the run's
	// as much as any (the summary's count is what the quota is charged).
	total := exportTotal(ctx, conn.client, o)

	toStdout := o.output == "" || o.output == "-"
	summaryOut := s.stdout
	if toStdout {
		summaryOut = s.stderr // the CSV owns stdout
	}
	base := conn.client.Counters().Requests
	rep := progress.Start(s.stderr, progress.Options{Terminal: isTerminal(s.stderr), Every: o.logEvery, Label: "export", Unit: "contacts"},
		func() progress.Status {
			done, text := ex.Progress()
			return progress.Status{Done: done, Total: total, Rows: done, Requests: conn.client.Counters().Requests - base, Text: text}
		})
	s.notes.show(rep)
	var sum *exporter.Summary
	var runErr error
	if toStdout {
		sum, runErr = ex.Run(ctx, s.stdout)
	} else {
		sum, runErr = ex.WriteFile(ctx, o.output, mode)
	}
	s.notes.hide()
	rep.Stop()
	partial := ""
	if sum != nil {
		partial = sum.Partial
	}
	if refused := conn.refusal(runErr); refused != nil {
		runErr = refused // what was spent today, by whom, and when it resets
	}
	exitErr := exportExit(runErr, o, partial)
	if sum != nil {
		sum.ExitCode = exitCode(exitErr)
	}
	if sum != nil && exitCode(exitErr) != exitUsage {
		if err := sum.WriteText(summaryOut); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
		beside := ""
		if !toStdout {
			beside = o.output
		}
		if page := o.report.path(beside); page != "" {
			if err := writeReport(page, exportReport(&o.report, o, sum, page, time.Now())); err != nil {
				return err
			}
			sum.RunReport = page
			fmt.Fprintf(summaryOut, "run report: %s\n", page)
		}
		if o.summaryJSON != "" {
			if err := writeJSONFile(o.summaryJSON, sum.WriteJSON); err != nil {
				return err
			}
		}
	}
	return exitErr
}

// exportExit maps the run's outcome to the exit code, with a message that
// says what happened to the output.
func exportExit(runErr error, o *exportOptions, partial string) error {
	left := "nothing was written"
	if o.output != "" && o.output != "-" {
		left = o.output + " is left as it was"
	}
	if partial != "" {
		left += "; what was written is kept in " + partial + ": the same command continues from there"
	}
	if o.statePath != "" {
		left += "; the state file is unchanged"
	}
	switch {
	case runErr == nil:
		return nil
	case errors.Is(runErr, exporter.ErrUnknownList), errors.Is(runErr, exporter.ErrStateMismatch), errors.Is(runErr, exporter.ErrIncrementalBulk):
		return runErr
	case errors.Is(runErr, exporter.ErrTargetMismatch):
		return &usageError{msg: fmt.Sprintf("%v (%s)\nThe target is the account of CTCT_USERNAME (--user) at CTCT_BASE_URL (--base-url), or --sandbox FILE; "+
			"with none of them set, the built-in sandbox ./%s.", runErr, left, defaultSandboxDB)}
	case errors.Is(runErr, exporter.ErrInterrupted):
		return &notedError{err: exporter.ErrInterrupted, note: left}
	case o.output == "" || o.output == "-":
		return &notedError{err: runErr, note: "the CSV on stdout is incomplete" + strings.TrimPrefix(left, "nothing was written")}
	default:
		return &notedError{err: runErr, note: left}
	}
}

func (o *exportOptions) validate() (exporter.Options, fs.FileMode, error) {
	opts := exporter.Options{
		Status: exporter.Status(o.status), List: o.list, Emails: o.emails, Detail: exporter.Detail(o.detail), Via: exporter.Via(o.via),
		Workers: o.workers, Raw: o.raw, StatePath: o.statePath, Overlap: o.overlap, Version: version, Rate: o.conn.rate,
	}
	if err := o.conn.validate(); err != nil {
		return opts, 0, err
	}
	switch opts.Status {
	case exporter.StatusAll, exporter.StatusActive, exporter.StatusRemoved, exporter.StatusDoNotMail:
	default:
		return opts, 0, usagef("--status must be all, active, removed or do-not-mail, not %q", o.status)
	}
	switch opts.Detail {
	case exporter.DetailFull, exporter.DetailSummary:
	default:
		return opts, 0, usagef("--detail must be full or summary, not %q", o.detail)
	}
	switch opts.Via {
	case exporter.ViaAuto, exporter.ViaContacts, exporter.ViaActivities:
	default:
		return opts, 0, usagef("--via must be auto, contacts or activities, not %q", o.via)
	}
	if o.workers < 1 {
		return opts, 0, usagef("--workers must be at least 1")
	}
	if o.overlap < 0 {
		return opts, 0, usagef("--overlap cannot be negative")
	}
	if o.since != "" {
		t, err := exporter.ParseTime(o.since)
		if err != nil {
			return opts, 0, usagef("--since: %v", err)
		}
		opts.Since = t
	}
	switch {
	case o.since != "" && o.statePath != "":
		return opts, 0, usagef("--since and --state are exclusive: the state file holds the since time")
	case len(o.emails) > 0 && (o.list != "" || o.since != "" || o.statePath != ""):
		return opts, 0, usagef("--email cannot be combined with --list, --since or --state")
	}
	if o.output != "" && o.output != "-" {
		// Say it of the file asked for, not of the temporary file beside it.
		dir := filepath.Dir(o.output)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return opts, 0, usagef("-o %s: the directory %s does not exist", o.output, dir)
		}
	}
	mode, err := parseFileMode(o.fileMode)
	if err != nil {
		return opts, 0, err
	}
	if err := opts.Validate(); err != nil {
		return opts, 0, usagef("%v", err)
	}
	return opts, mode, nil
}

// parseFileMode reads an octal permission such as 0600, 640 or 0o644.
func parseFileMode(s string) (fs.FileMode, error) {
	v := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0o"), "0O")
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n == 0 || n > 0o777 {
		return 0, usagef("--file-mode must be octal permissions between 0001 and 0777 (such as 0600), not %q", s)
	}
	return fs.FileMode(n), nil
}
