package v1

import (
	"context"
	"net/http"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// registerEstate serves read-only views of the customer estate. Role: operator (every
// tenant) or the tenant's customer admin (its own tenant only). Lists are keyset-paged:
// ?limit= (default 100, at most 1000) and ?after= with the previous page's "next".
// ?at=TIME (RFC 3339 or YYYY-MM-DD, default now) picks the versions in force then.
func registerEstate(mux *api.Mux, d api.Deps) {
	mux.Handle("GET /v1/tenants", Authed(d, nil, listTenants(d)))
	for path, list := range map[string]estateList{
		"subscriptions": {"id", subscriptionsList},
		"principals":    {"objectId", principalsList},
		"assignments":   {"id", assignmentsList},
	} {
		mux.Handle("GET /v1/tenants/{tenantId}/"+path, Authed(d, nil, tenantList(d, list)))
	}
}

func canReadTenant(id *auth.Identity, tenant string) bool {
	return id.IsOperator() || id.Has(auth.RoleCustomerAdmin) && strings.EqualFold(id.TenantID, tenant)
}

func listTenants(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		if !id.IsOperator() && !id.Has(auth.RoleCustomerAdmin) {
			WriteProblem(w, http.StatusForbidden, "listing tenants needs the operator or customer-admin role")
			return
		}
		after, limit, ok := pageParams(w, r)
		if !ok {
			return
		}
		only := ""
		if !id.IsOperator() {
			only = strings.ToLower(id.TenantID)
		}
		tenants, err := estate.Store{DB: d.DB}.TenantPage(r.Context(), after, only, limit+1)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		items := []map[string]any{}
		for _, t := range tenants {
			items = append(items, map[string]any{"id": t.ID, "name": t.Name})
		}
		writePage(w, items, limit, "id")
	}
}

// estateList is one per-tenant list: the key of its objects that pages go by, and how a page
// is read (the versions in force at p.At, filtered by the request's query parameters).
type estateList struct {
	key  string
	read func(ctx context.Context, d api.Deps, p estate.Page, query func(string) string) ([]map[string]any, error)
}

// window adds a version's bounds to item as "from" and "to" (null when open).
func window(item map[string]any, w timeline.Window) map[string]any {
	item["from"], item["to"] = timeline.FormatOrNil(w.From), timeline.FormatOrNil(w.To)
	return item
}

func subscriptionsList(ctx context.Context, d api.Deps, p estate.Page, query func(string) string) ([]map[string]any, error) {
	subs, err := estate.Store{DB: d.DB}.SubscriptionPage(ctx, p, estate.SubscriptionFilter{Offer: estate.Offer(query("offer")), ManagementGroupID: query("managementGroup")})
	items := []map[string]any{}
	for _, x := range subs {
		items = append(items, window(map[string]any{"id": x.ID, "name": x.Name, "offer": string(x.Offer), "managementGroup": x.ManagementGroupID, "cspPartnerId": x.CSPLocationID}, x.Valid))
	}
	return items, err
}

func principalsList(ctx context.Context, d api.Deps, p estate.Page, query func(string) string) ([]map[string]any, error) {
	ps, err := estate.Store{DB: d.DB}.PrincipalPage(ctx, p, estate.PrincipalType(query("type")))
	items := []map[string]any{}
	for _, x := range ps {
		items = append(items, window(map[string]any{"objectId": x.ObjectID, "type": string(x.Type), "displayName": x.DisplayName, "homeTenantId": x.HomeTenantID}, x.Valid))
	}
	return items, err
}

func assignmentsList(ctx context.Context, d api.Deps, p estate.Page, query func(string) string) ([]map[string]any, error) {
	q := access.AssignmentQuery{TenantID: p.TenantID, At: p.At, After: p.After, Limit: p.Limit,
		PrincipalID: query("principalId"), RoleDefinitionID: query("roleDefinitionId"), Kind: access.Kind(query("kind"))}
	if v := query("scope"); v != "" {
		q.ScopeKey = strings.ToLower(strings.TrimRight(v, "/"))
	}
	as, err := access.Store{DB: d.DB}.AssignmentPage(ctx, q)
	items := []map[string]any{}
	for _, x := range as {
		items = append(items, window(map[string]any{"id": x.ID, "principalId": x.PrincipalID, "roleDefinitionId": x.RoleDefinitionID, "scope": x.Scope, "kind": string(x.Kind)}, x.Valid))
	}
	return items, err
}

func tenantList(d api.Deps, list estateList) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant := strings.ToLower(r.PathValue("tenantId"))
		if !canReadTenant(id, tenant) {
			WriteProblem(w, http.StatusForbidden, "this token may read only its own tenant's estate")
			return
		}
		after, limit, ok := pageParams(w, r)
		if !ok {
			return
		}
		at := d.Now().UnixNano()
		if s := r.URL.Query().Get("at"); s != "" {
			t, err := timeline.ParseDateOrTime(s)
			if err != nil {
				WriteProblem(w, http.StatusBadRequest, "at: "+err.Error())
				return
			}
			at = t
		}
		items, err := list.read(r.Context(), d, estate.Page{TenantID: tenant, At: at, After: after, Limit: limit + 1}, r.URL.Query().Get)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		writePage(w, items, limit, list.key)
	}
}

// writePage writes a page of items (read with limit+1: one more means there is a next page)
// whose paging key is key.
func writePage(w http.ResponseWriter, items []map[string]any, limit int, key string) {
	WriteJSON(w, http.StatusOK, page(items, limit, func(m map[string]any) string { return m[key].(string) }))
}
