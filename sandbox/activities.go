package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ctctbulk/ctct"
)

// Limits of the activities resource (BULK.md).
const (
	maxUnfinished    = 3                   // unfinished activities per account
	activityKeep     = 14 * 24 * time.Hour // then 404
	activityIDLength = 19
)

// parseActivityRoute recognises the service document and the activities
// routes among the segments after /ws/customers/.
func parseActivityRoute(seg []string) (routeKind, string) {
	switch {
	case len(seg) == 1, len(seg) == 2 && seg[1] == "":
		return routeService, ""
	case len(seg) == 2 && seg[1] == "activities":
		return routeActivities, ""
	case len(seg) == 3 && seg[1] == "activities" && seg[2] != "":
		if strings.HasSuffix(seg[2], ".csv") || strings.HasSuffix(seg[2], ".txt") {
			return routeActivityFile, seg[2]
		}
		return routeActivity, seg[2]
	}
	return routeNone, ""
}

// activityShape is the Stats.ByRoute shape of the new routes.
func activityShape(k routeKind) string {
	switch k {
	case routeService:
		return "/"
	case routeActivities:
		return "/activities"
	case routeActivity:
		return "/activities/{id}"
	case routeActivityFile:
		return "/activities/{id}.{csv|txt}"
	}
	return ""
}

func (p paths) activities() string           { return p.base + "/activities" }
func (p paths) activity(id string) string    { return p.base + "/activities/" + id }
func (p paths) activityURI(id string) string { return apiOrigin + p.activity(id) }

// dispatchActivities answers the service document and activities routes.
func (s *Sandbox) dispatchActivities(r *http.Request, rt route) reply {
	ctx := r.Context()
	switch rt.kind {
	case routeService:
		return s.serviceDocument()
	case routeActivities:
		if r.Method == http.MethodPost {
			return s.createActivity(ctx, r)
		}
		return s.activitiesFeed(ctx, r)
	case routeActivity:
		return s.getActivity(ctx, rt.id)
	case routeActivityFile:
		return s.activityFile(ctx, rt.id)
	}
	return errorReply(http.StatusNotFound, "no such resource %s", r.URL.Path)
}

func activityNotFound(id string) *apiError {
	return newAPIError(http.StatusNotFound, "activity %s not found", id)
}

// createActivity answers POST /activities: every check of BULK.md first
// (400, nothing created), then, in one transaction, the limit of
// unfinished jobs (429) and the lists' existence (400), and the insert.
func (s *Sandbox) createActivity(ctx context.Context, r *http.Request) reply {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxActivityBody+1))
	if err != nil {
		return errorReply(http.StatusBadRequest, "cannot read request body: %v", err)
	}
	if len(body) > maxActivityBody {
		return errorReply(http.StatusBadRequest, "data larger than %d bytes", ctct.MaxActivityData)
	}
	v, err := parseActivityForm(r.Header.Get("Content-Type"), body)
	if err != nil {
		return errorReply(formStatus(err), "%v", err)
	}
	j, ae := s.buildJob(v)
	if ae != nil {
		return s.failure(ae)
	}
	now := s.stamp()
	j.Status, j.InsertTime, j.Updated = ctct.ActivityPending, now, now
	export, err := json.Marshal(j.Export)
	if err != nil {
		return s.failure(fmt.Errorf("export options: %w", err))
	}
	err = s.st.write(ctx, func(tx *sql.Tx) error {
		if err := purgeExpired(ctx, tx, s.expiry()); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM activities WHERE status IN (?, ?, ?)",
			ctct.ActivityPending, ctct.ActivityQueued, ctct.ActivityRunning).Scan(&n); err != nil {
			return fmt.Errorf("count activities: %w", err)
		}
		if n >= maxUnfinished {
			return newAPIError(http.StatusTooManyRequests, "too many activities in progress")
		}
		for _, l := range j.Lists {
			ok, err := s.st.listExists(ctx, tx, l)
			if err != nil {
				return err
			}
			if !ok {
				return newAPIError(http.StatusBadRequest, "list %s does not exist", s.p.listURI(listKey(l)))
			}
		}
		if n, ok := parseNumber(j.Export.List); ok {
			exists, err := s.st.listExists(ctx, tx, n)
			if err != nil {
				return err
			}
			if !exists {
				return newAPIError(http.StatusBadRequest, "list %s does not exist", s.p.listURI(j.Export.List))
			}
		}
		for try := 0; ; try++ {
			j.ID = s.newActivityID()
			res, err := tx.ExecContext(ctx, "INSERT INTO activities (id, type, status, lists, data, export, insert_time, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				j.ID, j.Type, j.Status, joinLists(j.Lists), j.Data, string(export), now, now)
			if isUnique(err) && try < 10 {
				continue
			}
			if err != nil {
				return fmt.Errorf("insert activity: %w", err)
			}
			j.Seq, err = res.LastInsertId()
			return err
		}
	})
	if err != nil {
		return s.failure(err)
	}
	s.jobs.kick()
	var b bytes.Buffer
	s.p.writeActivityEntry(&b, "", true, j, nil)
	rep := atomReply(http.StatusCreated, b.Bytes())
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	rep.header = http.Header{"Location": {scheme + "://" + r.Host + s.p.activity(j.ID)}}
	return rep
}

