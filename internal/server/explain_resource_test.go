package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// /v1/explain of another provider's resource: explained from its stored usage records; a
// partner with no association on it gets the same generic answer whether the resource exists
// or not, naming neither its account, nor its records, nor the location its tag names.
func TestExplainOtherProviderResourceThroughTheAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, server.Options{}, nil)
		const arn = "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc"
		const missing = "arn:aws:ec2:us-east-1:111111111111:instance/i-0zzz"
		const vm = "//compute.googleapis.com/projects/my-proj/zones/europe-west1-b/instances/vm-1"
		day := timeline.Nanos(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
		recs := []usage.Record{
			{Key: "aws-1", Provider: "AWS", ProviderID: "aws", ResourceID: arn, SubscriptionID: "111111111111", Tags: `{"partnerlink-partner-id":"4000001"}`,
				Start: day, End: day + 3600e9, Cost: 1_000_000_000, Currency: "USD", ChargeCategory: usage.CategoryUsage},
			{Key: "gcp-1", Provider: "Google Cloud", ProviderID: "google", ResourceID: vm, SubscriptionID: "my-proj",
				Start: day, End: day + 3600e9, Cost: 1_000_000_000, Currency: "USD", ChargeCategory: usage.CategoryUsage},
		}
		if _, err := usage.ImportRecords(context.Background(), db, "test", recs, usage.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		op := e.mint(auth.Claims{TenantID: "ops", ObjectID: "o", Roles: []string{"operator"}})
		own := e.mint(auth.Claims{TenantID: "pt", ObjectID: "p1", Roles: []string{"partner"}, PartnerIDs: []string{"4000001"}})
		other := e.mint(auth.Claims{TenantID: "pt2", ObjectID: "p2", Roles: []string{"partner"}, PartnerIDs: []string{"5000000"}})
		admin := e.mint(auth.Claims{TenantID: tenantA, ObjectID: "admin", Roles: []string{"customer-admin"}})
		path := func(partner, res string) string {
			return "/v1/explain?" + url.Values{"partner": {partner}, "resource": {res}, "from": {"2026-03-01"}, "to": {"2026-04-01"}}.Encode()
		}
		answer := func(tok, partner, res string) (map[string]any, string) {
			t.Helper()
			resp, body := e.do("GET", path(partner, res), tok, "")
			var m map[string]any
			if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &m) != nil {
				t.Fatalf("explain %s %s = %d %s", partner, res, resp.StatusCode, body)
			}
			return m, body
		}
		// The operator sees the TAG association, its chain starting with the record, and the
		// sub-account.
		m, body := answer(op, "4000001", arn)
		if m["subscription"] != "111111111111" || !strings.Contains(body, `"association":"TAG"`) || !strings.Contains(body, `"kind":"usage"`) ||
			!strings.Contains(body, "provider_not_microsoft") {
			t.Errorf("operator: %s", body)
		}
		// The partner the tag names sees the same.
		if _, body := answer(own, "4000001", arn); !strings.Contains(body, `"association":"TAG"`) {
			t.Errorf("own partner: %s", body)
		}
		// Another partner: a generic answer, the same for an existing and a missing resource.
		exists, eb := answer(other, "5000001", arn)
		absent, _ := answer(other, "5000001", missing)
		if strings.Contains(eb, "4000001") || strings.Contains(eb, `"subscription":"111111111111"`) || strings.Contains(eb, "usage record") {
			t.Errorf("a partner without presence learns about the resource: %s", eb)
		}
		a, _ := json.Marshal(exists)
		b, _ := json.Marshal(absent)
		if strings.ReplaceAll(string(a), arn, "R") != strings.ReplaceAll(string(b), missing, "R") {
			t.Errorf("existing and unknown resources answer differently:\n%s\n%s", a, b)
		}
		if exists["reasons"].([]any)[0].(map[string]any)["code"] != "no_presence" {
			t.Errorf("want no_presence: %v", exists)
		}
		// The Google VM: no tag, an undeclared account.
		if _, body := answer(op, "4000001", vm); !strings.Contains(body, "no_partner_tag") || !strings.Contains(body, "unknown_account") {
			t.Errorf("google: %s", body)
		}
		// An OCID without records.
		if _, body := answer(op, "4000001", "ocid1.instance.oc1.phx.abc"); !strings.Contains(body, "no_usage_for_resource") {
			t.Errorf("ocid: %s", body)
		}
		// A customer admin's tenant holds no other provider's resource.
		if resp, body := e.do("GET", path("4000001", arn), admin, ""); resp.StatusCode != 403 {
			t.Errorf("customer admin: %d %s", resp.StatusCode, body)
		}
		// Garbage is still refused.
		for _, bad := range []string{"arn:aws", "//example.com/x", "ocid1.x", "i-0abc"} {
			resp, body := e.do("GET", path("4000001", bad), op, "")
			if p := problem(t, resp, body, 400); !strings.Contains(fmt.Sprint(p["detail"]), "ARN") {
				t.Errorf("%s: %v", bad, p)
			}
		}
	})
}
