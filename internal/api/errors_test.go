package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
)

func TestClassify(t *testing.T) {
	driver := errors.New("pq: relation x: secret driver detail")
	cases := []struct {
		err    error
		status int
		code   string
		shows  string // in the message ("" = not checked)
		hides  string // never in the message
	}{
		{store.NewError(store.ErrInvalid, "bad id 7", nil), 400, "BadRequest", "bad id 7", ""},
		{fmt.Errorf("wrapped: %w", store.ErrNotFound), 404, "NotFound", "wrapped", ""},
		{store.NewError(store.ErrConflict, "taken", nil), 409, "Conflict", "taken", ""},
		{fmt.Errorf("partner 9: %w", auth.ErrForbidden), 403, "AuthorizationFailed", "partner 9", ""},
		{auth.Deny("not your tenant"), 403, "AuthorizationFailed", "not your tenant", "forbidden"},
		{store.NewError(store.ErrUnavailable, "the database is busy", driver), 503, "ServiceUnavailable", "busy; try again", "secret"},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), 503, "ServiceUnavailable", "try again", ""},
		{fmt.Errorf("query: %w", context.Canceled), StatusClientClosed, "RequestCanceled", "", ""},
		{&link.Error{Code: link.CodeConflict, Msg: "use PATCH"}, 409, "Conflict", "use PATCH", ""},
		{&link.Error{Code: link.CodeNotFound, Msg: "no link"}, 404, "NotFound", "no link", ""},
		{&link.Error{Code: link.CodeBadRequest, Msg: "groups"}, 400, "BadRequest", "groups", ""},
		{&directory.NotLinkableError{ID: "1", Reason: "inactive"}, 400, "BadRequest", "inactive", ""},
		{store.NewError(store.ErrInternal, "internal storage error", driver), 500, "InternalServerError", "server log", "secret"},
		{driver, 500, "InternalServerError", "server log", "secret"},
	}
	for _, c := range cases {
		got := Classify(c.err)
		if got.Status != c.status || got.Code != c.code || !strings.Contains(got.Message, c.shows) || (c.hides != "" && strings.Contains(got.Message, c.hides)) {
			t.Errorf("Classify(%v) = %+v; want %d %s showing %q, hiding %q", c.err, got, c.status, c.code, c.shows, c.hides)
		}
	}
}

// Faults are logged with their cause; a client that went away is not an error in the log;
// a 503 carries Retry-After.
func TestFailLogsByClass(t *testing.T) {
	cases := []struct {
		err        error
		level      string // "" = nothing at info level or above
		retryAfter bool
	}{
		{errors.New("boom"), "ERROR", false},
		{store.NewError(store.ErrUnavailable, "down", errors.New("dial tcp: refused")), "WARN", true},
		{context.Canceled, "", false},
		{store.NewError(store.ErrInvalid, "bad", nil), "", false},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
		rec := httptest.NewRecorder()
		Fail(log, rec, c.err)
		out := buf.String()
		if (c.level == "") != (out == "") || (c.level != "" && !strings.Contains(out, "level="+c.level)) {
			t.Errorf("Fail(%v) logged %q; want level %q", c.err, out, c.level)
		}
		if c.level == "WARN" && !strings.Contains(out, "refused") {
			t.Errorf("Fail(%v) logged %q without its cause", c.err, out)
		}
		if got := rec.Header().Get("Retry-After") != ""; got != c.retryAfter {
			t.Errorf("Fail(%v): Retry-After set = %v", c.err, got)
		}
	}
}
