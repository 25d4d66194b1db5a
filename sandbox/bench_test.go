package sandbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// benchDo sends a request and drains the answer, failing on an unexpected
// status.
func benchDo(b *testing.B, e *env, req *http.Request, status int) {
	res, err := e.srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != status {
		b.Fatalf("status %d, want %d", res.StatusCode, status)
	}
}

// BenchmarkSandboxGET measures GET of one full contact and of a page of
// 50 summary entries, over real HTTP.
func BenchmarkSandboxGET(b *testing.B) {
	e := newEnv(b, nil)
	if err := e.sb.Seed(context.Background(), 1000); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, path string }{
		{"contact", api("/contacts/500")},
		{"page", api("/contacts")},
		{"search", api("/contacts?email=nobody%40example.com")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				benchDo(b, e, e.request("GET", bc.path, ""), http.StatusOK)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkSandboxPOST measures contact creation over real HTTP.
func BenchmarkSandboxPOST(b *testing.B) {
	e := newEnv(b, nil)
	i := 0
	for b.Loop() {
		body := createBody(b, newContact(fmt.Sprintf("bench%d@example.com", i), 1+i%3))
		i++
		benchDo(b, e, e.request("POST", api("/contacts"), body), http.StatusCreated)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
