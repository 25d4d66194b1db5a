package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"ctctbulk/ctct"
)

// record is one contact as found in the account (or in an export): values
// by canonical field name, ContactLists as list numbers joined by ";".
type record map[string]string

// readAccount reads every contact of the sandbox at url through the API
// client: the plain listing (every status), then a GET of each contact for
// every field, eight at a time, with retries for a faulty sandbox, at most
// perSecond requests a second (0: no limit; set it under a sandbox's own
// limit). The result is keyed by lower-cased email.
func readAccount(ctx context.Context, url string, perSecond float64) (map[string][]record, error) {
	limit := rate.Inf
	if perSecond > 0 {
		limit = rate.Limit(perSecond)
	}
	c, err := ctct.NewClient(url, sandboxUser,
		ctct.Options{
			APIKey: sandboxAPIKey, Password: sandboxPassword,
			Limiter: rate.NewLimiter(limit, 1),
			Retries: 12, MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second,
			UserAgent: "ctctbulk-bench",
		})
	if err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	var ids []string
	p := c.Contacts(ctct.ContactQuery{})
	for pages := 0; !p.Done(); pages++ {
		if pages > 1_000_000 {
			return nil, errors.New("read account: more than a million pages")
		}
		f, err := p.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("read account: %w", err)
		}
		for _, ct := range f.Contacts {
			ids = append(ids, ct.ID)
		}
	}
	out := make(map[string][]record, len(ids))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, id := range ids {
		g.Go(func() error {
			ct, err := c.GetContact(gctx, id)
			if err != nil {
				return fmt.Errorf("read account: %w", err)
			}
			r := contactRecord(ct)
			mu.Lock()
			defer mu.Unlock()
			key := strings.ToLower(r["EmailAddress"])
			out[key] = append(out[key], r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// contactRecord turns a full contact into a record of the generated
// header's fields, its id and its status.
func contactRecord(ct *ctct.Contact) record {
	r := record{}
	for _, name := range genHeader {
		if name == "ContactLists" {
			var ls []string
			for _, l := range ct.Lists {
				ls = append(ls, ctct.Number(l.ID))
			}
			r[name] = strings.Join(ls, ";")
			continue
		}
		r[name] = ct.Get(name)
	}
	r["Id"] = ctct.Number(ct.ID)
	r["Status"] = ct.Status
	return r
}

// readExportCSV reads an export file into records keyed by lower-cased
// email. It streams the file; the records are the account's size, which
// the harness (not the tool under test) can afford.
func readExportCSV(path string) (map[string][]record, int, error) {
	out := map[string][]record{}
	rows, err := eachExportRecord(path, func(key string, r record) {
		out[key] = append(out[key], r)
	})
	return out, rows, err
}

// eachExportRecord streams an export file, calling f with each record and
// its lower-cased email, and returns the records read.
func eachExportRecord(path string, f func(key string, r record)) (int, error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read export: %w", err)
	}
	defer file.Close()
	cr := csv.NewReader(bufio.NewReaderSize(file, 1<<16))
	header, err := cr.Read()
	if err != nil {
		return 0, fmt.Errorf("read export header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	if !slices.Contains(header, "EmailAddress") {
		return 0, fmt.Errorf("read export: no EmailAddress column in %q", header)
	}
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rows, fmt.Errorf("read export: %w", err)
		}
		rows++
		r := make(record, len(header))
		for i, name := range header {
			if i < len(rec) {
				r[name] = rec[i]
			}
		}
		f(strings.ToLower(r["EmailAddress"]), r)
	}
	return rows, nil
}

// stateDiff is the comparison of the account with the intended state.
type stateDiff struct {
	Contacts    int      `json:"contacts"`     // distinct emails found
	Lost        int      `json:"lost"`         // intended emails with no contact
	Duplicates  int      `json:"duplicates"`   // extra contacts of an email already found
	Extra       int      `json:"extra"`        // emails found that were never imported
	WrongFields int      `json:"wrong_fields"` // field values that differ (lists: a list missing)
	WrongRows   int      `json:"wrong_rows"`   // contacts with at least one wrong field
	Examples    []string `json:"examples,omitempty"`
}

// ok reports an exact state.
func (d stateDiff) ok() bool {
	return d.Lost == 0 && d.Duplicates == 0 && d.Extra == 0 && d.WrongFields == 0
}

func (d stateDiff) String() string {
	return fmt.Sprintf("lost %d, duplicates %d, extra %d, wrong fields %d (in %d contacts)",
		d.Lost, d.Duplicates, d.Extra, d.WrongFields, d.WrongRows)
}

// compareState checks got against want field by field. Membership is
// additive, so a contact must be on every intended list and may be on
// more. Up to ten examples of differences are kept.
func compareState(want map[string]*expected, got map[string][]record) stateDiff {
	var d stateDiff
	example := func(format string, args ...any) {
		if len(d.Examples) < 10 {
			d.Examples = append(d.Examples, fmt.Sprintf(format, args...))
		}
	}
	d.Contacts = len(got)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return want[a].line - want[b].line })
	for _, email := range keys {
		w := want[email]
		rs := got[email]
		if len(rs) == 0 {
			d.Lost++
			example("lost: row %d %s", w.line, email)
			continue
		}
		if len(rs) > 1 {
			d.Duplicates += len(rs) - 1
			example("duplicate: %s appears %d times", email, len(rs))
		}
		r := rs[0]
		wrong := 0
		for _, name := range genHeader {
			if name == "ContactLists" {
				have := map[string]bool{}
				for _, l := range strings.Split(r[name], ";") {
					have[strings.TrimSpace(l)] = true
				}
				for l := range w.lists {
					if !have[l] {
						wrong++
						example("wrong: row %d %s: not on list %s (lists %q)", w.line, email, l, r[name])
					}
				}
				continue
			}
			if got, want := r[name], w.fields[name]; got != want {
				wrong++
				example("wrong: row %d %s: %s is %q, want %q", w.line, email, name, got, want)
			}
		}
		d.WrongFields += wrong
		if wrong > 0 {
			d.WrongRows++
		}
	}
	for email, rs := range got {
		if _, ok := want[email]; !ok {
			d.Extra += len(rs)
			example("extra: %s (%d contacts)", email, len(rs))
		}
	}
	return d
}

// readContacts reads the contacts of the given emails from the sandbox at
// url (a search, then a GET of each), by lower-cased email; an email with
// no contact is absent.
func readContacts(ctx context.Context, url string, emails []string) (map[string]record, error) {
	c, err := ctct.NewClient(url, sandboxUser, ctct.Options{APIKey: sandboxAPIKey, Password: sandboxPassword,
		Limiter: rate.NewLimiter(rate.Inf, 1), Retries: 12, MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second, UserAgent: "ctctbulk-bench"})
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	found, err := c.SearchEmails(ctx, emails)
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	out := map[string]record{}
	for _, s := range found {
		ct, err := c.GetContact(ctx, s.ID)
		if err != nil {
			return nil, fmt.Errorf("read contacts: %w", err)
		}
		out[strings.ToLower(ct.EmailAddress)] = contactRecord(ct)
	}
	return out, nil
}
