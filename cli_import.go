package main

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"golang.org/x/text/encoding/charmap"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/importer"
	"ctctbulk/mapping"
	"ctctbulk/progress"
	"ctctbulk/quota"
)

// multiFlag is a repeatable string flag; it never splits a value on commas.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
func (m *multiFlag) Type() string       { return "strings" }

type importOptions struct {
	conn        connOptions
	file        string
	mapFile     string
	cols        multiFlag
	lists       multiFlag
	createLists bool
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
	grace       time.Duration
	logEvery    time.Duration
	summaryJSON string
	workers     int
	delimiter   string
	encoding    string
	via         string
	from        string
	truncate    bool
	superseded  bool
	bulkRows    int
	verify      bool
	pollFirst   time.Duration
	report      runReport
}

func newImportCmd(s streams) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import [flags] FILE",
		Short: "put the rows of a CSV file into the account (FILE, or - for stdin)",
		Long: `Import creates and updates contacts from the rows of a CSV file (or of the
CSV files of a ZIP, such as Mailchimp's audience export), only where a value
differs. Exports of Mailchimp, HubSpot and Salesforce are recognised by their
header; a row that says its person opted out, bounced or was cleaned is
carried over as Do Not Mail, never made Active. Through the contacts
collection (--via contacts) emails are looked up 50 per request and each row
written takes a request or two; through bulk activities (--via activities)
the account is exported to plan, new and changed rows go in jobs of up to
20,000 rows, and an export checks them after. --via auto (the default) takes
activities from 25 rows to send, the API's rule. Rows that fail go to
FILE.errors.csv; FILE.journal is the run's store of every row, so that after
Ctrl-C, a crash, --max-requests or the key's --daily-quota a run started
again with --resume continues where it stopped.`,
		Example: `  ctctbulk import --list 1 --list Customers contacts.csv
  ctctbulk import --list Newsletter --truncate audience_export.zip
  ctctbulk import --dry-run --daily-quota 10000 big.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("import needs exactly one FILE (or - for stdin)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			o.report.begin(cmd, args, &o.conn)
			return runImport(cmd.Context(), s, &o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.delimiter, "delimiter", "", "field delimiter: , ; or tab (default: sniffed)")
	fs.StringVar(&o.encoding, "encoding", "utf-8", "`ENCODING` of the input: utf-8, windows-1252 or latin1")
	group(fs, "Input", "delimiter", "encoding")
	fs.StringVar(&o.mapFile, "map", "", "mapping `FILE`: one \"CSV header = Field\" per line, # comments, \"Header = -\" ignores a column")
	fs.Var(&o.cols, "col", "map a column: `HEADER=FIELD` (repeatable)")
	fs.StringVar(&o.empty, "empty", "keep", "`keep|clear`: an empty cell keeps the existing value, or clears it")
	fs.StringVar(&o.optIn, "opt-in-source", ctct.ActionByCustomer, "`SOURCE` of the opt-in: ACTION_BY_CUSTOMER or ACTION_BY_CONTACT")
	fs.StringVar(&o.from, "from", mapping.FromAuto, "`SYSTEM` the file comes from, for its column names and opt-out columns: "+strings.Join(mapping.SourceNames(), ", ")+", auto (recognised from the header) or none")
	fs.BoolVar(&o.truncate, "truncate", false, "cut a text value over its field's limit to the limit (the report's _cut column says which) rather than fail the row")
	fs.BoolVar(&o.superseded, "import-superseded", false, "import an error report's rows whose email a later row of the original file set (its _superseded_by column), which are skipped otherwise")
	group(fs, "Mapping", "map", "col", "empty", "opt-in-source", "from", "truncate", "import-superseded")
	fs.StringVar(&o.optOuts, "opt-outs", "carry", "`carry|skip`: a row that says its person opted out, bounced or was cleaned (a Status word, an opt-out column, a Mailchimp unsubscribed or cleaned file): carry (opt the contact out, creating it if new) or skip (report it); such a row never makes a contact Active. A row whose Status is Removed is always skipped: importing it would subscribe it")
	group(fs, "Mapping", "opt-outs")
	fs.Var(&o.lists, "list", "add every contact to the list `ID|NAME` (repeatable)")
	fs.BoolVar(&o.createLists, "create-lists", false, "create, before the first row, each list that --list or a ContactLists cell names and the account lacks (otherwise an unknown list is an error)")
	group(fs, "Lists", "list", "create-lists")
	fs.StringVar(&o.via, "via", "auto", "`auto|contacts|activities`: the contacts collection (a request per row written), or bulk jobs (a few requests per 20,000 rows, planned against an export of the account and verified by another); auto takes activities when 25 or more rows are to be sent, the API's rule")
	fs.IntVar(&o.bulkRows, "bulk-rows", importer.DefaultBulkRows, "most rows of one bulk job (1 to 20000)")
	fs.BoolVar(&o.verify, "verify", true, "after the bulk jobs, export the account once more and check that every row sent is there as sent")
	fs.DurationVar(&o.pollFirst, "poll-first", importer.DefaultPollFirst, "first wait between the polls of a bulk job")
	_ = fs.MarkHidden("poll-first")
	group(fs, "Bulk", "via", "bulk-rows", "verify")
	fs.StringVar(&o.mode, "mode", "upsert", "`MODE`: upsert, create (new contacts only) or update (existing ones only)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "read, map and validate every row; send nothing; print the request plan and its time")
	fs.StringVar(&o.errorsPath, "errors", "", "error report `FILE` (default FILE.errors.csv)")
	fs.StringVar(&o.journalPath, "journal", "", "journal `FILE` of finished rows (default FILE.journal)")
	fs.BoolVar(&o.resume, "resume", false, "continue an interrupted run from its journal (refused when the input's finished rows changed)")
	fs.BoolVar(&o.recheck, "recheck", false, "with --resume: start the journal over and check every row against the account again (none is created twice)")
	fs.Int64Var(&o.maxRequests, "max-requests", 0, "stop cleanly before sending more than `N` requests (exit 4; --resume continues)")
	fs.IntVar(&o.workers, "workers", 4, "rows processed at once")
	fs.DurationVar(&o.grace, "grace", 30*time.Second, "after Ctrl-C, how long the rows in flight may take to finish")
	fs.DurationVar(&o.logEvery, "log-every", 30*time.Second, "interval of the progress lines when stderr is not a terminal")
	fs.StringVar(&o.summaryJSON, "summary-json", "", "also write the summary as JSON to this `FILE`")
	group(fs, "Run control", "mode", "dry-run", "errors", "journal", "resume", "recheck", "max-requests", "workers", "grace", "log-every", "summary-json")
	o.report.register(fs, "Run control", "FILE.report.html, beside the error report; a dry run writes none")
	o.conn.register(fs)
	return cmd
}

func runImport(ctx context.Context, s streams, o *importOptions) (err error) {
	o.conn.fromEnv(s)
	o.conn.kind = "import"
	opts, err := o.validate()
	if err != nil {
		return err
	}

	in, err := openInput(o.file, s.stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	var members []importer.Input
	if in.zip != nil {
		if o.dryRun {
			return usagef("--dry-run reads one CSV file: run it on each member of %s", o.file)
		}
		if members, err = zipInputs(in.zip); err != nil {
			return err
		}
	}

	// A dry run writes nothing; it reads the account (its lists, the rows'
	// emails) when one is configured, and plans offline otherwise rather
	// than fall back to the built-in sandbox.
	var client importer.Client
	var requests func() int64
	var conn *connection
	if !o.dryRun || o.conn.configured(s) {
		o.conn.maxRequests = o.maxRequests
		if conn, err = o.conn.connect(ctx, s); err != nil {
			return err
		}
		defer func() { err = conn.done(err) }()
		client = conn.client
		opts.Target = conn.target
		base := conn.client.Counters().Requests
		requests = func() int64 { return conn.client.Counters().Requests - base }
	}
	opts.Warnf = func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		o.report.warn(msg)
		s.notes.printf("warning: %s", msg)
	}
	opts.Notef = s.notes.printf
	opts.InputSize = in.size
	im, err := importer.New(client, opts)
	if err != nil {
		return usagef("%v", err)
	}
	rep := progress.Start(s.stderr, progress.Options{Terminal: isTerminal(s.stderr), Every: o.logEvery, Label: "import", Unit: "rows"},
		func() progress.Status {
			// The bar measures the run's work (each row read, decided,
			// sent, its job ended, finished), not the bytes read.
			done, text := im.Progress()
			work, total := im.Work(in.size)
			st := progress.Status{Done: work, Total: total, Rows: done, Text: text}
			if requests != nil {
				st.Requests = requests()
			}
			return st
		})
	s.notes.show(rep)
	// The first signal: say what the run waits for; a second one quits.
	stopNote := context.AfterFunc(ctx, func() {
		s.notes.printf("stopping: waiting for %d requests in flight (Ctrl-C again to quit now)", im.InFlight())
	})
	var sum *importer.Summary
	var runErr error
	if members != nil {
		sum, runErr = im.RunInputs(ctx, members)
	} else {
		sum, runErr = im.Run(ctx, in)
	}
	stopNote()
	s.notes.hide()
	rep.Stop()
	if sum != nil {
		if o.dryRun {
			limit, spent := o.dryRunQuota(ctx, s, conn)
			sum.Plan(o.conn.rate, limit, spent)
		}
		if err := sum.WriteText(s.stdout); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
		if o.dryRun && o.maxRequests > 0 && sum.PlannedRequests > o.maxRequests {
			fmt.Fprintf(s.stderr, "note: the plan (%d requests) exceeds --max-requests %d: the run would stop at the budget and need --resume\n", sum.PlannedRequests, o.maxRequests)
		}
		if page := o.report.path(o.errorsPath); page != "" && !o.dryRun {
			if err := writeReport(page, importReport(&o.report, o, sum, page, time.Now())); err != nil {
				return err
			}
			sum.RunReport = page
			fmt.Fprintf(s.stdout, "run report: %s\n", page)
		}
		if o.summaryJSON != "" {
			if err := writeJSONFile(o.summaryJSON, sum.WriteJSON); err != nil {
				return err
			}
		}
	}
	var refused *quota.ExhaustedError
	if conn != nil {
		refused = conn.refusal(runErr)
	}
	return importExit(runErr, sum, o, refused)
}

// dryRunQuota is the daily quota a dry run plans for and today's requests
// on the key, every run's, this one's included (0 without a ledger): the
// key's quota when connected, else --daily-quota.
func (o *importOptions) dryRunQuota(ctx context.Context, s streams, conn *connection) (limit, spent int64) {
	if conn == nil || conn.quota == nil {
		return o.conn.dailyQuota.n, 0
	}
	if err := conn.quota.Close(context.WithoutCancel(ctx)); err != nil {
		s.notes.printf("warning: %v", err)
	}
	today, err := conn.quota.Today(context.WithoutCancel(ctx))
	if err != nil {
		s.notes.printf("warning: today's requests on the key are not known: %v", err)
	}
	return conn.quota.Quota(), today.Requests
}

// importExit says what the run's outcome means for the user: the typed
// errors that exitCode maps, with what to do next.
func importExit(runErr error, sum *importer.Summary, o *importOptions, refused *quota.ExhaustedError) error {
	switch {
	case errors.Is(runErr, importer.ErrInterrupted):
		return fmt.Errorf("%w: the journal %s is kept; run again with --resume to continue", runErr, o.journalPath)
	case refused != nil:
		return fmt.Errorf("stopped at the daily quota: %w; the journal %s is kept: run again with --resume then to continue", refused, o.journalPath)
	case errors.Is(runErr, ctct.ErrBudgetExhausted):
		return fmt.Errorf("stopped at the request budget (--max-requests %d): run again with --resume to continue: %w", o.maxRequests, ctct.ErrBudgetExhausted)
	case runErr != nil:
		if sum != nil && !o.dryRun && exitCode(runErr) != exitUsage {
			return &notedError{err: runErr, note: fmt.Sprintf("the journal %s is kept: --resume continues", o.journalPath)}
		}
		return runErr
	case sum != nil && sum.AllFailed()+sum.PlanFailRows > 0:
		report := o.errorsPath
		if len(sum.Reports) > 1 {
			report = "the error reports above"
		} else if len(sum.Reports) == 1 {
			report = sum.Reports[0].Path
		}
		return &rowsFailedError{n: sum.AllFailed(), report: report, willFail: sum.PlanFailRows, atMost: sum.PlanFailAtMost, why: sum.PlanFailReason()}
	}
	return nil
}

func (o *importOptions) validate() (importer.Options, error) {
	opts := importer.Options{
		Mode: importer.Mode(o.mode), OptInSource: o.optIn, Workers: o.workers, Lists: o.lists, Retries: o.conn.retries, Grace: o.grace,
		DryRun: o.dryRun, Resume: o.resume, Recheck: o.recheck, CreateLists: o.createLists, OptOuts: importer.OptOutPolicy(o.optOuts),
		ImportSuperseded: o.superseded, Rate: o.conn.rate,
		Reader: importer.ReaderOptions{Encoding: o.encoding},
		Via:    importer.Via(o.via), BulkRows: o.bulkRows, NoVerify: !o.verify, PollFirst: o.pollFirst,
	}
	switch opts.Via {
	case importer.ViaAuto, importer.ViaContacts, importer.ViaActivities:
	default:
		return opts, usagef("--via must be auto, contacts or activities, not %q", o.via)
	}
	if o.bulkRows < 1 || o.bulkRows > ctct.MaxActivityRows {
		return opts, usagef("--bulk-rows must be between 1 and %d", ctct.MaxActivityRows)
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
	if o.grace <= 0 {
		return opts, usagef("--grace must be positive")
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
	switch from := strings.ToLower(o.from); {
	case from == mapping.FromAuto || from == mapping.FromNone:
	default:
		if _, ok := mapping.LookupSource(from); !ok {
			return opts, usagef("--from must be %s, auto or none, not %q", strings.Join(mapping.SourceNames(), ", "), o.from)
		}
	}
	opts.Mapping.From, opts.Mapping.Truncate, opts.Mapping.FileName = o.from, o.truncate, o.file
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

// input is the file being imported and its size, for the progress
// display (0 when unknown: stdin, a pipe). A ZIP archive (Mailchimp's
// audience export) is opened as such: its CSV members are the run's
// inputs.
type input struct {
	io.Reader
	close func() error
	size  int64
	zip   *zip.Reader
}

// Seek seeks the file, when it can (the importer reads a resumed input
// twice); stdin from a pipe cannot.
func (in *input) Seek(offset int64, whence int) (int64, error) {
	sk, ok := in.Reader.(io.Seeker)
	if !ok {
		return 0, errors.New("the input cannot seek")
	}
	return sk.Seek(offset, whence)
}

// Close closes the file.
func (in *input) Close() error { return in.close() }

// openInput opens FILE, or stdin for "-".
func openInput(name string, stdin io.Reader) (*input, error) {
	if name == "-" {
		return &input{Reader: stdin, close: func() error { return nil }}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	in := &input{Reader: f, close: f.Close}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		in.size = st.Size()
		if zr, err := zip.NewReader(f, st.Size()); err == nil {
			in.zip = zr
			in.size = 0
			for _, m := range zr.File {
				in.size += int64(m.UncompressedSize64)
			}
		} else if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("open input: %w", err)
		}
	}
	return in, nil
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

// zipInputs returns the CSV members of a ZIP archive as the inputs of one
// run, in the order that keeps opt-outs last: Mailchimp's subscribed
// members, then its unsubscribed and cleaned ones (so that an address in
// two of them ends opted out), then any other CSV, by name.
func zipInputs(zr *zip.Reader) ([]importer.Input, error) {
	var files []*zip.File
	for _, f := range zr.File {
		name := strings.ToLower(path.Base(f.Name))
		if f.FileInfo().IsDir() || strings.HasPrefix(name, ".") || strings.HasPrefix(f.Name, "__MACOSX/") {
			continue
		}
		if strings.HasSuffix(name, ".csv") || strings.HasSuffix(name, ".txt") {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, usagef("the ZIP archive holds no CSV file")
	}
	rank := func(f *zip.File) int {
		name := strings.ToLower(path.Base(f.Name))
		switch {
		case strings.HasPrefix(name, "subscribed"):
			return 0
		case strings.HasPrefix(name, "unsubscribed"):
			return 2
		case strings.HasPrefix(name, "cleaned"):
			return 3
		}
		return 1
	}
	slices.SortStableFunc(files, func(a, b *zip.File) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	inputs := make([]importer.Input, len(files))
	for i, f := range files {
		inputs[i] = importer.Input{Name: path.Base(f.Name), Open: f.Open}
	}
	return inputs, nil
}
