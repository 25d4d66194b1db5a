package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"ctctbulk/sandbox"
)

type sandboxOptions struct {
	addr string
	cfg  sandbox.Options
	seed int
}

func newSandboxCmd(s streams) *cobra.Command {
	o := sandboxOptions{cfg: sandbox.Options{
		User: sandbox.DefaultUser, APIKey: sandbox.DefaultAPIKey, Password: sandbox.DefaultPassword,
		AccessToken: sandbox.DefaultAccessToken, PageSize: sandbox.DefaultPageSize,
		ThrottleStatus: sandbox.DefaultThrottleStatus,
		ActivityDelay:  sandbox.DefaultActivityDelay, ActivityRate: sandbox.DefaultActivityRate,
	}}
	cmd := &cobra.Command{
		Use:   "sandbox [flags]",
		Short: "run the API emulator in the foreground",
		Long: `Sandbox serves a faithful emulator of the contacts API over HTTP on a SQLite
store, with rate limits and fault injection, to rehearse a migration on. GET
/_sandbox/stats counts the requests; POST /_sandbox/reset returns the store to
its first state.`,
		Example: `  ctctbulk sandbox --db :memory: --seed 120
  ctctbulk sandbox --rate 4 --throttle-status 503 --latency 50ms
  ctctbulk sandbox --fail-rate 0.1 --drop-rate 0.02 --addr 127.0.0.1:9090`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSandbox(cmd.Context(), s, &o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`ADDRESS` to listen on (loopback unless told otherwise)")
	fs.StringVar(&o.cfg.DB, "db", "ctct-sandbox.db", "SQLite `FILE` of the store, or :memory:")
	fs.IntVar(&o.seed, "seed", 0, "create `N` realistic contacts if the store has none")
	fs.IntVar(&o.cfg.PageSize, "page-size", o.cfg.PageSize, "entries per page of a feed")
	group(fs, "Store", "addr", "db", "seed", "page-size")
	fs.StringVar(&o.cfg.User, "user", o.cfg.User, "account login the sandbox accepts")
	fs.StringVar(&o.cfg.APIKey, "api-key", o.cfg.APIKey, "API key the sandbox accepts")
	fs.StringVar(&o.cfg.Password, "password", o.cfg.Password, "password the sandbox accepts")
	fs.StringVar(&o.cfg.AccessToken, "access-token", o.cfg.AccessToken, "OAuth2 bearer token the sandbox accepts")
	group(fs, "Credentials", "user", "api-key", "password", "access-token")
	fs.Float64Var(&o.cfg.Rate, "rate", 0, "requests per second allowed (0 = no limit)")
	fs.IntVar(&o.cfg.RateBurst, "rate-burst", 0, "requests allowed at once above the rate (0 = 200ms worth)")
	fs.IntVar(&o.cfg.ThrottleStatus, "throttle-status", sandbox.DefaultThrottleStatus, "status of a throttled answer: 429, 503 or 403")
	fs.DurationVar(&o.cfg.Latency, "latency", 0, "delay added to every request")
	fs.DurationVar(&o.cfg.Jitter, "jitter", 0, "random extra delay, up to this much")
	fs.Float64Var(&o.cfg.FailRate, "fail-rate", 0, "probability of an injected 500/503 before a request does anything")
	fs.Float64Var(&o.cfg.DropRate, "drop-rate", 0, "probability that a write is performed and its connection cut without an answer")
	fs.Uint64Var(&o.cfg.RandSeed, "rand-seed", 0, "seed of the random faults and data (0 = from the clock)")
	fs.DurationVar(&o.cfg.ActivityDelay, "activity-delay", o.cfg.ActivityDelay, "queue time of a bulk activity: how long it stays PENDING before it runs (0 = none)")
	fs.Float64Var(&o.cfg.ActivityRate, "activity-rate", o.cfg.ActivityRate, "rows per second a running bulk activity applies or exports (0 = no limit)")
	group(fs, "Realism", "rate", "rate-burst", "throttle-status", "latency", "jitter", "fail-rate", "drop-rate", "rand-seed", "activity-delay", "activity-rate")
	fs.StringSliceVar(&o.cfg.JobFaults.FailEmails, "job-fail-emails", nil, "an add job holding one of these `EMAILS` ends in ERROR, applying nothing")
	fs.BoolVar(&o.cfg.JobFaults.ErrorAfterApply, "job-error-after-apply", false, "with --job-fail-emails: the job applies its rows, then says ERROR")
	fs.BoolVar(&o.cfg.JobFaults.ErrorsAsCount, "job-errors-as-count", false, "an add job gives its Errors as a count, not one Error per row")
	fs.IntVar(&o.cfg.JobFaults.LineShift, "job-error-line-shift", 0, "add `N` to every Error's LineNumber")
	fs.IntVar(&o.cfg.JobFaults.ShortCount, "job-short-count", 0, "take `N` from every add job's TransactionCount")
	group(fs, "Job faults", "job-fail-emails", "job-error-after-apply", "job-errors-as-count", "job-error-line-shift", "job-short-count")
	return cmd
}

func runSandbox(ctx context.Context, s streams, o *sandboxOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	cfg := o.cfg
	// On the command line 0 means none; in sandbox.Options it means the
	// default, and a negative value none.
	if cfg.ActivityDelay == 0 {
		cfg.ActivityDelay = -1
	}
	if cfg.ActivityRate == 0 {
		cfg.ActivityRate = -1
	}
	sb, err := sandbox.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open sandbox: %w", err)
	}
	defer sb.Close()
	if err := seedIfEmpty(ctx, sb, o.seed, s.stderr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(s.stdout, "ctctbulk sandbox listening on %s (store %s)\n", base, o.cfg.DB)
	fmt.Fprintf(s.stdout, "  account:      %s\n", o.cfg.User)
	fmt.Fprintf(s.stdout, "  basic auth:   %s%%%s : %s\n", o.cfg.APIKey, o.cfg.User, o.cfg.Password)
	fmt.Fprintf(s.stdout, "  bearer token: %s\n", o.cfg.AccessToken)
	fmt.Fprintf(s.stdout, "  contacts:     %s/ws/customers/%s/contacts\n", base, o.cfg.User)
	fmt.Fprintf(s.stdout, "  activities:   %s/ws/customers/%s/activities (queue %v, %g rows/s)\n", base, o.cfg.User, o.cfg.ActivityDelay, o.cfg.ActivityRate)
	fmt.Fprintf(s.stdout, "  stats:        %s/_sandbox/stats\n", base)
	fmt.Fprintf(s.stdout, "  use it:       CTCT_BASE_URL=%s CTCT_USERNAME=%s CTCT_API_KEY=%s CTCT_PASSWORD=%s ctctbulk lists\n",
		base, o.cfg.User, o.cfg.APIKey, o.cfg.Password)
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down: %w", err)
	}
	fmt.Fprintln(s.stderr, "ctctbulk sandbox: stopped")
	return nil
}

func (o *sandboxOptions) validate() error {
	switch o.cfg.ThrottleStatus {
	case 429, 503, 403:
	default:
		return usagef("--throttle-status must be 429, 503 or 403, not %d", o.cfg.ThrottleStatus)
	}
	for name, p := range map[string]float64{"--fail-rate": o.cfg.FailRate, "--drop-rate": o.cfg.DropRate} {
		if p < 0 || p > 1 {
			return usagef("%s must be between 0 and 1, not %g", name, p)
		}
	}
	if o.cfg.ActivityDelay < 0 || o.cfg.ActivityRate < 0 {
		return usagef("--activity-delay and --activity-rate cannot be negative")
	}
	if o.cfg.Rate < 0 || o.cfg.Latency < 0 || o.cfg.Jitter < 0 || o.seed < 0 || o.cfg.PageSize < 1 {
		return usagef("--rate, --latency, --jitter and --seed cannot be negative, and --page-size must be at least 1")
	}
	if o.cfg.User == "" || o.cfg.APIKey == "" || o.cfg.Password == "" {
		return usagef("--user, --api-key and --password cannot be empty")
	}
	return nil
}

// seedIfEmpty adds n realistic contacts when the store has none, so that
// restarting a sandbox on its file keeps what a rehearsal put there.
func seedIfEmpty(ctx context.Context, sb *sandbox.Sandbox, n int, stderr io.Writer) error {
	if n <= 0 {
		return nil
	}
	have, err := sb.ContactCount(ctx)
	if err != nil {
		return err
	}
	if have > 0 {
		fmt.Fprintf(stderr, "ctctbulk sandbox: the store holds %d contacts already: --seed ignored\n", have)
		return nil
	}
	if err := sb.Seed(ctx, n); err != nil {
		return fmt.Errorf("seed sandbox: %w", err)
	}
	return nil
}
