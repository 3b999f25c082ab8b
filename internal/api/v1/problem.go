package v1

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists individual problems (e.g. every bad row of an upload).
	Errors []string `json:"errors,omitempty"`
}

// WriteProblem writes a problem+json response.
func WriteProblem(w http.ResponseWriter, status int, detail string, errs ...string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs})
}

// WriteError answers err as a problem, classified in the one place every surface shares
// (api.Classify): invalid 400, forbidden 403, not found 404, conflict 409, unavailable 503 with
// Retry-After, a client gone 499 (not logged as a fault), anything else 500 with the cause
// logged, not shown.
func WriteError(w http.ResponseWriter, d api.Deps, err error) {
	WriteClass(w, api.Fail(d.Log, w, err))
}

// WriteClass writes a classified error as a problem.
func WriteClass(w http.ResponseWriter, c api.Class) {
	msg := c.Message
	if c.Kind == api.KindInternal {
		if id := api.InfoOf(w).ID; id != "" {
			msg += " (request " + id + ")"
		}
	}
	WriteProblem(w, c.Status, msg)
}

// decodeJSON reads exactly one JSON document of at most limit bytes into dst. Unknown fields
// and anything after the document (a second document, trailing text) are refused: a client
// that sends them means something this API would silently ignore.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON document; send exactly one object")
	}
	return nil
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Authed wraps h so that it runs only for an authenticated caller that passes allow;
// otherwise 401 (no or bad token) or 403 (authenticated, not allowed).
func Authed(d api.Deps, allow func(*auth.Identity) bool, h func(w http.ResponseWriter, r *http.Request, id *auth.Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d.Authenticate == nil {
			WriteProblem(w, http.StatusUnauthorized, "authentication is not configured")
			return
		}
		info := api.Info(r.Context())
		r2, err := d.Authenticate(r)
		if err != nil {
			info.Caller = api.Unauthenticated(r)
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			WriteProblem(w, http.StatusUnauthorized, err.Error())
			return
		}
		id, _ := auth.FromContext(r2.Context())
		info.Caller = id.Kind()
		if allow != nil && !allow(id) {
			WriteProblem(w, http.StatusForbidden, "this token may not do that")
			return
		}
		h(w, r2, id)
	}
}
