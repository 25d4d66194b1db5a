package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"ctctbulk/ctct"
	"ctctbulk/sandbox"
)

// The input of the bulk-import scenarios and of bulk-chaos: genRecord's
// rows without the ContactLists column (every row goes to --list 1, so
// that one add job can carry any of them), mixed so that every outcome
// of BULK.md's planning happens at a known row:
//
//	1%   invalid (no @ in the email, or a StateCode of the other country)  failed
//	1%   the email of a random earlier row again: half with its values     unchanged
//	     (identical), half with other values                               updated
//	5%   in the account with the row's values                              unchanged
//	5%   in the account with other values                                  updated
//	0.5% in the account as Do Not Mail                                     skipped
//	rest new                                                               created
//
// Everything follows from (seed, n), so the harness can say what every
// row must end as and what the account must hold without keeping the
// file.

// bulkKind is what a row of the bulk input is for.
type bulkKind uint8

const (
	bulkNew         bulkKind = iota // not in the account: created
	bulkInvalid                     // fails local validation: failed
	bulkDupSame                     // an earlier row's email and values: unchanged
	bulkDupDiff                     // an earlier row's email, other values: updated
	bulkPresentSame                 // in the account as the row says: unchanged
	bulkPresentDiff                 // in the account with other values: updated
	bulkDoNotMail                   // in the account, Do Not Mail: skipped
	numBulkKinds
)

// outcome is the importer's status of a row of kind k.
func (k bulkKind) outcome() string {
	switch k {
	case bulkNew:
		return "created"
	case bulkInvalid:
		return "failed"
	case bulkDupSame, bulkPresentSame:
		return "unchanged"
	case bulkDupDiff, bulkPresentDiff:
		return "updated"
	case bulkDoNotMail:
		return "skipped"
	}
	return "?"
}

// bulkOutcomes are the importer's row statuses, in the summary's order.
var bulkOutcomes = []string{"created", "updated", "unchanged", "skipped", "failed"}

// bulkHeader is genHeader without ContactLists.
var bulkHeader = genHeader[:len(genHeader)-1]

// bulkGenVersion names the generator in cached store files: change it
// whenever the rows or the seeded account change.
const bulkGenVersion = 1

// bulkInput is the plan of a generated bulk input of n rows.
type bulkInput struct {
	seed  uint64
	n     int
	kinds []bulkKind
	// dupOf maps a duplicate row to the earlier row whose email it
	// repeats; dupedBy is the reverse (each earlier row is repeated at
	// most once, so that "identical" means identical to one row).
	dupOf   map[int]int
	dupedBy map[int]int
}

// bulkCounts is how many rows of each kind an input of n rows has.
func bulkCounts(n int) [numBulkKinds]int {
	var c [numBulkKinds]int
	dups := n / 100
	c[bulkInvalid] = n / 100
	c[bulkDupSame] = dups / 2
	c[bulkDupDiff] = dups - dups/2
	c[bulkPresentSame] = n * 5 / 100
	c[bulkPresentDiff] = n * 5 / 100
	c[bulkDoNotMail] = n / 200
	c[bulkNew] = n
	for k := bulkInvalid; k < numBulkKinds; k++ {
		c[bulkNew] -= c[k]
	}
	return c
}

// dupTarget reports whether a row of kind k may be repeated by a
// duplicate: a row that ends as a contact of its own values.
func dupTarget(k bulkKind) bool {
	return k == bulkNew || k == bulkPresentSame || k == bulkPresentDiff
}

// newBulkInput draws the kinds of n rows (exact counts, shuffled) and the
// earlier row each duplicate repeats, from seed.
func newBulkInput(seed uint64, n int) *bulkInput {
	b := &bulkInput{seed: seed, n: n, kinds: make([]bulkKind, 0, n), dupOf: map[int]int{}, dupedBy: map[int]int{}}
	for k, c := range bulkCounts(n) {
		for range c {
			b.kinds = append(b.kinds, bulkKind(k))
		}
	}
	r := rand.New(rand.NewPCG(seed, 0xb01c))
	r.Shuffle(n, func(i, j int) { b.kinds[i], b.kinds[j] = b.kinds[j], b.kinds[i] })
	free := func(j int) bool {
		_, taken := b.dupedBy[j]
		return dupTarget(b.kinds[j]) && !taken
	}
	for i := 0; i < n; i++ {
		if k := b.kinds[i]; k != bulkDupSame && k != bulkDupDiff {
			continue
		}
		target := -1
		for try := 0; try < 32 && i > 0; try++ {
			if j := r.IntN(i); free(j) {
				target = j
				break
			}
		}
		for j := i - 1; target < 0 && j >= 0; j-- {
			if free(j) {
				target = j
			}
		}
		if target < 0 {
			// No earlier row to repeat (the first rows): swap the
			// duplicate with the next row that is not one.
			swapped := false
			for k := i + 1; k < n; k++ {
				if kk := b.kinds[k]; kk != bulkDupSame && kk != bulkDupDiff {
					b.kinds[i], b.kinds[k] = b.kinds[k], b.kinds[i]
					swapped = true
					break
				}
			}
			if !swapped {
				b.kinds[i] = bulkNew // only in a file too small to hold one
			}
			i-- // look at row i again: it is now another kind
			continue
		}
		b.dupOf[i], b.dupedBy[target] = target, i
	}
	return b
}

