package cli

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/server"
)

func newServeCmd(app *App) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the ARM-compatible link API, the native API and the dashboard",
		Long: `serve runs the HTTP server. It prints "listening on http://HOST:PORT" once it accepts
connections and shuts down gracefully on SIGINT or SIGTERM.`,
		Example: "  partnerlink serve\n  partnerlink serve --addr 127.0.0.1:9090 --db postgres://postgres@127.0.0.1:5432/partnerlink",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := app.OpenDB(cmd.Context())
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
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringSliceVar(&app.OIDCIssuers, "oidc-issuer", splitEnv("PARTNERLINK_OIDC_ISSUERS"),
		"also accept tokens of this identity provider: ISSUER-URL=AUDIENCE (repeatable; env PARTNERLINK_OIDC_ISSUERS, comma-separated)")
	return cmd
}

func splitEnv(name string) []string {
	if v := os.Getenv(name); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}