// newActivityID returns a fresh id such as "a07e1ffaxjxffmvj6qd".
func (s *Sandbox) newActivityID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, activityIDLength)
	b[0] = 'a'
	s.rngMu.Lock()
	for i := 1; i < len(b); i++ {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	s.rngMu.Unlock()
	return string(b)
}

// expiry is the insert time before which activities are forgotten.
func (s *Sandbox) expiry() string { return s.cfg.Now().Add(-activityKeep).UTC().Format(timeLayout) }

// purgeExpired forgets the finished activities older than the cutoff.
func purgeExpired(ctx context.Context, tx *sql.Tx, cutoff string) error {
	for _, q := range []string{
		"DELETE FROM activity_errors WHERE seq IN (SELECT seq FROM activities WHERE insert_time < ?1 AND status IN (?2, ?3))",
		"DELETE FROM activity_chunks WHERE seq IN (SELECT seq FROM activities WHERE insert_time < ?1 AND status IN (?2, ?3))",
		"DELETE FROM activities WHERE insert_time < ?1 AND status IN (?2, ?3)",
	} {
		if _, err := tx.ExecContext(ctx, q, cutoff, ctct.ActivityComplete, ctct.ActivityError); err != nil {
			return fmt.Errorf("purge activities: %w", err)
		}
	}
	return nil
}

func badRequest(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, format, args...)
}

