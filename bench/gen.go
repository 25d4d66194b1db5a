package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

// The generated inputs are written with encoding/csv rather than gocsv:
// the harness needs every row as (canonical field -> value) to compare the
// account with the input field by field, so a []string per row in the
// header's order is the natural shape; a 1,000,000-row file is streamed one
// record at a time (gocsv would need its channel API, reflection per row and
// its package-global configuration); and encoding/csv is the baseline the
// dry run is measured against anyway.

// genHeader is the header of every generated file: canonical field names,
// so no mapping is needed and an export of the account has the same names.
var genHeader = []string{
	"EmailAddress", "FirstName", "LastName", "JobTitle", "CompanyName", "WorkPhone",
	"Addr1", "City", "StateCode", "CountryCode", "PostalCode", "Note",
	"CustomField1", "CustomField2", "ContactLists",
}

// genPlace is a city with a state code consistent with its country.
type genPlace struct{ city, state, country, zip string }

// Immutable tables the generator draws from.
var (
	genFirst   = []string{"Ada", "Grace", "Alan", "Chloé", "José", "Zoë", "Jürgen", "Siobhan", "Priya", "Wei", "Hiroshi", "Aisha", "Mateo", "Olivia", "Liam", "Renée"}
	genLast    = []string{"Lovelace", "Hopper", "Turing", "Côté", "Müller", "O'Brien", "Tremblay", "Gagné", "Nguyen", "Patel", "Chen", "Tanaka", "Kowalski", "García"}
	genTitles  = []string{"Owner", "President", "Marketing Manager", "Sales Director", "Accountant", "Engineer", "Teacher", "Chef"}
	genCompany = []string{"Acme Corporation", "Globex, Inc.", "Initech", "Umbrella Foods", "Joe's Flowers", "Wayne Enterprises", "Blue Sky Bakery", "Northwind Traders"}
	genStreets = []string{"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Rue Saint-Denis", "King St W"}
	genPlaces  = []genPlace{
		{"New York", "NY", "us", "100"}, {"Austin", "TX", "us", "787"}, {"Seattle", "WA", "us", "981"},
		{"Boston", "MA", "us", "021"}, {"Toronto", "ON", "ca", "M"}, {"Montréal", "QC", "ca", "H"},
		{"Vancouver", "BC", "ca", "V"},
	}
	genTiers = []string{"gold", "silver", "bronze", "platinum"}
)

// genEmail is the address of row i: the key that stays the same across
// versions of a file.
func genEmail(i int) string { return fmt.Sprintf("bench.%07d@example.com", i) }

// genRecord returns row i (0-based) of version v of a generated file, in
// genHeader's order. It depends only on (seed, i, v), so any row can be
// regenerated for comparison without keeping the file in memory. Version
// v+1 changes every value but the email; values are already normalised
// (the importer's trimming and casing leave them alone), a few notes hold
// commas, quotes and newlines, and lists are "1" or "1;2" in version 0 and
// "2;3" after.
func genRecord(seed uint64, i, v int) []string {
	r := rand.New(rand.NewPCG(seed, uint64(i)<<8|uint64(v)))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	// Even rows live in the US in even versions and in Canada in odd ones,
	// odd rows the other way round, so that every version moves the country.
	us, ca := genPlaces[:4], genPlaces[4:]
	pool := us
	if (i+v)%2 == 1 {
		pool = ca
	}
	pl := pool[r.IntN(len(pool))]
	postal := fmt.Sprintf("%s%02d", pl.zip, r.IntN(100))
	if pl.country == "ca" {
		postal = fmt.Sprintf("%s%d%c %d%c%d", pl.zip, r.IntN(10), 'A'+rune(r.IntN(26)), r.IntN(10), 'A'+rune(r.IntN(26)), r.IntN(10))
	}
	note := fmt.Sprintf("v%d note %d", v, r.IntN(1_000_000))
	switch i % 50 {
	case 7:
		note = fmt.Sprintf("v%d says \"hello, world\"", v)
	case 13:
		note = fmt.Sprintf("v%d first line\nsecond line", v)
	}
	lists := "1"
	switch {
	case v > 0:
		lists = "2;3"
	case i%3 == 0:
		lists = "1;2"
	}
	return []string{
		genEmail(i),
		pick(genFirst) + fmt.Sprintf(" %d", v),
		pick(genLast) + strings.Repeat("-Baker", v),
		fmt.Sprintf("%s v%d", pick(genTitles), v),
		fmt.Sprintf("%s %d", pick(genCompany), v),
		fmt.Sprintf("555-%02d%02d-%d", r.IntN(100), r.IntN(100), v),
		fmt.Sprintf("%d %s unit %d", 1+r.IntN(9999), pick(genStreets), v),
		pl.city,
		pl.state,
		pl.country,
		postal,
		note,
		fmt.Sprintf("%s-%d", pick(genTiers), v),
		fmt.Sprintf("%d-%d", 2000+r.IntN(25), v),
		lists,
	}
}

// writeInput writes rows [0, n) of version v to path with the header and
// returns the file's size in bytes.
func writeInput(path string, seed uint64, n, v int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("create input: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	w := csv.NewWriter(bw)
	if err := w.Write(genHeader); err != nil {
		f.Close()
		return 0, fmt.Errorf("write input: %w", err)
	}
	for i := range n {
		if err := w.Write(genRecord(seed, i, v)); err != nil {
			f.Close()
			return 0, fmt.Errorf("write input: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return 0, fmt.Errorf("write input: %w", err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, fmt.Errorf("write input: %w", err)
	}
	st, err := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write input: %w", err)
	}
	return st.Size(), nil
}

// expected is what the account should hold for one generated email: the
// record's values by field name, and the lists it must be a member of
// (membership is additive, so lists of every version imported).
type expected struct {
	line   int // 1-based row number in the input (not counting the header)
	fields map[string]string
	lists  map[string]bool
}

// expectedState returns the intended final state after importing versions
// vs (in order) of rows [0, n): the last version's values, the union of
// every version's lists.
func expectedState(seed uint64, n int, vs ...int) map[string]*expected {
	out := make(map[string]*expected, n)
	for i := range n {
		e := &expected{line: i + 1, fields: map[string]string{}, lists: map[string]bool{}}
		for _, v := range vs {
			rec := genRecord(seed, i, v)
			for k, name := range genHeader {
				if name == "ContactLists" {
					for _, l := range strings.Split(rec[k], ";") {
						e.lists[l] = true
					}
					continue
				}
				e.fields[name] = rec[k]
			}
		}
		out[e.fields["EmailAddress"]] = e
	}
	return out
}
