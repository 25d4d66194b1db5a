package ctct_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"ctctbulk/ctct"
)

const fixturesDir = "../../shared/fixtures"

// addFixtureSeeds seeds f with every fixture file, when the folder exists.
func addFixtureSeeds(f *testing.F) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join(fixturesDir, "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	if len(paths) == 0 {
		f.Logf("no fixtures in %s: seeding with built-in documents only", fixturesDir)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><link href="/x?next=a" rel="next"/></feed>`))
	f.Add([]byte(`<entry><content><Contact id="1"><EmailAddress>a@b.c</EmailAddress><ContactLists><ContactList id="l"/></ContactLists></Contact></content></entry>`))
}

// FuzzDecodeFeed checks that no input makes DecodeFeed panic, and that a
// decoded feed can be inspected.
func FuzzDecodeFeed(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		feed, err := ctct.DecodeFeed(bytes.NewReader(data))
		if err != nil {
			if feed != nil {
				t.Fatalf("error %v with a non-nil feed", err)
			}
			return
		}
		_ = feed.Next()
		for i := range feed.Contacts {
			_ = feed.Contacts[i].HasList("1")
		}
	})
}

// FuzzDecodeContactEntry checks that no input makes DecodeContactEntry
// panic, and that a decoded contact survives re-encoding as a full entry
// and decoding again with the same fields and lists.
func FuzzDecodeContactEntry(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ctct.DecodeContactEntry(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b bytes.Buffer
		b.WriteString(`<entry xmlns="` + ctct.AtomNS + `"><content type="` + ctct.ContentType + `">`)
		if err := ctct.AppendContact(&b, c, ctct.ViewFull, ""); err != nil {
			var fe *ctct.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("AppendContact: %v is not a *FieldError", err)
			}
			return
		}
		b.WriteString(`</content></entry>`)
		again, err := ctct.DecodeContactEntry(&b)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, b.String())
		}
		for _, fl := range ctct.Fields() {
			if got, want := again.Get(fl.Name), c.Get(fl.Name); got != want {
				t.Fatalf("%s: %q after round trip, want %q", fl.Name, got, want)
			}
		}
		if len(c.Lists) != 0 || len(again.Lists) != 0 {
			if !reflect.DeepEqual(again.Lists, c.Lists) {
				t.Fatalf("lists: %+v after round trip, want %+v", again.Lists, c.Lists)
			}
		}
	})
}
