package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/api/arm"
	v1 "github.com/partnerlink/partnerlink/internal/api/v1"
	"github.com/partnerlink/partnerlink/internal/metrics"
	"github.com/partnerlink/partnerlink/internal/web"
)

// edge is the middleware every request passes: request ID, HSTS, refusal of unreadable
// paths, panic recovery, the access log and the request metrics.
type edge struct {
	log   *slog.Logger
	https bool
	next  http.Handler
}

// recorder remembers what a handler answered, for the access log and metrics, and carries the
// request's info to error writers that get only the writer (api.InfoOf).
type recorder struct {
	http.ResponseWriter
	info   *api.RequestInfo
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter   { return w.ResponseWriter }
func (w *recorder) RequestInfo() *api.RequestInfo { return w.info }

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	surface := api.Surface(r.URL.Path)
	info := &api.RequestInfo{Caller: "anonymous"}
	requestID(w, r, surface, info)
	if e.https || r.TLS != nil {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	}
	rec := &recorder{ResponseWriter: w, info: info}
	r = r.WithContext(api.WithInfo(r.Context(), info))
	defer func() {
		p := recover()
		if p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			e.log.Error("panic serving a request", "request_id", info.ID, "method", r.Method, "route", info.Route,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeClass(rec, surface, api.Class{Kind: api.KindInternal, Status: http.StatusInternalServerError,
					Code: "InternalServerError", Message: "internal error; the server log has the details"})
			}
		}
		e.done(rec, r, start)
		if p != nil && rec.status != http.StatusInternalServerError {
			panic(http.ErrAbortHandler) // the answer was under way: cut the connection
		}
	}()
	if msg := unreadable(r); msg != "" {
		writeClass(rec, surface, api.Class{Kind: api.KindInvalid, Status: http.StatusBadRequest, Code: "BadRequest", Message: msg})
		return
	}
	e.next.ServeHTTP(rec, r)
}

// done writes the access log line and the request metrics: the route pattern, never the raw
// path (it holds IDs), and the caller's kind, never its token.
func (e *edge) done(rec *recorder, r *http.Request, start time.Time) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	route := rec.info.Route
	if route == "" {
		route = r.Pattern // set by the router on this request
	}
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	metrics.ObserveRequest(route, status, d)
	attrs := []any{"method", r.Method, "route", route, "status", status, "duration", d,
		"bytes", rec.bytes, "request_id", rec.info.ID, "caller", rec.info.Caller}
	if c := rec.info.CorrelationID; c != "" && c != rec.info.ID {
		attrs = append(attrs, "correlation_id", c)
	}
	e.log.Info("request", attrs...)
}

// validID accepts a request ID a client (or a proxy in front) sent: short and plain, so it is
// safe in logs and headers.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// requestID takes the request's ID from the client (or the proxy in front) when it sent a
// plain one, or makes one, and returns it in the response: x-ms-request-id and
// x-ms-correlation-request-id (and the client's x-ms-client-request-id echoed) on the ARM
// API, as Azure does; X-Request-Id elsewhere.
func requestID(w http.ResponseWriter, r *http.Request, surface string, info *api.RequestInfo) {
	h := w.Header()
	if surface != "arm" {
		info.ID = r.Header.Get("X-Request-Id")
		if !validID(info.ID) {
			info.ID = api.NewRequestID()
		}
		h.Set("X-Request-Id", info.ID)
		return
	}
	info.ID = r.Header.Get("x-ms-request-id")
	if !validID(info.ID) {
		info.ID = api.NewRequestID()
	}
	info.CorrelationID = r.Header.Get("x-ms-correlation-request-id")
	if !validID(info.CorrelationID) {
		info.CorrelationID = info.ID
	}
	h.Set("x-ms-request-id", info.ID)
	h.Set("x-ms-correlation-request-id", info.CorrelationID)
	if c := r.Header.Get("x-ms-client-request-id"); validID(c) {
		h.Set("x-ms-client-request-id", c)
	}
}

// unreadable says why a request's path or query cannot hold the IDs every route takes from
// them: a NUL or another control character, or bytes that are not UTF-8 (PostgreSQL refuses
// both, and no ID contains them). "" when they are fine.
func unreadable(r *http.Request) string {
	bad := func(s string) bool {
		if !utf8.ValidString(s) {
			return true
		}
		return strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f })
	}
	if bad(r.URL.Path) {
		return "the request path holds a NUL, a control character or bytes that are not UTF-8; IDs are printable text"
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "the query string is malformed: " + err.Error()
	}
	for k, vs := range q {
		for _, v := range append(vs, k) {
			if bad(v) {
				return fmt.Sprintf("query parameter %.40q holds a NUL, a control character or bytes that are not UTF-8; IDs are printable text", k)
			}
		}
	}
	return ""
}

// writeClass answers an error raised outside a handler in the format of the path's surface.
func writeClass(w http.ResponseWriter, surface string, c api.Class) {
	switch surface {
	case "arm":
		arm.WriteClass(w, c)
	case "v1":
		v1.WriteClass(w, c)
	default:
		web.WriteClass(w, c)
	}
}

// serveV1 routes a /v1 request; when no route matches, the router's 404 or 405 (with its
// Allow header) is answered as problem+json like every other /v1 error.
func serveV1(mux *api.Mux, w http.ResponseWriter, r *http.Request) {
	h, pattern := mux.Handler(r)
	if pattern != "" {
		mux.ServeHTTP(w, r)
		return
	}
	probe := &statusOnly{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusNotFound:
		v1.WriteProblem(w, http.StatusNotFound, "no route "+r.URL.Path+"; see /v1/openapi.json for the API's paths")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		v1.WriteProblem(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+probe.header.Get("Allow"))
	default: // a redirect to the clean path
		mux.ServeHTTP(w, r)
	}
}

// serveDashboard routes a request outside the APIs; when no route matches, the router's 404
// or 405 is answered as an HTML page like every other dashboard error, not the router's plain
// text.
func serveDashboard(mux *api.Mux, w http.ResponseWriter, r *http.Request) {
	h, pattern := mux.Handler(r)
	if pattern != "" {
		mux.ServeHTTP(w, r)
		return
	}
	probe := &statusOnly{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusNotFound:
		web.WriteClass(w, api.Class{Kind: api.KindNotFound, Status: http.StatusNotFound, Code: "NotFound",
			Message: "There is no page at " + r.URL.Path + "."})
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		web.WriteClass(w, api.Class{Kind: api.KindInvalid, Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed",
			Message: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + probe.header.Get("Allow")})
	default: // a redirect to the clean path
		mux.ServeHTTP(w, r)
	}
}

// statusOnly records the status and headers of the router's own answer and drops its body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header { return s.header }
func (s *statusOnly) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}
func (s *statusOnly) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(b), nil
}
