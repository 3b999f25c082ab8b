package v1

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// registerAttribution serves:
//   - GET /v1/explain?partner=ID&(resource=|subscription=|record=)&(at=|from=&to=)
//     Role: operator; partner for its own location/organisation IDs; customer admin for
//     resources of its own tenant.
//   - GET /v1/attributions?from=&to=[&partner=ID][&format=csv|json]
//     Role: operator (all rows); partner (partner= one of its IDs, required); customer admin
//     (rows of its tenant only).
//   - GET /v1/incentives?from=&to=&partner=ID[&format=csv|json]
//     Role: operator, or partner for its own IDs.
func registerAttribution(mux *http.ServeMux, d api.Deps) {
	anyReader := func(id *auth.Identity) bool {
		return id.Has(auth.RolePartner) || id.Has(auth.RoleCustomerAdmin)
	}
	mux.Handle("GET /v1/explain", Authed(d, anyReader, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		q, msg := explainQuery(r)
		if msg != "" {
			WriteProblem(w, http.StatusBadRequest, msg)
			return
		}
		if !mayExplain(r.Context(), d, id, q) {
			WriteProblem(w, http.StatusForbidden, "this token may explain only its own partner IDs or its own tenant's resources")
			return
		}
		ex, err := attribution.Explain(r.Context(), d.DB, q)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		WriteJSON(w, http.StatusOK, ex)
	}))
	rows := func(incentives bool) http.HandlerFunc {
		return Authed(d, anyReader, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
			qs := r.URL.Query()
			period, msg := periodParam(qs.Get("from"), qs.Get("to"))
			if msg != "" {
				WriteProblem(w, http.StatusBadRequest, msg)
				return
			}
			f := attribution.RowFilter{Period: period, Partner: qs.Get("partner")}
			switch {
			case id.IsOperator():
			case id.Has(auth.RolePartner) && f.Partner != "" && id.CanReadPartner(f.Partner, orgOf(r.Context(), d, f.Partner)):
			case id.Has(auth.RoleCustomerAdmin) && !incentives:
				f.Tenant = strings.ToLower(id.TenantID)
			default:
				WriteProblem(w, http.StatusForbidden, "this token may read only rows of its own partner IDs (give partner=ID) or of its own tenant")
				return
			}
			format := qs.Get("format")
			if format == "" {
				format = "json"
			}
			header := attribution.RowHeader
			if incentives {
				header = attribution.IncentiveHeader
			}
			if format == "csv" {
				w.Header().Set("Content-Type", "text/csv")
			} else {
				w.Header().Set("Content-Type", "application/json")
			}
			tw, err := attribution.NewTableWriter(w, format, header)
			if err != nil {
				WriteProblem(w, http.StatusBadRequest, err.Error())
				return
			}
			if incentives {
				err = attribution.StoredIncentives(r.Context(), d.DB, f, func(i *attribution.Incentive) error { return tw.Write(i.Fields()) })
			} else {
				err = attribution.StoredRows(r.Context(), d.DB, f, func(x *attribution.Row) error { return tw.Write(x.Fields()) })
			}
			if err != nil {
				d.Log.Error("streaming attribution rows", "err", err)
				return // headers are sent: the truncated body shows the failure
			}
			_ = tw.Close()
		})
	}
	mux.Handle("GET /v1/attributions", rows(false))
	mux.Handle("GET /v1/incentives", rows(true))
}

func periodParam(from, to string) (timeline.Window, string) {
	f, err1 := timeline.ParseDateOrTime(from)
	t, err2 := timeline.ParseDateOrTime(to)
	if from == "" || to == "" || err1 != nil || err2 != nil || f >= t {
		return timeline.Window{}, "from and to are required (YYYY-MM-DD or RFC 3339) and from must be before to"
	}
	return timeline.Window{From: f, To: t}, ""
}

func explainQuery(r *http.Request) (attribution.ExplainQuery, string) {
	qs := r.URL.Query()
	q := attribution.ExplainQuery{Partner: qs.Get("partner"), Resource: qs.Get("resource"), Subscription: qs.Get("subscription"), RecordKey: qs.Get("record")}
	if q.Partner == "" {
		return q, "partner is required (a location or organisation ID)"
	}
	n := 0
	for _, s := range []string{q.Resource, q.Subscription, q.RecordKey} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return q, "give exactly one of resource, subscription, record"
	}
	if q.RecordKey != "" {
		return q, ""
	}
	if at := qs.Get("at"); at != "" {
		t, err := timeline.ParseDateOrTime(at)
		if err != nil {
			return q, "at: want YYYY-MM-DD or RFC 3339"
		}
		q.At = t
		return q, ""
	}
	p, msg := periodParam(qs.Get("from"), qs.Get("to"))
	q.Period = p
	return q, msg
}

// orgOf is the organisation of a location ID ("" when unknown or when id is an organisation).
func orgOf(ctx context.Context, d api.Deps, id string) string {
	var org string
	if err := d.DB.QueryRowContext(ctx, `SELECT org_id FROM partner_locations WHERE id = $1`, id).Scan(&org); err != nil {
		return ""
	}
	return org
}

// mayExplain: operators always; partners for their own IDs; customer admins when the
// subscription (of the resource or record) is in their tenant.
func mayExplain(ctx context.Context, d api.Deps, id *auth.Identity, q attribution.ExplainQuery) bool {
	if id.IsOperator() {
		return true
	}
	if id.Has(auth.RolePartner) && id.CanReadPartner(q.Partner, orgOf(ctx, d, q.Partner)) {
		return true
	}
	if !id.Has(auth.RoleCustomerAdmin) {
		return false
	}
	sub := strings.ToLower(q.Subscription)
	if q.RecordKey != "" {
		r, err := attribution.FindRecord(ctx, d.DB, q)
		if err != nil {
			return false
		}
		sub = r.SubscriptionID
	} else if q.Resource != "" {
		k := strings.ToLower(q.Resource)
		if i := strings.Index(k, "/subscriptions/"); i == 0 {
			sub = strings.SplitN(k[len("/subscriptions/"):], "/", 2)[0]
		}
	}
	var n int
	err := d.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE LOWER(id) = $1 AND LOWER(tenant_id) = $2`,
		strings.ToLower(sub), strings.ToLower(id.TenantID)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) || err != nil {
		return false
	}
	return n > 0
}