// record returns row i as the input holds it, in bulkHeader's order.
func (b *bulkInput) record(i int) []string {
	switch b.kinds[i] {
	case bulkDupSame:
		return genRecord(b.seed, b.dupOf[i], 0)[:len(bulkHeader)]
	case bulkDupDiff:
		return genRecord(b.seed, b.dupOf[i], 1)[:len(bulkHeader)]
	case bulkInvalid:
		rec := genRecord(b.seed, i, 0)[:len(bulkHeader)]
		if i%2 == 0 {
			rec[0] = strings.Replace(rec[0], "@", ".at.", 1)
		} else if rec[9] == "us" { // CountryCode: a state of the other country
			rec[8] = "ON"
		} else {
			rec[8] = "TX"
		}
		return rec
	}
	return genRecord(b.seed, i, 0)[:len(bulkHeader)]
}

// seeded returns the values row i's contact has in the account before the
// import, and whether it has one.
func (b *bulkInput) seeded(i int) ([]string, bool) {
	switch b.kinds[i] {
	case bulkPresentSame:
		return genRecord(b.seed, i, 0)[:len(bulkHeader)], true
	case bulkPresentDiff, bulkDoNotMail:
		return genRecord(b.seed, i, 1)[:len(bulkHeader)], true
	}
	return nil, false
}

// outcomes is how many rows must end in each status.
func (b *bulkInput) outcomes() map[string]int64 {
	out := map[string]int64{}
	for _, s := range bulkOutcomes {
		out[s] = 0
	}
	for _, k := range b.kinds {
		out[k.outcome()]++
	}
	return out
}

// reportRows is the number of rows the error report must hold: the failed
// and skipped ones.
func (b *bulkInput) reportRows() int {
	c := bulkCounts(b.n)
	return c[bulkInvalid] + c[bulkDoNotMail]
}

// bulkEnd is what the account must hold for one email after the import.
type bulkEnd struct {
	exp    *expected
	status string // ctct.StatusActive or ctct.StatusDoNotMail
}

// endState returns the end state of the emails in bucket k of m (by
// bulkBucket; m == 1: every email): the last values the input gives each
// email, list 1 (Do Not Mail contacts are left as they were, values of
// version 1), no contact for an invalid row.
func (b *bulkInput) endState(k, m int) map[string]*bulkEnd {
	out := map[string]*bulkEnd{}
	for i, kind := range b.kinds {
		if !dupTarget(kind) && kind != bulkDoNotMail {
			continue
		}
		email := genEmail(i)
		if bulkBucket(email, m) != k {
			continue
		}
		rec, status := b.record(i), ctct.StatusActive
		if kind == bulkDoNotMail {
			rec, _ = b.seeded(i)
			status = ctct.StatusDoNotMail
		} else if d, ok := b.dupedBy[i]; ok {
			rec = b.record(d)
		}
		e := &expected{line: i + 1, fields: make(map[string]string, len(bulkHeader)), lists: map[string]bool{}}
		for f, name := range bulkHeader {
			e.fields[name] = rec[f]
		}
		if kind != bulkDoNotMail {
			e.lists["1"] = true
		}
		out[email] = &bulkEnd{exp: e, status: status}
	}
	return out
}

// bulkBucket spreads emails over m buckets, so that an account of a
// million contacts is compared a part at a time.
func bulkBucket(email string, m int) int {
	if m <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(email)))
	return int(h.Sum32() % uint32(m))
}

