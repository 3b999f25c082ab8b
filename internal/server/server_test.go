package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/metrics"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestRequestIDsAndAccessLog(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), server.Options{}, nil)
	op := e.mint(auth.Claims{TenantID: "ops", ObjectID: "o", Roles: []string{"operator"}})

	resp, _ := e.do("GET", "/v1/partners/4000001/links", op, "", "X-Request-Id", "client-req-1")
	if got := resp.Header.Get("X-Request-Id"); got != "client-req-1" {
		t.Errorf("X-Request-Id = %q; want the client's", got)
	}
	resp, _ = e.do("GET", "/v1/partners", op, "", "X-Request-Id", "bad id\twith tab")
	if got := resp.Header.Get("X-Request-Id"); !guid.MatchString(got) {
		t.Errorf("X-Request-Id for an unusable client ID = %q; want a new GUID", got)
	}
	resp, _ = e.do("GET", "/providers/Microsoft.ManagementPartner/operations?api-version=2018-02-01", "", "",
		"x-ms-correlation-request-id", "corr-7", "x-ms-client-request-id", "cli-9")
	if id := resp.Header.Get("x-ms-request-id"); !guid.MatchString(id) || resp.Header.Get("x-ms-correlation-request-id") != "corr-7" ||
		resp.Header.Get("x-ms-client-request-id") != "cli-9" || resp.Header.Get("X-Request-Id") != "" {
		t.Errorf("ARM request headers = %v", resp.Header)
	}
	armID := resp.Header.Get("x-ms-request-id")

	var access []map[string]any
	for _, l := range e.logs.lines() {
		if l["msg"] == "request" {
			access = append(access, l)
		}
	}
	if len(access) != 3 {
		t.Fatalf("%d access lines, want 3:\n%s", len(access), e.logs)
	}
	want := []map[string]any{
		{"method": "GET", "route": "GET /v1/partners/{id}/links", "status": 200.0, "request_id": "client-req-1", "caller": "operator"},
		{"route": "GET /v1/partners", "status": 200.0, "caller": "operator"},
		{"route": "GET /providers/microsoft.managementpartner/operations", "status": 200.0, "request_id": armID, "caller": "anonymous", "correlation_id": "corr-7"},
	}
	for i, w := range want {
		for k, v := range w {
			if access[i][k] != v {
				t.Errorf("access line %d: %s = %v, want %v (%v)", i, k, access[i][k], v, access[i])
			}
		}
		if access[i]["bytes"].(float64) <= 0 || access[i]["duration"] == nil {
			t.Errorf("access line %d lacks bytes or duration: %v", i, access[i])
		}
	}
	if strings.Contains(e.logs.String(), op) || strings.Contains(e.logs.String(), "4000001") {
		t.Errorf("the log holds a token or a raw path:\n%s", e.logs)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), server.Options{}, nil)
	stop := metrics.WatchDB(e.db, "server-test")
	defer stop()
	op := e.mint(auth.Claims{TenantID: "ops", ObjectID: "o", Roles: []string{"operator"}})
	e.do("GET", "/v1/partners/4000000", op, "")
	e.do("GET", "/v1/partners/4000000", "", "")
	csv := "ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,SubAccountId,ChargeCategory\n" +
		"2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1.25,USD,/subscriptions/11111111-2222-3333-4444-555555555555,Usage\n"
	if resp, body := e.do("POST", "/v1/usage?name=m.csv", op, csv, "Content-Type", "text/csv"); resp.StatusCode != 201 {
		t.Fatalf("POST /v1/usage = %d %s", resp.StatusCode, body)
	}
	e.do("GET", "/no/such/page", "", "")
	// An estate import and attribution runs in the serving process (the demo imports and runs
	// before it serves) count, whoever calls them.
	_, before := e.do("GET", "/metrics", "", "")
	f, err := os.Open("../estatefile/testdata/snapshot1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := estatefile.Import(context.Background(), e.db, f, "snapshot1.json", estatefile.Options{}); err != nil {
		t.Fatal(err)
	}
	march := timeline.Window{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano(), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
	if _, err := results.Run(context.Background(), e.db, results.RunOptions{Period: march, RequestedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := results.Run(context.Background(), e.db, results.RunOptions{Period: timeline.Window{From: march.To, To: march.From}}); err == nil {
		t.Fatal("a run of an empty period succeeded")
	}
	resp, body := e.do("GET", "/metrics", "", "")
	for series, want := range map[string]float64{
		`partnerlink_imports_total{kind="estate",result="ok"}`:     1,
		`partnerlink_import_duration_seconds_count{kind="estate"}`: 1,
		`partnerlink_attribution_runs_total{result="ok"}`:          1,
		`partnerlink_attribution_runs_total{result="error"}`:       1,
		`partnerlink_attribution_run_duration_seconds_count`:       2,
	} {
		if got := sample(body, series) - sample(before, series); got != want {
			t.Errorf("%s grew by %v, want %v", series, got, want)
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`go_sql_in_use_connections{db_name="server-test"}`,
		`go_sql_wait_count_total{db_name="server-test"}`,
		`partnerlink_http_requests_total{code="200",route="GET /v1/partners/{id}"}`,
		`partnerlink_http_requests_total{code="401",route="GET /v1/partners/{id}"}`,
		`partnerlink_http_requests_total{code="404",route="unmatched"}`,
		`partnerlink_http_request_duration_seconds_bucket{route="GET /v1/partners/{id}",le="0.005"}`,
		`partnerlink_attribution_runs_total{result="ok"}`,
		`go_sql_open_connections{db_name="server-test"}`,
		`partnerlink_imports_total{kind="usage",result="ok"}`,
		`partnerlink_import_duration_seconds_count{kind="usage"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "/v1/partners/4000000") || strings.Contains(body, "/no/such") {
		t.Error("/metrics labels hold raw paths")
	}

	off := newEnv(t, storetest.SQLite(t), server.Options{NoMetrics: true}, nil)
	if resp, _ := off.do("GET", "/metrics", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics with NoMetrics = %d, want 404", resp.StatusCode)
	}
}

// sample is the value of series in a scrape (0 when absent).
func sample(body, series string) float64 {
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

func problem(t *testing.T, resp *http.Response, body string, status int) map[string]any {
	t.Helper()
	var p map[string]any
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal([]byte(body), &p) != nil || p["status"] != float64(status) {
		t.Errorf("%s %s = %d %s %q; want a %d problem", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
	}
	return p
}

func TestRouterErrorsAndInputUnderV1AreProblems(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, server.Options{}, nil)
		op := e.mint(auth.Claims{TenantID: "ops", ObjectID: "o", Roles: []string{"operator"}})
		admin := e.mint(auth.Claims{TenantID: tenantA, ObjectID: "admin", Roles: []string{"customer-admin"}})
		resp, body := e.do("GET", "/v1/no-such-thing", op, "")
		problem(t, resp, body, 404)
		resp, body = e.do("DELETE", "/v1/partners", op, "")
		if problem(t, resp, body, 405); !strings.Contains(resp.Header.Get("Allow"), "GET") {
			t.Errorf("405 Allow = %q", resp.Header.Get("Allow"))
		}
		// A NUL or invalid UTF-8 in an ID is 400 on both engines (PostgreSQL refuses them).
		for _, path := range []string{"/v1/partners/40%0000001", "/v1/partners/%ff%fe", "/v1/tenants/" + tenantA + "/links?after=%00",
			"/v1/explain?partner=4000001&resource=%ff&at=2026-03-01", "/v1/reports/partners/%C0%80"} {
			resp, body := e.do("GET", path, op, "")
			problem(t, resp, body, 400)
		}
		resp, body = e.do("PUT", "/v1/partners/6000000", op, `{"name": "Nul\u0000Name"}`)
		problem(t, resp, body, 400)
		resp, body = e.do("GET", "/v1/explain?partner=4000001&resource=not-a-resource&at=2026-03-01", op, "")
		if p := problem(t, resp, body, 400); !strings.Contains(fmt.Sprint(p["detail"]), "not-a-resource") {
			t.Errorf("malformed resource: %v", p)
		}
		// One JSON document per body: trailing data and second documents are refused.
		for _, b := range []string{`{"name":"x"} garbage`, `{"name":"x"}{"name":"y"}`, `{"name":"x"} null`} {
			resp, body := e.do("PUT", "/v1/partners/6000000", op, b)
			problem(t, resp, body, 400)
		}
		resp, body = e.do("POST", "/v1/tenants/"+tenantA+"/webhooks", admin, `{"url":"https://hooks.example.com/a"} {"url":"https://hooks.example.com/b"}`)
		problem(t, resp, body, 400)
		resp, _ = e.do("PUT", "/v1/partners/6000000", op, `{"name":"x"}`+"\n")
		if resp.StatusCode != 200 {
			t.Errorf("one document with a trailing newline = %d, want 200", resp.StatusCode)
		}
		// Dates beyond int64 nanoseconds: 400 naming the value and the range.
		for _, path := range []string{"/v1/attributions?from=0001-01-01&to=2026-01-01", "/v1/reports/operator?to=9999-12-31",
			"/v1/explain?partner=4000001&subscription=x&at=9999-12-31", "/v1/tenants/" + tenantA + "/subscriptions?at=1600-01-01"} {
			resp, body := e.do("GET", path, op, "")
			if p := problem(t, resp, body, 400); !strings.Contains(fmt.Sprint(p["detail"]), "1678-01-01 to 2262-01-01") {
				t.Errorf("GET %s: %v; want the range named", path, p["detail"])
			}
		}
		resp, body = e.do("PUT", "/v1/partners/6000000", op, `{"name":"x","locations":[{"id":"6000001","name":"l","active":[{"from":"0001-01-01","to":null}]}]}`)
		if p := problem(t, resp, body, 400); !strings.Contains(fmt.Sprint(p["detail"]), "0001-01-01") {
			t.Errorf("location window from 0001-01-01: %v", p)
		}
	})
}

// An ID names an organisation or a location, never both: PUT /v1/partners refuses a clash
// with 409 naming both, on both engines.
func TestPartnerIDNamespaceOnV1(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, server.Options{}, nil)
		op := e.mint(auth.Claims{TenantID: "ops", ObjectID: "o", Roles: []string{"operator"}})
		resp, body := e.do("PUT", "/v1/partners/4000001", op, `{"name":"Takeover"}`)
		if p := problem(t, resp, body, 409); !strings.Contains(fmt.Sprint(p["detail"]), "4000000") {
			t.Errorf("org with a location's ID: %v", p)
		}
		resp, body = e.do("PUT", "/v1/partners/7000000", op, `{"name":"Takeover","locations":[{"id":"5000000","name":"x"}]}`)
		if p := problem(t, resp, body, 409); !strings.Contains(fmt.Sprint(p["detail"]), "Fabrikam") {
			t.Errorf("location with an organisation's ID: %v", p)
		}
		// The ARM API still names the right partner for the location.
		self := e.mint(auth.Claims{TenantID: tenantA, ObjectID: self})
		if _, body := e.do("GET", "/providers/Microsoft.ManagementPartner/partners/4000001?api-version=2018-02-01", self, ""); !strings.Contains(body, "Contoso") {
			t.Errorf("link after the refused takeover: %s", body)
		}
	})
}

func TestARMPathsMatchCaseInsensitively(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), server.Options{}, nil)
	tok := e.mint(auth.Claims{TenantID: tenantA, ObjectID: self})
	for _, path := range []string{
		"/providers/Microsoft.ManagementPartner/partners/4000001?api-version=2018-02-01",
		"/PROVIDERS/MICROSOFT.MANAGEMENTPARTNER/PARTNERS/4000001?API-VERSION=2018-02-01",
		"/Providers/microsoft.managementPartner/Partners/4000001/?Api-Version=2018-02-01",
		"/providers/microsoft.managementpartner/partners?api-version=2018-02-01",
	} {
		resp, body := e.do("GET", path, tok, "")
		if resp.StatusCode != 200 || !strings.Contains(body, `"partnerId":"4000001"`) {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, body)
		}
	}
	if resp, body := e.do("GET", "/PROVIDERS/Microsoft.ManagementPartner/Operations?api-version=2018-02-01", "", ""); resp.StatusCode != 200 || !strings.Contains(body, "partners/read") {
		t.Errorf("operations = %d %s", resp.StatusCode, body)
	}
	resp, body := e.do("GET", "/providers/Microsoft.ManagementPartner/partners/40%0001?api-version=2018-02-01", tok, "")
	if resp.StatusCode != 400 || !strings.Contains(body, `"code":"BadRequest"`) {
		t.Errorf("NUL in an ARM path = %d %s; want 400 in ARM's shape", resp.StatusCode, body)
	}
}

func TestStaticServesFilesNotListings(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), server.Options{}, nil)
	for _, p := range []string{"/static/", "/static/vendor/", "/static/vendor", "/static/nope.css"} {
		if resp, body := e.do("GET", p, "", ""); resp.StatusCode != 404 || strings.Contains(body, "app.css") || strings.Contains(body, "uPlot") {
			t.Errorf("GET %s = %d %q; want 404 without a listing", p, resp.StatusCode, body)
		}
	}
	if resp, _ := e.do("GET", "/static/app.css", "", ""); resp.StatusCode != 200 {
		t.Errorf("GET /static/app.css = %d", resp.StatusCode)
	}
}

// Behind a TLS-terminating proxy (Deps.HTTPS, from serve --public-url https://...) cookies are
// Secure and responses carry HSTS; without it neither.
func TestHTTPSBehindAProxy(t *testing.T) {
	for _, https := range []bool{false, true} {
		e := newEnv(t, storetest.SQLite(t), server.Options{}, func(d *api.Deps) { d.HTTPS = https })
		resp, _ := e.do("GET", "/signin", "", "")
		hsts := resp.Header.Get("Strict-Transport-Security")
		secure := len(resp.Cookies()) > 0
		for _, c := range resp.Cookies() {
			secure = secure && c.Secure
		}
		if (hsts != "") != https || secure != https {
			t.Errorf("HTTPS=%v: HSTS %q, cookies %v", https, hsts, resp.Cookies())
		}
	}
}

// A database outage during partner resolution is 503 with Retry-After on every surface, never
// the 403 an unknown partner gets, and is logged as a warning with its cause.
func TestOutageDuringPartnerResolutionIs503(t *testing.T) {
	up := storetest.Postgres(t)
	e := newEnv(t, up, server.Options{}, func(d *api.Deps) { d.DB = downDB(t, up) })
	partner := e.mint(auth.Claims{TenantID: "pt", ObjectID: "p", Roles: []string{"partner"}, PartnerIDs: []string{"4000001"}})
	for _, path := range []string{
		"/v1/partners/4000001", "/v1/partners/4000001/links", "/v1/reports/partners/4000001",
		"/v1/attributions?from=2026-01-01&to=2026-02-01&partner=4000001",
		"/v1/explain?partner=4000001&subscription=x&at=2026-01-01",
		// report.ResolvePartner (the audit's check) is directory.Resolve too.
		"/v1/partners/4000001/audit?from=2026-01-01&to=2026-02-01",
	} {
		resp, body := e.do("GET", path, partner, "")
		if problem(t, resp, body, 503); resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s: no Retry-After", path)
		}
	}
	resp, body := e.do("GET", "/providers/Microsoft.ManagementPartner/partners?api-version=2018-02-01", partner, "")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"code":"ServiceUnavailable"`) {
		t.Errorf("ARM during an outage = %d %s", resp.StatusCode, body)
	}
	// The dashboard: sign in (no database needed to verify a token), then the partner page.
	form := url.Values{}
	resp, body = e.do("GET", "/signin", "", "")
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)[1]
	form.Set("csrf", csrf)
	form.Set("token", partner)
	pre := resp.Cookies()[0]
	resp, _ = e.do("POST", "/signin", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Cookie", pre.Name+"="+pre.Value)
	var session string
	for _, c := range resp.Cookies() {
		if c.Name == "partnerlink_session" && c.Value != "" {
			session = c.Name + "=" + c.Value
		}
	}
	resp, body = e.do("GET", "/partners/4000001", "", "", "Cookie", session)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "try again") {
		t.Errorf("dashboard during an outage = %d\n%s", resp.StatusCode, body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"level":"WARN","msg":"database unavailable"`) || strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("an outage must be logged as a warning with its cause, not as an error:\n%s", logs)
	}
}

// PostgreSQL permission errors name the object and are 503 (the operator's grants), with
// the driver's error in the log.
func TestPostgresPermissionDenied(t *testing.T) {
	up, dsn := storetest.PostgresWithDSN(t)
	ctx := context.Background()
	for _, q := range []string{`DO $$ BEGIN CREATE ROLE partnerlink_noperm LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
		`GRANT USAGE ON SCHEMA ` + schemaOf(t, up) + ` TO partnerlink_noperm`} {
		if _, err := up.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := url.Parse(dsn)
	u.User = url.User("partnerlink_noperm")
	limited, err := openPostgres(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	e := newEnv(t, up, server.Options{}, func(d *api.Deps) { d.DB = limited })
	op := e.mint(auth.Claims{TenantID: "ops", ObjectID: "o", Roles: []string{"operator"}})
	resp, body := e.do("GET", "/v1/partners", op, "")
	if p := problem(t, resp, body, 503); !strings.Contains(fmt.Sprint(p["detail"]), "permission denied for table partner_orgs") {
		t.Errorf("permission error: %v", p)
	}
	if !strings.Contains(e.logs.String(), "42501") {
		t.Errorf("the log lacks the driver's error:\n%s", e.logs)
	}
}

// A partner learns nothing from explain about a subscription it has no presence in: the same
// answer whether it exists or not, no tenant. With a link in the tenant it gets the full
// explanation.
func TestExplainHidesForeignEstatesFromPartners(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, server.Options{}, nil)
		if _, err := db.ExecContext(context.Background(), `INSERT INTO subscriptions (id, tenant_id, offer, valid_from, valid_to) VALUES ($1, $2, 'payg', $3, $4)`,
			subA, tenantA, int64(-1)<<62, int64(1)<<62); err != nil {
			t.Fatal(err)
		}
		other := e.mint(auth.Claims{TenantID: "pt2", ObjectID: "p2", Roles: []string{"partner"}, PartnerIDs: []string{"5000000"}})
		own := e.mint(auth.Claims{TenantID: "pt", ObjectID: "p1", Roles: []string{"partner"}, PartnerIDs: []string{"4000001"}})
		const missing = "ffffffff-0000-4000-8000-000000000009"
		answer := func(tok, partner, query string) map[string]any {
			t.Helper()
			resp, body := e.do("GET", "/v1/explain?partner="+partner+"&"+query+"&at=2026-03-01", tok, "")
			var m map[string]any
			if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &m) != nil {
				t.Fatalf("explain %s %s = %d %s", partner, query, resp.StatusCode, body)
			}
			return m
		}
		exists := answer(other, "5000001", "subscription="+subA)
		absent := answer(other, "5000001", "subscription="+missing)
		if exists["tenant"] != nil || strings.Contains(fmt.Sprint(exists), tenantA) {
			t.Errorf("a partner without presence learns the tenant: %v", exists)
		}
		// Identical but for the subscription ID the query itself gave.
		a, _ := json.Marshal(exists)
		b, _ := json.Marshal(absent)
		if strings.ReplaceAll(string(a), subA, "S") != strings.ReplaceAll(string(b), missing, "S") {
			t.Errorf("existing and unknown subscriptions answer differently:\n%s\n%s", a, b)
		}
		rec := answer(other, "5000001", "record=no-such-record")
		if rec["reasons"].([]any)[0].(map[string]any)["code"] != "no_presence" {
			t.Errorf("unknown record for a partner = %v; want the same no_presence answer", rec)
		}
		// Contoso's location is linked in tenant A: its partner sees the explanation, tenant included.
		if full := answer(own, "4000001", "subscription="+subA); full["tenant"] != tenantA {
			t.Errorf("a partner with a link in the tenant gets %v; want the full explanation", full)
		}
	})
}

func TestWebhookPolicyThroughTheAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, server.Options{}, func(d *api.Deps) { d.Webhooks.Limit = 2 })
		admin := e.mint(auth.Claims{TenantID: tenantA, ObjectID: "admin", Roles: []string{"customer-admin"}})
		path := "/v1/tenants/" + tenantA + "/webhooks"
		for u, why := range map[string]string{"https://169.254.169.254/latest/meta-data": "link-local", "http://[::ffff:127.0.0.1]:8080/": "loopback",
			"https://2130706433/": "non-standard", "http://hooks.example.com/": "https"} {
			resp, body := e.do("POST", path, admin, `{"url":"`+u+`"}`)
			if p := problem(t, resp, body, 400); !strings.Contains(fmt.Sprint(p["detail"]), why) {
				t.Errorf("POST %s: %v; want %q", u, p["detail"], why)
			}
		}
		var ids []string
		for range 2 {
			resp, body := e.do("POST", path, admin, `{"url":"https://hooks.example.com/x"}`)
			var h map[string]any
			if resp.StatusCode != 201 || json.Unmarshal([]byte(body), &h) != nil {
				t.Fatalf("POST = %d %s", resp.StatusCode, body)
			}
			ids = append(ids, h["id"].(string))
		}
		resp, body := e.do("POST", path, admin, `{"url":"https://hooks.example.com/x"}`)
		problem(t, resp, body, 409)
		if resp, _ := e.do("DELETE", path+"/"+ids[0], admin, ""); resp.StatusCode != 204 {
			t.Fatalf("DELETE = %d", resp.StatusCode)
		}
		resp, body = e.do("GET", path, admin, "")
		if resp.StatusCode != 200 || !strings.Contains(body, `"active":false`) {
			t.Errorf("after DELETE the webhook must stay, inactive: %s", body)
		}
	})
}

// A dashboard path no route serves is an HTML page like every other dashboard error (the
// router's own answer is plain text); the APIs keep their formats.
func TestDashboard404IsHTML(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), server.Options{}, nil)
	for _, c := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/no/such/page", 404, "There is no page at /no/such/page."},
		{"GET", "/static/no-such.css", 404, "There is no asset at /static/no-such.css."},
		{"GET", "/static/", 404, "There is no asset"},
		{"DELETE", "/operator", 405, "DELETE is not allowed on /operator"},
	} {
		resp, body := e.do(c.method, c.path, "", "")
		if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, "<h1>"+http.StatusText(c.status)+"</h1>") || !strings.Contains(body, c.want) {
			t.Errorf("%s %s = %d %q\n%s", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if resp, _ := e.do("DELETE", "/operator", "", ""); !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Errorf("405 without Allow: %v", resp.Header)
	}
	if resp, body := e.do("GET", "/v1/no-such", "", ""); resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
		t.Errorf("GET /v1/no-such = %d %s", resp.StatusCode, body)
	}
}
