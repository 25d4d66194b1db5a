package ctct_test

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"ctctbulk/ctct"
)

// TestExportStreamFlatMemory exports 100,000 seeded contacts (5,000 under
// the race detector, where seeding 100,000 alone takes minutes) and reads
// the file through ExportFile and ExportReader: the heap while reading the
// rest of the file is no larger than after its first tenth, give or take
// a quarter of the file's size. Neither side holds the file.
func TestExportStreamFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 contacts")
	}
	n := 100_000
	if raceEnabled {
		n = 5_000
	}
	e := activityEnv(t, nil)
	start := time.Now()
	e.seed(n)
	t.Logf("seeded %d contacts in %v", n, time.Since(start).Round(time.Millisecond))
	// Real waits between polls: the env's sleep only moves its clock.
	c := e.client(ctct.Options{Sleep: func(ctx context.Context, d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	ctx := t.Context()
	a, err := c.CreateActivity(ctx, &ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: &ctct.ExportOptions{
		List: "active", ListNames: true, DateAdded: true, Source: true,
		Columns: []string{"Email Type", "First Name", "Last Name", "Company Name", "Address Line 1", "City", "US State/CA Province", "Country", "Zip/Postal Code", "Home Phone", "Notes", "Custom Field 1", "Custom Field 2"}}})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	a, err = c.WaitActivity(ctx, a.ID, ctct.WaitOptions{First: 10 * time.Millisecond, Max: 50 * time.Millisecond})
	if err != nil || a.Status != ctct.ActivityComplete {
		t.Fatalf("export: %+v %v", a, err)
	}
	t.Logf("export job of %d rows in %v", a.TransactionCount, time.Since(start).Round(time.Millisecond))
	rc, err := c.ExportFile(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	counted := &countingReader{r: rc}
	er, err := ctct.NewExportReader(counted, ctct.ExportFileType(a.FileName))
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	rows := 0
	var early, peak uint64
	for {
		_, err := er.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
		switch {
		case rows == n/10:
			early = heap()
		case rows%(n/5) == 0:
			peak = max(peak, heap())
		}
	}
	if rows != a.TransactionCount || rows < n*9/10 {
		t.Fatalf("%d rows read, the job wrote %d", rows, a.TransactionCount)
	}
	t.Logf("file %d bytes, %d rows; heap %d KiB after a tenth, at most %d KiB later", counted.n, rows, early>>10, peak>>10)
	if counted.n < int64(n)*100 {
		t.Fatalf("file of %d bytes: too small to show anything", counted.n)
	}
	if peak > early+uint64(counted.n)/4 {
		t.Errorf("heap grew from %d to %d KiB while reading a %d KiB file", early>>10, peak>>10, counted.n>>10)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
