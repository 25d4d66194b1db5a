package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ctctbulk/ctct"
)

// The unauthenticated, uncounted helper routes.
const (
	statsPath = "/_sandbox/stats"
	resetPath = "/_sandbox/reset"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// reply is a complete answer, built before anything is written so that a
// write can still be dropped after it was committed.
type reply struct {
	status int
	ctype  string
	body   []byte
	header http.Header // extra headers; may be nil
	// stream, when set, writes the body after the headers instead of
	// body (a file too large to build in memory).
	stream func(w io.Writer) error
}

// apiError is an answer decided inside a store transaction; it rolls the
// transaction back.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("Error %d: %s", e.status, e.msg) }

func newAPIError(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// errorReply is a plain-text error body "Error NNN: message".
func errorReply(status int, format string, args ...any) reply {
	return reply{
		status: status,
		ctype:  "text/plain; charset=utf-8",
		body:   []byte(fmt.Sprintf("Error %d: ", status) + fmt.Sprintf(format, args...)),
	}
}

func atomReply(status int, body []byte) reply {
	return reply{status: status, ctype: atomMediaType, body: body}
}

// failure turns an error of a handler into its answer: an *apiError as it
// says, anything else a 500 (logged).
func (s *Sandbox) failure(err error) reply {
	var ae *apiError
	if errors.As(err, &ae) {
		return errorReply(ae.status, "%s", ae.msg)
	}
	s.logf("sandbox: internal error: %v", err)
	return errorReply(http.StatusInternalServerError, "internal server error")
}

func (s *Sandbox) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// route is a parsed API path.
type route struct {
	kind    routeKind
	user    string // the {user} segment; "" when the path has none
	hasUser bool
	id      string // {n} of a contact, {id} of a list
}

type routeKind int

const (
	routeNone routeKind = iota
	routeContacts
	routeContact
	routeLists
	routeList
	routeMembers
	routeService      // the account's service document
	routeActivities   // the activities collection
	routeActivity     // one activity
	routeActivityFile // an export job's file
)

// shape is the route's name in Stats.ByRoute.
func (k routeKind) shape() string {
	switch k {
	case routeContacts:
		return "/contacts"
	case routeContact:
		return "/contacts/{id}"
	case routeLists:
		return "/lists"
	case routeList:
		return "/lists/{id}"
	case routeMembers:
		return "/lists/{id}/members"
	case routeService, routeActivities, routeActivity, routeActivityFile:
		return activityShape(k)
	}
	return ""
}

// allows reports whether the route supports the method.
func (k routeKind) allows(method string) bool {
	switch k {
	case routeContacts:
		return method == http.MethodGet || method == http.MethodPost
	case routeContact:
		return method == http.MethodGet || method == http.MethodPut || method == http.MethodDelete
	case routeLists:
		return method == http.MethodGet || method == http.MethodPost
	case routeList:
		return method == http.MethodGet || method == http.MethodPut || method == http.MethodDelete
	case routeMembers, routeService, routeActivity, routeActivityFile:
		return method == http.MethodGet
	case routeActivities:
		return method == http.MethodGet || method == http.MethodPost
	}
	return false
}

func parseRoute(path string) route {
	rest, ok := strings.CutPrefix(path, "/ws/customers/")
	if !ok {
		return route{}
	}
	seg := strings.Split(rest, "/")
	r := route{user: seg[0], hasUser: true}
	if seg[0] == "" {
		return route{}
	}
	switch {
	case len(seg) == 2 && seg[1] == "contacts":
		r.kind = routeContacts
	case len(seg) == 3 && seg[1] == "contacts":
		r.kind, r.id = routeContact, seg[2]
	case len(seg) == 2 && seg[1] == "lists":
		r.kind = routeLists
	case len(seg) == 3 && seg[1] == "lists":
		r.kind, r.id = routeList, seg[2]
	case len(seg) == 4 && seg[1] == "lists" && seg[3] == "members":
		r.kind, r.id = routeMembers, seg[2]
	default:
		r.kind, r.id = parseActivityRoute(seg)
	}
	return r
}

// statsKey is the ByRoute key of a request.
func statsKey(method string, k routeKind) string {
	if k == routeNone {
		return "other"
	}
	return method + " " + k.shape()
}

// isWrite reports whether a method changes the store.
func isWrite(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete
}

// ServeHTTP answers one request: the /_sandbox helper routes, or an API
// request in this order: count it; authenticate (401); rate limit
// (throttle); latency; injected failure; the work itself; for a committed
// write, maybe drop the connection instead of answering.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case statsPath:
		s.serveStats(w, r)
		return
	case resetPath:
		s.serveReset(w, r)
		return
	}
	start := s.cfg.Now()
	rt := parseRoute(r.URL.Path)
	s.counters.request(r.Method, statsKey(r.Method, rt.kind))
	rep, committed, ok := s.handle(r, rt)
	if !ok { // the client went away
		s.logf("%s %s: abandoned by the client", r.Method, r.URL.Path)
		return
	}
	if committed && isWrite(r.Method) && s.chance(s.cfg.DropRate) {
		s.counters.dropped()
		s.logf("%s %s -> dropped after %d", r.Method, r.URL.Path, rep.status)
		drop(w)
		return
	}
	s.counters.status(rep.status)
	send(w, rep)
	s.logf("%s %s -> %d (%s)", r.Method, r.URL.RequestURI(), rep.status, s.cfg.Now().Sub(start).Round(time.Microsecond))
}

