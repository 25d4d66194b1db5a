package mapping

import (
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/unicode/norm"

	"ctctbulk/ctct"
)

// Names to codes. Other systems export a country as a name ("United
// States", "Deutschland", "UK") and a US state or Canadian province as its
// full name ("California", "Québec"). The API wants a two-letter lower-case
// ISO 3166-1 CountryCode (the only country a bulk job can carry) and a
// two-letter StateCode for the US and Canada, other regions going in
// StateName. This file turns the one into the other; the rules are in
// normalizeRegion.

// countryIndex maps a folded country name (see foldName) to its lower-case
// ISO 3166-1 alpha-2 code. It is built once from golang.org/x/text's region
// names in several languages, plus the aliases x/text lacks, and never
// written afterwards.
var countryIndex = sync.OnceValue(buildCountryIndex)

// nameLanguages are the languages whose names of the countries are
// recognised: English first (it wins a clash), then the languages whose
// own names people most often leave in an export ("Deutschland", "España",
// "Italia", "Nederland", "Brasil", "Suisse").
var nameLanguages = []*display.Dictionary{
	display.English, display.German, display.French, display.Spanish,
	display.Italian, display.Dutch, display.Portuguese,
}

// notCountries are two-letter region codes x/text names that are not
// ISO 3166-1 countries the API would know: reserved and grouping codes.
const notCountries = "AC CP DG EA EU EZ IC TA UN XK QO"

// countryAliases are the common spellings x/text does not give, by code.
var countryAliases = map[string][]string{
	"us": {"USA", "U.S.", "U.S.A.", "US of A", "United States of America", "America", "Amerika"},
	"gb": {"UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland",
		"United Kingdom of Great Britain and Northern Ireland"},
	"nl": {"Holland"},
	"de": {"Federal Republic of Germany", "BRD"},
	"ru": {"Russian Federation"},
	"kr": {"Korea, Republic of", "Republic of Korea", "Korea (South)"},
	"kp": {"Korea, Democratic People's Republic of", "Korea (North)"},
	"ir": {"Iran, Islamic Republic of"},
	"sy": {"Syrian Arab Republic"},
	"la": {"Lao People's Democratic Republic"},
	"vn": {"Viet Nam"},
	"tw": {"Taiwan, Province of China"},
	"tz": {"Tanzania, United Republic of"},
	"md": {"Moldova, Republic of"},
	"ve": {"Venezuela, Bolivarian Republic of"},
	"bo": {"Bolivia, Plurinational State of"},
	"fm": {"Micronesia, Federated States of"},
	"mk": {"North Macedonia", "Macedonia, the former Yugoslav Republic of"},
	"cz": {"Czech Republic"},
	"ci": {"Ivory Coast", "Cote d'Ivoire"},
	"cd": {"Democratic Republic of the Congo", "DR Congo", "DRC", "Congo, the Democratic Republic of the"},
	"cg": {"Republic of the Congo", "Congo-Brazzaville"},
	"hk": {"Hong Kong"},
	"mo": {"Macao", "Macau"},
	"mm": {"Burma"},
	"tr": {"Türkiye", "Turkiye"},
	"sz": {"Eswatini"},
	"cv": {"Cabo Verde"},
	"va": {"Vatican", "Holy See"},
	"ps": {"Palestine", "State of Palestine"},
	"ae": {"UAE", "U.A.E."},
	"bn": {"Brunei Darussalam"},
	"tl": {"East Timor"},
	"vi": {"US Virgin Islands", "Virgin Islands, U.S."},
	"vg": {"Virgin Islands, British"},
}

