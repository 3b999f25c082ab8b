// Package api holds what every HTTP surface shares: the dependencies handed to each API
// package (ARM, native v1, dashboard) when the server is assembled.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

// Deps are the server's shared dependencies.
type Deps struct {
	DB  *store.DB
	Log *slog.Logger
	// Now is the clock; business logic never calls time.Now directly.
	Now func() time.Time
	// Authenticate verifies the request's credentials and returns the request with the
	// identity in its context (auth.FromContext), or an error for a 401. Set by the server.
	Authenticate func(r *http.Request) (*http.Request, error)
	// LinkCache, if set, serves the ARM GET of a caller's link from memory; the server keeps
	// it in step with the database (link.Cache.Listen).
	LinkCache *link.Cache
	// Webhooks registers and deletes webhooks with the operator's URL policy and per-tenant
	// limit; nil means the defaults (public https targets only, webhook.DefaultLimit).
	Webhooks *webhook.Store
	// HTTPS says browsers reach the server over https, directly or through a TLS-terminating
	// proxy (serve --public-url https://...): session cookies are then Secure and responses
	// carry Strict-Transport-Security.
	HTTPS bool
}

// WebhookStore is d.Webhooks, or a store with the default policy and limit.
func (d Deps) WebhookStore() *webhook.Store {
	if d.Webhooks != nil {
		return d.Webhooks
	}
	return &webhook.Store{DB: d.DB, Now: d.Now}
}
