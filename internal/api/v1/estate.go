package v1

import (
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
)

func registerEstate(mux *http.ServeMux, d api.Deps) {}
