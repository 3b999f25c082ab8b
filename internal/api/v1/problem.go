package v1

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/store"
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

// WriteError maps a domain error to a problem, in this one place: store.ErrNotFound -> 404,
// ErrConflict -> 409, ErrInvalid -> 400, anything else -> 500 with the cause logged, not shown.
func WriteError(w http.ResponseWriter, d api.Deps, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		WriteProblem(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict):
		WriteProblem(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrInvalid):
		WriteProblem(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrUnavailable):
		d.Log.Error("storage unavailable", "err", err, "cause", cause(err))
		WriteProblem(w, http.StatusServiceUnavailable, "the database is unavailable; try again")
	default:
		d.Log.Error("internal error", "err", err, "cause", cause(err))
		WriteProblem(w, http.StatusInternalServerError, "internal error; the server log has the details")
	}
}

func cause(err error) error {
	var se *store.Error
	if errors.As(err, &se) {
		return se.Cause()
	}
	return err
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
		r2, err := d.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			WriteProblem(w, http.StatusUnauthorized, err.Error())
			return
		}
		id, _ := auth.FromContext(r2.Context())
		if allow != nil && !allow(id) {
			WriteProblem(w, http.StatusForbidden, "this token may not do that")
			return
		}
		h(w, r2, id)
	}
}
