package sandbox

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ctctbulk/ctct"
)

func TestSeed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *Options) { c.RandSeed = 7 })
	if err := e.sb.Seed(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.Seed(ctx, -1); err == nil {
		t.Error("Seed(-1) accepted")
	}
	if err := e.sb.Seed(ctx, 400); err != nil {
		t.Fatal(err)
	}
	all := e.walk(api("/contacts"))
	if len(all) != 400 {
		t.Fatalf("%d contacts", len(all))
	}
	byStatus := map[string]int{}
	emails := map[string]bool{}
	for _, c := range all {
		byStatus[c.Status]++
		if emails[c.EmailAddress] {
			t.Errorf("duplicate email %s", c.EmailAddress)
		}
		emails[c.EmailAddress] = true
	}
	// Expected 20 Removed and 12 Do Not Mail; allow for chance.
	if r, d := byStatus[ctct.StatusRemoved], byStatus[ctct.StatusDoNotMail]; r < 5 || r > 40 || d < 2 || d > 30 {
		t.Errorf("statuses %v", byStatus)
	}
	withCompany, withState, canadian := 0, 0, 0
	for _, s := range all[:100] {
		c := e.get(ctct.Number(s.ID))
		if errs := ctct.ValidateContact(c); len(errs) > 0 {
			t.Errorf("seeded contact %s invalid: %v", c.EmailAddress, errs[0])
		}
		if c.FirstName == "" || c.LastName == "" || c.Name != c.FirstName+" "+c.LastName || c.CustomFields[0] == "" {
			t.Errorf("names %+v", c)
		}
		switch c.Status {
		case ctct.StatusActive:
			if len(c.Lists) == 0 {
				t.Errorf("active contact %s on no list", c.EmailAddress)
			}
		case ctct.StatusDoNotMail:
			if len(c.Lists) != 0 || c.OptOutTime == "" || c.OptOutSource == "" {
				t.Errorf("DNM contact %+v", c)
			}
		default:
			if len(c.Lists) != 0 {
				t.Errorf("%s contact on lists", c.Status)
			}
		}
		if c.InsertTime > c.LastUpdateTime || c.LastUpdateTime > e.clock.Now().Format(timeLayout) {
			t.Errorf("times %s %s", c.InsertTime, c.LastUpdateTime)
		}
		if c.CompanyName != "" {
			withCompany++
		}
		if c.StateCode != "" {
			withState++
		}
		if c.CountryCode == "ca" {
			canadian++
		}
	}
	if withCompany < 30 || withState < 30 || canadian == 0 {
		t.Errorf("little variety: %d companies, %d states, %d Canadians of 100", withCompany, withState, canadian)
	}

	// Same seed, same clock: the same contacts.
	e2 := newEnv(t, func(c *Options) { c.RandSeed = 7 })
	if err := e2.sb.Seed(ctx, 400); err != nil {
		t.Fatal(err)
	}
	if a, b := e.do("GET", api("/contacts"), ""), e2.do("GET", api("/contacts"), ""); a.Body != b.Body {
		t.Error("same seed gave different contacts")
	}

	// Seeding again adds new, unique contacts.
	if err := e.sb.Seed(ctx, 400); err != nil {
		t.Fatal(err)
	}
	all = e.walk(api("/contacts"))
	seen := map[string]bool{}
	for _, c := range all {
		seen[c.EmailAddress] = true
	}
	if len(all) != 800 || len(seen) != 800 {
		t.Errorf("%d contacts, %d emails", len(all), len(seen))
	}
	var total int
	for _, l := range e.feed(api("/lists")).Lists[:3] {
		total += l.ContactCount
	}
	if total != 800 {
		t.Errorf("system lists count %d contacts", total)
	}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sandbox.db")
	cfg := Options{}
	cfg.DB = path
	sb, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Seed(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := sb.st.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q, %v", mode, err)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, func(c *Options) { c.DB = path })
	if n := len(e.walk(api("/contacts"))); n != 10 {
		t.Errorf("%d contacts after reopening", n)
	}
	if n := len(e.feed(api("/lists")).Lists); n != 6 {
		t.Errorf("%d lists after reopening", n)
	}
	if n := e.create(newContact("new@example.com", 1)); n != "11" {
		t.Errorf("new contact number %s", n)
	}

	// A store of another schema version is refused.
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg.DB = other
	if sb, err := New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		if sb != nil {
			sb.Close()
		}
		t.Errorf("New on version 99: %v", err)
	}
}

func TestResetKeepsWorking(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	if err := e.sb.Seed(ctx, 50); err != nil {
		t.Fatal(err)
	}
	e.do("GET", api("/lists"), "")
	if err := e.sb.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if s := e.sb.Stats(); s.Requests != 0 {
		t.Errorf("stats after Reset: %+v", s)
	}
	f := e.feed(api("/lists"))
	var names []string
	for _, l := range f.Lists {
		names = append(names, l.Name)
	}
	if !slices.Equal(names, []string{"Active", "Do Not Mail", "Removed", "General Interest", "Customers", "Newsletter"}) {
		t.Errorf("lists %v", names)
	}
	want(t, e.do("GET", api("/contacts/1"), ""), http.StatusNotFound)
}

// TestSeedGenerator checks many drawn contacts against the API's rules.
func TestSeedGenerator(t *testing.T) {
	g := &generator{
		d:     newSeedData(),
		rng:   rand.New(rand.NewPCG(3, 4)),
		now:   time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		n:     5000,
		lists: []int64{1, 2, 3},
	}
	for i := range g.n {
		c, ms := g.contact(i)
		if errs := ctct.ValidateContact(c); len(errs) > 0 {
			t.Fatalf("contact %d (%s) invalid: %v", i, c.EmailAddress, errs[0])
		}
		if (c.Status == ctct.StatusActive) != (len(ms) > 0) {
			t.Fatalf("contact %d: status %s with %d lists", i, c.Status, len(ms))
		}
		if c.InsertTime > c.LastUpdateTime || c.LastUpdateTime > stamp(g.now) {
			t.Fatalf("contact %d: times %s %s", i, c.InsertTime, c.LastUpdateTime)
		}
	}
}
