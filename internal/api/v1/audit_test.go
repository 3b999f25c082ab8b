package v1_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	v1 "github.com/partnerlink/partnerlink/internal/api/v1"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

const auditTenant = "11111111-0000-4000-8000-000000000001"

var auditIDs = map[string]*auth.Identity{
	"operator":    {TenantID: "t-op", ObjectID: "o-op", Roles: []auth.Role{auth.RoleOperator}},
	"org":         {TenantID: "t-p", ObjectID: "o-p", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"4100000"}},
	"loc":         {TenantID: "t-p", ObjectID: "o-l", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"4100001"}},
	"stranger":    {TenantID: "t-s", ObjectID: "o-s", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"7700001"}},
	"admin":       {TenantID: auditTenant, ObjectID: "o-admin", Roles: []auth.Role{auth.RoleCustomerAdmin}},
	"other-admin": {TenantID: "99999999-0000-4000-8000-000000000001", ObjectID: "o-x", Roles: []auth.Role{auth.RoleCustomerAdmin}},
}

// seedAudit imports the estate and usage fixtures of the CLI tests and attributes March.
func seedAudit(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open("../../estatefile/testdata/snapshot1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := estatefile.Import(ctx, db, f, "snapshot1.json", estatefile.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := usage.ImportFiles(ctx, db, []string{"../../cli/testdata/attribution-usage.csv"}, usage.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	from, _ := timeline.ParseDateOrTime("2026-03-01")
	to, _ := timeline.ParseDateOrTime("2026-04-01")
	if _, err := results.Run(ctx, db, results.RunOptions{Period: timeline.Window{From: from, To: to}, RequestedBy: "test"}); err != nil {
		t.Fatal(err)
	}
}

func postWhatif(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAuditWhatifAndTenantPartners(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedAudit(t, db)
		srv := testServer(t, db, auditIDs)
		march := "from=2026-03-01&to=2026-04-01"
		for _, c := range []struct {
			token, path string
			want        int
			contains    string
		}{
			{"org", "/v1/partners/4100000/audit?" + march, 200, `"reason": "single_principal"`},
			{"loc", "/v1/partners/4100001/audit?" + march + "&format=csv", 200, "kind,tenant_id,subscription_id,reason,currency,amount,principal_object_id\n"},
			{"operator", "/v1/partners/4100000/audit?" + march + "&format=text", 200, "Attrition risk"},
			{"loc", "/v1/partners/4100000/audit?" + march, 403, "may not read partner 4100000"},
			{"stranger", "/v1/partners/4100001/audit?" + march, 403, "may not read partner"},
			{"stranger", "/v1/partners/4199999/audit?" + march, 403, "may not read partner"},
			{"operator", "/v1/partners/4199999/audit?" + march, 404, "neither"},
			{"admin", "/v1/partners/4100001/audit?" + march, 403, ""},
			{"", "/v1/partners/4100001/audit?" + march, 401, ""},
			{"org", "/v1/partners/4100000/audit?from=2026-03-01", 400, "from and to are required"},
			{"org", "/v1/partners/4100000/audit?" + march + "&format=xml", 400, "use one of text, csv, json"},
			{"admin", "/v1/tenants/" + auditTenant + "/partners?" + march, 200, `"alone": "3.333333333"`},
			{"operator", "/v1/tenants/" + strings.ToUpper(auditTenant) + "/partners?" + march + "&format=csv", 200, "identities,4100000,4100001,"},
			{"other-admin", "/v1/tenants/" + auditTenant + "/partners?" + march, 403, "only its own tenant"},
			{"org", "/v1/tenants/" + auditTenant + "/partners?" + march, 403, ""},
			{"operator", "/v1/tenants/99999999-0000-4000-8000-000000000001/partners?" + march, 404, "not in the estate"},
		} {
			code, body := get(t, srv, c.token, c.path)
			if code != c.want || !strings.Contains(body, c.contains) {
				t.Errorf("%s GET %s = %d %s; want %d containing %q", c.token, c.path, code, body, c.want, c.contains)
			}
		}
		activate := `{"from": "2026-03-01", "to": "2026-04-01", "changes": [{"op": "activate", "tenant": "` + auditTenant + `",
			"object": "33333333-0000-4000-8000-000000000002", "role": "Contributor", "scope": "/subscriptions/22222222-0000-4000-8000-000000000001",
			"from": "2026-03-02", "to": "2026-03-02T08:00:00Z"}]}`
		linkOther := `{"from": "2026-03-01", "to": "2026-04-01", "changes": [{"op": "add-link", "tenant": "` + auditTenant + `",
			"object": "33333333-0000-4000-8000-000000000002", "location": "4100002"}]}`
		for _, c := range []struct {
			token, query, body string
			want               int
			contains           string
		}{
			{"loc", "", activate, 200, `"delta": "3.333333334"`},
			{"org", "?format=csv", activate, 200, "4100001,PAL,USD,3.333333333,6.666666667,3.333333334\n"},
			{"loc", "", linkOther, 403, "location 4100002 is not one of yours"},
			{"stranger", "", activate, 403, "is not linked to any of your locations"},
			{"operator", "", linkOther, 200, `"partner_id": "4100002"`},
			{"admin", "", activate, 403, ""},
			{"loc", "", `{"changes": [{"op": "jump"}]}`, 400, `changes[0]: op \"jump\" is not known`},
			{"loc", "", `{"changes": []}`, 400, "from and to are required"},
			{"operator", "", `{"from": "2026-02-01", "to": "2026-03-01", "changes": []}`, 404, "partnerlink attribute"},
		} {
			code, body := postWhatif(t, srv.URL+"/v1/whatif"+c.query, c.token, c.body)
			if code != c.want || !strings.Contains(body, c.contains) {
				t.Errorf("%s POST /v1/whatif%s = %d %s; want %d containing %q", c.token, c.query, code, body, c.want, c.contains)
			}
		}
		// A partner sees only its own locations' rows.
		_, body := postWhatif(t, srv.URL+"/v1/whatif", "loc", activate)
		var res struct {
			Rows []struct {
				PartnerID string `json:"partner_id"`
			}
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Rows) == 0 {
			t.Fatalf("%v %s", err, body)
		}
		for _, r := range res.Rows {
			if r.PartnerID != "4100001" {
				t.Errorf("partner 4100001 sees the row of %s", r.PartnerID)
			}
		}
	})
}

func TestOpenAPIDescribesAuditPaths(t *testing.T) {
	doc, err := v1.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	for path, method := range map[string]string{"/v1/partners/{id}/audit": "get", "/v1/whatif": "post", "/v1/tenants/{tenantId}/partners": "get"} {
		if _, ok := parsed.Paths[path][method]; !ok {
			t.Errorf("%s %s is not in the OpenAPI document", method, path)
		}
	}
}
