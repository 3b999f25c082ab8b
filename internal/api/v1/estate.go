package v1

import (
	"database/sql"
	"net/http"
	"strconv"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// registerEstate serves read-only views of the customer estate. Role: operator (every
// tenant) or the tenant's customer admin (its own tenant only). Lists are keyset-paged:
// ?limit= (default 100, at most 1000) and ?after= with the previous page's "next".
// ?at=TIME (RFC 3339 or YYYY-MM-DD, default now) picks the versions in force then.
func registerEstate(mux *api.Mux, d api.Deps) {
	mux.Handle("GET /v1/tenants", Authed(d, nil, listTenants(d)))
	for _, res := range []estateList{subscriptionsList, principalsList, assignmentsList} {
		mux.Handle("GET /v1/tenants/{tenantId}/"+res.path, Authed(d, nil, tenantList(d, res)))
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
		q := `SELECT id, name FROM tenants WHERE id > $1`
		args := []any{after}
		if !id.IsOperator() {
			q += ` AND id = $2`
			args = append(args, strings.ToLower(id.TenantID))
		}
		q += ` ORDER BY id LIMIT ` + strconv.Itoa(limit+1)
		writePage(w, d, r, q, args, limit, []string{"id", "name"}, 0)
	}
}

// estateList is one per-tenant list: its columns (the first is the paging key) and filters.
type estateList struct {
	path, table string
	cols        []string // SQL columns; the JSON names are in names
	names       []string
	filters     map[string]string // query parameter -> column
}

var (
	subscriptionsList = estateList{path: "subscriptions", table: "subscriptions",
		cols:    []string{"id", "name", "offer", "management_group_id", "csp_location_id", "valid_from", "valid_to"},
		names:   []string{"id", "name", "offer", "managementGroup", "cspPartnerId", "from", "to"},
		filters: map[string]string{"offer": "offer", "managementGroup": "management_group_id"}}
	principalsList = estateList{path: "principals", table: "principals",
		cols:    []string{"object_id", "type", "display_name", "home_tenant_id", "valid_from", "valid_to"},
		names:   []string{"objectId", "type", "displayName", "homeTenantId", "from", "to"},
		filters: map[string]string{"type": "type"}}
	assignmentsList = estateList{path: "assignments", table: "role_assignments",
		cols:    []string{"id", "principal_id", "role_definition_id", "scope", "kind", "valid_from", "valid_to"},
		names:   []string{"id", "principalId", "roleDefinitionId", "scope", "kind", "from", "to"},
		filters: map[string]string{"principalId": "principal_id", "roleDefinitionId": "role_definition_id", "kind": "kind"}}
)

func tenantList(d api.Deps, l estateList) func(http.ResponseWriter, *http.Request, *auth.Identity) {
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
		q := `SELECT ` + strings.Join(l.cols, ", ") + ` FROM ` + l.table + ` WHERE tenant_id = $1 AND valid_from <= $2 AND valid_to > $2 AND ` + l.cols[0] + ` > $3`
		args := []any{tenant, at, after}
		for param, col := range l.filters {
			if v := r.URL.Query().Get(param); v != "" {
				args = append(args, v)
				q += ` AND ` + col + ` = $` + strconv.Itoa(len(args))
			}
		}
		if v := r.URL.Query().Get("scope"); v != "" && l.table == "role_assignments" {
			args = append(args, strings.ToLower(strings.TrimRight(v, "/")))
			q += ` AND scope_key = $` + strconv.Itoa(len(args))
		}
		q += ` ORDER BY ` + l.cols[0] + ` LIMIT ` + strconv.Itoa(limit+1)
		writePage(w, d, r, q, args, limit, l.names, 2)
	}
}

// writePage runs q (which asks for limit+1 rows) and writes a page of objects with names as
// keys; the last windowCols columns are validity bounds (null when open).
func writePage(w http.ResponseWriter, d api.Deps, r *http.Request, q string, args []any, limit int, names []string, windowCols int) {
	items, err := rowsOf(d, r, q, args, func(rows *sql.Rows) (map[string]any, error) {
		strs := make([]string, len(names)-windowCols)
		bounds := make([]int64, windowCols)
		dst := make([]any, 0, len(names))
		for i := range strs {
			dst = append(dst, &strs[i])
		}
		for i := range bounds {
			dst = append(dst, &bounds[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		item := make(map[string]any, len(names))
		for i, v := range strs {
			item[names[i]] = v
		}
		for i, b := range bounds {
			item[names[len(strs)+i]] = timeline.FormatOrNil(b)
		}
		return item, nil
	})
	if err != nil {
		WriteError(w, d, err)
		return
	}
	WriteJSON(w, http.StatusOK, page(items, limit, func(m map[string]any) string { return m[names[0]].(string) }))
}
