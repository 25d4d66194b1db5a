package importer

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Reason is one kind of row failure and how many rows it struck, with the
// first line that shows it: the end of a run says what to fix without
// opening the report.
type Reason struct {
	Reason    string `json:"reason"`
	Rows      int64  `json:"rows"`
	FirstLine int    `json:"first_line"`
	// Examples are the first rows of the reason, in file order, with
	// their cells as read (for the run report; not in the JSON summary,
	// which carries no cell).
	Examples []Example `json:"-"`
}

// Example is one reported row: its line, the header and cells of its
// input as read (Raw, a malformed stretch's text, instead), and its own
// reason in full.
type Example struct {
	Line   int
	Header []string
	Cells  []string
	Raw    string
	Error  string
	seq    int64 // the row in the store, whose cells are read after
}

// maxReasons is how many reasons a summary keeps, the most frequent first;
// maxExamples how many rows of each it shows.
const (
	maxReasons  = 5
	maxExamples = 3
)

// reasons groups the failed and skipped rows of a run by the kind of their
// reason. Safe for concurrent use.
type reasons struct {
	mu sync.Mutex
	m  map[string]*Reason
}

// add counts a row under its reason's kind, and keeps it as an example
// while the kind has fewer than maxExamples (rows come in file order).
func (r *reasons) add(ex Example, status, reason string) {
	line := ex.Line
	ex.Error = reason
	key := reasonKind(reason)
	if status == statusSkipped {
		key = "skipped: " + key
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*Reason{}
	}
	g := r.m[key]
	if g == nil {
		g = &Reason{Reason: key, FirstLine: line}
		r.m[key] = g
	}
	g.Rows++
	g.FirstLine = min(g.FirstLine, line)
	if len(g.Examples) < maxExamples {
		ex.Cells = slices.Clone(ex.Cells) // a reader may reuse its record
		g.Examples = append(g.Examples, ex)
	}
}

// top returns the most frequent reasons, ties in file order.
func (r *reasons) top() []Reason {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Reason, 0, len(r.m))
	for _, g := range r.m {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rows != out[j].Rows {
			return out[i].Rows > out[j].Rows
		}
		return out[i].FirstLine < out[j].FirstLine
	})
	if len(out) > maxReasons {
		out = out[:maxReasons]
	}
	return out
}

var (
	lineRe    = regexp.MustCompile(`^line \d+(, |: )`)
	columnRe  = regexp.MustCompile(`^column "(?:[^"]|"")*" \(([^)]*)\): `)
	valueRe   = regexp.MustCompile(`^"(?:[^"\\]|\\.)*" (is )?`)
	lengthRe  = regexp.MustCompile(`^\d+ characters, at most (\d+) allowed`)
	idRe      = regexp.MustCompile(`/\d+`)
	userRe    = regexp.MustCompile(`/ws/customers/[^/ ]+/`)
	moreRe    = regexp.MustCompile(`; column ".*$`)
	quotedRe  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	attemptRe = regexp.MustCompile(`\d+ times`)
)

// reasonKind is a report reason without what differs from row to row (the
// line, the cell's value, ids), so that rows failing for the same reason
// group together: `line 28, column "Email" (EmailAddress): "x" is not a
// valid email address` becomes `EmailAddress: not a valid email address`.
func reasonKind(reason string) string {
	s := lineRe.ReplaceAllString(reason, "")
	s = moreRe.ReplaceAllString(s, "")
	field := ""
	if m := columnRe.FindStringSubmatch(s); m != nil {
		field = m[1]
		s = s[len(m[0]):]
	}
	s = valueRe.ReplaceAllString(s, "")
	s = lengthRe.ReplaceAllString(s, "longer than $1 characters")
	s = userRe.ReplaceAllString(s, "/ws/customers/{user}/")
	s = idRe.ReplaceAllString(s, "/{id}")
	s = quotedRe.ReplaceAllString(s, "…")
	s = attemptRe.ReplaceAllString(s, "N times")
	s = strings.TrimSpace(s)
	if field != "" {
		return fmt.Sprintf("%s: %s", field, s)
	}
	return s
}
