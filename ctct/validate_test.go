package ctct

import (
	"strings"
	"testing"
)

func TestPlainEmailAgreesWithemailError(t *testing.T) {
	for _, s := range []string{
		"a@b.co", "john.smith+tag@mail.example.com", "a@b.c-", "a@-b.co", "a@b-.co", "a.@b.co", ".a@b.co",
		"a..b@c.co", "a@b..co", "a@b.co.", "a@.b.co", "a@b", "@b.co", "a@", "", "a b@c.co", "a\"@b.co", "a@b@c.co",
		strings.Repeat("a", 74) + "@b.com", strings.Repeat("a", 75) + "@b.com", "é@b.co", "a@b.co\x01", "a;b@c.co",
		"a@b.co\t", "x@[1.2.3.4]", "o'hara@example.ie", "a@b.c", "a@1.2",
	} {
		fast, slow := plainEmail(s, 80), emailError(s, 80) == nil
		if fast && !slow {
			t.Errorf("plainEmail accepts %q, emailError refuses it", s)
		}
		if fast != slow && plainASCII(s) && !strings.ContainsAny(s, " \t\r\n") {
			t.Errorf("plainEmail(%q) = %v, emailError says %v", s, fast, slow)
		}
	}
}

// FuzzPlainEmail checks that the fast path accepts exactly what
// emailError accepts among printable ASCII strings, and never more.
func FuzzPlainEmail(f *testing.F) {
	f.Add("a@b.co")
	f.Add("a..b@c-.co")
	f.Fuzz(func(t *testing.T, s string) {
		fast, slow := plainEmail(s, 80), emailError(s, 80) == nil
		if fast && !slow {
			t.Fatalf("plainEmail accepts %q, emailError refuses it", s)
		}
		printable := true
		for i := 0; i < len(s); i++ {
			printable = printable && s[i] > 0x20 && s[i] < 0x7f
		}
		if printable && fast != slow {
			t.Fatalf("plainEmail(%q) = %v, emailError says %v", s, fast, slow)
		}
	})
}
