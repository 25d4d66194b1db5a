package importer

import (
	"context"
	"fmt"
	"io"
	"strings"

	"ctctbulk/ctct"
)

// verifyBatch is the export rows checked with one lookup of the index.
const verifyBatch = 500

// verify exports, once the last job ended, the list every sent row went
// to (the one list of every job, or the active system list), and
// compares each email's last row sent with what the account now holds:
// every mapped field with a bulk column and every list. A row not as sent,
// or not on the list, fails with what differs. With NoVerify it does
// nothing (the summary says so).
func (b *bulkRun) verify(ctx, work context.Context) error {
	applied := false
	for _, st := range b.state {
		if st == lineCreated || st == lineUpdated {
			applied = true
			break
		}
	}
	if !applied || b.im.opts.NoVerify {
		return nil
	}
	b.im.setPhase("verifying: exporting what the jobs did")
	list, what := "active", "the active contacts"
	if b.sameLists != "" && b.sameLists != "*" {
		list = strings.Split(b.sameLists, ",")[0]
		what = "list " + ctct.Number(list)
	}
	var fields []ctct.Field
	var cols []string
	for _, c := range b.m.Columns() {
		if f, ok := ctct.LookupField(c.Field); ok && f.Bulk != "" {
			fields = append(fields, f)
			if f.Name != "EmailAddress" {
				cols = append(cols, f.Bulk)
			}
		}
	}
	x := &ctct.ExportOptions{List: list, FileType: ctct.FileTypeCSV, SortBy: ctct.SortByEmail, ListNames: b.lists.lists != nil, Columns: cols}
	a, err := b.createExport(work, x)
	if err != nil {
		return fmt.Errorf("verify: export %s: %w", what, err)
	}
	b.im.counts.exports.Add(1)
	er, body, err := b.openExport(ctx, a, int(b.sentRows))
	if err != nil {
		return fmt.Errorf("verify: export %s: %w", what, err)
	}
	defer body.Close()
	var batch []*ctct.ExportRow
	check := func() error {
		emails := make([]string, len(batch))
		for i, x := range batch {
			emails[i] = strings.ToLower(x.EmailAddress)
		}
		entries, err := b.ix.get(work, emails)
		if err != nil {
			return err
		}
		for i, x := range batch {
			e := entries[emails[i]]
			if e == nil || e.route != routeBulk || e.line == 0 {
				continue
			}
			st := b.at(e.line)
			if st != lineCreated && st != lineUpdated {
				continue
			}
			if diff := differs(e, x, fields, b.names); diff != "" {
				b.fail(e.line, fmt.Sprintf("verification: after its bulk job, %s", diff))
				continue
			}
			b.mark(e.line, st-'a'+'A')
			b.im.counts.verified.Add(1)
		}
		batch = batch[:0]
		return nil
	}
	for {
		x, err := er.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("verify: job %s: %w", a.Key(), err)
		}
		batch = append(batch, x)
		if len(batch) == verifyBatch {
			if err := check(); err != nil {
				return err
			}
		}
	}
	if err := check(); err != nil {
		return err
	}
	// Emails sent and not in the export.
	return b.ix.eachSent(work, func(e *indexEntry) error {
		if st := b.at(e.line); st == lineCreated || st == lineUpdated {
			b.fail(e.line, fmt.Sprintf("verification: after its bulk job, the contact is not among %s", what))
		}
		return nil
	})
}

// differs says how the account's row x differs from what the index
// expects of the email, "" when it does not: the fields compared are the
// mapped ones with a bulk column, and the expected lists must all be there.
func differs(e *indexEntry, x *ctct.ExportRow, fields []ctct.Field, names map[string][]string) string {
	for _, f := range fields {
		want, got := e.row.Get(f.Name), x.Get(f.Name)
		if f.Name == "EmailAddress" {
			want, got = strings.ToLower(want), strings.ToLower(got)
		}
		if want != got {
			return fmt.Sprintf("%s is %q in the account, %q was sent", f.Name, got, want)
		}
	}
	if e.listsUnknown {
		return ""
	}
	have := map[string]bool{}
	for _, n := range x.Lists {
		for _, id := range names[n] {
			have[id] = true
		}
	}
	for _, l := range e.lists {
		if !have[l] {
			return fmt.Sprintf("the contact is not on list %s", ctct.Number(l))
		}
	}
	return ""
}