func buildCountryIndex() map[string]string {
	idx := map[string]string{}
	clash := map[string]bool{}
	add := func(name, code string, wins bool) {
		k := foldName(name)
		if k == "" || clash[k] {
			return
		}
		if old, ok := idx[k]; ok && old != code {
			if !wins {
				// The same word names two countries in two languages:
				// neither is taken from it.
				delete(idx, k)
				clash[k] = true
			}
			return
		}
		idx[k] = code
	}
	skip := strings.Fields(notCountries)
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			r, err := language.ParseRegion(code)
			if err != nil || !r.IsCountry() || r.Canonicalize().String() != code || contains(skip, code) {
				continue
			}
			lower := strings.ToLower(code)
			idx[strings.ToLower(r.ISO3())] = lower
			for i, d := range nameLanguages {
				if name := d.Regions().Name(r); name != "" {
					add(name, lower, i == 0)
				}
			}
		}
	}
	for code, names := range countryAliases {
		for _, n := range names {
			idx[foldName(n)] = code
		}
	}
	return idx
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// foldName is the key a country or region name is matched by: letters and
// digits lower-cased and stripped of their accents, '&' read as "and",
// "Saint" as "St", any other character a word break, a leading "the"
// dropped. "The Netherlands", "netherlands" and "NETHERLANDS " give
// "netherlands"; "Saint Kitts & Nevis" and "St. Kitts and Nevis" give "st
// kitts and nevis".
func foldName(s string) string {
	var words []string
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 {
			word := w.String()
			if word == "saint" {
				word = "st"
			}
			words = append(words, word)
			w.Reset()
		}
	}
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			w.WriteRune(unicode.ToLower(r))
		case r == '&':
			flush()
			words = append(words, "and")
		case r == '\'' || r == '’':
			// "d'Ivoire" reads as one word.
		default:
			flush()
		}
	}
	flush()
	if len(words) > 1 && words[0] == "the" {
		words = words[1:]
	}
	return strings.Join(words, " ")
}

// CountryCode returns the lower-case ISO 3166-1 alpha-2 code of a country
// given by its code (alpha-2 or alpha-3, any case) or its name (English,
// German, French, Spanish, Italian, Dutch or Portuguese, or a common form
// such as "USA", "U.K." or "Holland"), and whether it knows it.
func CountryCode(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false
	}
	if len(v) == 2 && isASCIILetter(v[0]) && isASCIILetter(v[1]) {
		r, err := language.ParseRegion(v)
		if err != nil || !r.IsCountry() {
			return "", false
		}
		code := r.Canonicalize().String()
		if contains(strings.Fields(notCountries), code) {
			return "", false
		}
		return strings.ToLower(code), true
	}
	code, ok := countryIndex()[foldName(v)]
	return code, ok
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// regionNames maps a folded US state or Canadian province name to its
// code and country. The API's own codes are in package ctct; the names
// are here, because only an import reads them.
var regionNames = sync.OnceValue(func() map[string]stateName {
	m := map[string]stateName{}
	for code, names := range map[string][]string{
		"AL": {"Alabama"}, "AK": {"Alaska"}, "AZ": {"Arizona"}, "AR": {"Arkansas"}, "CA": {"California"},
		"CO": {"Colorado"}, "CT": {"Connecticut"}, "DE": {"Delaware"},
		"DC": {"District of Columbia", "Washington DC", "Washington D.C.", "D.C."},
		"FL": {"Florida"}, "GA": {"Georgia"}, "HI": {"Hawaii"}, "ID": {"Idaho"}, "IL": {"Illinois"},
		"IN": {"Indiana"}, "IA": {"Iowa"}, "KS": {"Kansas"}, "KY": {"Kentucky"}, "LA": {"Louisiana"},
		"ME": {"Maine"}, "MD": {"Maryland"}, "MA": {"Massachusetts"}, "MI": {"Michigan"}, "MN": {"Minnesota"},
		"MS": {"Mississippi"}, "MO": {"Missouri"}, "MT": {"Montana"}, "NE": {"Nebraska"}, "NV": {"Nevada"},
		"NH": {"New Hampshire"}, "NJ": {"New Jersey"}, "NM": {"New Mexico"}, "NY": {"New York", "New York State"},
		"NC": {"North Carolina"}, "ND": {"North Dakota"}, "OH": {"Ohio"}, "OK": {"Oklahoma"}, "OR": {"Oregon"},
		"PA": {"Pennsylvania"}, "RI": {"Rhode Island"}, "SC": {"South Carolina"}, "SD": {"South Dakota"},
		"TN": {"Tennessee"}, "TX": {"Texas"}, "UT": {"Utah"}, "VT": {"Vermont"}, "VA": {"Virginia"},
		"WA": {"Washington", "Washington State"}, "WV": {"West Virginia"}, "WI": {"Wisconsin"}, "WY": {"Wyoming"},
		"AS": {"American Samoa"}, "GU": {"Guam"}, "MP": {"Northern Mariana Islands"}, "PR": {"Puerto Rico"},
		"VI": {"US Virgin Islands", "U.S. Virgin Islands", "Virgin Islands"}, "UM": {"U.S. Minor Outlying Islands"},
		"AA": {"Armed Forces Americas"}, "AE": {"Armed Forces Europe"}, "AP": {"Armed Forces Pacific"},
		"AB": {"Alberta"}, "BC": {"British Columbia", "Colombie-Britannique"}, "MB": {"Manitoba"},
		"NB": {"New Brunswick", "Nouveau-Brunswick"},
		"NL": {"Newfoundland and Labrador", "Newfoundland", "Terre-Neuve-et-Labrador"},
		"NS": {"Nova Scotia", "Nouvelle-Écosse"}, "NT": {"Northwest Territories", "Territoires du Nord-Ouest"},
		"NU": {"Nunavut"}, "ON": {"Ontario"}, "PE": {"Prince Edward Island", "PEI", "Île-du-Prince-Édouard"},
		"QC": {"Quebec", "Québec", "Province of Quebec"}, "SK": {"Saskatchewan"}, "YT": {"Yukon", "Yukon Territory"},
	} {
		country, _ := ctct.StateCountry(code)
		for _, n := range names {
			m[foldName(n)] = stateName{code: code, country: country}
		}
	}
	return m
})

