package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"
	"golang.org/x/text/encoding/charmap"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/importer"
	"ctctbulk/mapping"
	"ctctbulk/progress"
)

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type importOptions struct {
	conn        connOptions
	file        string
	mapFile     string
	cols        multiFlag
	lists       multiFlag
	mode        string
	optIn       string
	empty       string
	errorsPath  string
	journalPath string
	resume      bool
	recheck     bool
	optOuts     string
	dryRun      bool
	maxRequests int64
	logEvery    time.Duration
	summaryJSON string
	workers     int
	delimiter   string
	encoding    string
}

func runImport(ctx context.Context, s streams, args []string) error {
	var o importOptions
	fs := newFlagSet("import", "[flags] FILE   (FILE may be - for stdin)", s)
	o.conn.register(fs, s)
	fs.StringVar(&o.mapFile, "map", "", "mapping file: one `CSV header = Field` per line, # comments, `Header = -` ignores")
	fs.Var(&o.cols, "col", "map a column: 'Header=Field' (repeatable)")
	fs.Var(&o.lists, "list", "list id or exact name to add every contact to (repeatable)")
	fs.StringVar(&o.mode, "mode", "upsert", "upsert, create (new contacts only) or update (existing only)")
	fs.StringVar(&o.optIn, "opt-in-source", ctct.ActionByCustomer, "ACTION_BY_CUSTOMER or ACTION_BY_CONTACT")
	fs.StringVar(&o.empty, "empty", "keep", "an empty cell: keep the existing value, or clear it")
	fs.StringVar(&o.errorsPath, "errors", "", "error report (default FILE.errors.csv)")
	fs.StringVar(&o.journalPath, "journal", "", "journal of finished rows (default FILE.journal)")
	fs.BoolVar(&o.resume, "resume", false, "continue an interrupted run from its journal (refused when the input's finished rows changed)")
	fs.BoolVar(&o.recheck, "recheck", false, "with --resume: start the journal over and check every row against the account again (none is created twice)")
	fs.StringVar(&o.optOuts, "opt-outs", "carry", "a row whose Status is Do Not Mail: carry (opt the contact out, creating it if new) or skip (report it); such a row never makes a contact Active. A row whose Status is Removed is always skipped: importing it would subscribe it")
	fs.BoolVar(&o.dryRun, "dry-run", false, "read, map and validate every row; send nothing; print the request plan")
	fs.Int64Var(&o.maxRequests, "max-requests", 0, "stop cleanly before sending more requests than this (exit 4; --resume continues)")
	fs.DurationVar(&o.logEvery, "log-every", 30*time.Second, "interval of the progress lines when stderr is not a terminal")
	fs.StringVar(&o.summaryJSON, "summary-json", "", "also write the summary as JSON to this file")
	fs.IntVar(&o.workers, "workers", 4, "rows processed at once")
	fs.StringVar(&o.delimiter, "delimiter", "", "field delimiter: , ; or tab (default: sniffed)")
	fs.StringVar(&o.encoding, "encoding", "utf-8", "input encoding: utf-8, windows-1252 or latin1")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("import needs exactly one FILE (or - for stdin)")
	}
	o.file = fs.Arg(0)
	opts, err := o.validate()
	if err != nil {
		return err
	}

	in, err := openInput(o.file, s.stdin)
	if err != nil {
		return err
	}
	defer in.Close()

	// A dry run sends nothing, so it needs no client.
	var client importer.Client
	if !o.dryRun {
		o.conn.maxRequests = o.maxRequests
		conn, err := o.conn.connect(ctx, s)
		if err != nil {
			return err
		}
		defer conn.close()
		client = conn.client
		opts.Target = conn.target
	}
	opts.Warnf = func(format string, args ...any) { fmt.Fprintf(s.stderr, "warning: "+format+"\n", args...) }
	im, err := importer.New(client, opts)
	if err != nil {
		return usagef("%v", err)
	}
	rep := progress.Start(s.stderr, progress.Options{Terminal: isTerminal(s.stderr), Every: o.logEvery, Label: "import"},
		func() progress.Status {
			done, text := im.Progress()
			return progress.Status{Done: done, Text: text}
		})
	sum, runErr := im.Run(ctx, in)
	rep.Stop()
	if sum != nil {
		if err := sum.WriteText(s.stdout); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
		if o.dryRun && o.maxRequests > 0 && sum.PlannedRequests > o.maxRequests {
			fmt.Fprintf(s.stderr, "note: the plan (%d requests) exceeds --max-requests %d: the run would stop at the budget and need --resume\n", sum.PlannedRequests, o.maxRequests)
		}
		if o.summaryJSON != "" {
			if err := writeJSONFile(o.summaryJSON, sum.WriteJSON); err != nil {
				return err
			}
		}
	}
	return importExit(runErr, sum, o)
}

