package sandbox

import (
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
)

// A next token is the walk's position, two base-36 numbers joined by "-"
// (e.g. "1kw-2f8xq7d1"): the number of the last contact returned (the next
// page holds smaller numbers: keyset pagination, newest first) and a check
// that ties it to the query it was issued for. Contacts created during a
// walk have larger numbers than any the walk started with, so a walk
// returns every contact that existed when it began exactly once.

// encodeToken returns the token of the page after cursor for filter (the
// canonical query without next).
func encodeToken(cursor int64, filter string) string {
	return strconv.FormatInt(cursor, 36) + "-" + strconv.FormatUint(tokenCheck(cursor, filter), 36)
}

// decodeToken returns the cursor of a token issued for filter; an empty
// token is the first page (cursor 0).
func decodeToken(tok, filter string) (int64, error) {
	if tok == "" {
		return 0, nil
	}
	a, b, ok := strings.Cut(tok, "-")
	if !ok {
		return 0, errors.New("invalid next token")
	}
	cursor, err := strconv.ParseInt(a, 36, 64)
	if err != nil || cursor <= 0 {
		return 0, errors.New("invalid next token")
	}
	check, err := strconv.ParseUint(b, 36, 64)
	if err != nil || check != tokenCheck(cursor, filter) {
		return 0, errors.New("invalid next token (not issued for this query)")
	}
	return cursor, nil
}

func tokenCheck(cursor int64, filter string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("ctct-sandbox\x00" + filter + "\x00" + strconv.FormatInt(cursor, 10)))
	return h.Sum64() & (1<<40 - 1)
}