// buildJob checks the parameters of a POST against BULK.md and returns
// the job to store (type as the server reports it, lists, data, export
// options), or the 400 that refuses it.
func (s *Sandbox) buildJob(v url.Values) (*jobRow, *apiError) {
	typ, ok := single(v, "activityType")
	if !ok || typ == "" {
		return nil, badRequest("activityType is required")
	}
	j := &jobRow{Type: typ}
	needLists, needData := false, false
	switch {
	case ctct.IsAddActivity(typ), typ == ctct.ActivityRemoveFromLists:
		needLists, needData = true, true
	case typ == ctct.ActivityClearLists:
		needLists = true
	case typ == ctct.ActivityExportContacts:
	default:
		return nil, badRequest("unknown activityType %q", typ)
	}
	exportParams := []string{"listId", "fileType", "exportOptDate", "exportOptSource", "exportListName", "sortBy", "columns"}
	if typ != ctct.ActivityExportContacts {
		for _, k := range exportParams {
			if _, given := v[k]; given {
				return nil, badRequest("%s is not a parameter of %s", k, typ)
			}
		}
	}
	if !needLists && len(v["lists"]) > 0 {
		return nil, badRequest("lists is not a parameter of %s", typ)
	}
	if needLists {
		if len(v["lists"]) == 0 {
			return nil, badRequest("%s needs lists", typ)
		}
		for _, l := range v["lists"] {
			n, ae := s.userListParam(l)
			if ae != nil {
				return nil, ae
			}
			if !hasList64(j.Lists, n) {
				j.Lists = append(j.Lists, n)
			}
		}
	}
	data, hasData := v["data"]
	if !needData && hasData {
		return nil, badRequest("data is not a parameter of %s", typ)
	}
	if needData {
		if !hasData || strings.TrimSpace(data[0]) == "" {
			return nil, badRequest("%s needs data", typ)
		}
		if len(data[0]) > ctct.MaxActivityData {
			return nil, badRequest("data larger than %d bytes", ctct.MaxActivityData)
		}
		cols, recs, err := ctct.ParseBulkData([]byte(data[0]))
		if err != nil {
			return nil, badRequest("%v", err)
		}
		if len(recs) == 0 {
			return nil, badRequest("data has no contact line")
		}
		j.Data = data[0]
		if ctct.IsAddActivity(typ) {
			j.Type = ctct.ActivityAddContacts
			if len(cols) > 1 {
				j.Type = ctct.ActivityAddContactDetail
			}
		}
	}
	if typ == ctct.ActivityExportContacts {
		x, ae := s.exportParams(v)
		if ae != nil {
			return nil, ae
		}
		j.Export = *x
	}
	return j, nil
}

func hasList64(ls []int64, n int64) bool {
	for _, l := range ls {
		if l == n {
			return true
		}
	}
	return false
}

// userListParam parses a lists value: the full URI of a user list of this
// account (a system list there is a 400).
func (s *Sandbox) userListParam(raw string) (int64, *apiError) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err == nil {
		if rest, ok := strings.CutPrefix(u.Path, "/ws/customers/"); ok {
			if user, key, ok := strings.Cut(rest, "/lists/"); ok && strings.EqualFold(user, s.cfg.User) {
				if _, system := lookupSystemList(key); system {
					return 0, badRequest("%s is a system list: only user lists can be given", raw)
				}
			}
		}
	}
	n, ok := s.listNumber(raw)
	if !ok {
		return 0, badRequest("%q is not a list of this account", raw)
	}
	return n, nil
}

// exportParams reads the parameters of an export job.
func (s *Sandbox) exportParams(v url.Values) (*exportSpec, *apiError) {
	x := &exportSpec{}
	raw, ok := single(v, "listId")
	if !ok || raw == "" {
		return nil, badRequest("EXPORT_CONTACTS needs listId")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badRequest("listId %q is not a list URI", raw)
	}
	rest, _ := strings.CutPrefix(u.Path, "/ws/customers/")
	user, key, found := strings.Cut(rest, "/lists/")
	if !found || !strings.EqualFold(user, s.cfg.User) {
		return nil, badRequest("listId %q is not a list of this account", raw)
	}
	if _, system := lookupSystemList(key); !system {
		if _, ok := parseNumber(key); !ok {
			return nil, badRequest("listId %q is not a list of this account", raw)
		}
	}
	x.List = key
	ft, ok := single(v, "fileType")
	if !ok || ft == "" {
		return nil, badRequest("EXPORT_CONTACTS needs fileType (CSV or TXT)")
	}
	if ft != ctct.FileTypeCSV && ft != ctct.FileTypeTXT {
		return nil, badRequest("fileType %q is not CSV or TXT", ft)
	}
	x.FileType = ft
	for _, o := range []struct {
		name string
		dst  *bool
	}{{"exportOptDate", &x.DateAdded}, {"exportOptSource", &x.Source}, {"exportListName", &x.ListNames}} {
		val, given := single(v, o.name)
		if !given {
			continue
		}
		b, err := strconv.ParseBool(strings.ToLower(val))
		if err != nil || (val != "" && !strings.EqualFold(val, "true") && !strings.EqualFold(val, "false")) {
			return nil, badRequest("%s %q is not true or false", o.name, val)
		}
		*o.dst = b
	}
	x.SortBy = ctct.SortByEmail
	if sb, given := single(v, "sortBy"); given {
		if sb != ctct.SortByEmail && sb != ctct.SortByDateDesc {
			return nil, badRequest("sortBy %q is not EMAIL_ADDRESS or DATE_DESC", sb)
		}
		x.SortBy = sb
	}
	for _, c := range v["columns"] {
		f, ok := ctct.LookupBulkColumn(c)
		if !ok {
			return nil, badRequest("unknown column %q", strings.TrimSpace(c))
		}
		if !x.has(f.Name) {
			x.Columns = append(x.Columns, f.Name)
		}
	}
	return x, nil
}

