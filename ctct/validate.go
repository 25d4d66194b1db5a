package ctct

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// rule is the check a field's values follow beyond the table's MaxLen and
// Allowed, and the case the API prescribes for them.
type rule int

const (
	ruleText    rule = iota // MaxLen, Allowed (any case on input) and XML characters
	ruleEmail               // required, lower case, a valid address of at most MaxLen characters
	ruleState               // upper case; a US state or Canadian province code, of the CountryCode's country
	ruleCountry             // lower case; two letters (ISO 3166-1)
)

// Normalize returns v with the case the API prescribes for the field:
// EmailAddress and a two-letter CountryCode lower case, a StateCode of at
// most two letters upper case (longer values, names rather than codes,
// are returned as they are), an
// enumeration (EmailType) spelled as the table spells it whatever the case
// of v. Other values are returned unchanged; nothing is trimmed. It
// allocates only when the case changes.
func (f *Field) Normalize(v string) string {
	switch f.rule {
	case ruleEmail:
		return strings.ToLower(v)
	case ruleCountry:
		if len(v) == 2 {
			return strings.ToLower(v)
		}
		return v // a name, for the importer to turn into a code
	case ruleState:
		if st, ok := lookupState(v); ok {
			return st.code // the table's own string: no allocation
		}
		if len(v) <= 2 {
			return strings.ToUpper(v)
		}
		return v // a name, for the importer to turn into a code
	}
	for _, a := range f.Allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	return v
}

// Check validates v as the field's value in c (the StateCode rule reads
// c.CountryCode) the way the API does: length in characters, allowed
// values (exact case), XML 1.0 characters, and the field's own rule (email
// syntax; a known state code consistent with the country; a two-letter
// country code). Empty values pass but for EmailAddress, which is
// required. Plain ASCII values, the common case, take fast paths that
// accept only what the full checks accept. Safe for concurrent use.
func (f *Field) Check(v string, c *Contact) error {
	switch f.rule {
	case ruleEmail:
		if plainEmail(v, f.MaxLen) {
			return nil
		}
		return emailError(v, f.MaxLen)
	case ruleState:
		if v == "" {
			return nil
		}
		st, ok := lookupState(v)
		if !ok || st.code != v {
			if err := f.CheckValue(v); err != nil {
				return err
			}
			return fmt.Errorf("%q is not a US state or Canadian province code", v)
		}
		if cc := c.CountryCode; cc != "" && cc != st.country {
			return fmt.Errorf("%q is a %s code but CountryCode is %q", v, strings.ToUpper(st.country), cc)
		}
		return nil
	}
	if err := f.CheckValue(v); err != nil {
		return err
	}
	if f.rule == ruleCountry && v != "" {
		return countryCodeError(v)
	}
	return nil
}

// ValidateContact checks every editable value of c with Field.Check. It
// returns one *FieldError per bad field, in element order, or nil.
func ValidateContact(c *Contact) []*FieldError {
	var errs []*FieldError
	for i := range editableTable {
		f := &editableTable[i]
		if err := f.Check(f.Get(c), c); err != nil {
			errs = append(errs, &FieldError{Field: f.Name, Err: err})
		}
	}
	return errs
}

// CheckValue validates one value against the field's table rules: length
// in characters, allowed values and XML 1.0 characters. Empty values pass.
// It does not apply the field's own rule (email syntax, state and country
// codes); Check does.
func (f *Field) CheckValue(v string) error {
	if v == "" {
		return nil
	}
	if len(f.Allowed) == 0 && (f.MaxLen == 0 || len(v) <= f.MaxLen) && plainASCII(v) {
		return nil // valid XML text of len(v) characters
	}
	if err := CheckXMLText(v); err != nil {
		return err
	}
	if f.MaxLen > 0 {
		if n := utf8.RuneCountInString(v); n > f.MaxLen {
			return fmt.Errorf("%d characters, at most %d allowed", n, f.MaxLen)
		}
	}
	if len(f.Allowed) > 0 {
		for _, a := range f.Allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(f.Allowed, ", "))
	}
	return nil
}

// plainASCII reports whether v holds only ASCII characters that XML 1.0
// allows (tab, LF, CR and 0x20-0x7F): such a value is valid XML text and
// has len(v) characters.
func plainASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			return false
		}
	}
	return true
}

// emailError validates an email address the way the API does: at most max
// characters, one @, a non-empty local part without spaces, and a domain
// with a dot and no empty label.
func emailError(addr string, max int) error {
	if addr == "" {
		return errors.New("email address is required")
	}
	if n := utf8.RuneCountInString(addr); n > max {
		return fmt.Errorf("%d characters, at most %d allowed", n, max)
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || strings.Contains(domain, "@") {
		return fmt.Errorf("%q is not a valid email address: it needs exactly one @", addr)
	}
	if local == "" || domain == "" {
		return fmt.Errorf("%q is not a valid email address", addr)
	}
	if strings.ContainsAny(addr, emailRefused+" \t\r\n") {
		return fmt.Errorf("%q is not a valid email address: it contains a space or a character not allowed", addr)
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return fmt.Errorf("%q is not a valid email address: misplaced dot", addr)
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q is not a valid email address: the domain has no dot", addr)
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return fmt.Errorf("%q is not a valid email address: bad domain", addr)
		}
	}
	if err := CheckXMLText(addr); err != nil {
		return err
	}
	return nil
}

