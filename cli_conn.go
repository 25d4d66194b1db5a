package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/time/rate"

	"ctctbulk/ctct"
	"ctctbulk/quota"
	"ctctbulk/sandbox"
)

// defaultSandboxDB is the store used when no account is configured at all.
const defaultSandboxDB = "ctct-sandbox.db"

// connOptions are the connection flags shared by import, export and lists.
type connOptions struct {
	baseURL      string
	user         string
	passwordFile string
	sandboxDB    string
	rate         float64
	burst        int
	retries      int
	timeout      time.Duration
	maxRequests  int64 // 0 = no budget; set by import's --max-requests
	dailyQuota   quotaFlag
	quotaTZ      string
	zone         *time.Location // of quotaTZ, set by validate
	kind         string         // of the run, under which the quota ledger counts it
	// observe is told of every request, for the run report; nil for none.
	observe func(ctct.Attempt)
}

// register adds the connection flags to fs, in the Connection group. The
// environment's values are read by fromEnv after parsing, so that help
// shows one default.
func (o *connOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.baseURL, "base-url", "", "API base `URL` (default $CTCT_BASE_URL, else https://api.constantcontact.com)")
	fs.StringVar(&o.user, "user", "", "account login `NAME` (default $CTCT_USERNAME)")
	fs.StringVar(&o.passwordFile, "password-file", "", "`FILE` holding the account password (instead of $CTCT_PASSWORD)")
	fs.StringVar(&o.sandboxDB, "sandbox", "", "use an in-process sandbox on this SQLite `FILE` instead of an account")
	fs.Float64Var(&o.rate, "rate", 4, "requests per second for all calls")
	fs.IntVar(&o.burst, "burst", 1, "requests allowed at once above the rate")
	fs.IntVar(&o.retries, "retries", 6, "retries of a failed request")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of one request")
	group(fs, "Connection", "base-url", "user", "password-file", "sandbox", "rate", "burst", "retries", "timeout")
	fs.Var(&o.dailyQuota, "daily-quota", "requests a day on the key, all runs together (every process, every command): a run stops at it with exit 4 "+
		"(default 10000 for an account, 0 = no limit for a sandbox: --sandbox or a loopback --base-url)")
	fs.StringVar(&o.quotaTZ, "quota-day-tz", "UTC", "time `ZONE` where the quota day starts (UTC, Local, America/New_York...)")
	group(fs, "Quota", "daily-quota", "quota-day-tz")
}

// fromEnv fills the settings that no flag gave from the environment.
func (o *connOptions) fromEnv(s streams) {
	if o.baseURL == "" {
		o.baseURL = s.getenv("CTCT_BASE_URL")
	}
	if o.user == "" {
		o.user = s.getenv("CTCT_USERNAME")
	}
}