// handle runs the API pipeline. committed reports a successful request
// (for a write: committed to the store); ok is false when the client went
// away and nothing must be written.
func (s *Sandbox) handle(r *http.Request, rt route) (rep reply, committed, ok bool) {
	if !s.authorized(r, rt) {
		rep = errorReply(http.StatusUnauthorized, "Unauthorized")
		rep.header = http.Header{"Www-Authenticate": {`Basic realm="ctct sandbox"`}}
		return rep, false, true
	}
	if rep, throttled := s.throttled(); throttled {
		return rep, false, true
	}
	if isWrite(r.Method) && r.Body != nil {
		// Read the body before the latency: the server only notices a
		// client that gives up while it waits once the body is read.
		limit := int64(maxBody)
		if rt.kind == routeActivities {
			limit = maxActivityBody
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return reply{}, false, false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if err := s.delay(r.Context()); err != nil {
		return reply{}, false, false
	}
	if rep, failed := s.injectedFailure(); failed {
		return rep, false, true
	}
	rep = s.dispatch(r, rt)
	if rep.status == http.StatusInternalServerError && r.Context().Err() != nil {
		return reply{}, false, false // the client went away during the work
	}
	return rep, rep.status >= 200 && rep.status < 300, true
}

// authorized checks the credentials and that the path names this account.
func (s *Sandbox) authorized(r *http.Request, rt route) bool {
	if rt.hasUser && !strings.EqualFold(rt.user, s.cfg.User) {
		return false
	}
	h := r.Header.Get("Authorization")
	if scheme, tok, found := strings.Cut(h, " "); found && strings.EqualFold(scheme, "Bearer") {
		return equal(strings.TrimSpace(tok), s.cfg.AccessToken)
	}
	u, pw, found := r.BasicAuth()
	if !found {
		return false
	}
	i := strings.LastIndexByte(u, '%')
	if i < 0 {
		return false
	}
	key, login := u[:i], u[i+1:]
	return equal(key, s.cfg.APIKey) && strings.EqualFold(login, s.cfg.User) && equal(pw, s.cfg.Password)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// dispatch does the work of an authorised request.
func (s *Sandbox) dispatch(r *http.Request, rt route) reply {
	if rt.kind == routeNone {
		return errorReply(http.StatusNotFound, "no such resource %s", r.URL.Path)
	}
	if !rt.kind.allows(r.Method) {
		return errorReply(http.StatusUnsupportedMediaType, "method %s is not supported on %s", r.Method, r.URL.Path)
	}
	ctx := r.Context()
	switch rt.kind {
	case routeContacts:
		if r.Method == http.MethodPost {
			body, rep, ok := readEntry(r)
			if !ok {
				return rep
			}
			return s.createContact(ctx, r, body)
		}
		return s.listContactsFeed(ctx, r)
	case routeContact:
		n, ok := parseNumber(rt.id)
		if !ok {
			return errorReply(http.StatusNotFound, "no such contact %s", rt.id)
		}
		switch r.Method {
		case http.MethodPut:
			body, rep, ok := readEntry(r)
			if !ok {
				return rep
			}
			return s.updateContact(ctx, n, body)
		case http.MethodDelete:
			return s.optOutContact(ctx, n)
		}
		return s.getContact(ctx, n)
	case routeLists:
		if r.Method == http.MethodPost {
			body, rep, ok := readEntry(r)
			if !ok {
				return rep
			}
			return s.createList(ctx, r, body)
		}
		return s.listsFeed(ctx)
	case routeList:
		switch r.Method {
		case http.MethodPut:
			body, rep, ok := readEntry(r)
			if !ok {
				return rep
			}
			return s.updateList(ctx, rt.id, body)
		case http.MethodDelete:
			return s.deleteList(ctx, rt.id)
		}
		return s.listEntry(ctx, rt.id)
	case routeMembers:
		return s.membersFeed(ctx, r, rt.id)
	case routeService, routeActivities, routeActivity, routeActivityFile:
		return s.dispatchActivities(r, rt)
	}
	return errorReply(http.StatusNotFound, "no such resource %s", r.URL.Path)
}

// parseNumber parses a contact or list number: decimal digits, > 0.
func parseNumber(s string) (int64, bool) {
	if s == "" || len(s) > 18 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// readEntry checks the Content-Type of a POST or PUT and reads its body
// (at most maxBody bytes).
func readEntry(r *http.Request) ([]byte, reply, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != ctct.AtomMediaType {
		return nil, errorReply(http.StatusUnsupportedMediaType, "Content-Type must be %s", ctct.AtomMediaType), false
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorReply(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", maxBody), false
		}
		return nil, errorReply(http.StatusBadRequest, "cannot read request body: %v", err), false
	}
	return body, reply{}, true
}

// send writes a reply.
func send(w http.ResponseWriter, rep reply) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	if rep.stream != nil {
		h.Set("Content-Type", rep.ctype)
		w.WriteHeader(rep.status)
		_ = rep.stream(w) // a failure mid-body can only cut the answer short
		return
	}
	if rep.status != http.StatusNoContent {
		h.Set("Content-Type", rep.ctype)
		h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	}
	w.WriteHeader(rep.status)
	if rep.status != http.StatusNoContent {
		_, _ = w.Write(rep.body)
	}
}

// serveStats answers GET /_sandbox/stats with the counters as JSON.
func (s *Sandbox) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := json.Marshal(s.Stats())
	if err != nil {
		http.Error(w, "encode stats: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

// serveReset answers POST /_sandbox/reset with 204 after Reset.
func (s *Sandbox) serveReset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := s.Reset(r.Context()); err != nil {
		s.logf("%v", err)
		http.Error(w, "reset failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