// emailRefused are the printable characters an email address may not hold.
const emailRefused = ",;<>()[]\\\""

// plainEmail is a one-pass check that accepts a subset of what emailError
// accepts: printable ASCII addresses of at most max characters, with
// exactly one @, a local part without a leading, trailing or double dot,
// and a domain of at least two labels, none empty or starting or ending
// with '-'. False means "ask emailError".
func plainEmail(v string, max int) bool {
	if len(v) == 0 || len(v) > max {
		return false
	}
	at := -1
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case !emailChars[c]:
			return false
		case c == '@':
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at <= 0 || at == len(v)-1 {
		return false
	}
	local, domain := v[:at], v[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	labels := 0
	for len(domain) > 0 {
		label := domain
		if i := strings.IndexByte(domain, '.'); i >= 0 {
			label, domain = domain[:i], domain[i+1:]
			if domain == "" {
				return false // trailing dot: an empty last label
			}
		} else {
			domain = ""
		}
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		labels++
	}
	return labels >= 2
}

// emailChars are the bytes plainEmail lets through: printable ASCII but
// for emailRefused. Built once, never written.
var emailChars = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(emailRefused, rune(c))
	}
	return t
}()

// countryCodeError validates a lower-case two-letter country code.
func countryCodeError(v string) error {
	if len(v) != 2 || v[0] < 'a' || v[0] > 'z' || v[1] < 'a' || v[1] > 'z' {
		return fmt.Errorf("%q is not a two-letter lower-case ISO 3166-1 code", v)
	}
	return nil
}

// usStates and caProvinces are the state and province codes the API
// accepts in StateCode, with the country each belongs to.
const (
	usStates    = "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM AA AE AP"
	caProvinces = "AB BC MB NB NL NS NT NU ON PE QC SK YT"
)

// stateInfo is a StateCode the API accepts and its country code.
type stateInfo struct{ code, country string }

// states holds, at index (first letter)*26 + (second letter), every
// StateCode the API accepts with its country. Built once, never written.
var states = func() (t [26 * 26]stateInfo) {
	for country, codes := range map[string]string{"us": usStates, "ca": caProvinces} {
		for _, code := range strings.Fields(codes) {
			t[int(code[0]-'A')*26+int(code[1]-'A')] = stateInfo{code, country}
		}
	}
	return t
}()

// lookupState finds a two-letter code, in either case, in states.
func lookupState(v string) (stateInfo, bool) {
	if len(v) != 2 {
		return stateInfo{}, false
	}
	a, b := upper(v[0]), upper(v[1])
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return stateInfo{}, false
	}
	st := states[int(a-'A')*26+int(b-'A')]
	return st, st.code != ""
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// CheckXMLText reports the first character that XML 1.0 forbids (control
// characters other than tab, CR and LF, surrogates, U+FFFE, U+FFFF) or
// invalid UTF-8.
func CheckXMLText(s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		}
		if !isXMLChar(r) {
			return fmt.Errorf("character U+%04X at byte %d is not allowed in XML", r, i)
		}
		i += size
	}
	return nil
}

func isXMLChar(r rune) bool {
	switch {
	case r == 0x09 || r == 0x0A || r == 0x0D:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// CheckOptSource validates an OptInSource or OptOutSource value.
func CheckOptSource(v string) error {
	if v == ActionByCustomer || v == ActionByContact {
		return nil
	}
	return fmt.Errorf("%q is not %s or %s", v, ActionByCustomer, ActionByContact)
}

// Limit describes the field's rule in a few words, as `ctctbulk fields`
// shows it: e.g. "50 chars", "HTML|Text", "2 chars, US/CA code",
// "read-only".
func (f *Field) Limit() string {
	switch {
	case f.Name == FieldContactLists:
		return "list ids or names separated by ;"
	case !f.Editable:
		return "read-only"
	case f.rule == ruleEmail:
		return fmt.Sprintf("%d chars, required, valid address", f.MaxLen)
	case f.rule == ruleState:
		return fmt.Sprintf("%d chars, US/CA code", f.MaxLen)
	case f.rule == ruleCountry:
		return fmt.Sprintf("%d chars, ISO 3166-1 code", f.MaxLen)
	case len(f.Allowed) > 0:
		return strings.Join(f.Allowed, "|")
	case f.MaxLen > 0:
		return fmt.Sprintf("%d chars", f.MaxLen)
	}
	return ""
}

// StateCountry returns the country code ("us" or "ca") of a StateCode the
// API accepts, given in upper case, and whether it is one.
func StateCountry(code string) (string, bool) {
	st, ok := lookupState(code)
	if !ok || st.code != code {
		return "", false
	}
	return st.country, true
}
