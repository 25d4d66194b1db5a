package mapping

import (
	"fmt"
	"strings"
)

// Opt-outs. Every system a list comes from says, somehow, who asked not to
// be mailed: a Status word, a yes/no column, a date the person
// unsubscribed, a bounce reason, or a whole file of them. The one rule of
// this file: a row that says its person opted out, bounced or was cleaned
// carries an opt-out signal (Record.OptOut), and the import never makes
// such a contact Active or Unconfirmed. A value that cannot be read either
// way fails the row: an import never subscribes on a word it does not know.

// The pseudo fields a column can map to besides the contact's fields: they
// say something of the row rather than hold a value of the contact.
const (
	// FieldStatus is a column of status words: Active, Unconfirmed,
	// subscribed (none of them an opt-out), Do Not Mail or any word saying
	// the person unsubscribed, bounced or was cleaned (an opt-out), Removed
	// (skipped), or empty. Any other word fails the row.
	FieldStatus = "Status"
	// FieldOptOut is a yes/no column: true, yes, y, 1, x, opted out,
	// unsubscribed say the person opted out; false, no, n, 0 and empty
	// say not. Any other value fails the row.
	FieldOptOut = "OptOut"
	// FieldOptOutWhenSet is a column whose mere value says the person
	// opted out or bounced: a date of unsubscription (Mailchimp's
	// UNSUB_TIME), of cleaning (CLEAN_TIME), a bounce reason.
	FieldOptOutWhenSet = "OptOutWhenSet"
)

// signalKind is how a signal column's cell is read.
type signalKind int

const (
	signalStatus signalKind = iota + 1
	signalYesNo
	signalWhenSet
)

// signalCol is a column that can say the row's person opted out.
type signalCol struct {
	idx    int
	kind   signalKind
	header string
}

// Status words, folded to their letters (see letters). Active ones import
// as usual; opt-out ones carry the opt-out over; removed ones skip the row.
var (
	activeWords = wordSet("active", "subscribed", "unconfirmed", "opted in", "opt in")
	removedWord = letters("removed")
	optOutWords = wordSet(
		"do not mail", "do not email", "do not contact", "dnm",
		"unsubscribed", "unsubscribe", "unsubscribed from all email", "non subscribed", "not subscribed",
		"opted out", "opt out", "opted out of email",
		"cleaned", "bounced", "bounce", "hard bounce", "hard bounced", "soft bounce", "soft bounced",
		"complained", "complaint", "spam", "spam complaint", "spam report", "abuse", "reported spam",
		"suppressed", "blocked", "blacklisted", "blocklisted", "invalid email", "undeliverable",
	)
	yesWords = wordSet("true", "yes", "y", "1", "x", "t", "on", "checked", "opted out", "opt out", "unsubscribed")
	noWords  = wordSet("false", "no", "n", "0", "f", "off", "unchecked", "")
)

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[letters(w)] = true
	}
	return m
}

// letters keeps the letters and digits of s, lower-cased: "Opted-Out",
// "opted out" and "OPTED_OUT" all give "optedout".
func letters(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// statusOf is what a status cell says: "" none, "optout", "removed", or
// an error for a word ctctbulk does not know.
func statusOf(v string) (string, error) {
	w := letters(v)
	switch {
	case w == "" || activeWords[w]:
		return "", nil
	case w == removedWord:
		return "removed", nil
	case optOutWords[w]:
		return "optout", nil
	}
	return "", fmt.Errorf("%q is not a status ctctbulk knows (Active, Unconfirmed, Do Not Mail, Removed, or a word saying the person unsubscribed, bounced or was cleaned): the row is not imported rather than risk subscribing someone who opted out", strings.TrimSpace(v))
}

// yesNo reads an opt-out yes/no cell.
func yesNo(v string) (bool, error) {
	w := letters(v)
	switch {
	case yesWords[w]:
		return true, nil
	case noWords[w]:
		return false, nil
	}
	return false, fmt.Errorf("%q is neither yes nor no (true, yes, 1, x or opted out say the person opted out; false, no, 0 or empty say not): the row is not imported rather than risk subscribing someone who opted out", strings.TrimSpace(v))
}

// readSignals reads the row's opt-out signals: the label of the first that
// says the person opted out (the file's own, when the whole file is of
// opt-outs), whether a status says Removed, and, when no signal says
// opted out, the first cell that could not be read either way.
func (m *Mapping) readSignals(cells []string, line int) (optOut string, removed bool, rerr *RowError) {
	if m.fileSignal != "" {
		return m.fileSignal, false, nil
	}
	for _, s := range m.signals {
		v := strings.TrimSpace(cells[s.idx])
		var err error
		switch s.kind {
		case signalStatus:
			var st string
			if st, err = statusOf(v); err == nil {
				switch st {
				case "optout":
					return s.header + "=" + strings.ToLower(v), false, nil
				case "removed":
					removed = true
				}
			}
		case signalYesNo:
			var yes bool
			if yes, err = yesNo(v); err == nil && yes {
				return s.header, false, nil
			}
		case signalWhenSet:
			if v != "" {
				return s.header, false, nil
			}
		}
		if err != nil && rerr == nil {
			field := FieldOptOut
			if s.kind == signalStatus {
				field = FieldStatus
			}
			rerr = &RowError{Line: line, Column: m.header[s.idx], Field: field, Value: cells[s.idx], Err: err}
		}
	}
	return "", removed && rerr == nil, rerr
}
