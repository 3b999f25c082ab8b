package v1_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// getJSON is get with the body decoded.
func getJSON(t *testing.T, srv *httptest.Server, token, path string) (int, map[string]any) {
	t.Helper()
	code, body := get(t, srv, token, path)
	var out map[string]any
	json.Unmarshal([]byte(body), &out)
	return code, out
}

func TestEstateAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f, _ := os.Open("../../estatefile/testdata/snapshot1.json")
		defer f.Close()
		if _, err := estatefile.Import(context.Background(), db, f, "s.json", estatefile.Options{Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}); err != nil {
			t.Fatal(err)
		}
		ids := map[string]*auth.Identity{
			"operator": testIDs["operator"],
			"fabrikam": {TenantID: "11111111-0000-4000-8000-000000000001", ObjectID: "a", Roles: []auth.Role{auth.RoleCustomerAdmin}},
			"other":    {TenantID: "99999999-0000-4000-8000-000000000009", ObjectID: "b", Roles: []auth.Role{auth.RoleCustomerAdmin}},
			"partner":  testIDs["partner"],
			"ann":      {TenantID: "11111111-0000-4000-8000-000000000001", ObjectID: "33333333-0000-4000-8000-000000000002", Roles: []auth.Role{auth.RolePrincipal}},
		}
		srv := testServer(t, db, ids)
		base := "/v1/tenants/11111111-0000-4000-8000-000000000001/"
		code, page := getJSON(t, srv, "fabrikam", base+"subscriptions?limit=1")
		items, _ := page["items"].([]any)
		if code != 200 || len(items) != 1 || page["next"] != "22222222-0000-4000-8000-000000000001" {
			t.Fatalf("first page = %d %v", code, page)
		}
		code, page = getJSON(t, srv, "fabrikam", base+"subscriptions?limit=1&after=22222222-0000-4000-8000-000000000001")
		items, _ = page["items"].([]any)
		if code != 200 || len(items) != 1 || page["next"] != nil || items[0].(map[string]any)["offer"] != "csp" {
			t.Fatalf("second page = %d %v", code, page)
		}
		code, page = getJSON(t, srv, "operator", base+"assignments?kind=eligible")
		items, _ = page["items"].([]any)
		if code != 200 || len(items) != 1 || items[0].(map[string]any)["from"] != "2026-01-01T00:00:00Z" {
			t.Fatalf("eligible assignments = %d %v", code, page)
		}
		code, page = getJSON(t, srv, "operator", base+"principals?type=Group&at=2025-06-01")
		items, _ = page["items"].([]any)
		if code != 200 || len(items) != 1 {
			t.Fatalf("groups = %d %v", code, page)
		}
		for _, tok := range []string{"other", "partner", "ann"} {
			if code, _ := getJSON(t, srv, tok, base+"principals"); code != http.StatusForbidden {
				t.Errorf("%s reading Fabrikam's principals: %d, want 403", tok, code)
			}
		}
		code, page = getJSON(t, srv, "other", "/v1/tenants")
		items, _ = page["items"].([]any)
		if code != 200 || len(items) != 0 {
			t.Errorf("another tenant's admin listing tenants: %d %v, want none", code, page)
		}
	})
}
