package importer

import (
	"strings"
	"testing"
)

func TestReasonKind(t *testing.T) {
	tests := []struct{ reason, want string }{
		{`line 28, column "Email" (EmailAddress): "not-an-email" is not a valid email address: it needs exactly one @`,
			"EmailAddress: not a valid email address: it needs exactly one @"},
		{`line 29, column "State" (StateCode): "ZZ" is not a US state or Canadian province code`,
			"StateCode: not a US state or Canadian province code"},
		{`line 30, column "First Name" (FirstName): 54 characters, at most 50 allowed; column "Zip" (PostalCode): 30 characters, at most 25 allowed`,
			"FirstName: longer than 50 characters"},
		{"line 2: a quote opens a cell that never closes", "a quote opens a cell that never closes"},
		{"PUT /ws/customers/acme/contacts/123: Contact is invalid", "PUT /ws/customers/{user}/contacts/{id}: Contact is invalid"},
		{"create failed 7 times with no answer from the server", "create failed N times with no answer from the server"},
	}
	for _, tt := range tests {
		if got := reasonKind(tt.reason); got != tt.want {
			t.Errorf("reasonKind(%q)\n= %q\nwant %q", tt.reason, got, tt.want)
		}
	}
}

// TestSummaryReasons: the summary groups failures by kind, the most
// frequent first (ties in file order), five at most, with the first line.
func TestSummaryReasons(t *testing.T) {
	var r reasons
	for i, line := range []int{9, 12, 30, 44} {
		r.add(Example{Line: line}, statusFailed, `line 9, column "Email" (EmailAddress): "x`+strings.Repeat("y", i)+`" is not a valid email address: it needs exactly one @`)
	}
	r.add(Example{Line: 5}, statusFailed, `line 5, column "State" (StateCode): "ZZ" is not a US state or Canadian province code`)
	r.add(Example{Line: 7}, statusSkipped, "contact is Do Not Mail: it is never re-subscribed")
	for i := 0; i < 5; i++ {
		r.add(Example{Line: 100 + i}, statusFailed, "odd reason "+strings.Repeat("!", i+1))
	}
	s := &Summary{Read: 10, Reasons: r.top()}
	// The first rows of a reason are its examples, in file order, each
	// with its own reason in full.
	if ex := s.Reasons[0].Examples; len(ex) != maxExamples || ex[0].Line != 9 || ex[2].Line != 30 || !strings.Contains(ex[1].Error, `"xy"`) {
		t.Errorf("examples %+v, want lines 9, 12, 30 with their reasons", ex)
	}
	var b strings.Builder
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `failed rows by reason, with the first line of each:
  4  EmailAddress: not a valid email address: it needs exactly one @ (line 9)
  1  StateCode: not a US state or Canadian province code (line 5)
  1  skipped: contact is Do Not Mail: it is never re-subscribed (line 7)
  1  odd reason ! (line 100)
  1  odd reason !! (line 101)
`
	if got := b.String(); !strings.Contains(got, want) {
		t.Errorf("summary:\n%s\nwant it to hold:\n%s", got, want)
	}
	// A reason too long for 80 columns goes on under itself.
	s = &Summary{Read: 1, Reasons: []Reason{{Reason: reasonNoList, Rows: 1, FirstLine: 32}}}
	b.Reset()
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want = `failed rows by reason, with the first line of each:
  1  a new contact needs at least one list: use --list or a ContactLists column
     (line 32)
`
	if got := b.String(); !strings.Contains(got, want) {
		t.Errorf("summary:\n%s\nwant it to hold:\n%s", got, want)
	}
}
