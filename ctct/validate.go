package ctct

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// usStates and caProvinces are the state and province codes the API
// accepts in StateCode, with the country each belongs to.
const (
	usStates    = "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM AA AE AP"
	caProvinces = "AB BC MB NB NL NS NT NU ON PE QC SK YT"
)

// StateCountry returns the country code ("us" or "ca") of a state or
// province code, and false when the API does not know the code.
func StateCountry(code string) (string, bool) {
	if len(code) != 2 {
		return "", false
	}
	if strings.Contains(" "+usStates+" ", " "+code+" ") {
		return "us", true
	}
	if strings.Contains(" "+caProvinces+" ", " "+code+" ") {
		return "ca", true
	}
	return "", false
}

// CheckEmail validates an email address the way the API does: at most 80
// characters, one @, a non-empty local part without spaces, and a domain
// with a dot and no empty label.
func CheckEmail(addr string) error {
	if addr == "" {
		return errors.New("email address is required")
	}
	if n := len([]rune(addr)); n > 80 {
		return fmt.Errorf("%d characters, at most 80 allowed", n)
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || strings.Contains(domain, "@") {
		return fmt.Errorf("%q is not a valid email address: it needs exactly one @", addr)
	}
	if local == "" || domain == "" {
		return fmt.Errorf("%q is not a valid email address", addr)
	}
	if strings.ContainsAny(addr, " \t\r\n,;<>()[]\\\"") {
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

// CheckCountryCode validates a lower-case two-letter country code.
func CheckCountryCode(v string) error {
	if len(v) != 2 || v[0] < 'a' || v[0] > 'z' || v[1] < 'a' || v[1] > 'z' {
		return fmt.Errorf("%q is not a two-letter lower-case ISO 3166-1 code", v)
	}
	return nil
}

// ValidateContact checks every editable value of c against the field table
// and the API's rules (email syntax, state code known and consistent with
// the country code). It returns one *FieldError per bad field, in element
// order, or nil.
func ValidateContact(c *Contact) []*FieldError {
	var errs []*FieldError
	add := func(field string, err error) { errs = append(errs, &FieldError{Field: field, Err: err}) }
	for i := range editableTable {
		f := &editableTable[i]
		v := f.Get(c)
		if f.Name == "EmailAddress" {
			if err := CheckEmail(v); err != nil {
				add(f.Name, err)
			}
			continue
		}
		if err := f.CheckValue(v); err != nil {
			add(f.Name, err)
			continue
		}
		switch f.Name {
		case "CountryCode":
			if v != "" {
				if err := CheckCountryCode(v); err != nil {
					add(f.Name, err)
				}
			}
		case "StateCode":
			if v == "" {
				continue
			}
			country, ok := StateCountry(v)
			if !ok {
				add(f.Name, fmt.Errorf("%q is not a US state or Canadian province code", v))
				continue
			}
			if cc := c.CountryCode; cc != "" && cc != country {
				add(f.Name, fmt.Errorf("%q is a %s code but CountryCode is %q", v, strings.ToUpper(country), cc))
			}
		}
	}
	return errs
}

// CheckValue validates one value against the field's rules: length in
// characters, allowed values and XML 1.0 characters. Empty values pass.
// It does not check email syntax or state/country consistency; see
// CheckContact for those.
func (f *Field) CheckValue(v string) error {
	if v == "" {
		return nil
	}
	if err := CheckXMLText(v); err != nil {
		return err
	}
	if f.MaxLen > 0 {
		if n := len([]rune(v)); n > f.MaxLen {
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
	switch f.Name {
	case "EmailAddress":
		return fmt.Sprintf("%d chars, required, valid address", f.MaxLen)
	case "StateCode":
		return fmt.Sprintf("%d chars, US/CA code", f.MaxLen)
	case "CountryCode":
		return fmt.Sprintf("%d chars, ISO 3166-1 code", f.MaxLen)
	case FieldContactLists:
		return "list ids or names separated by ;"
	}
	switch {
	case !f.Editable:
		return "read-only"
	case len(f.Allowed) > 0:
		return strings.Join(f.Allowed, "|")
	case f.MaxLen > 0:
		return fmt.Sprintf("%d chars", f.MaxLen)
	}
	return ""
}
