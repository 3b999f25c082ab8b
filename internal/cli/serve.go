package cli

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

// ServeSettings are the operator's settings of the HTTP server (docs/security.md).
type ServeSettings struct {
	// WebhookAllowPrivate are CIDR prefixes of non-public addresses webhooks may reach.
	WebhookAllowPrivate []string
	// WebhookLimit is the number of active webhooks per tenant (0: webhook.DefaultLimit).
	WebhookLimit int
	// PublicURL is the URL browsers and clients use; https makes cookies Secure and adds HSTS.
	PublicURL string
	// NoMetrics turns GET /metrics off.
	NoMetrics bool
}

func newServeCmd(app *App) *cobra.Command {
	var addr string
	metrics := true
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the ARM-compatible link API, the native API and the dashboard",
		Long: `serve runs the HTTP server. It prints "listening on http://HOST:PORT" once it accepts
connections and shuts down gracefully on SIGINT or SIGTERM.

Behind a TLS-terminating proxy, give --public-url https://...: session cookies are then Secure
and responses carry Strict-Transport-Security. Webhooks reach only public https addresses
unless --webhook-allow-private names the private ranges they may reach. GET /metrics
(Prometheus) is served without a token, like /healthz: restrict it at your proxy, or turn it
off with --metrics=false. docs/security.md has the whole list.

serve refuses a database that is not at this partnerlink's schema version, a new one
included: run partnerlink migrate first (docs/operations.md).`,
		Example: "  partnerlink serve\n  partnerlink serve --addr 127.0.0.1:9090 --db postgres://postgres@127.0.0.1:5432/partnerlink\n" +
			"  partnerlink serve --public-url https://partnerlink.example.com --webhook-allow-private 10.20.0.0/16",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			app.Serve.NoMetrics = !metrics
			if _, err := app.Serve.apply(&api.Deps{}); err != nil {
				return err // settings are checked before the database
			}
			db, err := app.OpenCurrentDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			d := api.Deps{DB: db, Log: app.Log, Now: app.Now}
			h, stop, err := buildServer(cmd.Context(), app, d)
			if err != nil {
				return err
			}
			defer stop()
			return server.Serve(cmd.Context(), addr, h, app.Stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringSliceVar(&app.OIDCIssuers, "oidc-issuer", splitEnv("PARTNERLINK_OIDC_ISSUERS"),
		"also accept tokens of this identity provider: ISSUER-URL=AUDIENCE (repeatable; env PARTNERLINK_OIDC_ISSUERS, comma-separated)")
	f.StringVar(&app.Serve.PublicURL, "public-url", os.Getenv("PARTNERLINK_PUBLIC_URL"),
		"the URL clients reach the server at, e.g. https://partnerlink.example.com behind a TLS proxy: https makes session cookies Secure and adds HSTS (env PARTNERLINK_PUBLIC_URL)")
	f.StringSliceVar(&app.Serve.WebhookAllowPrivate, "webhook-allow-private", splitEnv("PARTNERLINK_WEBHOOK_ALLOW_PRIVATE"),
		"CIDR prefixes of private addresses webhooks may reach (also over plain http), e.g. 10.20.0.0/16 (env PARTNERLINK_WEBHOOK_ALLOW_PRIVATE)")
	f.IntVar(&app.Serve.WebhookLimit, "webhook-limit", webhook.DefaultLimit, "active webhooks a tenant may have")
	f.BoolVar(&metrics, "metrics", true, "serve Prometheus metrics at GET /metrics")
	return cmd
}

func splitEnv(name string) []string {
	if v := os.Getenv(name); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// apply checks the settings and puts them into d; it returns the webhook policy for the
// delivery worker. Bad values are usage errors naming the flag.
func (s ServeSettings) apply(d *api.Deps) (webhook.Policy, error) {
	allow, err := webhook.ParseAllowList(s.WebhookAllowPrivate)
	if err != nil {
		return webhook.Policy{}, UsageError{err}
	}
	if s.WebhookLimit < 0 {
		return webhook.Policy{}, UsageError{fmt.Errorf("--webhook-limit %d: give a positive number (0 means the default, %d)", s.WebhookLimit, webhook.DefaultLimit)}
	}
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return webhook.Policy{}, UsageError{fmt.Errorf("--public-url %q: give the absolute URL clients use, e.g. https://partnerlink.example.com", s.PublicURL)}
		}
		d.HTTPS = u.Scheme == "https"
	}
	policy := webhook.Policy{AllowPrivate: allow}
	d.Webhooks = &webhook.Store{DB: d.DB, Policy: policy, Limit: s.WebhookLimit, Now: d.Now}
	return policy, nil
}
