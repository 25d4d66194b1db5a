package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"ctctbulk/sandbox"
)

type sandboxOptions struct {
	addr string
	cfg  sandbox.Options
	seed int
}

func runSandbox(ctx context.Context, s streams, args []string) error {
	var o sandboxOptions
	fs := newFlagSet("sandbox", "[flags]", s)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (loopback unless told otherwise)")
	fs.StringVar(&o.cfg.DB, "db", "ctct-sandbox.db", "SQLite file of the store, or :memory:")
	fs.StringVar(&o.cfg.User, "user", sandbox.DefaultUser, "account login the sandbox accepts")
	fs.StringVar(&o.cfg.APIKey, "api-key", sandbox.DefaultAPIKey, "API key the sandbox accepts")
	fs.StringVar(&o.cfg.Password, "password", sandbox.DefaultPassword, "password the sandbox accepts")
	fs.StringVar(&o.cfg.AccessToken, "access-token", sandbox.DefaultAccessToken, "OAuth2 bearer token the sandbox accepts")
	fs.IntVar(&o.cfg.PageSize, "page-size", sandbox.DefaultPageSize, "entries per page of a feed")
	fs.IntVar(&o.seed, "seed", 0, "create N realistic contacts if the store has none")
	fs.Float64Var(&o.cfg.Rate, "rate", 0, "requests per second allowed (0 = no limit)")
	fs.IntVar(&o.cfg.RateBurst, "rate-burst", 0, "requests allowed at once above the rate (0 = 200ms worth)")
	fs.IntVar(&o.cfg.ThrottleStatus, "throttle-status", sandbox.DefaultThrottleStatus, "status of a throttled answer: 429, 503 or 403")
	fs.DurationVar(&o.cfg.Latency, "latency", 0, "delay added to every request")
	fs.DurationVar(&o.cfg.Jitter, "jitter", 0, "random extra delay, up to this much")
	fs.Float64Var(&o.cfg.FailRate, "fail-rate", 0, "probability of an injected 500/503 before a request does anything")
	fs.Float64Var(&o.cfg.DropRate, "drop-rate", 0, "probability that a write is performed and its connection cut without an answer")
	fs.Uint64Var(&o.cfg.RandSeed, "rand-seed", 0, "seed of the random faults and data (0 = from the clock)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	sb, err := sandbox.New(ctx, o.cfg)
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
