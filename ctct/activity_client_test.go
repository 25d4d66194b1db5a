package ctct_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ctctbulk/ctct"
	"ctctbulk/sandbox"
)

// activityEnv is an env whose jobs run at once, as fast as they can.
func activityEnv(t *testing.T, mod func(*sandbox.Options)) *env {
	return newEnv(t, func(c *sandbox.Options) {
		c.ActivityDelay, c.ActivityRate = -1, -1 // none: no queue time, no limit
		if mod != nil {
			mod(c)
		}
	})
}

// bodies records the bodies of the requests matching method and a path
// suffix, passing them on to the sandbox.
type bodies struct {
	mu  sync.Mutex
	got [][]byte
	ct  []string
}

func (e *env) recordBodies(method, suffix string) *bodies {
	b := &bodies{}
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == method && strings.HasSuffix(r.URL.Path, suffix) {
			data, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(data))
			b.mu.Lock()
			b.got = append(b.got, data)
			b.ct = append(b.ct, r.Header.Get("Content-Type"))
			b.mu.Unlock()
		}
		return false
	})
	return b
}

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ctct -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n%s", name, got)
	}
}

// TestActivityClient runs an add job and an export job through the
// client: the bodies sent (golden), the wait, the feed walk, the file.
func TestActivityClient(t *testing.T) {
	e := activityEnv(t, nil)
	c := e.client(ctct.Options{})
	ctx := t.Context()
	rec := e.recordBodies("POST", "/activities")
	add := &ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: []string{"1", c.ListURI("2")}, Rows: []ctct.BulkRow{
		{EmailAddress: "ann@example.com", FirstName: "Ann", StateCode: "MA", Note: "likes \"roses\",\ntulips"},
		{EmailAddress: "bob@example.com", StateCode: "Test2"},
		{EmailAddress: "cy@example.com", CustomField1: "gold & silver"},
	}}
	a, err := c.CreateActivity(ctx, add)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != ctct.ActivityPending || a.Type != ctct.ActivityAddContactDetail {
		t.Errorf("created %+v", a)
	}
	done, err := c.WaitActivity(ctx, a.ID, ctct.WaitOptions{First: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != ctct.ActivityComplete || done.TransactionCount != 2 || len(done.Errors) != 1 || done.Errors[0].LineNumber != 4 {
		t.Errorf("finished %+v", done)
	}
	// Line 4: row 1, because row 0's note takes two lines.
	form, data, err := c.ActivityForm(add)
	if err != nil {
		t.Fatal(err)
	}
	if row, ok := data.Row(done.Errors[0].LineNumber); !ok || row != 1 {
		t.Errorf("line %d is row %d, %v", done.Errors[0].LineNumber, row, ok)
	}
	found, err := c.SearchEmails(ctx, []string{"ann@example.com"})
	if err != nil || len(found) != 1 {
		t.Fatalf("the new contact: %v %v", found, err)
	}

	exp := &ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: &ctct.ExportOptions{
		List: "active", ListNames: true, DateAdded: true, Source: true, SortBy: ctct.SortByDateDesc,
		Columns: []string{"First Name", "custom field 1", "Postal Code"}}}
	x, err := c.CreateActivity(ctx, exp)
	if err != nil {
		t.Fatal(err)
	}
	x, err = c.WaitActivity(ctx, x.Key(), ctct.WaitOptions{First: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.ExportFile(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	er, err := ctct.NewExportReader(rc, ctct.ExportFileType(x.FileName))
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"Email Address", "List: General Interest", "List: Customers", "List: Newsletter", "Date Added", "Added By", "First Name", "Zip/Postal Code", "Custom Field 1"}
	if !slices.Equal(er.Columns, wantCols) {
		t.Errorf("header %q", er.Columns)
	}
	var emails []string
	for {
		r, err := er.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		emails = append(emails, r.EmailAddress)
		if r.EmailAddress == "cy@example.com" && (r.CustomField1 != "gold & silver" || !slices.Equal(r.Lists, []string{"General Interest", "Customers"})) {
			t.Errorf("row %+v", r)
		}
	}
	if !slices.Equal(emails, []string{"ann@example.com", "cy@example.com"}) {
		t.Errorf("exported %v", emails)
	}

	var keys []string
	p := c.Activities()
	for !p.Done() {
		f, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range f.Activities {
			keys = append(keys, a.Key())
		}
	}
	if !slices.Equal(keys, []string{x.Key(), a.Key()}) {
		t.Errorf("feed %v", keys)
	}
	if g, err := c.GetActivity(ctx, a.ID); err != nil || g.Key() != a.Key() {
		t.Errorf("get by URI: %+v %v", g, err)
	}
	if _, err := c.ExportFile(ctx, done); err == nil {
		t.Error("ExportFile of an add job")
	}
	if _, err := c.ExportFile(ctx, &ctct.Activity{FileName: a.Key() + ".csv"}); !errors.Is(err, ctct.ErrNotFound) {
		t.Errorf("ExportFile of a file that is not there: %v", err)
	}
	if _, err := c.GetActivity(ctx, "anope"); !errors.Is(err, ctct.ErrNotFound) {
		t.Errorf("unknown activity: %v", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != 2 || rec.ct[0] != "application/x-www-form-urlencoded" {
		t.Fatalf("%d POSTs, Content-Type %q", len(rec.got), rec.ct)
	}
	if string(rec.got[0]) != form.Encode() {
		t.Error("the body sent is not ActivityForm's")
	}
	golden(t, "activity_add.form", append(rec.got[0], '\n'))
	golden(t, "activity_export.form", append(rec.got[1], '\n'))
}

func TestActivityFormErrors(t *testing.T) {
	e := activityEnv(t, nil)
	c := e.client(ctct.Options{})
	row := []ctct.BulkRow{{EmailAddress: "a@example.com"}}
	tests := []struct {
		name string
		req  ctct.ActivityRequest
	}{
		{"unknown type", ctct.ActivityRequest{Type: "ADD", Lists: []string{"1"}, Rows: row}},
		{"add without lists", ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Rows: row}},
		{"add without rows", ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: []string{"1"}}},
		{"empty list id", ctct.ActivityRequest{Type: ctct.ActivityClearLists, Lists: []string{" "}}},
		{"clear with rows", ctct.ActivityRequest{Type: ctct.ActivityClearLists, Lists: []string{"1"}, Rows: row}},
		{"add with export", ctct.ActivityRequest{Type: ctct.ActivitySVAdd, Lists: []string{"1"}, Rows: row, Export: &ctct.ExportOptions{List: "1"}}},
		{"export without list", ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: &ctct.ExportOptions{}}},
		{"export with lists", ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Lists: []string{"1"}, Export: &ctct.ExportOptions{List: "1"}}},
		{"export bad type", ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: &ctct.ExportOptions{List: "1", FileType: "XLS"}}},
		{"export bad sort", ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: &ctct.ExportOptions{List: "1", SortBy: "NAME"}}},
		{"export bad column", ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: &ctct.ExportOptions{List: "1", Columns: []string{"Shoe"}}}},
		{"XML character", ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: []string{"1"}, Rows: []ctct.BulkRow{{EmailAddress: "a@example.com", City: "\x00"}}}},
	}
	for _, tt := range tests {
		if _, err := c.CreateActivity(t.Context(), &tt.req); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d requests sent for refused jobs", n)
	}
	// A 400 of the server is an *APIError without secrets.
	_, err := c.CreateActivity(t.Context(), &ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: []string{"9"}, Rows: row})
	var ae *ctct.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !errors.Is(err, ctct.ErrBadRequest) {
		t.Fatalf("unknown list: %v", err)
	}
	for _, secret := range []string{testKey, testPassword} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}

