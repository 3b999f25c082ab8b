package server_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Caller kinds of the authorization matrix. Own means Contoso (organisation 4000000, its
// location 4000001 linked in tenant A by the principal self); other means Fabrikam or tenant B.
const (
	anonymous      = "anonymous"
	badToken       = "bad token"
	expired        = "expired"
	partnerEmpty   = "partner with an empty partner ID"
	operator       = "operator"
	partnerOwn     = "partner of own org"
	partnerOther   = "partner of another org"
	customerOwn    = "customer of own tenant"
	customerOther  = "customer of another tenant"
	principalSelf  = "principal (linked itself)"
	principalOther = "principal (another one)"
)

var callers = []string{anonymous, badToken, expired, partnerEmpty, operator, partnerOwn, partnerOther, customerOwn, customerOther, principalSelf, principalOther}

// unauthenticated callers get 401 from the APIs and the sign-in page from the dashboard.
var unauthenticated = map[string]bool{anonymous: true, badToken: true, expired: true, partnerEmpty: true}

const wid = "matrix-webhook"

// row is one endpoint: the request the matrix sends and the status each caller must get.
// Callers not in allow get deny (403) when authenticated; unauthenticated callers get 401
// from the APIs, a redirect to the sign-in page (GET) or 401 (POST) from the dashboard.
type row struct {
	method, path, body, ctype string
	public                    bool           // every caller gets want[operator]
	allow                     map[string]int // status for the callers that may
	deny                      int            // status for the others (0: 403)
	csrf, signin              bool           // a dashboard form (with the caller's CSRF token) / the sign-in form
}

func allowed(status int, who ...string) map[string]int {
	m := map[string]int{}
	for _, w := range who {
		m[w] = status
	}
	return m
}

var authenticatedCallers = []string{operator, partnerOwn, partnerOther, customerOwn, customerOther, principalSelf, principalOther}

const usageCSV = "ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,SubAccountId,ChargeCategory\n" +
	"2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1.25,USD,/subscriptions/11111111-2222-3333-4444-555555555555,Usage\n"

var matrix = map[string]row{
	"GET /healthz":         {path: "/healthz", public: true, allow: allowed(200, operator)},
	"GET /metrics":         {path: "/metrics", public: true, allow: allowed(200, operator)},
	"GET /static/":         {path: "/static/app.css", public: true, allow: allowed(200, operator)},
	"GET /signin":          {path: "/signin", public: true, allow: allowed(200, operator)},
	"GET /v1/openapi.json": {path: "/v1/openapi.json", public: true, allow: allowed(200, operator)},

	"GET /v1/partners":                 {path: "/v1/partners", allow: allowed(200, operator, partnerOwn, partnerOther)},
	"GET /v1/partners/{id}":            {path: "/v1/partners/4000000", allow: allowed(200, operator, partnerOwn)},
	"PUT /v1/partners/{id}":            {method: "PUT", path: "/v1/partners/6000000", body: `{"name":"New partner"}`, allow: allowed(200, operator)},
	"GET /v1/tenants/{tenantId}/links": {path: "/v1/tenants/" + tenantA + "/links", allow: allowed(200, operator, customerOwn)},
	"GET /v1/tenants/{tenantId}/links/{objectId}/history": {path: "/v1/tenants/" + tenantA + "/links/" + self + "/history",
		allow: allowed(200, operator, customerOwn, principalSelf)},
	"GET /v1/partners/{id}/links":         {path: "/v1/partners/4000000/links", allow: allowed(200, operator, partnerOwn)},
	"GET /v1/tenants/{tenantId}/events":   {path: "/v1/tenants/" + tenantA + "/events", allow: allowed(200, operator, customerOwn)},
	"GET /v1/tenants/{tenantId}/webhooks": {path: "/v1/tenants/" + tenantA + "/webhooks", allow: allowed(200, operator, customerOwn)},
	"POST /v1/tenants/{tenantId}/webhooks": {method: "POST", path: "/v1/tenants/" + tenantA + "/webhooks", body: `{"url":"https://hooks.example.com/m"}`,
		allow: allowed(201, operator, customerOwn)},
	"DELETE /v1/tenants/{tenantId}/webhooks/{webhookId}": {method: "DELETE", path: "/v1/tenants/" + tenantA + "/webhooks/" + wid,
		allow: allowed(204, operator, customerOwn)},
	"GET /v1/tenants":                          {path: "/v1/tenants", allow: allowed(200, operator, customerOwn, customerOther)},
	"GET /v1/tenants/{tenantId}/subscriptions": {path: "/v1/tenants/" + tenantA + "/subscriptions", allow: allowed(200, operator, customerOwn)},
	"GET /v1/tenants/{tenantId}/principals":    {path: "/v1/tenants/" + tenantA + "/principals", allow: allowed(200, operator, customerOwn)},
	"GET /v1/tenants/{tenantId}/assignments":   {path: "/v1/tenants/" + tenantA + "/assignments", allow: allowed(200, operator, customerOwn)},
	"POST /v1/usage":                           {method: "POST", path: "/v1/usage?name=m.csv", body: usageCSV, ctype: "text/csv", allow: allowed(201, operator)},
	"GET /v1/explain": {path: "/v1/explain?partner=4000001&subscription=" + subA + "&at=2026-03-01",
		allow: allowed(200, operator, partnerOwn, customerOwn)},
	"GET /v1/attributions": {path: "/v1/attributions?from=2026-03-01&to=2026-04-01&partner=4000001",
		allow: allowed(200, operator, partnerOwn, customerOwn, customerOther)},
	"GET /v1/incentives":                   {path: "/v1/incentives?from=2026-03-01&to=2026-04-01&partner=4000001", allow: allowed(200, operator, partnerOwn)},
	"GET /v1/reports/partners/{id}":        {path: "/v1/reports/partners/4000000", allow: allowed(200, operator, partnerOwn)},
	"GET /v1/reports/customers/{tenantId}": {path: "/v1/reports/customers/" + tenantA, allow: allowed(200, operator, customerOwn)},
	"GET /v1/reports/operator":             {path: "/v1/reports/operator", allow: allowed(200, operator)},
	"GET /v1/partners/{id}/audit": {path: "/v1/partners/4000000/audit?from=2026-03-01&to=2026-04-01",
		allow: allowed(200, operator, partnerOwn)},
	// A change to the partner's own location: the operator and that partner may simulate it
	// and get past authorization to the estate check (the principal is not in the estate,
	// hence 400); nobody else may.
	"POST /v1/whatif": {method: "POST", path: "/v1/whatif", ctype: "application/json",
		body:  `{"from":"2026-03-01","to":"2026-04-01","changes":[{"op":"add-link","tenant":"` + tenantA + `","object":"` + self + `","location":"4000001"}]}`,
		allow: allowed(400, operator, partnerOwn)},
	// Version 2 facts: the operator manages identifiers and accounts; a partner reads its own.
	"GET /v1/identifiers":               {path: "/v1/identifiers", allow: allowed(200, operator, partnerOwn, partnerOther)},
	"GET /v1/partners/{id}/identifiers": {path: "/v1/partners/4000000/identifiers", allow: allowed(200, operator, partnerOwn)},
	"POST /v1/partners/{id}/identifiers": {method: "POST", path: "/v1/partners/4000001/identifiers", ctype: "application/json",
		body: `{"scheme":"aws-product-code","value":"matrix-new","from":"2026-01-01","to":null}`, allow: allowed(200, operator)},
	"DELETE /v1/identifiers/{scheme}/{value}": {method: "DELETE", path: "/v1/identifiers/aws-product-code/matrix-seed?at=2026-06-01", allow: allowed(200, operator)},
	"GET /v1/accounts":                        {path: "/v1/accounts", allow: allowed(200, operator, partnerOwn, partnerOther)},
	"GET /v1/accounts/{provider}/{id}":        {path: "/v1/accounts/aws/111122223333", allow: allowed(200, operator, partnerOwn)},
	"PUT /v1/accounts/{provider}/{id}": {method: "PUT", path: "/v1/accounts/aws/444455556666", ctype: "application/json",
		body: `{"kind":"sub","name":"m","billingAccountId":"","resale":[{"partnerId":"4000002","from":"2026-01-01","to":null}]}`, allow: allowed(200, operator)},
	"GET /v1/tenants/{tenantId}/partners": {path: "/v1/tenants/" + tenantA + "/partners?from=2026-03-01&to=2026-04-01",
		allow: allowed(200, operator, customerOwn)},

	// The dashboard: "/" sends each role to its first page; a principal has none.
	"GET /{$}":                         {path: "/", allow: allowed(303, operator, partnerOwn, partnerOther, customerOwn, customerOther)},
	"POST /signin":                     {method: "POST", path: "/signin", signin: true, allow: allowed(303, authenticatedCallers...), deny: http.StatusUnauthorized},
	"POST /signout":                    {method: "POST", path: "/signout", csrf: true, allow: allowed(303, authenticatedCallers...)},
	"GET /partners/{id}":               {path: "/partners/4000000", allow: allowed(200, operator, partnerOwn)},
	"GET /partners/{id}/explain":       {path: "/partners/4000000/explain", allow: allowed(200, operator, partnerOwn)},
	"POST /partners/{id}/explain":      {method: "POST", path: "/partners/4000000/explain", csrf: true, allow: allowed(200, operator, partnerOwn)},
	"GET /customers/{tenant}":          {path: "/customers/" + tenantA, allow: allowed(200, operator, customerOwn)},
	"GET /partners/{id}/coverage":      {path: "/partners/4000000/coverage", allow: allowed(200, operator, partnerOwn)},
	"GET /customers/{tenant}/partners": {path: "/customers/" + tenantA + "/partners", allow: allowed(200, operator, customerOwn)},
	"POST /customers/{tenant}/webhooks": {method: "POST", path: "/customers/" + tenantA + "/webhooks", body: "url=https%3A%2F%2Fhooks.example.com%2Fd",
		csrf: true, allow: allowed(200, operator, customerOwn)},
	"POST /customers/{tenant}/webhooks/{wid}/delete": {method: "POST", path: "/customers/" + tenantA + "/webhooks/" + wid + "/delete",
		csrf: true, allow: allowed(200, operator, customerOwn)},
	"GET /operator": {path: "/operator", allow: allowed(200, operator)},

	// ARM: every principal acts on its own link only (the object ID comes from the token).
	"GET /providers/microsoft.managementpartner/operations": {path: "/providers/Microsoft.ManagementPartner/operations?api-version=2018-02-01",
		public: true, allow: allowed(200, operator)},
	"GET /providers/microsoft.managementpartner/partners": {path: "/providers/Microsoft.ManagementPartner/partners?api-version=2018-02-01",
		allow: allowed(200, principalSelf), deny: 404},
	"GET /providers/microsoft.managementpartner/partners/{partnerId}": {path: "/providers/Microsoft.ManagementPartner/partners/4000001?api-version=2018-02-01",
		allow: allowed(200, principalSelf), deny: 404},
	// Linking 4000002: every other identity links itself (200); self is linked elsewhere (409).
	"PUT /providers/microsoft.managementpartner/partners/{partnerId}": {method: "PUT", path: "/providers/Microsoft.ManagementPartner/partners/4000002?api-version=2018-02-01",
		allow: allowed(409, principalSelf), deny: 200},
	// Moving to 4000002 again: unchanged for the others (200), moves self (200).
	"PATCH /providers/microsoft.managementpartner/partners/{partnerId}": {method: "PATCH", path: "/providers/Microsoft.ManagementPartner/partners/4000002?api-version=2018-02-01",
		allow: allowed(200, principalSelf), deny: 200},
	"DELETE /providers/microsoft.managementpartner/partners/{partnerId}": {method: "DELETE", path: "/providers/Microsoft.ManagementPartner/partners/4000002?api-version=2018-02-01",
		allow: allowed(200, principalSelf), deny: 200},
}

const subA = "dddddddd-0000-4000-8000-000000000001" // a subscription of tenant A

// want is the status caller must get on r.
func (r row) want(caller string) int {
	if r.public {
		return r.allow[operator]
	}
	if unauthenticated[caller] {
		switch {
		case r.signin:
			return http.StatusUnauthorized
		case api.Surface(r.path) == "web" && r.method == "":
			return http.StatusSeeOther
		}
		return http.StatusUnauthorized
	}
	if s, ok := r.allow[caller]; ok {
		return s
	}
	if r.deny != 0 {
		return r.deny
	}
	return http.StatusForbidden
}

// The authorization matrix: every route the server serves x every kind of caller, on both
// engines. The route list comes from the router, so a new endpoint without a row fails here.
func TestAuthorizationMatrix(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, server.Options{}, nil)
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `INSERT INTO tenants (id, name) VALUES ($1, 'Tenant A')`, tenantA); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO subscriptions (id, tenant_id, offer, valid_from, valid_to) VALUES ($1, $2, 'payg', $3, $4)`,
			subA, tenantA, int64(-1)<<62, int64(1)<<62); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO webhooks (id, tenant_id, url, secret, active, created_at) VALUES ($1, $2, 'https://hooks.example.com/w', 's', TRUE, 0)`,
			wid, tenantA); err != nil {
			t.Fatal(err)
		}
		if err := (directory.Store{DB: db}).PutIdentifier(ctx, directory.Identifier{Scheme: "aws-product-code", Value: "matrix-seed", LocationID: "4000001",
			Window: timeline.Window{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), To: timeline.Max}}); err != nil {
			t.Fatal(err)
		}
		if err := (account.Store{DB: db}).Put(ctx, account.Account{Provider: "aws", ID: "111122223333", Kind: account.KindSub,
			Resale: []account.Resale{{LocationID: "4000001", Window: timeline.Always()}}}); err != nil {
			t.Fatal(err)
		}
		tokens := e.matrixTokens()

		routes := server.Routes(e.d, server.Options{})
		seen := map[string]bool{}
		for _, pattern := range routes {
			seen[pattern] = true
			r, ok := matrix[pattern]
			if !ok {
				t.Errorf("route %q has no row in the authorization matrix: add one saying who may call it", pattern)
				continue
			}
			for _, c := range callers {
				got, body := e.matrixRequest(r, tokens[c])
				if want := r.want(c); got != want {
					t.Errorf("%s as %s: %d, want %d\n%.300s", pattern, c, got, want, body)
				}
				// Nothing of Contoso or tenant A reaches another partner or tenant.
				if got < 300 && api.Surface(r.path) != "arm" && (c == partnerOther || c == customerOther || c == principalOther) &&
					(strings.Contains(body, "Contoso") || strings.Contains(body, tenantA)) {
					t.Errorf("%s as %s leaks Contoso or tenant A:\n%.300s", pattern, c, body)
				}
			}
		}
		for pattern := range matrix {
			if !seen[pattern] {
				t.Errorf("the matrix has a row for %q, which the server does not serve", pattern)
			}
		}
		// Every link change was made by the principal whose link it is.
		var foreign int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM link_history WHERE by_object_id <> '' AND by_object_id <> object_id`).Scan(&foreign); err != nil || foreign != 0 {
			t.Errorf("%d link changes made by another principal (%v)", foreign, err)
		}
	})
}

// matrixTokens mints a token per caller kind ("" for anonymous).
func (e *env) matrixTokens() map[string]string {
	partnerEmptyTok := func() string {
		c := auth.Claims{TenantID: "pt", ObjectID: "pe", Roles: []string{"partner"}, PartnerIDs: []string{"9999999", ""}}
		c.Issuer, c.Audience, c.ExpiresAt = auth.Issuer, jwt.ClaimStrings{auth.Audience}, jwt.NewNumericDate(now.Add(time.Hour))
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = e.key.ID
		s, err := e.key.SignRaw(tok)
		if err != nil {
			e.t.Fatal(err)
		}
		return s
	}()
	expiredTok, err := e.key.Mint(auth.Claims{TenantID: "ops", ObjectID: "o", Roles: []string{"operator"}}, now.Add(-3*time.Hour), time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return map[string]string{
		anonymous:      "",
		badToken:       "not.a.token",
		expired:        expiredTok,
		partnerEmpty:   partnerEmptyTok,
		operator:       e.mint(auth.Claims{TenantID: "ops", ObjectID: "o", Roles: []string{"operator"}}),
		partnerOwn:     e.mint(auth.Claims{TenantID: "pt", ObjectID: "p1", Roles: []string{"partner"}, PartnerIDs: []string{"4000000"}}),
		partnerOther:   e.mint(auth.Claims{TenantID: "pt2", ObjectID: "p2", Roles: []string{"partner"}, PartnerIDs: []string{"5000000"}}),
		customerOwn:    e.mint(auth.Claims{TenantID: tenantA, ObjectID: "admin-a", Roles: []string{"customer-admin"}}),
		customerOther:  e.mint(auth.Claims{TenantID: tenantB, ObjectID: "admin-b", Roles: []string{"customer-admin"}}),
		principalSelf:  e.mint(auth.Claims{TenantID: tenantA, ObjectID: self}),
		principalOther: e.mint(auth.Claims{TenantID: tenantA, ObjectID: "eeeeeeee-0000-4000-8000-000000000001"}),
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// matrixRequest sends r as the caller holding token: a bearer header to the APIs, the session
// cookie to the dashboard (with the session's CSRF token on forms, read from a page).
func (e *env) matrixRequest(r row, token string) (int, string) {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	var headers []string
	body := r.body
	switch {
	case r.signin:
		resp, page := e.do("GET", "/signin", "", "")
		form := url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "token": {token}}
		body = form.Encode()
		headers = append(headers, "Cookie", resp.Cookies()[0].Name+"="+resp.Cookies()[0].Value)
		token = ""
	case api.Surface(r.path) == "web":
		if token != "" {
			headers = append(headers, "Cookie", "partnerlink_session="+token)
		}
		if r.csrf {
			_, page := e.do("GET", "/operator", "", "", headers...)
			if m := csrfField.FindStringSubmatch(page); m != nil {
				if body != "" {
					body += "&"
				}
				body += "csrf=" + m[1]
			}
		}
		token = ""
	}
	ctype := r.ctype
	if ctype == "" && api.Surface(r.path) == "web" && method == http.MethodPost {
		ctype = "application/x-www-form-urlencoded"
	}
	if ctype != "" {
		headers = append(headers, "Content-Type", ctype)
	}
	resp, b := e.do(method, r.path, token, body, headers...)
	return resp.StatusCode, b
}
