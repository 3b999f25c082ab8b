package v1

import (
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
)

func registerUsage(mux *http.ServeMux, d api.Deps) {}
