// Package web serves the dashboard at /: server-rendered pages, embedded assets, no CDN.
package web

import (
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
)

// Register adds the dashboard routes to mux.
func Register(mux *http.ServeMux, d api.Deps) {}
