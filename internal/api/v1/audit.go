package v1

import (
	"errors"
	"net/http"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/audit"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/report"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/whatif"
)

// registerAudit serves the coverage audit, what-if and the customer's view of its partners
// (docs/audit.md):
//
//   - GET /v1/partners/{id}/audit?from=&to=[&format=json|csv|text]: role partner for its own
//     location or organisation ID, or operator. As for reports, another partner's ID is a 403
//     whether or not it exists.
//   - POST /v1/whatif[?format=json|csv|text], body a change-set: role partner (changes to its
//     own links and linked identities only, else 403; rows of its own locations only) or
//     operator (anything).
//   - GET /v1/tenants/{tenantId}/partners?from=&to=[&format=json|csv]: role customer-admin of
//     that tenant, or operator.
func registerAudit(mux *api.Mux, d api.Deps) {
	mux.Handle("GET /v1/partners/{id}/audit", Authed(d, func(id *auth.Identity) bool { return id.Has(auth.RolePartner) }, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		pid := r.PathValue("id")
		if !mayReadPartner(w, r, d, id, pid) {
			return
		}
		format, ok := formatParam(w, r, audit.Formats)
		if !ok {
			return
		}
		qs := r.URL.Query()
		period, msg := periodParam(qs.Get("from"), qs.Get("to"))
		if msg != "" {
			WriteProblem(w, http.StatusBadRequest, msg)
			return
		}
		rep, err := audit.Run(r.Context(), d.DB, audit.Query{Partner: pid, Period: period})
		if err != nil {
			WriteError(w, d, err)
			return
		}
		writeFormat(w, d, format, func() error { return rep.Write(w, format) })
	}))
	mux.Handle("POST /v1/whatif", Authed(d, func(id *auth.Identity) bool { return id.Has(auth.RolePartner) }, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		format, ok := formatParam(w, r, []string{"json", "csv", "text"})
		if !ok {
			return
		}
		cs, err := whatif.DecodeChangeSet(http.MaxBytesReader(w, r.Body, 1<<20), "request body")
		if err != nil {
			WriteProblem(w, http.StatusBadRequest, err.Error())
			return
		}
		period, msg := periodParam(cs.From, cs.To)
		if msg != "" {
			WriteProblem(w, http.StatusBadRequest, "request body: "+msg)
			return
		}
		res, err := whatif.Run(r.Context(), d.DB, whatif.Request{Period: period, Changes: cs.Changes, Partner: cs.Partner,
			Caller: whatif.Caller{Operator: id.IsOperator(), PartnerIDs: id.PartnerIDs}})
		var denied *whatif.DeniedError
		if errors.As(err, &denied) {
			WriteProblem(w, http.StatusForbidden, denied.Error())
			return
		}
		if err != nil {
			WriteError(w, d, err)
			return
		}
		writeFormat(w, d, format, func() error { return res.Write(w, format) })
	}))
	mux.Handle("GET /v1/tenants/{tenantId}/partners", Authed(d, func(id *auth.Identity) bool { return id.Has(auth.RoleCustomerAdmin) }, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant := r.PathValue("tenantId")
		if !id.CanReadTenant(tenant) {
			WriteProblem(w, http.StatusForbidden, "this token may read only its own tenant's partners")
			return
		}
		format, ok := formatParam(w, r, []string{"json", "csv"})
		if !ok {
			return
		}
		qs := r.URL.Query()
		period, msg := periodParam(qs.Get("from"), qs.Get("to"))
		if msg != "" {
			WriteProblem(w, http.StatusBadRequest, msg)
			return
		}
		view, err := audit.CustomerRun(r.Context(), d.DB, tenant, period)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		writeFormat(w, d, format, func() error { return report.Write(w, format, view) })
	}))
}

// mayReadPartner answers 403 (and false) unless the caller may read partner pid: as for the
// reports, an unknown ID is a 403 for partners, so the API does not reveal which IDs exist.
func mayReadPartner(w http.ResponseWriter, r *http.Request, d api.Deps, id *auth.Identity, pid string) bool {
	kind, org, _, err := report.ResolvePartner(r.Context(), d.DB, pid)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && !id.IsOperator() {
			WriteProblem(w, http.StatusForbidden, "this token may not read partner "+pid)
			return false
		}
		WriteError(w, d, err)
		return false
	}
	loc := pid
	if kind == report.KindOrganisation {
		loc = ""
	}
	if !id.CanReadPartner(loc, org) {
		WriteProblem(w, http.StatusForbidden, "this token may not read partner "+pid)
		return false
	}
	return true
}

// formatParam reads ?format= (default json), answering 400 for one not in allowed.
func formatParam(w http.ResponseWriter, r *http.Request, allowed []string) (string, bool) {
	f := r.URL.Query().Get("format")
	if f == "" {
		return "json", true
	}
	for _, a := range allowed {
		if a == f {
			return f, true
		}
	}
	WriteProblem(w, http.StatusBadRequest, "format="+f+" is not known; use one of "+strings.Join(allowed, ", "))
	return "", false
}

// writeFormat sets the content type of format and writes the body; a failure after the
// headers went out can only be logged.
func writeFormat(w http.ResponseWriter, d api.Deps, format string, write func() error) {
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "application/json")
	}
	if err := write(); err != nil {
		d.Log.Error("writing a response", "format", format, "err", err)
	}
}
