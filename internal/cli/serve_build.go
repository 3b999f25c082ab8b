package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/metrics"
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
	policy, err := app.Serve.apply(&d)
	if err != nil {
		return nil, nil, err
	}
	// The link cache is enabled only while PostgreSQL delivers change notifications; on SQLite
	// Listen returns at once and GETs read the database.
	d.LinkCache = link.NewCache()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		d.LinkCache.Listen(ctx, d.DB, app.Log)
	}()
	stopWebhooks := startWebhookWorker(app, d.DB, policy) // webhook_worker.go
	stopDBStats := func() {}
	if !app.Serve.NoMetrics {
		stopDBStats = metrics.WatchDB(d.DB, d.DB.Engine())
	}
	return server.New(d, server.Options{NoMetrics: app.Serve.NoMetrics}), func() {
		cancel()
		<-listening
		stopWebhooks()
		stopDBStats()
	}, nil
}
