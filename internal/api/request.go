package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// RequestInfo is what the server's middleware knows about a request and what handlers add to
// it for the access log and metrics: its ID, the route pattern that served it and the kind of
// caller. The middleware creates it; handlers fill Route and Caller where the router cannot.
type RequestInfo struct {
	// ID is the request ID: X-Request-Id, or x-ms-request-id on the ARM API.
	ID string
	// CorrelationID is ARM's x-ms-correlation-request-id (the client's, or ID).
	CorrelationID string
	// Route is the route pattern (never the raw path, which holds IDs).
	Route string
	// Caller is the kind of caller: anonymous, invalid-token, principal, customer-admin,
	// partner or operator.
	Caller string
}

type infoKey struct{}

// WithInfo returns ctx carrying info.
func WithInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// Info returns the request's info; outside the middleware (tests) a throwaway one.
func Info(ctx context.Context) *RequestInfo {
	if i, ok := ctx.Value(infoKey{}).(*RequestInfo); ok && i != nil {
		return i
	}
	return &RequestInfo{}
}

// InfoOf returns the info of the request a response writer answers (the middleware's writer
// carries it), so error writers that get only the writer can log the request ID.
func InfoOf(w http.ResponseWriter) *RequestInfo {
	for w != nil {
		if c, ok := w.(interface{ RequestInfo() *RequestInfo }); ok {
			return c.RequestInfo()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	return &RequestInfo{}
}

// Surface says which API serves a path: "arm" (/providers/..., matched case-insensitively as
// Azure does), "v1" (the native API) or "web" (the dashboard and everything else). Errors
// outside a handler (panics, router 404/405) are answered in that surface's format.
func Surface(path string) string {
	switch {
	case len(path) >= len("/providers/") && strings.EqualFold(path[:len("/providers/")], "/providers/"):
		return "arm"
	case path == "/v1" || strings.HasPrefix(path, "/v1/"):
		return "v1"
	}
	return "web"
}

// Unauthenticated names a caller whose credentials did not verify: "anonymous" without any,
// "invalid-token" otherwise.
func Unauthenticated(r *http.Request) string {
	if r.Header.Get("Authorization") == "" {
		return "anonymous"
	}
	return "invalid-token"
}

// NewRequestID returns a random GUID-shaped request ID (ARM's clients expect a GUID).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
