package v1

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// registerEstate serves read-only views of the customer estate. Role: operator (every
// tenant) or the tenant's customer admin (its own tenant only). Lists are keyset-paged:
// ?limit= (default 100, at most 1000) and ?after= with the previous page's "next".
// ?at=TIME (RFC 3339 or YYYY-MM-DD, default now) picks the versions in force then.
func registerEstate(mux *http.ServeMux, d api.Deps) {
	mux.Handle("GET /v1/tenants", Authed(d, nil, listTenants(d)))
	for _, res := range []estateList{subscriptionsList, principalsList, assignmentsList} {
		mux.Handle("GET /v1/tenants/{tenantId}/"+res.path, Authed(d, nil, tenantList(d, res)))
	}
}

func canReadTenant(id *auth.Identity, tenant string) bool {
	return id.IsOperator() || id.Has(auth.RoleCustomerAdmin) && strings.EqualFold(id.TenantID, tenant)
}

type estatePage struct {
	Items []map[string]any `json:"items"`
	Next  string           `json:"next,omitempty"`
}

func estatePaging(r *http.Request) (limit int, after string, ok bool) {
	limit = 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return 0, "", false
		}
		limit = n
	}
	return limit, r.URL.Query().Get("after"), true
}

func listTenants(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		if !id.IsOperator() && !id.Has(auth.RoleCustomerAdmin) {
			WriteProblem(w, http.StatusForbidden, "listing tenants needs the operator or customer-admin role")
			return
		}
		limit, after, ok := estatePaging(r)
		if !ok {
			WriteProblem(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
			return
		}
		q := `SELECT id, name FROM tenants WHERE id > $1`
		args := []any{after}
		if !id.IsOperator() {
			q += ` AND id = $2`
			args = append(args, strings.ToLower(id.TenantID))
		}
		q += ` ORDER BY id LIMIT ` + strconv.Itoa(limit+1)
		writePage(w, d, r.Context(), q, args, limit, []string{"id", "name"}, 0)
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
		limit, after, ok := estatePaging(r)
		if !ok {
			WriteProblem(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
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
		writePage(w, d, r.Context(), q, args, limit, l.names, 2)
	}
}

// writePage runs q and writes a page; the last windowCols columns are validity bounds.
func writePage(w http.ResponseWriter, d api.Deps, ctx context.Context, q string, args []any, limit int, names []string, windowCols int) {
	rows, err := d.DB.QueryContext(ctx, q, args...)
	if err != nil {
		WriteError(w, d, d.DB.Translate(err))
		return
	}
	defer rows.Close()
	p := estatePage{Items: []map[string]any{}}
	for rows.Next() {
		vals := make([]any, len(names))
		strs := make([]sql.NullString, len(names)-windowCols)
		bounds := make([]int64, windowCols)
		for i := range strs {
			vals[i] = &strs[i]
		}
		for i := range bounds {
			vals[len(strs)+i] = &bounds[i]
		}
		if err := rows.Scan(vals...); err != nil {
			WriteError(w, d, err)
			return
		}
		if len(p.Items) == limit {
			p.Next = p.Items[len(p.Items)-1][names[0]].(string)
			break
		}
		item := map[string]any{}
		for i, s := range strs {
			item[names[i]] = s.String
		}
		for i, b := range bounds {
			var v any
			if b != timeline.Min && b != timeline.Max {
				v = timeline.Time(b).Format(time.RFC3339Nano)
			}
			item[names[len(strs)+i]] = v
		}
		p.Items = append(p.Items, item)
	}
	if err := rows.Err(); err != nil {
		WriteError(w, d, err)
		return
	}
	WriteJSON(w, http.StatusOK, p)
}
