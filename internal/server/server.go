// Package server assembles the HTTP surfaces (ARM-compatible API, native API, dashboard) into
// one handler and runs it with graceful shutdown.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/api/arm"
	v1 "github.com/partnerlink/partnerlink/internal/api/v1"
	"github.com/partnerlink/partnerlink/internal/web"
)

// Handler returns the whole HTTP surface.
func Handler(d api.Deps) http.Handler {
	mux := http.NewServeMux()
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
	arm.Register(mux, d)
	v1.Register(mux, d)
	web.Register(mux, d)
	return mux
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
