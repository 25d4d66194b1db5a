package sandbox

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"ctctbulk/ctct"
)

// BenchmarkActivityRows measures how many rows a running job applies per
// second with no --activity-rate limit: 20,000-row add jobs of new
// contacts on a file store, and exports of them.
func BenchmarkActivityRows(b *testing.B) {
	e := activityEnv(b, func(c *Options) { c.DB = b.TempDir() + "/bench.db" })
	const rows = 20_000
	var spent time.Duration
	total := 0
	job := 0
	b.Run("add", func(b *testing.B) {
		for b.Loop() {
			var data strings.Builder
			data.WriteString("Email Address,First Name,Last Name,City,US State/CA Province\n")
			for i := range rows {
				fmt.Fprintf(&data, "j%d.r%d@example.com,Ann,Smith,Boston,MA\n", job, i)
			}
			job++
			start := time.Now()
			a := e.run(addForm(data.String(), 1))
			spent += time.Since(start)
			if a.TransactionCount != rows {
				b.Fatalf("job %+v", a)
			}
			total += rows
		}
		b.ReportMetric(float64(total)/spent.Seconds(), "rows/s")
	})
	b.Run("export", func(b *testing.B) {
		spent, total = 0, 0
		for b.Loop() {
			start := time.Now()
			a := e.run(map[string][]string{"activityType": {"EXPORT_CONTACTS"}, "listId": {listURI(1)}, "fileType": {"CSV"},
				"columns": {"FIRST NAME", "LAST NAME", "CITY"}})
			spent += time.Since(start)
			if a.Status != ctct.ActivityComplete {
				b.Fatalf("job %+v", a)
			}
			total += a.TransactionCount
		}
		b.ReportMetric(float64(total)/spent.Seconds(), "rows/s")
	})
}
