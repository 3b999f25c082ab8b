// Package server assembles the HTTP surfaces (ARM-compatible API, native API, dashboard) into
// one handler behind the middleware they share, and runs it with graceful shutdown.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/api/arm"
	v1 "github.com/partnerlink/partnerlink/internal/api/v1"
	"github.com/partnerlink/partnerlink/internal/metrics"
	"github.com/partnerlink/partnerlink/internal/web"
)

// Options are the operator's settings of the HTTP surface.
type Options struct {
	// NoMetrics turns GET /metrics off (serve --metrics=false).
	NoMetrics bool
}

// Handler returns the whole HTTP surface with the default options.
func Handler(d api.Deps) http.Handler { return New(d, Options{}) }

// New returns the whole HTTP surface: every request gets a request ID, an access log line,
// metrics and panic recovery (middleware.go); /providers/ paths go to the ARM API whatever
// their case, as Azure matches them; everything else to the router.
func New(d api.Deps, o Options) http.Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	mux := routes(d, o)
	armAPI := arm.Handler(d)
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch api.Surface(r.URL.Path) {
		case "arm":
			armAPI.ServeHTTP(w, r)
		case "v1":
			serveV1(mux, w, r)
		default:
			serveDashboard(mux, w, r)
		}
	})
	return &edge{log: d.Log, https: d.HTTPS, next: route}
}

// routes registers every route but the ARM API's on one router.
func routes(d api.Deps, o Options) *api.Mux {
	mux := api.NewMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		v, err := d.DB.SchemaVersion(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			d.Log.Error("healthz", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "unavailable"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "schemaVersion": v, "engine": d.DB.Engine()})
	})
	if !o.NoMetrics {
		// Unauthenticated, like /healthz: operators restrict it at their proxy (docs/security.md).
		mux.Handle("GET /metrics", metrics.Handler())
	}
	v1.Register(mux, d)
	web.Register(mux, d)
	return mux
}

// Routes lists every route the server serves: the router's patterns and the ARM API's
// operations. The authorization matrix test walks it.
func Routes(d api.Deps, o Options) []string {
	return append(routes(d, o).Patterns(), arm.Routes...)
}

// Serve listens on addr, prints "listening on http://HOST:PORT" to out once it accepts
// connections, and serves until ctx is cancelled; then it drains in-flight requests.
func Serve(ctx context.Context, addr string, h http.Handler, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %q: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