// writeBulkInput writes the input to path and returns its size and the
// physical line where each row starts (the header is line 1; a note with
// a line break makes its row two lines), which is what the error report's
// _line says.
func writeBulkInput(path string, b *bulkInput) (int64, []int32, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, nil, fmt.Errorf("create input: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	w := csv.NewWriter(bw)
	lines := make([]int32, b.n)
	werr := w.Write(bulkHeader)
	line := 2
	for i := 0; i < b.n && werr == nil; i++ {
		rec := b.record(i)
		lines[i] = int32(line)
		line++
		for _, c := range rec {
			line += strings.Count(c, "\n")
		}
		werr = w.Write(rec)
	}
	w.Flush()
	werr = errors.Join(werr, w.Error(), bw.Flush())
	st, err := f.Stat()
	werr = errors.Join(werr, err, f.Close())
	if werr != nil {
		return 0, nil, fmt.Errorf("write input: %w", werr)
	}
	return st.Size(), lines, nil
}

// reportLines is the _line of every row that must be in the error report
// (failed and skipped), ascending.
func (b *bulkInput) reportLines(lines []int32) []int {
	var out []int
	for i, k := range b.kinds {
		if k == bulkInvalid || k == bulkDoNotMail {
			out = append(out, int(lines[i]))
		}
	}
	return out
}

// seedBulkStore creates the store file path holding the contacts the
// account has before the import (the present and Do Not Mail rows, on
// list 1), through the sandbox's own Go API in this process: add jobs
// with no queue time or row limit, then an opt-out of each Do Not Mail
// contact. None of these requests reach the sandbox the import talks to.
func seedBulkStore(ctx context.Context, path string, b *bulkInput) (err error) {
	s, err := sandbox.New(ctx, sandbox.Options{DB: path, ActivityDelay: -1, ActivityRate: -1, RandSeed: b.seed})
	if err != nil {
		return fmt.Errorf("seed store: %w", err)
	}
	srv := httptest.NewServer(s)
	defer func() {
		srv.Close()
		if cerr := s.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("seed store: %w", cerr)
		}
	}()
	c, err := ctct.NewClient(srv.URL, sandboxUser, ctct.Options{
		APIKey: sandboxAPIKey, Password: sandboxPassword, Limiter: rate.NewLimiter(rate.Inf, 1),
		UserAgent: "ctctbulk-bench-seed",
	})
	if err != nil {
		return fmt.Errorf("seed store: %w", err)
	}
	var rows []ctct.BulkRow
	var dnm []string
	add := func() error {
		if len(rows) == 0 {
			return nil
		}
		a, err := c.CreateActivity(ctx, &ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: []string{"1"}, Rows: rows})
		if err != nil {
			return fmt.Errorf("seed store: %w", err)
		}
		if a, err = c.WaitActivity(ctx, a.ID, ctct.WaitOptions{First: 10 * time.Millisecond, Max: 200 * time.Millisecond}); err != nil {
			return fmt.Errorf("seed store: %w", err)
		}
		if a.Status != ctct.ActivityComplete || a.ErrorCount > 0 || a.TransactionCount != len(rows) {
			return fmt.Errorf("seed store: add job %s: %s, %d applied of %d, %d errors %v",
				a.Key(), a.Status, a.TransactionCount, len(rows), a.ErrorCount, a.Errors[:min(3, len(a.Errors))])
		}
		rows = rows[:0]
		return nil
	}
	for i := range b.n {
		rec, ok := b.seeded(i)
		if !ok {
			continue
		}
		ct := &ctct.Contact{}
		for f, name := range bulkHeader {
			if err := ct.Set(name, rec[f]); err != nil {
				return fmt.Errorf("seed store: row %d: %w", i, err)
			}
		}
		rows = append(rows, ctct.NewBulkRow(ct))
		if b.kinds[i] == bulkDoNotMail {
			dnm = append(dnm, rec[0])
		}
		if len(rows) == 5000 {
			if err := add(); err != nil {
				return err
			}
		}
	}
	if err := add(); err != nil {
		return err
	}
	for len(dnm) > 0 {
		batch := dnm[:min(50, len(dnm))]
		dnm = dnm[len(batch):]
		found, err := c.SearchEmails(ctx, batch)
		if err != nil {
			return fmt.Errorf("seed store: %w", err)
		}
		if len(found) != len(batch) {
			return fmt.Errorf("seed store: %d of %d Do Not Mail contacts found", len(found), len(batch))
		}
		for _, ct := range found {
			if err := c.OptOut(ctx, ct.ID); err != nil {
				return fmt.Errorf("seed store: %w", err)
			}
		}
	}
	return nil
}
