package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
)

// Kind is the class of an error. Every HTTP surface (ARM error JSON, problem+json, the HTML
// dashboard) maps errors through Classify, so one error gets one status everywhere; each
// surface keeps only its own wire format.
type Kind int

const (
	KindInternal    Kind = iota // a bug or an unexpected answer: 500, logged with its cause
	KindInvalid                 // the request is wrong: 400
	KindForbidden               // the caller may not do this: 403
	KindNotFound                // 404
	KindConflict                // the request conflicts with the current state: 409
	KindUnavailable             // the database is busy or down: 503 with Retry-After, logged
	KindCanceled                // the client went away: 499, never logged as a fault
)

// StatusClientClosed is the status recorded (in the access log and metrics) for a request
// whose client went away before the answer: nginx's 499. Nobody receives it.
const StatusClientClosed = 499

// RetryAfterSeconds is the Retry-After sent with every 503: a busy database is usually free
// again within a second or two, and clients (the Azure SDKs among them) honour the header.
const RetryAfterSeconds = "1"

// Class is how a surface answers an error.
type Class struct {
	Kind   Kind
	Status int
	// Code is the ARM error code ("BadRequest", "NotFound", ...).
	Code string
	// Message is safe to show the caller: the error's own text for the caller's mistakes, a
	// generic sentence for faults (whose cause goes to the log only).
	Message string
}

// Classify maps an error to its class. Domain errors are recognised by errors.Is/As:
// store.ErrInvalid/ErrNotFound/ErrConflict/ErrUnavailable, auth.ErrForbidden, link.Error and
// directory.NotLinkableError; context.Canceled is the client going away; anything else is
// internal.
func Classify(err error) Class {
	var le *link.Error
	var nl *directory.NotLinkableError
	switch {
	case errors.As(err, &le):
		switch le.Code {
		case link.CodeNotFound:
			return Class{KindNotFound, http.StatusNotFound, le.Code, le.Msg}
		case link.CodeConflict:
			return Class{KindConflict, http.StatusConflict, le.Code, le.Msg}
		}
		return Class{KindInvalid, http.StatusBadRequest, link.CodeBadRequest, le.Msg}
	case errors.As(err, &nl):
		return Class{KindInvalid, http.StatusBadRequest, "BadRequest", nl.Reason}
	case errors.Is(err, context.Canceled):
		return Class{KindCanceled, StatusClientClosed, "RequestCanceled", "the client closed the request"}
	case errors.Is(err, store.ErrUnavailable):
		return Class{KindUnavailable, http.StatusServiceUnavailable, "ServiceUnavailable", safeMessage(err, "the database is unavailable") + "; try again"}
	case errors.Is(err, context.DeadlineExceeded):
		return Class{KindUnavailable, http.StatusServiceUnavailable, "ServiceUnavailable", "the database did not answer in time; try again"}
	case errors.Is(err, auth.ErrForbidden):
		return Class{KindForbidden, http.StatusForbidden, "AuthorizationFailed", err.Error()}
	case errors.Is(err, store.ErrInvalid):
		return Class{KindInvalid, http.StatusBadRequest, "BadRequest", err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return Class{KindNotFound, http.StatusNotFound, "NotFound", err.Error()}
	case errors.Is(err, store.ErrConflict):
		return Class{KindConflict, http.StatusConflict, "Conflict", err.Error()}
	}
	return Class{KindInternal, http.StatusInternalServerError, "InternalServerError", "internal error; the server log has the details"}
}

// safeMessage is a translated store error's own message (written to be shown), else def: an
// untranslated error's text may hold driver details.
func safeMessage(err error, def string) string {
	var se *store.Error
	if errors.As(err, &se) && se.Msg != "" {
		return se.Msg
	}
	return def
}

// cause is what the log gets: the driver's error behind a translated one.
func cause(err error) error {
	var se *store.Error
	if errors.As(err, &se) && se.Cause() != nil {
		return se.Cause()
	}
	return err
}

// Fail classifies err and logs it as its class deserves: faults (internal, unavailable) with
// their cause and the request ID; a canceled request at debug level only; the caller's
// mistakes not at all (the access log has their status). Surfaces call it, then write the
// class in their own format.
func Fail(log *slog.Logger, w http.ResponseWriter, err error) Class {
	c := Classify(err)
	if log == nil {
		return c
	}
	id := InfoOf(w).ID
	switch c.Kind {
	case KindInternal:
		log.Error("request failed", "request_id", id, "err", err, "cause", cause(err))
	case KindUnavailable:
		log.Warn("database unavailable", "request_id", id, "err", err, "cause", cause(err))
	case KindCanceled:
		log.Debug("client closed the request", "request_id", id)
	}
	if c.Kind == KindUnavailable {
		w.Header().Set("Retry-After", RetryAfterSeconds)
	}
	return c
}
