package importer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"testing"

	"ctctbulk/importer"
)

// BenchmarkDryRun measures the offline path (read, map, validate) against
// reading the same rows with encoding/csv alone: the ratio of the two is the
// figure DESIGN.md bounds at 3x.
func BenchmarkDryRun(b *testing.B) {
	input := []byte(generate(20000, 1))
	b.Run("import-dry-run", func(b *testing.B) {
		b.SetBytes(int64(len(input)))
		for b.Loop() {
			im, err := importer.New(nil, importer.Options{DryRun: true})
			if err != nil {
				b.Fatal(err)
			}
			sum, err := im.Run(context.Background(), bytes.NewReader(input))
			if err != nil || sum.Valid != 20000 {
				b.Fatalf("%v %+v", err, sum)
			}
		}
	})
	b.Run("encoding-csv-only", func(b *testing.B) {
		b.SetBytes(int64(len(input)))
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(input))
			r.ReuseRecord = true
			for {
				if _, err := r.Read(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