// importExit maps the run's outcome to the exit code, with a message that
// says what to do next.
func importExit(runErr error, sum *importer.Summary, o importOptions) error {
	var mapErr *importer.MappingError
	var refused *importer.RefusedError
	switch {
	case errors.As(runErr, &mapErr), errors.As(runErr, &refused):
		return &usageError{msg: runErr.Error()}
	case errors.Is(runErr, importer.ErrInterrupted):
		return &exitStatus{code: exitInterrupted, err: fmt.Errorf("interrupted: the journal %s is kept; run again with --resume to continue", o.journalPath)}
	case errors.Is(runErr, ctct.ErrBudgetExhausted):
		return &exitStatus{code: exitBudget, err: fmt.Errorf("stopped at the request budget (--max-requests %d): run again with --resume to continue", o.maxRequests)}
	case runErr != nil:
		if sum != nil && !o.dryRun {
			return fmt.Errorf("%w (the journal %s is kept: --resume continues)", runErr, o.journalPath)
		}
		return runErr
	case sum != nil && sum.AllFailed() > 0:
		return &exitStatus{code: exitRowsFailed, err: fmt.Errorf("%d rows failed: see %s", sum.AllFailed(), o.errorsPath)}
	}
	return nil
}

func (o *importOptions) validate() (importer.Options, error) {
	opts := importer.Options{
		Mode: importer.Mode(o.mode), OptInSource: o.optIn, Workers: o.workers, Lists: o.lists, Retries: o.conn.retries,
		DryRun: o.dryRun, Resume: o.resume, Recheck: o.recheck, OptOuts: importer.OptOutPolicy(o.optOuts),
		Reader: importer.ReaderOptions{Encoding: o.encoding},
	}
	if err := o.conn.validate(); err != nil {
		return opts, err
	}
	switch o.empty {
	case "keep":
		opts.Empty = mapping.EmptyKeep
	case "clear":
		opts.Empty = mapping.EmptyClear
	default:
		return opts, usagef("--empty must be keep or clear, not %q", o.empty)
	}
	switch opts.OptOuts {
	case importer.OptOutsCarry, importer.OptOutsSkip:
	default:
		return opts, usagef("--opt-outs must be carry or skip, not %q", o.optOuts)
	}
	if o.recheck && !o.resume {
		return opts, usagef("--recheck goes with --resume")
	}
	switch importer.Mode(o.mode) {
	case importer.ModeUpsert, importer.ModeCreate, importer.ModeUpdate:
	default:
		return opts, usagef("--mode must be upsert, create or update, not %q", o.mode)
	}
	if err := ctct.CheckOptSource(o.optIn); err != nil {
		return opts, usagef("--opt-in-source: %v", err)
	}
	if o.workers < 1 {
		return opts, usagef("--workers must be at least 1")
	}
	if o.maxRequests < 0 {
		return opts, usagef("--max-requests cannot be negative")
	}
	switch strings.ToLower(o.encoding) {
	case "utf-8", "utf8":
	case "windows-1252", "cp1252":
		opts.Encoder = charmap.Windows1252.NewEncoder()
	case "latin1", "iso-8859-1":
		opts.Encoder = charmap.ISO8859_1.NewEncoder()
	default:
		return opts, usagef("--encoding must be utf-8, windows-1252 or latin1, not %q", o.encoding)
	}
	switch o.delimiter {
	case "":
	case ",", ";":
		opts.Reader.Delimiter = rune(o.delimiter[0])
	case "tab", "\\t", "\t":
		opts.Reader.Delimiter = '\t'
	default:
		return opts, usagef("--delimiter must be , ; or tab, not %q", o.delimiter)
	}
	if o.mapFile != "" {
		b, err := os.ReadFile(o.mapFile)
		if err != nil {
			return opts, usagef("--map: %v", err)
		}
		m, err := mapping.ParseMapFile(string(b))
		if err != nil {
			return opts, usagef("--map %s: %v", o.mapFile, err)
		}
		opts.Mapping.MapFile = m
	}
	opts.Mapping.Cols = o.cols
	base := o.file
	if base == "-" {
		base = "stdin"
	}
	switch {
	case o.errorsPath == "" && o.dryRun:
		o.errorsPath = base + ".dry-run.errors.csv"
	case o.errorsPath == "":
		o.errorsPath = base + ".errors.csv"
	case o.dryRun:
		o.errorsPath = dryRunReportPath(o.errorsPath)
	}
	if o.journalPath == "" {
		o.journalPath = base + ".journal"
	}
	opts.ReportPath, opts.JournalPath = o.errorsPath, o.journalPath
	return opts, nil
}

// dryRunReportPath is where a dry run writes the report a real run would
// write to path, so that a dry run never replaces a real run's report:
// x.errors.csv gives x.dry-run.errors.csv, x.csv x.dry-run.csv.
func dryRunReportPath(path string) string {
	dir, name := filepath.Split(path)
	if stem, ok := strings.CutSuffix(name, ".errors.csv"); ok {
		return dir + stem + ".dry-run.errors.csv"
	}
	ext := filepath.Ext(name)
	return dir + strings.TrimSuffix(name, ext) + ".dry-run" + ext
}

// openInput opens FILE, or stdin for "-".
func openInput(name string, stdin io.Reader) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(stdin), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	return f, nil
}

// isTerminal reports whether w is a terminal (for the progress bar).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeJSONFile writes a JSON document to path atomically (mode 0600).
func writeJSONFile(path string, write func(io.Writer) error) error {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := exporter.WriteFileAtomic(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