// stateName is a US state or Canadian province: its code and country.
type stateName struct{ code, country string }

// lookupStateName finds a US state or Canadian province by its code (any
// case) or its name.
func lookupStateName(v string) (stateName, bool) {
	if country, ok := ctct.StateCountry(strings.ToUpper(v)); ok {
		return stateName{code: strings.ToUpper(v), country: country}, true
	}
	if len(v) <= 2 {
		return stateName{}, false
	}
	s, ok := regionNames()[foldName(v)]
	return s, ok
}

// normalizeRegion applies the names-to-codes rules to a converted contact
// whose mapping has a region column:
//   - a country name (in CountryCode or CountryName) that CountryCode knows
//     becomes the two-letter CountryCode when the row gives no code (a
//     CountryName beside a CountryCode stays as given); an unknown name
//     stays CountryName (a
//     CountryCode cell that is not a code nor a known name is left for the
//     field's check to refuse);
//   - a StateCode or StateName cell holding a US state or Canadian province
//     (code or full name) becomes its StateCode when the row's country is
//     empty or that state's country, and sets an empty CountryCode to it;
//   - any other region goes to StateName: a StateCode cell for a country
//     other than the US and Canada, or a name longer than a code when no
//     country is given. A two-letter StateCode that is no code stays for
//     the check to refuse, as does a state not of the row's US or Canada.
func normalizeRegion(c *ctct.Contact) {
	if v := c.CountryCode; v != "" && !isLowerCode(v) {
		if code, ok := CountryCode(v); ok {
			c.CountryCode = code
		}
	}
	if v := c.CountryName; v != "" {
		if code, ok := CountryCode(v); ok {
			if c.CountryCode == "" {
				// The name moves to the code: a bulk job can carry it. A
				// name beside its own code stays as given.
				c.CountryCode, c.CountryName = code, ""
			}
		}
	}
	usca := c.CountryCode == "us" || c.CountryCode == "ca"
	switch {
	case c.StateCode != "":
		v := c.StateCode
		if c.CountryCode != "" && !usca {
			if c.StateName == "" {
				c.StateCode, c.StateName = "", v
			}
			return
		}
		if st, ok := lookupStateName(v); ok {
			if c.CountryCode == "" || c.CountryCode == st.country {
				c.StateCode = st.code
				if c.CountryCode == "" {
					c.CountryCode = st.country
				}
			}
			return
		}
		if c.CountryCode == "" && len([]rune(v)) > 2 && c.StateName == "" {
			c.StateCode, c.StateName = "", v
		}
	case c.StateName != "" && (c.CountryCode == "" || usca):
		st, ok := lookupStateName(c.StateName)
		if !ok || len(c.StateName) <= 2 && c.CountryCode == "" {
			return // a name we do not know, or a bare code with no country: as given
		}
		if c.CountryCode == "" || c.CountryCode == st.country {
			c.StateCode, c.StateName = st.code, ""
			if c.CountryCode == "" {
				c.CountryCode = st.country
			}
		}
	}
}

// isLowerCode reports whether v is already two lower-case ASCII letters.
func isLowerCode(v string) bool {
	return len(v) == 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' && v[1] <= 'z'
}
