package sandbox

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctctbulk/ctct"
)

// FuzzHandler sends arbitrary bodies and query strings to the handler
// (no network) and checks that it never panics, answers only documented
// statuses, and that what it answers decodes. Every input starts from the
// same seeded store. Go minimizes each new input for up to a minute by
// default, which stalls progress with this handler; bound it:
//
//	go test ./sandbox -run XXX -fuzz FuzzHandler -fuzzminimizetime 20x
func FuzzHandler(f *testing.F) {
	// The resources and methods the fuzzer sends to, picked by a byte.
	paths := []string{
		"/ws/customers/sandbox/contacts",
		"/ws/customers/sandbox/contacts/1",
		"/ws/customers/sandbox/contacts/2",
		"/ws/customers/sandbox/contacts/999",
		"/ws/customers/sandbox/lists",
		"/ws/customers/sandbox/lists/1",
		"/ws/customers/sandbox/lists/active/members",
		"/ws/customers/sandbox/lists/2/members",
		"/ws/customers/sandbox/other",
	}
	methods := []string{"POST", "PUT", "GET", "DELETE"}
	valid := []*ctct.Contact{newContact("jon@example.com", 1), newContact("Fred@Example.com", 1, 2, 3)}
	valid[1].StateCode, valid[1].CountryCode, valid[1].Note = "QC", "ca", "é & <b>"
	for _, c := range valid {
		b, err := ctct.MarshalCreate(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), uint8(0), "", b)
		c.ID = "http://api.constantcontact.com/ws/customers/sandbox/contacts/1"
		if b, err = ctct.MarshalUpdate(c); err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(1), uint8(1), "", b)
	}
	if names, err := filepath.Glob(filepath.Join(fixtures, "*.xml")); err == nil {
		for i, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			own := bytes.ReplaceAll(b, []byte("/customers/joesflowers/"), []byte("/customers/sandbox/"))
			f.Add(uint8(i%2), uint8(i), "", own)
			f.Add(uint8(1), uint8(1), "", b)
		}
	}
	for _, q := range []string{
		"email=jon%40example.com&email=FRED%40example.com",
		"updatedsince=2000-01-01T00:00:00.000Z&listtype=active",
		"updatedsince=2000-01-01T00:00:00Z&listid=1&next=1-abc",
		"next=zz-zz", "email=", "listid=1", "%zz",
	} {
		f.Add(uint8(2), uint8(0), q, []byte(nil))
	}
	f.Add(uint8(2), uint8(7), "next=5-xyz", []byte(nil))
	f.Add(uint8(3), uint8(2), "", []byte(nil))

	cfg := Options{}
	cfg.PageSize = 3
	cfg.RandSeed = 1
	sb, err := New(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { sb.Close() })
	documented := map[int]bool{200: true, 201: true, 204: true, 400: true, 404: true, 409: true, 413: true, 415: true}

	f.Fuzz(func(t *testing.T, method, path uint8, query string, body []byte) {
		// The same store for every input keeps coverage deterministic
		// (the fuzzer's minimization relies on it).
		if err := sb.Reset(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := sb.Seed(context.Background(), 5); err != nil {
			t.Fatal(err)
		}
		m, p := methods[int(method)%len(methods)], paths[int(path)%len(paths)]
		req := httptest.NewRequest(m, p, bytes.NewReader(body))
		req.URL.RawQuery = query
		req.SetBasicAuth("sandbox-key%sandbox", "sandbox-password")
		req.Header.Set("Content-Type", "application/atom+xml")
		rec := httptest.NewRecorder()
		sb.ServeHTTP(rec, req)
		res := rec.Result()
		if !documented[res.StatusCode] {
			t.Fatalf("%s %s?%s: status %d: %s", m, req.URL.Path, query, res.StatusCode, rec.Body)
		}
		ct := res.Header.Get("Content-Type")
		switch {
		case res.StatusCode == http.StatusCreated:
			c, err := ctct.DecodeContactEntry(rec.Body)
			if err != nil {
				t.Fatalf("201 body does not decode: %v", err)
			}
			if c.Status != ctct.StatusActive || !strings.HasSuffix(res.Header.Get("Location"), "/contacts/"+ctct.Number(c.ID)) {
				t.Fatalf("201: status %q, Location %q, id %q", c.Status, res.Header.Get("Location"), c.ID)
			}
		case res.StatusCode == http.StatusOK && strings.Contains(p, "/contacts/"):
			if _, err := ctct.DecodeContactEntry(rec.Body); err != nil {
				t.Fatalf("contact does not decode: %v", err)
			}
		case res.StatusCode == http.StatusOK && strings.HasSuffix(p, "/lists/1"):
			if _, err := ctct.DecodeListEntry(rec.Body); err != nil {
				t.Fatalf("list does not decode: %v", err)
			}
		case res.StatusCode == http.StatusOK:
			if _, err := ctct.DecodeFeed(rec.Body); err != nil {
				t.Fatalf("feed does not decode: %v", err)
			}
		case res.StatusCode >= 400:
			if !strings.HasPrefix(rec.Body.String(), "Error ") || !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("error body %q (%s)", rec.Body, ct)
			}
		}
	})
}
