package sandbox

import (
	"bytes"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"ctctbulk/ctct"
)

// activityEnv is a sandbox whose jobs run at once and as fast as they
// can; mod may change that.
func activityEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	return newEnv(t, func(c *Options) {
		c.ActivityDelay, c.ActivityRate = -1, -1 // none: no queue time, no limit
		if mod != nil {
			mod(c)
		}
	})
}

// postForm POSTs v url-encoded to /activities.
func (e *env) postForm(v url.Values) *response {
	e.t.Helper()
	req := e.request("POST", api("/activities"), v.Encode())
	req.Header.Set("Content-Type", formURLEncoded)
	return e.send(req)
}

// postMultipart POSTs v as multipart/form-data; data goes as a file part.
func (e *env) postMultipart(v url.Values) *response {
	e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, vals := range v {
		for _, val := range vals {
			if k == "data" {
				fw, err := mw.CreateFormFile(k, "contacts.csv")
				if err != nil {
					e.t.Fatal(err)
				}
				_, _ = fw.Write([]byte(val))
				continue
			}
			if err := mw.WriteField(k, val); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	req := e.request("POST", api("/activities"), b.String())
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.send(req)
}

// addForm is the form of an add job of data onto lists.
func addForm(data string, lists ...int) url.Values {
	v := url.Values{"activityType": {"ADD_CONTACTS"}, "data": {data}}
	for _, l := range lists {
		v.Add("lists", listURI(l))
	}
	return v
}

// decodeActivity decodes an activity entry.
func decodeActivity(t testing.TB, body string) *ctct.Activity {
	t.Helper()
	a, err := ctct.DecodeActivityEntry(strings.NewReader(body))
	if err != nil {
		t.Fatalf("decode activity: %v\n%s", err, body)
	}
	return a
}

// start POSTs a job, checks the 201 and returns it.
func (e *env) start(v url.Values) *ctct.Activity {
	e.t.Helper()
	r := e.postForm(v)
	want(e.t, r, http.StatusCreated)
	a := decodeActivity(e.t, r.Body)
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, api("/activities/"+a.Key())) {
		e.t.Fatalf("Location %q for %s", loc, a.ID)
	}
	return a
}

// activity GETs a job.
func (e *env) activity(key string) *ctct.Activity {
	e.t.Helper()
	r := e.do("GET", api("/activities/"+key), "")
	want(e.t, r, http.StatusOK)
	return decodeActivity(e.t, r.Body)
}

// finish polls a job until its status is final. The runner works on its
// own goroutine, so this waits for it; the bound only catches a runner
// that never gets there.
func (e *env) finish(key string) *ctct.Activity {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := e.activity(key)
		if a.Final() {
			return a
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("activity %s still %s", key, a.Status)
		}
		e.sb.jobs.kick()
		time.Sleep(2 * time.Millisecond)
	}
}

// run starts a job and waits for its end.
func (e *env) run(v url.Values) *ctct.Activity {
	e.t.Helper()
	return e.finish(e.start(v).Key())
}

// byEmail returns the full contact with this email, or nil.
func (e *env) byEmail(email string) *ctct.Contact {
	e.t.Helper()
	found := e.search(email)
	if len(found) == 0 {
		return nil
	}
	return e.get(ctct.Number(found[0].ID))
}

// listNumbers are the numbers of a contact's lists.
func listNumbers(c *ctct.Contact) []string {
	var out []string
	for _, l := range c.Lists {
		out = append(out, ctct.Number(l.ID))
	}
	return out
}

// elementPaths lists the paths (local names joined by "/") of the
// elements of an XML document in document order.
func elementPaths(t testing.TB, doc string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var stack, out []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		switch tt := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tt.Name.Local)
			out = append(out, strings.Join(stack, "/"))
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}