func (o *connOptions) validate() error {
	if o.rate <= 0 {
		return usagef("--rate must be positive, not %g", o.rate)
	}
	if o.burst < 1 {
		return usagef("--burst must be at least 1")
	}
	if o.retries < 0 {
		return usagef("--retries cannot be negative")
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	if o.dailyQuota.n < 0 {
		return usagef("--daily-quota cannot be negative (0 is no limit)")
	}
	zone, err := loadZone(o.quotaTZ)
	if err != nil {
		return err
	}
	o.zone = zone
	if o.baseURL != "" {
		u, err := url.Parse(o.baseURL)
		switch {
		case !strings.Contains(o.baseURL, "://"):
			return usagef("--base-url needs a scheme: https://%s", strings.TrimPrefix(o.baseURL, "//"))
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			return usagef("--base-url %q is not a web address: give one such as https://api.constantcontact.com", o.baseURL)
		}
	}
	return nil
}

// connection is an API client and whatever must be closed after it.
type connection struct {
	client *ctct.Client
	// sandbox is the in-process sandbox when one is used, else nil.
	sandbox *sandbox.Sandbox
	// target names what the client talks to, for summaries and for the
	// files that must never be applied to another account (journal, state,
	// manifest): "sandbox FILE" with FILE absolute, or "URL account USER".
	target string
	// credentials says where the secret came from, for the message of a
	// rejection: "CTCT_PASSWORD", "--password-file FILE", "CTCT_ACCESS_TOKEN".
	credentials string
	// quota is the daily quota's meter of the key, nil when none is kept.
	quota *quota.Meter
	// fresh is set when the run created the sandbox's file: a run that is
	// refused removes it again (see done).
	fresh  bool
	db     string
	closer func()
}

// close ends the connection.
func (c *connection) close() { c.closer() }

// done ends the connection after a command that returned err: a rejection
// of the credentials says which to check, and a run refused before it did
// anything (exit 2) leaves no sandbox file it created behind (a cron job
// that lost its variables must not leave ./ctct-sandbox.db in its folder).
func (c *connection) done(err error) error {
	c.closer()
	if c.fresh && exitCode(err) == exitUsage {
		for _, p := range []string{c.db, c.db + "-wal", c.db + "-shm"} {
			os.Remove(p)
		}
	}
	if errors.Is(err, ctct.ErrUnauthorized) && c.credentials != "" {
		return &authError{err: err, credentials: c.credentials}
	}
	return err
}

// authError is a rejection of the credentials, naming where they came
// from.
type authError struct {
	err         error
	credentials string
}

func (e *authError) Error() string {
	return "the account rejected the credentials: check CTCT_USERNAME, " + e.credentials
}
func (e *authError) Unwrap() error { return e.err }

// accountTarget names an account of a server, as connection.target does.
func accountTarget(baseURL, user string) string {
	return strings.TrimRight(baseURL, "/") + " account " + user
}

// sandboxTarget names an in-process sandbox by its file, made absolute so
// that a run from another directory is seen to be another target.
func sandboxTarget(db string) string {
	if db == ":memory:" {
		return "sandbox :memory:"
	}
	if abs, err := filepath.Abs(db); err == nil {
		db = abs
	}
	return "sandbox " + db
}

// configured reports whether the flags or the environment name an account
// or a sandbox file (connect falls back to the built-in sandbox when not).
func (o *connOptions) configured(s streams) bool {
	return o.sandboxDB != "" || o.user != "" || o.baseURL != "" ||
		s.getenv("CTCT_API_KEY") != "" || s.getenv("CTCT_PASSWORD") != "" || s.getenv("CTCT_ACCESS_TOKEN") != ""
}

// connect builds the API client from the flags and the environment. With
// --sandbox, or with no account configured at all, it starts an in-process
// sandbox on loopback and says so on stderr. Secrets come only from the
// environment or --password-file and are never printed.
func (o *connOptions) connect(ctx context.Context, s streams) (*connection, error) {
	apiKey, password, token := s.getenv("CTCT_API_KEY"), s.getenv("CTCT_PASSWORD"), s.getenv("CTCT_ACCESS_TOKEN")
	credentials := "CTCT_API_KEY and CTCT_PASSWORD"
	if o.passwordFile != "" {
		credentials = "CTCT_API_KEY and the password in --password-file " + o.passwordFile
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return nil, usagef("--password-file: %v", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	configured := o.user != "" || apiKey != "" || password != "" || token != "" || o.baseURL != ""
	if o.sandboxDB == "" && !configured {
		o.sandboxDB = defaultSandboxDB
		fmt.Fprintf(s.stderr, "ctctbulk: no account configured (CTCT_USERNAME, CTCT_API_KEY...): using the built-in sandbox in ./%s\n", defaultSandboxDB)
	}
	if o.sandboxDB != "" {
		return o.connectSandbox(ctx, s)
	}
	opts := o.clientOptions(s)
	switch {
	case o.user == "":
		return nil, usagef("no account name: set CTCT_USERNAME or --user (or use --sandbox FILE)")
	case token != "":
		opts.Token = token
		credentials = "CTCT_ACCESS_TOKEN"
	case apiKey != "" && password != "":
		opts.APIKey, opts.Password = apiKey, password
	case apiKey != "":
		return nil, usagef("CTCT_API_KEY is set but no password: set CTCT_PASSWORD or --password-file")
	default:
		return nil, usagef("account %q has no credentials: set CTCT_API_KEY and CTCT_PASSWORD, or CTCT_ACCESS_TOKEN", o.user)
	}
	base := o.baseURL
	if base == "" {
		base = "https://api.constantcontact.com"
	}
	target := accountTarget(base, o.user)
	// A token's key is not known, and a refreshed token is the same key:
	// such runs count on the account's ledger without a key digest.
	meter, err := o.openQuota(s, quota.Key{Target: target, Digest: quota.KeyDigest(opts.APIKey)}, isLoopbackURL(base))
	if err != nil {
		return nil, err
	}
	if meter != nil {
		opts.Quota = meter
	}
	c, err := ctct.NewClient(base, o.user, opts)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return &connection{client: c, target: target, credentials: credentials, quota: meter, closer: o.closeQuota(ctx, s, meter, func() {})}, nil
}

// closeQuota returns close followed by giving the run's unused quota
// block back (a failure to is a warning: the block stays counted).
func (o *connOptions) closeQuota(ctx context.Context, s streams, meter *quota.Meter, close func()) func() {
	return func() {
		close()
		if meter == nil {
			return
		}
		if err := meter.Close(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(s.stderr, "warning: the unused requests of this run stay counted in the quota ledger: %v\n", err)
		}
	}
}

func (o *connOptions) clientOptions(s streams) ctct.Options {
	opts := ctct.Options{
		RetryNotice: func(wait time.Duration, err error) {
			s.notes.printf("retrying in %s: %s", wait.Round(100*time.Millisecond), netCause(err))
		},
		Limiter:     rate.NewLimiter(rate.Limit(o.rate), o.burst),
		Retries:     o.retries,
		Timeout:     o.timeout,
		UserAgent:   "ctctbulk/" + version,
		MaxRequests: o.maxRequests,
		Observe:     o.observe,
	}
	if o.retries == 0 {
		opts.Retries = -1 // --retries 0: none, not the default
	}
	return opts
}

// connectSandbox serves a sandbox on the SQLite file over loopback HTTP in
// this process and returns a client of it.
func (o *connOptions) connectSandbox(ctx context.Context, s streams) (*connection, error) {
	_, statErr := os.Stat(o.sandboxDB)
	fresh := errors.Is(statErr, fs.ErrNotExist)
	sb, err := sandbox.New(ctx, sandbox.Options{DB: o.sandboxDB})
	if err != nil {
		return nil, fmt.Errorf("open sandbox %s: %w", o.sandboxDB, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sb.Close()
		return nil, fmt.Errorf("sandbox listen: %w", err)
	}
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	// Serve returns when close shuts the server down; any other failure
	// shows in the client's requests, which say so.
	go func() { _ = srv.Serve(ln) }()
	opts := o.clientOptions(s)
	opts.APIKey, opts.Password = sandbox.DefaultAPIKey, sandbox.DefaultPassword
	target := sandboxTarget(o.sandboxDB)
	meter, err := o.openQuota(s, quota.Key{Target: target}, true)
	if err == nil {
		if meter != nil {
			opts.Quota = meter
		}
		var c *ctct.Client
		if c, err = ctct.NewClient("http://"+ln.Addr().String(), sandbox.DefaultUser, opts); err == nil {
			return &connection{client: c, sandbox: sb, target: target, fresh: fresh, db: o.sandboxDB, quota: meter,
				closer: o.closeQuota(ctx, s, meter, func() {
					srv.Close()
					sb.Close()
				})}, nil
		}
	}
	srv.Close()
	sb.Close()
	return nil, err
}
