// Package arm serves the Microsoft.ManagementPartner-compatible API
// (/providers/Microsoft.ManagementPartner, api-version 2018-02-01).
package arm

import (
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
)

// Register adds the ARM routes to mux.
func Register(mux *http.ServeMux, d api.Deps) {}