// TestCreateActivityUncertain: a POST cut off after the server created the
// job is repeated for an add job (same end state) and not for an export.
func TestCreateActivityUncertain(t *testing.T) {
	e := activityEnv(t, nil)
	c := e.client(ctct.Options{})
	var mu sync.Mutex
	cut := 0
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != "POST" || cut >= 1 {
			return false
		}
		cut++
		e.sb.ServeHTTP(httptest.NewRecorder(), r) // the job is created...
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // ...and the answer lost
		}
		return true
	})
	req := &ctct.ActivityRequest{Type: ctct.ActivityAddContacts, Lists: []string{"1"}, Rows: []ctct.BulkRow{{EmailAddress: "once@example.com", FirstName: "Once"}}}
	a, err := c.CreateActivity(t.Context(), req)
	if err != nil {
		t.Fatalf("add job after a lost answer: %v", err)
	}
	if _, err := c.WaitActivity(t.Context(), a.ID, ctct.WaitOptions{First: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	f, err := c.Activities().Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range f.Activities {
		if _, err := c.WaitActivity(t.Context(), j.ID, ctct.WaitOptions{First: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	found, err := c.SearchEmails(t.Context(), []string{"once@example.com"})
	if len(f.Activities) != 2 || err != nil || len(found) != 1 || c.Counters().Retries != 1 {
		t.Errorf("%d jobs, %d contacts (%v), %d retries", len(f.Activities), len(found), err, c.Counters().Retries)
	}
	mu.Lock()
	cut = 0
	mu.Unlock()
	_, err = c.CreateActivity(t.Context(), &ctct.ActivityRequest{Type: ctct.ActivityExportContacts, Export: &ctct.ExportOptions{List: "1"}})
	if !errors.Is(err, ctct.ErrUncertain) {
		t.Errorf("export after a lost answer: %v", err)
	}
}

// TestCreateActivity204: a server that answers 204 with a Location
// (tolerated) is read back with a GET.
func TestCreateActivity204(t *testing.T) {
	e := activityEnv(t, nil)
	c := e.client(ctct.Options{})
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != "POST" {
			return false
		}
		rec := httptest.NewRecorder()
		e.sb.ServeHTTP(rec, r)
		w.Header().Set("Location", rec.Header().Get("Location"))
		w.WriteHeader(http.StatusNoContent)
		return true
	})
	a, err := c.CreateActivity(t.Context(), &ctct.ActivityRequest{Type: ctct.ActivityClearLists, Lists: []string{"3"}})
	if err != nil || a.Type != ctct.ActivityClearLists {
		t.Fatalf("204: %+v %v", a, err)
	}
}

// TestWaitActivity: polls with growing waits up to the maximum, and a done
// context ends the wait.
func TestWaitActivity(t *testing.T) {
	e := activityEnv(t, func(c *sandbox.Options) { c.ActivityDelay = 20 * time.Second })
	c := e.client(ctct.Options{})
	a, err := c.CreateActivity(t.Context(), &ctct.ActivityRequest{Type: ctct.ActivityClearLists, Lists: []string{"1"}})
	if err != nil {
		t.Fatal(err)
	}
	polls := 0
	got, err := c.WaitActivity(t.Context(), a.ID, ctct.WaitOptions{First: time.Second, Max: 4 * time.Second, OnPoll: func(*ctct.Activity) { polls++ }})
	if err != nil || got.Status != ctct.ActivityComplete {
		t.Fatalf("wait: %+v %v", got, err)
	}
	sleeps := e.recordedSleeps()
	want := []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3375 * time.Millisecond, 4 * time.Second}
	if len(sleeps) < len(want) || !slices.Equal(sleeps[:len(want)], want) || polls != len(sleeps)+1 {
		t.Fatalf("sleeps %v (%d polls)", sleeps, polls)
	}
	for _, s := range sleeps[len(want):] {
		if s != 4*time.Second {
			t.Errorf("sleep %v over the maximum", s)
		}
	}

	b, err := c.CreateActivity(t.Context(), &ctct.ActivityRequest{Type: ctct.ActivityClearLists, Lists: []string{"2"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	_, err = c.WaitActivity(ctx, b.ID, ctct.WaitOptions{OnPoll: func(*ctct.Activity) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

// TestListClient creates, renames and deletes a list through the client.
func TestListClient(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(ctct.Options{})
	ctx := t.Context()
	rec := e.recordBodies("POST", "/lists")
	l, err := c.CreateList(ctx, &ctct.List{Name: "Spring <Sale> & more", SortOrder: "4"})
	if err != nil {
		t.Fatal(err)
	}
	if ctct.Number(l.ID) != "4" || l.Name != "Spring <Sale> & more" || l.OptInDefault != "false" {
		t.Errorf("created %+v", l)
	}
	if _, err := c.CreateList(ctx, &ctct.List{Name: "spring <sale> & MORE"}); !errors.Is(err, ctct.ErrConflict) {
		t.Errorf("same name: %v", err)
	}
	golden(t, "list_create.xml", rec.got[0])
	put := e.recordBodies("PUT", "/lists/4")
	l.Name, l.OptInDefault = "Spring", "true"
	if err := c.UpdateList(ctx, l); err != nil {
		t.Fatal(err)
	}
	golden(t, "list_update.xml", put.got[0])
	lists, err := c.Lists(ctx)
	if err != nil || lists[len(lists)-1].Name != "Spring" || lists[len(lists)-1].OptInDefault != "true" {
		t.Errorf("after update: %+v %v", lists, err)
	}
	if err := c.UpdateList(ctx, &ctct.List{ID: "active", Name: "x"}); !errors.Is(err, ctct.ErrBadRequest) {
		t.Errorf("update a system list: %v", err)
	}
	if err := c.DeleteList(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteList(ctx, "4"); !errors.Is(err, ctct.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if _, err := ctct.MarshalList(&ctct.List{Name: "bad\x01"}); err == nil {
		t.Error("a control character in a list name was accepted")
	}
}
