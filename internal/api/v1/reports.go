package v1

import (
	"net/http"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/report"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// registerReports serves the partner, customer and operator reports (JSON, or CSV with
// ?format=csv).
//
//   - GET /v1/reports/partners/{id}: role partner for its own location or organisation IDs
//     (an organisation report needs the organisation ID itself), or operator.
//   - GET /v1/reports/customers/{tenantId}: role customer-admin of that tenant, or operator.
//   - GET /v1/reports/operator: role operator.
//
// A partner asking for an ID that is not its own gets 403 whether or not the ID exists, so the
// API does not reveal which partner IDs are in the directory.
func registerReports(mux *api.Mux, d api.Deps) {
	mux.Handle("GET /v1/reports/partners/{id}", Authed(d, func(id *auth.Identity) bool { return id.Has(auth.RolePartner) }, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		pid := r.PathValue("id")
		period, ok := reportPeriod(w, r)
		if !ok {
			return
		}
		if _, ok := resolvePartner(w, r, d, id, pid); !ok {
			return
		}
		rep, err := report.PartnerReport(r.Context(), d.DB, report.PartnerQuery{PartnerID: pid, Period: period})
		writeReport(w, r, d, rep, err)
	}))
	mux.Handle("GET /v1/reports/customers/{tenantId}", Authed(d, func(id *auth.Identity) bool { return id.Has(auth.RoleCustomerAdmin) }, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant := r.PathValue("tenantId")
		if !id.CanReadTenant(tenant) {
			WriteProblem(w, http.StatusForbidden, "this token may read only its own tenant's report")
			return
		}
		rep, err := report.CustomerReport(r.Context(), d.DB, tenant, d.Now().UnixNano())
		writeReport(w, r, d, rep, err)
	}))
	mux.Handle("GET /v1/reports/operator", Authed(d, (*auth.Identity).IsOperator, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		period, ok := reportPeriod(w, r)
		if !ok {
			return
		}
		rep, err := report.OperatorReport(r.Context(), d.DB, report.OperatorOptions{Period: period, Now: d.Now().UnixNano()})
		writeReport(w, r, d, rep, err)
	}))
}

// reportPeriod reads ?from= and ?to= (YYYY-MM-DD or RFC 3339; empty = open).
func reportPeriod(w http.ResponseWriter, r *http.Request) (timeline.Window, bool) {
	p := timeline.Always()
	for _, b := range []struct {
		name string
		dst  *int64
	}{{"from", &p.From}, {"to", &p.To}} {
		v := r.URL.Query().Get(b.name)
		if v == "" {
			continue
		}
		t, err := timeline.ParseDateOrTime(v)
		if err != nil {
			WriteProblem(w, http.StatusBadRequest, "query parameter "+b.name+": "+err.Error())
			return p, false
		}
		*b.dst = t
	}
	if p.From >= p.To {
		WriteProblem(w, http.StatusBadRequest, "from must be before to")
		return p, false
	}
	return p, true
}

// writeReport writes rep as JSON, or as CSV when ?format=csv.
func writeReport[T report.Tabler](w http.ResponseWriter, r *http.Request, d api.Deps, rep T, err error) {
	if err != nil {
		WriteError(w, d, err)
		return
	}
	switch r.URL.Query().Get("format") {
	case "", "json":
		WriteJSON(w, http.StatusOK, rep)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		if err := report.WriteCSV(w, rep.Tables()); err != nil {
			d.Log.Error("report csv", "err", err)
		}
	default:
		WriteProblem(w, http.StatusBadRequest, "format="+r.URL.Query().Get("format")+" is not known; use json or csv")
	}
}
