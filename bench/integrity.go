package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// scenDupEmails200k imports 200,000 rows that repeat three emails (each
// row the same values as the first of its email): the rows of one email
// apply in file order, so nothing may hold the file in memory while it
// waits for 50 distinct emails. Peak RSS must stay under 64 MB.
func scenDupEmails200k(ctx context.Context, e *env) (*result, error) {
	n := e.rows(200_000)
	f := filepath.Join(e.dir, fmt.Sprintf("dup-emails-%d.csv", n))
	if err := writeDupEmails(f, n, 3); err != nil {
		return nil, err
	}
	sb, err := startSandbox(ctx, e, "dup-emails", sandboxConfig{}, startupLimit)
	if err != nil {
		return nil, err
	}
	defer sb.Stop()
	r, s, err := importOnce(ctx, e, sb, f, 1000, 8, "dup-emails")
	if err != nil {
		return nil, err
	}
	res := &result{Rows: int64(n), ElapsedSeconds: r.Elapsed.Seconds(), PeakRSSBytes: r.PeakRSS}
	res.add("exit code", "0", strconv.Itoa(r.Exit), r.Exit == 0)
	res.add("rows read", strconv.Itoa(n), strconv.FormatInt(s.Read, 10), s.Read == int64(n))
	res.add("created, unchanged", fmt.Sprintf("3, %d", n-3), fmt.Sprintf("%d, %d", s.Created, s.Unchanged), s.Created == 3 && s.Unchanged == int64(n-3))
	res.add("peak RSS", "< 64 MB", rssText(r.PeakRSS), rssUnder(r.PeakRSS, maxRSS))
	res.notef("%d requests", s.Requests)
	return res, nil
}

// writeDupEmails writes n rows cycling through k emails.
func writeDupEmails(path string, n, k int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create input: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	fmt.Fprintln(w, "EmailAddress,FirstName,LastName,City,ContactLists")
	for i := range n {
		fmt.Fprintf(w, "dup%d@example.com,Repeated,Row%d,Springfield,1\n", i%k, i%k)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write input: %w", err)
	}
	return f.Close()
}
