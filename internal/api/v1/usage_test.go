package v1_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	v1 "github.com/partnerlink/partnerlink/internal/api/v1"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// testServer serves the v1 API with a stand-in authenticator: the bearer token is a key of
// ids. The real token verification is tested in internal/auth.
func testServer(t *testing.T, db *store.DB, ids map[string]*auth.Identity) *httptest.Server {
	t.Helper()
	d := api.Deps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC) },
		Authenticate: func(r *http.Request) (*http.Request, error) {
			id, ok := ids[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				return nil, errors.New("no valid bearer token")
			}
			return r.WithContext(auth.WithIdentity(r.Context(), id)), nil
		}}
	mux := api.NewMux()
	v1.Register(mux, d)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

var testIDs = map[string]*auth.Identity{
	"operator": {TenantID: "t-op", ObjectID: "o-op", Roles: []auth.Role{auth.RoleOperator}},
	"admin":    {TenantID: "11111111-2222-3333-4444-555555555555", ObjectID: "o-admin", Roles: []auth.Role{auth.RoleCustomerAdmin}},
	"partner":  {TenantID: "t-p", ObjectID: "o-p", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"4100001"}},
}

func post(t *testing.T, srv *httptest.Server, token, ctype, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/usage?name=march.csv", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

const csvBody = "ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,SubAccountId,ChargeCategory\n" +
	"2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1.25,USD,/subscriptions/11111111-2222-3333-4444-555555555555,Usage\n"

func TestPostUsage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := testServer(t, db, testIDs)
		code, out := post(t, srv, "operator", "text/csv", csvBody)
		if code != http.StatusCreated || out["rowsAdded"] != 1.0 || out["status"] != "done" {
			t.Fatalf("POST csv = %d %v", code, out)
		}
		code, out = post(t, srv, "operator", "text/csv", csvBody)
		if code != http.StatusCreated || out["rowsAdded"] != 0.0 || out["rowsDuplicate"] != 1.0 {
			t.Fatalf("repeated POST = %d %v, want 0 added 1 duplicate", code, out)
		}
		nd := `{"ChargePeriodStart":"2026-03-02T00:00:00Z","ChargePeriodEnd":"2026-03-03T00:00:00Z","BilledCost":0.1000000001,"BillingCurrency":"USD","SubAccountId":"11111111-2222-3333-4444-555555555555","ChargeCategory":"Usage"}` + "\n"
		code, out = post(t, srv, "operator", "application/x-ndjson", nd)
		if code != http.StatusCreated || out["rowsAdded"] != 1.0 {
			t.Fatalf("POST ndjson = %d %v", code, out)
		}
		var raw string
		march2 := timeline.Window{From: 1772409600000000000, To: 1772496000000000000}
		if err := usage.Records(t.Context(), db, march2, func(r *usage.Record) error { raw = r.CostRaw; return nil }); err != nil {
			t.Fatal(err)
		}
		if raw != "0.1000000001" {
			t.Errorf("NDJSON number stored as %q, want its exact text", raw)
		}
		bad := nd + `{"ChargePeriodStart":"2026-03-02T00:00:00Z","ChargePeriodEnd":"2026-03-03T00:00:00Z","BilledCost":"ten","BillingCurrency":"USD","SubAccountId":"11111111-2222-3333-4444-555555555555","ChargeCategory":"Usage"}` + "\n" + `[1,2]` + "\n"
		code, out = post(t, srv, "operator", "application/x-ndjson", bad)
		errs, _ := out["errors"].([]any)
		if code != http.StatusUnprocessableEntity || len(errs) != 2 ||
			!strings.Contains(errs[0].(string), "march.csv:2: column BilledCost") || !strings.Contains(errs[1].(string), "march.csv:3: not a JSON object") {
			t.Fatalf("POST bad ndjson = %d %v", code, out)
		}
		if code, _ := post(t, srv, "operator", "application/xml", "<a/>"); code != http.StatusUnsupportedMediaType {
			t.Errorf("xml upload = %d, want 415", code)
		}
	})
}

func TestPostUsageDenied(t *testing.T) {
	db := storetest.SQLite(t)
	srv := testServer(t, db, testIDs)
	for token, want := range map[string]int{"": 401, "forged": 401, "admin": 403, "partner": 403} {
		if code, _ := post(t, srv, token, "text/csv", csvBody); code != want {
			t.Errorf("POST /v1/usage with token %q = %d, want %d", token, code, want)
		}
	}
	var n int
	db.QueryRowContext(t.Context(), `SELECT COALESCE(SUM(records), 0) FROM usage_segments`).Scan(&n)
	if n != 0 {
		t.Fatalf("denied uploads stored %d records", n)
	}
}
