package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ctctbulk/ctct"
	"ctctbulk/quota"
)

// defaultDailyQuota is the requests a day an account's key allows, shared
// by every run on it (PROTOCOL.md).
const defaultDailyQuota = 10000

// quotaDays is how many days the quota command shows: today and the 7
// before.
const quotaDays = 8

// quotaFlag is --daily-quota: a number, and whether it was given (its
// default depends on the target).
type quotaFlag struct {
	n   int64
	set bool
}

func (q *quotaFlag) String() string {
	if !q.set {
		return ""
	}
	return strconv.FormatInt(q.n, 10)
}

func (q *quotaFlag) Set(v string) error {
	n, err := strconv.ParseInt(strings.ReplaceAll(v, ",", ""), 10, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", v)
	}
	q.n, q.set = n, true
	return nil
}

func (q *quotaFlag) Type() string { return "int" }

// stateDir is where ctctbulk keeps state that outlives a run (the quota
// ledgers): $XDG_STATE_HOME/ctctbulk, else ~/.local/state/ctctbulk; ""
// when neither variable is set.
func stateDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "ctctbulk")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "ctctbulk")
	}
	return ""
}

// loadZone reads --quota-day-tz.
func loadZone(name string) (*time.Location, error) {
	zone, err := time.LoadLocation(name)
	if err != nil || name == "" {
		return nil, usagef("--quota-day-tz must be a time zone such as UTC, Local or America/New_York, not %q", name)
	}
	return zone, nil
}

// openQuota returns the meter of the daily quota of the key that a run
// uses (nil when nothing is recorded: an in-memory sandbox, or no state
// directory). sandboxLike targets (the in-process sandbox, a server on a
// loopback address) have no quota unless --daily-quota gives one;
// accounts have defaultDailyQuota.
func (o *connOptions) openQuota(s streams, key quota.Key, sandboxLike bool) (*quota.Meter, error) {
	limit := o.quotaLimit(sandboxLike)
	if key.Target == sandboxTarget(":memory:") {
		return nil, nil // nothing outlives the run to share a quota with
	}
	dir := stateDir(s.getenv)
	if dir == "" {
		if limit > 0 {
			s.notes.printf("warning: no state directory ($XDG_STATE_HOME or $HOME): the daily quota of %s requests is not kept for this run", quota.Thousands(limit))
		}
		return nil, nil
	}
	// About 5 s of requests at a time: the ledger is written about once
	// in that time, and a killed run leaves at most that many counted but
	// unsent.
	block := min(max(int64(o.rate*5), 10), 100)
	m, err := quota.Open(quota.Options{Dir: dir, Key: key, Kind: o.kind, Quota: limit, Zone: o.zone, Now: s.clock(), Block: block})
	if err != nil {
		return nil, fmt.Errorf("daily quota: %w", err)
	}
	return m, nil
}

// quotaLimit is the daily quota of a run: --daily-quota when given, else
// none for a sandbox and defaultDailyQuota for an account.
func (o *connOptions) quotaLimit(sandboxLike bool) int64 {
	switch {
	case o.dailyQuota.set:
		return o.dailyQuota.n
	case sandboxLike:
		return 0
	}
	return defaultDailyQuota
}

// isLoopbackURL reports whether a base URL is on a loopback address,
// where only a sandbox runs.
func isLoopbackURL(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return strings.EqualFold(h, "localhost") || (ip != nil && ip.IsLoopback())
}

// refusal is the quota's refusal that stopped a command ending with err,
// or nil when err is no spent daily quota.
func (c *connection) refusal(err error) *quota.ExhaustedError {
	if c.quota == nil || !errors.Is(err, ctct.ErrBudgetExhausted) {
		return nil
	}
	return c.quota.Refused()
}

func newQuotaCmd(s streams) *cobra.Command {
	var (
		asJSON bool
		zone   string
	)
	cmd := &cobra.Command{
		Use:   "quota [flags]",
		Short: "show today's and the last 7 days' requests on each key, by kind of run",
		Long: `Quota shows, for each key (account, or sandbox file) that a run has used,
the requests of today and of the 7 days before, all runs together and by kind
of run (import, export, lists). Every run that talks to the API counts its
requests in a ledger per key in $XDG_STATE_HOME/ctctbulk (else
~/.local/state/ctctbulk) and stops at the key's --daily-quota (exit 4).`,
		Example: `  ctctbulk quota
  ctctbulk quota --json | jq '.keys[].days[0].requests'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := loadZone(zone)
			if err != nil {
				return err
			}
			return runQuota(cmd.Context(), s, loc, asJSON)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&asJSON, "json", false, "print the use as JSON")
	fs.StringVar(&zone, "quota-day-tz", "UTC", "time `ZONE` where the quota day starts (UTC, Local, America/New_York...)")
	group(fs, "Output", "json", "quota-day-tz")
	return cmd
}

// quotaReport is the quota command's JSON.
type quotaReport struct {
	Dir   string         `json:"dir"`
	Zone  string         `json:"zone"`
	Today string         `json:"today"`
	Keys  []quota.KeyUse `json:"keys"`
}

func runQuota(ctx context.Context, s streams, zone *time.Location, asJSON bool) error {
	dir := stateDir(s.getenv)
	if dir == "" {
		return usagef("no state directory: set XDG_STATE_HOME or HOME")
	}
	now := s.clock()()
	keys, err := quota.Report(ctx, dir, zone, now, quotaDays)
	if err != nil {
		return err
	}
	rep := quotaReport{Dir: dir, Zone: zone.String(), Today: quota.DayOf(now, zone), Keys: keys}
	if rep.Keys == nil {
		rep.Keys = []quota.KeyUse{}
	}
	if asJSON {
		enc := json.NewEncoder(s.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(s.stderr, "ledgers: %s (days in %s)\n", dir, zone) // stdout is the table
	if len(keys) == 0 {
		fmt.Fprintln(s.stderr, "no run has recorded requests yet")
		return nil
	}
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tKEY\tDAY\tREQUESTS\tQUOTA\tBY KIND")
	for _, k := range keys {
		for i, d := range k.Days {
			target, key, limit := "", "", ""
			if i == 0 {
				target, key, limit = k.Target, k.Key, "none"
				if k.Quota > 0 {
					limit = fmt.Sprintf("%s (%s left)", quota.Thousands(k.Quota), quota.Thousands(max(k.Quota-d.Requests, 0)))
				}
				if key == "" {
					key = "-"
				}
			}
			kinds := ""
			if d.Requests > 0 {
				kinds = quota.KindsText(d.ByKind)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", target, key, d.Day, quota.Thousands(d.Requests), limit, kinds)
		}
	}
	return tw.Flush()
}
