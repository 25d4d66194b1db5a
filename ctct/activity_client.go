package ctct

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// CreateActivity POSTs req as a url-encoded form to /activities and
// returns the job as the server describes it: the 201 entry, or, when the
// answer has no body (a 204 some servers gave), a GET of its Location.
// It goes through the same request loop as every other call (limiter,
// retries, typed errors); a fourth unfinished job is a 429, retried like
// any throttled answer. Safe for concurrent use.
func (c *Client) CreateActivity(ctx context.Context, req *ActivityRequest) (*Activity, error) {
	form, data, err := c.activityForm(req)
	if err != nil {
		return nil, fmt.Errorf("create activity: %w", err)
	}
	body := encodeForm(form, data)
	// A POST whose outcome is uncertain (a 500 or a connection lost after
	// the request was written) is normally not repeated. An add or a
	// remove job may be: BULK.md says re-running the same add job gives
	// the same end state (the same non-empty cells are written again, the
	// same lists added to, never replaced), and a remove job takes the
	// same contacts off the same lists again, so a job the server did
	// create and a second copy of it leave the account exactly as one
	// would. A clear job is not repeated (run later, it would also empty
	// what was added to the lists since), nor an export (it would hold one
	// more of the account's three unfinished jobs for nothing).
	repeatable := IsAddActivity(req.Type) || req.Type == ActivityRemoveFromLists
	res, err := c.doCall(ctx, http.MethodPost, c.accountPath()+"activities", body,
		call{contentType: activityFormContentType, repeatable: repeatable})
	if err != nil {
		return nil, fmt.Errorf("create activity: %w", err)
	}
	if len(bytes.TrimSpace(res.body)) > 0 {
		a, derr := DecodeActivityEntry(bytes.NewReader(res.body))
		if derr == nil {
			return a, nil
		}
		err = derr
	}
	loc := res.header.Get("Location")
	if loc == "" {
		if err == nil {
			err = errors.New("empty body and no Location")
		}
		return nil, fmt.Errorf("create activity: %w: created, but the answer does not say which job: %w", ErrUncertain, err)
	}
	a, err := c.GetActivity(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("create activity: %w: created, but reading it back failed: %w", ErrUncertain, err)
	}
	return a, nil
}

// activityRef turns an activity id (URI, path or bare id) into a
// reference the request loop resolves.
func (c *Client) activityRef(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", errors.New("empty activity id")
	}
	if strings.Contains(id, "/") {
		return id, nil
	}
	return c.accountPath() + "activities/" + url.PathEscape(id), nil
}

// GetActivity GETs one job's current state. id is its id URI, a path or
// the bare id. An unknown (or expired: jobs are kept 14 days) job matches
// ErrNotFound. Safe for concurrent use.
func (c *Client) GetActivity(ctx context.Context, id string) (*Activity, error) {
	ref, err := c.activityRef(id)
	if err != nil {
		return nil, fmt.Errorf("get activity: %w", err)
	}
	res, err := c.do(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return nil, fmt.Errorf("get activity: %w", err)
	}
	a, err := DecodeActivityEntry(bytes.NewReader(res.body))
	if err != nil {
		return nil, fmt.Errorf("get activity: %w", err)
	}
	return a, nil
}

// Activities returns a Pager over the account's jobs (the "Bulk Activity"
// feed, newest first); each page's jobs are in Feed.Activities. Safe for
// concurrent use (each Pager is used by one goroutine).
func (c *Client) Activities() *Pager {
	return &Pager{c: c, next: c.accountPath() + "activities"}
}

// WaitOptions tune WaitActivity. Zero values take the defaults.
type WaitOptions struct {
	First time.Duration // first wait between polls; default 1s
	Max   time.Duration // the longest wait; default 30s
	// OnPoll, when set, sees every state read (progress reporting).
	OnPoll func(*Activity)
}

// WaitActivity polls a job until its status is final (COMPLETE or ERROR)
// and returns that last state. The waits between polls grow by half each
// time from First up to Max, through the Client's sleep (so they honour
// ctx); each poll is an ordinary GET of the request loop. A done ctx ends
// the wait with its error. Safe for concurrent use.
func (c *Client) WaitActivity(ctx context.Context, id string, o WaitOptions) (*Activity, error) {
	wait := o.First
	if wait <= 0 {
		wait = time.Second
	}
	maxWait := o.Max
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	wait = min(wait, maxWait)
	for {
		a, err := c.GetActivity(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("wait activity: %w", err)
		}
		if o.OnPoll != nil {
			o.OnPoll(a)
		}
		if a.Final() {
			return a, nil
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("wait activity %s (last %s): %w", a.Key(), a.Status, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("wait activity %s (last %s): %w", a.Key(), a.Status, err)
		}
		wait = min(wait+wait/2, maxWait)
	}
}

// ExportFile opens the file of a COMPLETE export job (its FileName,
// fetched from /activities/{FileName}) and returns its body as it
// streams: nothing is held in memory beyond the transport's buffers. The
// caller must close it; NewExportReader decodes it. The request goes
// through the request loop (retried until the answer's headers arrive);
// the per-request timeout bounds the wait for the headers, ctx the whole
// read. Safe for concurrent use.
func (c *Client) ExportFile(ctx context.Context, a *Activity) (io.ReadCloser, error) {
	if a == nil || a.FileName == "" {
		status := ""
		if a != nil {
			status = a.Status
		}
		return nil, fmt.Errorf("export file: the job has no file (status %q)", status)
	}
	name := lastSegmentOf(a.FileName)
	res, err := c.doCall(ctx, http.MethodGet, c.accountPath()+"activities/"+url.PathEscape(name), nil, call{stream: true})
	if err != nil {
		return nil, fmt.Errorf("export file: %w", err)
	}
	if res.stream == nil {
		return io.NopCloser(bytes.NewReader(res.body)), nil
	}
	return res.stream, nil
}

// ExportFileType returns the file type of a FileName: TXT for a .txt
// file, CSV otherwise.
func ExportFileType(fileName string) string {
	if strings.HasSuffix(strings.ToLower(fileName), ".txt") {
		return FileTypeTXT
	}
	return FileTypeCSV
}

// lastSegmentOf is the last segment of a file name that may be given as
// a path.
func lastSegmentOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// encodeForm is the body of an activity's POST: form, plus the data
// parameter's text when data is not nil, encoded as url.Values.Encode does
// (keys sorted), byte for byte; the data (up to 4 MiB) is escaped straight
// from its text into one buffer sized for it, so that an add job's body
// is one copy of its data, not four.
func encodeForm(form url.Values, data *BulkData) []byte {
	keys := slices.Collect(maps.Keys(form))
	size := 0
	if data != nil {
		keys = append(keys, "data")
		size = len(data.CSV) + len(data.CSV)/3
	}
	slices.Sort(keys)
	for k, vs := range form {
		for _, v := range vs {
			size += len(k) + 3*len(v) + 2
		}
	}
	b := make([]byte, 0, size)
	for _, k := range keys {
		if k == "data" && data != nil {
			if len(b) > 0 {
				b = append(b, '&')
			}
			b = append(b, "data="...)
			b = appendQueryEscape(b, data.CSV)
			continue
		}
		for _, v := range form[k] {
			if len(b) > 0 {
				b = append(b, '&')
			}
			b = appendQueryEscape(b, []byte(k))
			b = append(b, '=')
			b = appendQueryEscape(b, []byte(v))
		}
	}
	return b
}

// appendQueryEscape appends s escaped as url.QueryEscape escapes it.
func appendQueryEscape(b, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}
