package v1_test

import (
	"net/http"
	"testing"

	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

func getStatus(t *testing.T, base, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAttributionEndpointsDenials(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ids := map[string]*auth.Identity{
			"operator": {TenantID: "t-op", ObjectID: "o-op", Roles: []auth.Role{auth.RoleOperator}},
			"admin":    {TenantID: "11111111-2222-3333-4444-555555555555", ObjectID: "o-admin", Roles: []auth.Role{auth.RoleCustomerAdmin}},
			"partner":  {TenantID: "t-p", ObjectID: "o-p", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"4100001"}},
			"user":     {TenantID: "t-u", ObjectID: "o-u", Roles: []auth.Role{auth.RolePrincipal}},
		}
		srv := testServer(t, db, ids)
		other := "/v1/explain?partner=4100002&subscription=00000000-0000-0000-0000-00000000000a&at=2026-03-01"
		cases := []struct {
			name, path, token string
			want              int
		}{
			{"no token", other, "", http.StatusUnauthorized},
			{"plain principal", other, "user", http.StatusForbidden},
			{"partner asks about another partner", other, "partner", http.StatusForbidden},
			{"customer admin of another tenant", other, "admin", http.StatusForbidden},
			{"missing partner", "/v1/explain?subscription=x&at=2026-03-01", "operator", http.StatusBadRequest},
			{"two targets", "/v1/explain?partner=1&subscription=x&resource=y&at=2026-03-01", "operator", http.StatusBadRequest},
			{"rows of another partner", "/v1/attributions?from=2026-03-01&to=2026-04-01&partner=4100002", "partner", http.StatusForbidden},
			{"rows without partner", "/v1/attributions?from=2026-03-01&to=2026-04-01", "partner", http.StatusForbidden},
			{"incentives for customer admin", "/v1/incentives?from=2026-03-01&to=2026-04-01", "admin", http.StatusForbidden},
			{"rows of own partner", "/v1/attributions?from=2026-03-01&to=2026-04-01&partner=4100001", "partner", http.StatusOK},
			{"rows of own tenant", "/v1/attributions?from=2026-03-01&to=2026-04-01&format=csv", "admin", http.StatusOK},
			{"bad period", "/v1/attributions?from=2026-04-01&to=2026-03-01", "operator", http.StatusBadRequest},
			{"operator explains", other, "operator", http.StatusOK},
		}
		for _, c := range cases {
			if got := getStatus(t, srv.URL, c.path, c.token); got != c.want {
				t.Errorf("%s: GET %s = %d, want %d", c.name, c.path, got, c.want)
			}
		}
	})
}