// getActivity answers GET /activities/{id}: the entry with a source.
func (s *Sandbox) getActivity(ctx context.Context, id string) reply {
	var j *jobRow
	err := s.st.read(ctx, func(tx *sql.Tx) error {
		var err error
		j, err = getJob(ctx, tx, id, false)
		return err
	})
	if errors.Is(err, errNotFound) || (err == nil && j.InsertTime < s.expiry()) {
		return s.failure(activityNotFound(id))
	}
	if err != nil {
		return s.failure(err)
	}
	var b bytes.Buffer
	h := s.p.activitiesHead(s.stamp())
	s.p.writeActivityEntry(&b, "", true, j, &h)
	return atomReply(http.StatusOK, b.Bytes())
}

// activitiesHead is the header of the Bulk Activity feed (also the source
// of an activity entry), links as in the recorded documents.
func (p paths) activitiesHead(updated string) feedHead {
	return feedHead{ID: apiOrigin + p.activities(), Title: "Bulk Activity", Alt: "", Updated: updated,
		First: p.activities(), Current: p.activities()}
}

// activitiesFeed answers GET /activities: newest first, PageSize a page.
func (s *Sandbox) activitiesFeed(ctx context.Context, r *http.Request) reply {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errorReply(http.StatusBadRequest, "invalid query: %v", err)
	}
	for k, vals := range q {
		if k != "next" || len(vals) > 1 {
			return errorReply(http.StatusBadRequest, "unknown or repeated query parameter %s", k)
		}
	}
	const filterKey = "activities"
	tok := q.Get("next")
	before, err := decodeToken(tok, filterKey)
	if err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	if before == 0 {
		before = 1<<63 - 1
	}
	var jobs []*jobRow
	var more bool
	err = s.st.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+jobSelect(false)+
			" FROM activities WHERE seq < ? AND insert_time >= ? ORDER BY seq DESC LIMIT ?", before, s.expiry(), s.cfg.PageSize+1)
		if err != nil {
			return fmt.Errorf("list activities: %w", err)
		}
		for rows.Next() {
			j, err := scanJob(rows, false)
			if err != nil {
				rows.Close()
				return fmt.Errorf("list activities: %w", err)
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list activities: %w", err)
		}
		if len(jobs) > s.cfg.PageSize {
			jobs, more = jobs[:s.cfg.PageSize], true
		}
		for _, j := range jobs {
			if j.Errors, err = jobErrors(ctx, tx, j.Seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.failure(err)
	}
	h := s.p.activitiesHead(s.stamp())
	if tok != "" {
		h.Current = withQuery(h.First, url.Values{"next": {tok}})
	}
	if more {
		h.Next = withQuery(h.First, url.Values{"next": {encodeToken(jobs[len(jobs)-1].Seq, filterKey)}})
	}
	var b bytes.Buffer
	s.p.startFeed(&b, h)
	for _, j := range jobs {
		s.p.writeActivityEntry(&b, "  ", false, j, nil)
	}
	endFeed(&b)
	return atomReply(http.StatusOK, b.Bytes())
}

// writeActivityEntry writes one activity as an entry: a document of its
// own (doc) or a feed entry; src adds the source element of a GET.
func (p paths) writeActivityEntry(b *bytes.Buffer, indent string, doc bool, j *jobRow, src *feedHead) {
	w := xw{b}
	uri := p.activityURI(j.ID)
	// An activity entry has no author, so it opens without startEntry.
	openEntry(b, indent, doc, p.activity(j.ID), uri, "", j.Updated)
	in := indent + "  "
	b.WriteString(in + `<content type="` + ctct.ContentType + `">` + "\n")
	a := in + "  "
	b.WriteString(a + `<Activity xmlns="` + ctct.CTCTNS + `" id="`)
	ctct.EscapeText(b, uri)
	b.WriteString("\">\n")
	f := a + "  "
	w.text(f, "Type", j.Type)
	w.text(f, "Status", j.Status)
	txCount := j.TxCount
	if jf := p.faults; jf != nil && ctct.IsAddActivity(j.Type) {
		txCount = max(0, txCount-jf.ShortCount)
	}
	switch {
	case p.faults != nil && p.faults.ErrorsAsCount && ctct.IsAddActivity(j.Type):
		w.text(f, "Errors", strconv.Itoa(len(j.Errors)))
	case len(j.Errors) == 0:
		b.WriteString(f + "<Errors></Errors>\n")
	default:
		b.WriteString(f + "<Errors>\n")
		for _, e := range j.Errors {
			b.WriteString(f + "  <Error>\n")
			line := e.LineNumber
			if p.faults != nil {
				line += p.faults.LineShift
			}
			w.text(f+"    ", "LineNumber", strconv.Itoa(line))
			w.text(f+"    ", "EmailAddress", e.EmailAddress)
			w.text(f+"    ", "Message", e.Message)
			b.WriteString(f + "  </Error>\n")
		}
		b.WriteString(f + "</Errors>\n")
	}
	w.text(f, "FileName", j.FileName)
	w.text(f, "TransactionCount", strconv.Itoa(txCount))
	if j.RunStart != "" {
		w.text(f, "RunStartTime", j.RunStart)
	}
	if j.RunFinish != "" {
		w.text(f, "RunFinishTime", j.RunFinish)
	}
	w.text(f, "InsertTime", j.InsertTime)
	b.WriteString(a + "</Activity>\n")
	p.endEntry(b, indent, src)
}

// activityFile answers GET /activities/{id}.csv (or .txt) of a COMPLETE
// export job by streaming its stored chunks.
func (s *Sandbox) activityFile(ctx context.Context, name string) reply {
	id := name[:strings.LastIndexByte(name, '.')]
	var j *jobRow
	var size int64
	err := s.st.read(ctx, func(tx *sql.Tx) error {
		var err error
		if j, err = getJob(ctx, tx, id, false); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM activity_chunks WHERE seq = ?", j.Seq).Scan(&size)
	})
	if errors.Is(err, errNotFound) || (err == nil && (j.FileName != name || j.Status != ctct.ActivityComplete || j.InsertTime < s.expiry())) {
		return s.failure(newAPIError(http.StatusNotFound, "file %s not found", name))
	}
	if err != nil {
		return s.failure(err)
	}
	ctype := "text/csv; charset=utf-8"
	if strings.HasSuffix(name, ".txt") {
		ctype = "text/plain; charset=utf-8"
	}
	seq := j.Seq
	return reply{
		status: http.StatusOK, ctype: ctype,
		header: http.Header{"Content-Length": {strconv.FormatInt(size, 10)}},
		stream: func(w io.Writer) error { return s.fileChunks(ctx, seq, w) },
	}
}
