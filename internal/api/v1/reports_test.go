package v1_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

const reportTenant = "11111111-2222-3333-4444-555555555555"

var reportIDs = map[string]*auth.Identity{
	"operator":    {TenantID: "t-op", ObjectID: "o-op", Roles: []auth.Role{auth.RoleOperator}},
	"admin":       {TenantID: reportTenant, ObjectID: "o-admin", Roles: []auth.Role{auth.RoleCustomerAdmin}},
	"other-admin": {TenantID: "99999999-2222-3333-4444-555555555555", ObjectID: "o-x", Roles: []auth.Role{auth.RoleCustomerAdmin}},
	"partner":     {TenantID: "t-p", ObjectID: "o-p", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"4100001"}},
	"org":         {TenantID: "t-p", ObjectID: "o-q", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"ORG1"}},
	"principal":   {TenantID: reportTenant, ObjectID: "o-u", Roles: []auth.Role{auth.RolePrincipal}},
}

func get(t *testing.T, srv *httptest.Server, token, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReportsAccess(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, q := range []string{
			`INSERT INTO partner_orgs (id, name) VALUES ('ORG1', 'Org one'), ('ORG2', 'Org two')`,
			`INSERT INTO partner_locations (id, org_id, name) VALUES ('4100001', 'ORG1', 'One'), ('4100002', 'ORG2', 'Two')`,
			`INSERT INTO rollup_daily (day, location_id, org_id, association, tenant_id, subscription_id, service, admin_role, currency, amount_nanos, org_amount_nanos, records)
			 VALUES (1772323200000000000, '4100001', 'ORG1', 'PAL', '` + reportTenant + `', 's1', 'Storage', 'Owner', 'USD', 1250000000, 1250000000, 1)`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		// Rollups in the layout of schemas before 620, moved into today's by the upgrade.
		if err := results.UpgradeRollups(ctx, db); err != nil {
			t.Fatal(err)
		}
		srv := testServer(t, db, reportIDs)
		cases := []struct {
			token, path string
			want        int
			contains    string
		}{
			{"partner", "/v1/reports/partners/4100001", 200, `"amount":"1.25"`},
			{"partner", "/v1/reports/partners/4100001?format=csv", 200, "months,2026-03,PAL,USD,1.25"},
			{"partner", "/v1/reports/partners/4100001?from=2026-04-01", 200, `"totals":[]`},
			{"partner", "/v1/reports/partners/4100001?from=nope", 400, "YYYY-MM-DD"},
			{"partner", "/v1/reports/partners/4100002", 403, ""},
			{"partner", "/v1/reports/partners/ORG1", 403, ""}, // a location may not read its whole organisation
			{"partner", "/v1/reports/partners/does-not-exist", 403, ""},
			{"org", "/v1/reports/partners/ORG1", 200, `"kind":"organisation"`},
			{"org", "/v1/reports/partners/4100001", 200, `"kind":"location"`},
			{"org", "/v1/reports/partners/4100002", 403, ""},
			{"operator", "/v1/reports/partners/4100002", 200, `"totals":[]`},
			{"operator", "/v1/reports/partners/does-not-exist", 404, "neither a location"},
			{"admin", "/v1/reports/partners/4100001", 403, ""},
			{"", "/v1/reports/partners/4100001", 401, ""},
			{"admin", "/v1/reports/customers/" + reportTenant, 200, `"locationId":"4100001"`},
			{"admin", "/v1/reports/customers/" + strings.ToUpper(reportTenant), 200, `"amount":"1.25"`},
			{"other-admin", "/v1/reports/customers/" + reportTenant, 403, ""},
			{"partner", "/v1/reports/customers/" + reportTenant, 403, ""},
			{"principal", "/v1/reports/customers/" + reportTenant, 403, ""},
			{"operator", "/v1/reports/customers/" + reportTenant, 200, `"consumption"`},
			{"operator", "/v1/reports/operator", 200, `"topPartners":[{"key":"4100001","name":"One","currency":"USD","amount":"1.25"}]`},
			{"operator", "/v1/reports/operator?format=xml", 400, "json or csv"},
			{"partner", "/v1/reports/operator", 403, ""},
			{"admin", "/v1/reports/operator", 403, ""},
			{"bogus", "/v1/reports/operator", 401, ""},
		}
		for _, c := range cases {
			code, body := get(t, srv, c.token, c.path)
			if code != c.want || !strings.Contains(body, c.contains) {
				t.Errorf("%s GET %s = %d %s; want %d containing %s", c.token, c.path, code, body, c.want, c.contains)
			}
			if code == 200 && !strings.Contains(c.path, "csv") && !json.Valid([]byte(body)) {
				t.Errorf("%s: invalid JSON", c.path)
			}
		}
	})
}
