package cli

import (
	"context"
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/server"
)

// buildServer wires authentication into the handler: tokens are verified against the signing
// key kept in the database (created on first start). It returns a stop function for
// background workers.
func buildServer(ctx context.Context, app *App, d api.Deps) (http.Handler, func(), error) {
	key, err := auth.LoadOrCreateKey(ctx, d.DB, app.Now)
	if err != nil {
		return nil, nil, err
	}
	d.Authenticate = auth.NewVerifier(key, app.Now).Authenticate
	return server.Handler(d), startWebhookWorker(app, d.DB), nil // webhook_worker.go
}
