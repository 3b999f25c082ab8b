package v1

import (
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
)

func registerAttribution(mux *http.ServeMux, d api.Deps) {}
