package v1

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// registerAttribution serves:
//   - GET /v1/explain?partner=ID&(resource=|subscription=|record=|account=&provider=)&(at=|from=&to=)
//     resource= is an ARM ID, or an AWS ARN, Google Cloud resource name or OCI OCID.
//     Role: operator; partner for its own location/organisation IDs; customer admin for
//     resources of its own tenant.
//   - GET /v1/attributions?from=&to=[&partner=ID][&format=csv|json]
//     Role: operator (all rows); partner (partner= one of its IDs, required); customer admin
//     (rows of its tenant only).
//   - GET /v1/incentives?from=&to=&partner=ID[&format=csv|json]
//     Role: operator, or partner for its own IDs.
func registerAttribution(mux *api.Mux, d api.Deps) {
	anyReader := func(id *auth.Identity) bool {
		return id.Has(auth.RolePartner) || id.Has(auth.RoleCustomerAdmin)
	}
	mux.Handle("GET /v1/explain", Authed(d, anyReader, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		q, msg := explainQuery(r)
		if msg != "" {
			WriteProblem(w, http.StatusBadRequest, msg)
			return
		}
		as, err := mayExplain(r.Context(), d, id, q)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		if as == explainDenied {
			WriteProblem(w, http.StatusForbidden, "this token may explain only its own partner IDs or its own tenant's resources")
			return
		}
		ex, err := attribution.Explain(r.Context(), d.DB, q)
		if as == explainAsPartner && errors.Is(err, store.ErrNotFound) && q.RecordKey != "" {
			// Whether a record exists is not the partner's to learn either.
			ex, err = &attribution.Explanation{Partner: q.Partner}, nil
		}
		if err != nil {
			WriteError(w, d, err)
			return
		}
		if as == explainAsPartner {
			ex = withoutForeignEstate(ex, q)
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
			f := results.RowFilter{Period: period, Partner: qs.Get("partner")}
			mine := false
			if !id.IsOperator() && id.Has(auth.RolePartner) && f.Partner != "" {
				var err error
				if mine, err = ownPartner(r.Context(), d, id, f.Partner); err != nil {
					WriteError(w, d, err)
					return
				}
			}
			switch {
			case id.IsOperator():
			case mine:
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
			} else if format == "parquet" {
				w.Header().Set("Content-Type", "application/vnd.apache.parquet")
			} else {
				w.Header().Set("Content-Type", "application/json")
			}
			tw, err := attribution.NewTableWriter(w, format, header)
			if err != nil {
				WriteProblem(w, http.StatusBadRequest, err.Error())
				return
			}
			if incentives {
				err = results.StoredIncentives(r.Context(), d.DB, f, func(i *attribution.Incentive) error { return tw.Write(i.Fields()) })
			} else {
				err = results.StoredRows(r.Context(), d.DB, f, tw.WriteRow)
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
	if from == "" || to == "" {
		return timeline.Window{}, "from and to are required (YYYY-MM-DD or RFC 3339)"
	}
	f, err := timeline.ParseDateOrTime(from)
	if err != nil {
		return timeline.Window{}, "from: " + err.Error()
	}
	t, err := timeline.ParseDateOrTime(to)
	if err != nil {
		return timeline.Window{}, "to: " + err.Error()
	}
	if f >= t {
		return timeline.Window{}, "from " + from + " is not before to " + to
	}
	return timeline.Window{From: f, To: t}, ""
}

func explainQuery(r *http.Request) (attribution.ExplainQuery, string) {
	qs := r.URL.Query()
	q := attribution.ExplainQuery{Partner: qs.Get("partner"), Resource: qs.Get("resource"), Subscription: qs.Get("subscription"), RecordKey: qs.Get("record"),
		Account: qs.Get("account"), Provider: qs.Get("provider")}
	if q.Partner == "" {
		return q, "partner is required (a location or organisation ID)"
	}
	if err := directory.CheckID(q.Partner); err != nil {
		return q, "partner: " + err.Error()
	}
	n := 0
	for _, s := range []string{q.Resource, q.Subscription, q.RecordKey, q.Account} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return q, "give exactly one of resource, subscription, record, account (with provider)"
	}
	if (q.Account == "") != (q.Provider == "") {
		return q, "account and provider go together: an account of another provider (aws, google, ...)"
	}
	if q.Resource != "" && subscriptionOf(q.Resource) == "" && attribution.ResourceProvider(q.Resource) == "" {
		return q, "resource " + strconv.Quote(q.Resource) + " is not a resource ID: give an Azure ID /subscriptions/{id}/resourceGroups/{group}/providers/..., " +
			"an AWS ARN arn:aws:{service}:{region}:{account}:{resource}, a Google Cloud name //{service}.googleapis.com/projects/... or an OCI OCID ocid1.{type}.{realm}..."
	}
	if q.RecordKey != "" {
		return q, ""
	}
	if at := qs.Get("at"); at != "" {
		t, err := timeline.ParseDateOrTime(at)
		if err != nil {
			return q, "at: " + err.Error()
		}
		q.At = t
		return q, ""
	}
	p, msg := periodParam(qs.Get("from"), qs.Get("to"))
	q.Period = p
	return q, msg
}

// subscriptionOf is the subscription of a resource ID ("" when it is not under one).
func subscriptionOf(resource string) string {
	rest, ok := strings.CutPrefix(strings.ToLower(resource), "/subscriptions/")
	if !ok {
		return ""
	}
	sub, _, _ := strings.Cut(rest, "/")
	return sub
}

// ownPartner says whether a partner caller speaks for the partner ID (a location, or its
// organisation). An ID not in the directory is the caller's only if its token names it; a
// database failure is an error, never a "no".
func ownPartner(ctx context.Context, d api.Deps, id *auth.Identity, pid string) (bool, error) {
	p, err := directory.Store{DB: d.DB}.Resolve(ctx, pid)
	if errors.Is(err, store.ErrNotFound) {
		return id.CanReadPartner(pid, ""), nil
	}
	if errors.Is(err, store.ErrInvalid) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	loc := pid
	if p.Kind == directory.KindOrganisation {
		loc = ""
	}
	return id.CanReadPartner(loc, p.OrgID), nil
}

// How a caller may see an explanation.
type explainAccess int

const (
	explainDenied    explainAccess = iota
	explainFull                    // operator, or customer admin of the subscription's tenant
	explainAsPartner               // partner for its own ID: nothing of estates it has no presence in
)

// mayExplain: operators and the customer admin of the subscription's tenant see everything;
// partners see explanations of their own IDs, without what they may not know (see
// withoutForeignEstate).
func mayExplain(ctx context.Context, d api.Deps, id *auth.Identity, q attribution.ExplainQuery) (explainAccess, error) {
	if id.IsOperator() {
		return explainFull, nil
	}
	if id.Has(auth.RoleCustomerAdmin) {
		sub := strings.ToLower(q.Subscription)
		if q.RecordKey != "" {
			r, err := attribution.FindRecord(ctx, d.DB, q)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return explainDenied, d.DB.Translate(err)
			}
			if r != nil {
				sub = r.SubscriptionID
			}
		} else if q.Resource != "" {
			sub = subscriptionOf(q.Resource)
		}
		// Another provider's resource or account lies in no tenant: a customer admin may not
		// explain it.
		if sub != "" && q.Account == "" {
			in, err := estate.Store{DB: d.DB}.SubscriptionInTenant(ctx, sub, id.TenantID)
			if err != nil {
				return explainDenied, err
			}
			if in {
				return explainFull, nil
			}
		}
	}
	if id.Has(auth.RolePartner) {
		mine, err := ownPartner(ctx, d, id, q.Partner)
		if err != nil || mine {
			return explainAsPartner, err
		}
	}
	return explainDenied, nil
}

// presence are the reasons that show the partner already has a standing in the subscription's
// tenant (a link there, an assignment, CSP); any association found does too.
var presence = map[string]bool{
	attribution.ReasonLinkOutsidePeriod: true, attribution.ReasonNoCoveringAssign: true, attribution.ReasonRolesNotEligible: true,
	attribution.ReasonNeverActivated: true, attribution.ReasonAssignOutside: true, attribution.ReasonNoOverlap: true, attribution.ReasonCSPPrecedence: true,
}

// withoutForeignEstate keeps a partner from learning about a subscription (or another
// provider's resource) it has no presence in: when none of its locations is associated with it
// or has a link in its tenant, the answer is the same whether it exists or not, and names no
// tenant, account, record or other location.
// The answer only echoes the query (a record's subscription and period are not echoed).
func withoutForeignEstate(ex *attribution.Explanation, q attribution.ExplainQuery) *attribution.Explanation {
	if len(ex.Found) > 0 {
		return ex
	}
	for _, r := range ex.Reasons {
		if presence[r.Code] {
			return ex
		}
	}
	what := "subscription " + strings.ToLower(q.Subscription)
	switch {
	case q.Resource != "" && subscriptionOf(q.Resource) == "":
		what = "resource " + q.Resource // another provider's: its records are not the partner's to learn of
	case q.Resource != "":
		what = "subscription " + subscriptionOf(q.Resource)
	case q.RecordKey != "":
		what = "the subscription of record " + q.RecordKey
	}
	out := &attribution.Explanation{Partner: ex.Partner, Locations: []string{}, Subscription: strings.ToLower(q.Subscription), Resource: q.Resource, Found: []attribution.Found{},
		Reasons: []attribution.Reason{{Code: "no_presence", Text: fmt.Sprintf(
			"partner %s has no link, assignment or association in %s (or it is not known); partnerlink tells partners nothing more about estates they have no presence in",
			ex.Partner, what)}}}
	if q.RecordKey == "" {
		out.From, out.To = ex.From, ex.To
	}
	return out
}
