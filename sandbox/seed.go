package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"ctctbulk/ctct"
)

// place is a city with its state or province, country and area codes.
type place struct {
	City, State, Country, CountryName string
	Area                              []string
	Zip                               string // first digits of US ZIP codes, or the first letter of Canadian postal codes
}

// seedData holds the tables realistic contacts are drawn from. It is built
// fresh for each Seed call.
type seedData struct {
	first, last, companies, titles, streets, domains, tiers, interests, notes, reasons []string
	places                                                                             []place
	fold                                                                               *strings.Replacer
}

func newSeedData() *seedData {
	return &seedData{
		first: strings.Fields(`James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
			Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty
			Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle
			Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon
			Chloé Zoë José Renée François Amélie Noémie Jürgen Siobhan Priya Wei Hiroshi Aisha Mateo Olivia Liam`),
		last: strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
			Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
			Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores
			Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Tremblay Gagnon Roy Côté Bouchard
			Gauthier Morin Lavoie Fortin Gagné O'Brien O'Connor MacDonald Müller Patel Chen Tanaka Kowalski`),
		companies: []string{"Acme Corporation", "Globex Inc.", "Initech", "Umbrella Foods", "Stark Industries",
			"Wayne Enterprises", "Hooli", "Vandelay Industries", "Soylent Co.", "Wonka Confections",
			"Blue Sky Bakery", "Northwind Traders", "Contoso Ltd.", "Fabrikam", "Tailspin Toys",
			"Pied Piper", "Bluth Company", "Dunder Mifflin", "Prestige Worldwide", "Maple Leaf Florists",
			"Joe's Flowers", "Riverside Dental", "Summit Outdoor Gear", "Harbor Coffee Roasters"},
		titles: []string{"Owner", "President", "Marketing Manager", "Office Manager", "Sales Director",
			"Accountant", "Software Engineer", "Teacher", "Nurse", "Consultant", "Designer", "Chef",
			"Operations Lead", "Account Executive", "Student", "Retired"},
		streets: []string{"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Pine Rd", "Washington Blvd",
			"Lakeview Ter", "Park Ave", "Highland Ave", "Sunset Blvd", "River Rd", "King St W", "Queen St E",
			"Church St", "Rue Saint-Denis"},
		domains: []string{"example.com", "example.org", "example.net", "mail.example.com", "inbox.example.org",
			"corp.example.net", "example.ca", "shop.example.com"},
		tiers:     []string{"Gold", "Silver", "Bronze", "Platinum"},
		interests: []string{"Roses", "Tulips", "Orchids", "Weddings", "Gift baskets", "Succulents", "Events"},
		notes: []string{"Met at the spring trade show.", "Prefers email on weekends.", "Referred by a friend.",
			"Asked about wholesale pricing.", "VIP customer since the store opened."},
		reasons: []string{"", "", "Too many emails", "No longer interested", "Never signed up"},
		fold: strings.NewReplacer("é", "e", "ë", "e", "è", "e", "ô", "o", "ö", "o", "ü", "u", "û", "u", "ç", "c",
			"à", "a", "â", "a", "ï", "i", "î", "i", "ñ", "n", "'", "", " ", "", "-", ""),
		places: []place{
			{"New York", "NY", "us", "United States", []string{"212", "646", "718"}, "100"},
			{"Los Angeles", "CA", "us", "United States", []string{"213", "310", "323"}, "900"},
			{"Chicago", "IL", "us", "United States", []string{"312", "773"}, "606"},
			{"Houston", "TX", "us", "United States", []string{"713", "832"}, "770"},
			{"Austin", "TX", "us", "United States", []string{"512", "737"}, "787"},
			{"Phoenix", "AZ", "us", "United States", []string{"602", "480"}, "850"},
			{"Philadelphia", "PA", "us", "United States", []string{"215", "267"}, "191"},
			{"Seattle", "WA", "us", "United States", []string{"206"}, "981"},
			{"Denver", "CO", "us", "United States", []string{"303", "720"}, "802"},
			{"Boston", "MA", "us", "United States", []string{"617", "857"}, "021"},
			{"Atlanta", "GA", "us", "United States", []string{"404", "678"}, "303"},
			{"Miami", "FL", "us", "United States", []string{"305", "786"}, "331"},
			{"Portland", "OR", "us", "United States", []string{"503", "971"}, "972"},
			{"Nashville", "TN", "us", "United States", []string{"615"}, "372"},
			{"Minneapolis", "MN", "us", "United States", []string{"612"}, "554"},
			{"Columbus", "OH", "us", "United States", []string{"614"}, "432"},
			{"Burlington", "VT", "us", "United States", []string{"802"}, "054"},
			{"San Juan", "PR", "us", "United States", []string{"787"}, "009"},
			{"Toronto", "ON", "ca", "Canada", []string{"416", "647"}, "M"},
			{"Ottawa", "ON", "ca", "Canada", []string{"613"}, "K"},
			{"Montréal", "QC", "ca", "Canada", []string{"514", "438"}, "H"},
			{"Vancouver", "BC", "ca", "Canada", []string{"604", "778"}, "V"},
			{"Calgary", "AB", "ca", "Canada", []string{"403", "587"}, "T"},
			{"Winnipeg", "MB", "ca", "Canada", []string{"204"}, "R"},
			{"Halifax", "NS", "ca", "Canada", []string{"902"}, "B"},
		},
	}
}

// Seed adds n realistic contacts: names, companies, addresses with state
// codes consistent with the country, phones and a few custom fields, spread
// over the user lists; about 5% are Removed and 3% Do Not Mail. The data
// is deterministic for a given RandSeed and store content; emails are
// unique. Insert times spread over the two years before now.
func (s *Sandbox) Seed(ctx context.Context, n int) error {
	if n < 0 {
		return fmt.Errorf("seed %d contacts: negative count", n)
	}
	if n == 0 {
		return nil
	}
	err := s.st.write(ctx, func(tx *sql.Tx) error {
		maxID, err := s.st.maxID(ctx, tx)
		if err != nil {
			return err
		}
		ls, err := s.st.userLists(ctx, tx)
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return errors.New("the store has no list to put contacts on")
		}
		lists := make([]int64, len(ls))
		for i, l := range ls {
			lists[i] = l.ID
		}
		ins := s.st.stmt(ctx, tx, sqlInsert)
		mem := s.st.stmt(ctx, tx, sqlAddMember)

		g := &generator{
			d:     newSeedData(),
			rng:   rand.New(rand.NewPCG(s.cfg.RandSeed, uint64(maxID)+0x5eed)),
			now:   s.cfg.Now().UTC(),
			n:     n,
			lists: lists,
		}
		for i := range n {
			c, ms := g.contact(i) // valid by construction (TestSeedGenerator)
			id, err := g.insert(ctx, ins, s.st.textArgs, c)
			if err != nil {
				return err
			}
			for _, m := range ms {
				if _, err := mem.ExecContext(ctx, id, m.List, m.Source, m.Time); err != nil {
					return fmt.Errorf("seed membership: %w", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed %d contacts: %w", n, err)
	}
	return nil
}

// generator draws seeded contacts.
type generator struct {
	d     *seedData
	rng   *rand.Rand
	now   time.Time
	n     int
	lists []int64
}

func (g *generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *generator) digits(k int) string {
	var b strings.Builder
	for range k {
		b.WriteByte(byte('0' + g.rng.IntN(10)))
	}
	return b.String()
}

func (g *generator) phone(p place) string {
	return fmt.Sprintf("(%s) %d%s-%s", g.pick(p.Area), 2+g.rng.IntN(8), g.digits(2), g.digits(4))
}

// asciiFold turns a name into the letters of an email address.
func (g *generator) asciiFold(s string) string { return g.d.fold.Replace(strings.ToLower(s)) }

// stamp formats a time in the API's layout.
func stamp(t time.Time) string { return t.UTC().Format(timeLayout) }

// contact draws the i-th contact and its memberships.
func (g *generator) contact(i int) (*ctct.Contact, []membership) {
	d := g.d
	c := &ctct.Contact{}
	c.FirstName, c.LastName = g.pick(d.first), g.pick(d.last)
	c.Name = fullName(c)
	c.EmailAddress = g.asciiFold(c.FirstName) + "." + g.asciiFold(c.LastName) + "@" + g.pick(d.domains)
	c.EmailType = ctct.EmailTypeHTML
	if g.rng.IntN(10) == 0 {
		c.EmailType = ctct.EmailTypeText
	}
	if g.rng.IntN(5) == 0 {
		c.MiddleName = string(rune('A'+g.rng.IntN(26))) + "."
	}
	p := d.places[g.rng.IntN(len(d.places))]
	if g.rng.IntN(10) < 7 {
		c.JobTitle, c.CompanyName = g.pick(d.titles), g.pick(d.companies)
		c.WorkPhone = g.phone(p)
	}
	if g.rng.IntN(10) < 3 {
		c.HomePhone = g.phone(p)
	}
	if g.rng.IntN(10) < 8 {
		c.Addr1 = fmt.Sprintf("%d %s", 1+g.rng.IntN(9899), g.pick(d.streets))
		if g.rng.IntN(10) == 0 {
			c.Addr2 = fmt.Sprintf("Suite %d", 100+g.rng.IntN(900))
		}
		c.City, c.StateCode, c.CountryCode, c.CountryName = p.City, p.State, p.Country, p.CountryName
		if p.Country == "ca" {
			l := func() byte { return "ABCEGHJKLMNPRSTVXY"[g.rng.IntN(18)] }
			c.PostalCode = fmt.Sprintf("%s%d%c %d%c%d", p.Zip, g.rng.IntN(10), l(), g.rng.IntN(10), l(), g.rng.IntN(10))
		} else {
			c.PostalCode = p.Zip + g.digits(2)
			if g.rng.IntN(5) == 0 {
				c.SubPostalCode = g.digits(4)
			}
		}
	}
	if g.rng.IntN(20) == 0 {
		c.Note = g.pick(d.notes)
	}
	c.CustomFields[0] = g.pick(d.tiers)
	if g.rng.IntN(2) == 0 {
		c.CustomFields[1] = g.pick(d.interests)
	}

	// Insert times rise with the contact number over the last two years.
	span := 2 * 365 * 24 * time.Hour
	step := span / time.Duration(g.n)
	ins := g.now.Add(-span + time.Duration(i)*step + time.Duration(g.rng.Int64N(int64(step)+1)))
	upd := ins
	if g.rng.IntN(2) == 0 {
		upd = ins.Add(time.Duration(g.rng.Int64N(int64(g.now.Sub(ins)) + 1)))
	}
	c.InsertTime, c.LastUpdateTime = stamp(ins), stamp(upd)
	c.OptInSource, c.OptInTime, c.Confirmed = ctct.ActionByCustomer, stamp(ins), "false"
	if g.rng.IntN(100) < 15 {
		c.OptInSource, c.Confirmed = ctct.ActionByContact, "true"
	}

	var ms []membership
	switch r := g.rng.IntN(100); {
	case r < 5:
		c.Status = ctct.StatusRemoved
	case r < 8:
		c.Status = ctct.StatusDoNotMail
		c.OptOutTime, c.OptOutSource, c.OptOutReason = stamp(upd), ctct.ActionByContact, g.pick(d.reasons)
		if g.rng.IntN(4) == 0 {
			c.OptOutSource = ctct.ActionByCustomer
		}
	default:
		c.Status = ctct.StatusActive
		for k, l := range g.lists {
			p := 35
			if k == 0 {
				p = 70
			}
			if g.rng.IntN(100) < p {
				ms = append(ms, membership{List: l, Source: c.OptInSource, Time: stamp(ins)})
			}
		}
		if len(ms) == 0 {
			ms = append(ms, membership{List: g.lists[g.rng.IntN(len(g.lists))], Source: c.OptInSource, Time: stamp(ins)})
		}
	}
	return c, ms
}

// insert stores c, changing its email until it is unique: first.last,
// then first initial and last, then numbered.
func (g *generator) insert(ctx context.Context, ins *sql.Stmt, args func(*ctct.Contact) []any, c *ctct.Contact) (int64, error) {
	local, domain, _ := strings.Cut(c.EmailAddress, "@")
	for attempt := 0; ; attempt++ {
		switch {
		case attempt == 1:
			f, l, _ := strings.Cut(local, ".")
			c.EmailAddress = f[:1] + l + "@" + domain
		case attempt > 1:
			c.EmailAddress = fmt.Sprintf("%s%d@%s", local, attempt+g.rng.IntN(attempt*10), domain)
		}
		res, err := ins.ExecContext(ctx, args(c)...)
		if isUnique(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("seed contact: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return 0, fmt.Errorf("seed contact: %w", err)
		}
		return id, nil
	}
}
