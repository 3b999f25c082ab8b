package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/server"
)

// buildServer wires authentication into the handler: tokens are verified against the signing
// key kept in the database (created on first start) and, with --oidc-issuer, against
// identity providers found by OpenID discovery. It returns a stop function for
// background workers.
func buildServer(ctx context.Context, app *App, d api.Deps) (http.Handler, func(), error) {
	key, err := auth.LoadOrCreateKey(ctx, d.DB, app.Now)
	if err != nil {
		return nil, nil, err
	}
	v := auth.NewVerifier(key, app.Now)
	for _, spec := range app.OIDCIssuers {
		url, aud, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, nil, UsageError{fmt.Errorf("--oidc-issuer %q: write ISSUER-URL=AUDIENCE, e.g. https://login.microsoftonline.com/<tenant>/v2.0=api://partnerlink", spec)}
		}
		if err := v.AddOIDC(ctx, auth.OIDCIssuer{URL: url, Audience: aud}); err != nil {
			return nil, nil, UsageError{err}
		}
	}
	d.Authenticate = v.Authenticate
	return server.Handler(d), startWebhookWorker(app, d.DB), nil // webhook_worker.go
}
