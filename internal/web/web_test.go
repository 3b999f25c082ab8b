package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/web"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

const (
	tenantA = "aaaaaaaa-0000-0000-0000-000000000001"
	subA1   = "11111111-0000-0000-0000-000000000001"
	userA   = "99999999-0000-0000-0000-000000000001"
)

// tokens stand in for the real token verification (tested in internal/auth): the dashboard
// only needs api.Deps.Authenticate to turn a bearer token into an identity.
var tokens = map[string]*auth.Identity{
	"tok-partner":  {TenantID: "p-tenant", ObjectID: "p1", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"L1"}},
	"tok-partner2": {TenantID: "p-tenant", ObjectID: "p2", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"L2"}},
	"tok-admin":    {TenantID: tenantA, ObjectID: "admin", Roles: []auth.Role{auth.RoleCustomerAdmin}},
	"tok-operator": {TenantID: "op", ObjectID: "op", Roles: []auth.Role{auth.RoleOperator}},
}

func day(s string) int64 {
	t, _ := time.Parse("2006-01-02", s)
	return t.UnixNano()
}

// seed writes a small attributed world: partner L1 (org O1) with PAL, CSP and DPOR
// consumption over three months for tenant A; L2 of another organisation.
func seed(t testing.TB, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	run := func(q string, args ...any) {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	run(`INSERT INTO partner_orgs (id, name) VALUES ('O1', 'Contoso Group'), ('O2', 'Northwind')`)
	run(`INSERT INTO partner_locations (id, org_id, name) VALUES ('L1', 'O1', 'Contoso DE'), ('L2', 'O2', 'Northwind UK')`)
	run(`INSERT INTO tenants (id, name) VALUES ($1, 'Fabrikam')`, tenantA)
	ins := `INSERT INTO rollup_daily (day, location_id, org_id, association, tenant_id, subscription_id, service, admin_role, currency, amount_nanos, org_amount_nanos, records) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'EUR',$9,$9,1)`
	for i, m := range []string{"2026-01-10", "2026-02-10", "2026-03-10"} {
		n := int64(i+1) * 10_000_000_000
		run(ins, day(m), "L1", "O1", "PAL", tenantA, subA1, "Virtual Machines", "Owner", n)
		run(ins, day(m), "L1", "O1", "CSP", tenantA, subA1, "Storage", "", n/2)
		run(ins, day(m), "L2", "O2", "DPOR", tenantA, subA1, "Storage", "", n/4)
	}
	run(`INSERT INTO rollup_incentives_daily (day, location_id, org_id, program, currency, amount_nanos, records) VALUES ($1,'L1','O1','PEC','EUR',1500000000,1)`, day("2026-01-10"))
	// Rows in the layout of schemas before 620, moved into today's by the upgrade on open.
	if err := results.UpgradeRollups(ctx, db); err != nil {
		t.Fatal(err)
	}
	run(`INSERT INTO links (tenant_id, object_id, location_id, version, state, created_at, updated_at) VALUES ($1,$2,'L1',1,'Active',$3,$3)`, tenantA, userA, day("2025-12-01"))
	run(`INSERT INTO link_history (id, tenant_id, object_id, action, to_partner_id, version, at) VALUES ('h1',$1,$2,'create','L1',1,$3)`, tenantA, userA, day("2025-12-01"))
	run(`INSERT INTO principals (tenant_id, object_id, type, display_name, valid_from, valid_to) VALUES ($1,$2,'User','Ana',$3,$4)`, tenantA, userA, timeline.Min, timeline.Max)
	run(`INSERT INTO attribution_runs (id, period_from, period_to, started_at, finished_at, status) VALUES ('r1',$1,$2,$2,$2,'done')`, day("2026-01-01"), day("2026-04-01"))
	run(`INSERT INTO imports (id, kind, file_name, started_at, status) VALUES ('i1','usage','q1.csv',$1,'done')`, day("2026-04-01"))
}

func newServer(t testing.TB, db *store.DB) *httptest.Server {
	d := api.Deps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC) },
		Authenticate: func(r *http.Request) (*http.Request, error) {
			id, ok := tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				return nil, errors.New("unknown token")
			}
			return r.WithContext(auth.WithIdentity(r.Context(), id)), nil
		},
		Webhooks: &webhook.Store{DB: db, Policy: webhook.Policy{Resolver: webhook.StaticResolver{"hooks.example.com": {"93.184.215.14"}}}}}
	srv := httptest.NewServer(server.Handler(d))
	t.Cleanup(srv.Close)
	return srv
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// client signs in with token through the sign-in form and returns a cookie-carrying client.
func signIn(t *testing.T, srv *httptest.Server, token string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body := fetch(t, c, "GET", srv.URL+"/signin", nil, 200)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token in sign-in page:\n%s", body)
	}
	fetch(t, c, "POST", srv.URL+"/signin", url.Values{"csrf": {m[1]}, "token": {token}}, 200)
	return c
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values, want int) string {
	t.Helper()
	var resp *http.Response
	var err error
	if method == "POST" {
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d\n%s", method, u, resp.StatusCode, want, b)
	}
	return string(b)
}

func TestSessionAndAccess(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		srv := newServer(t, db)

		// Without a session every page sends the browser to the sign-in page.
		anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := anon.Get(srv.URL + "/partners/L1")
		if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
			t.Fatalf("anonymous partner page: %v %v", resp, err)
		}

		// The sign-in form needs its CSRF token, and a bad token is refused.
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		fetch(t, c, "GET", srv.URL+"/signin", nil, 200)
		fetch(t, c, "POST", srv.URL+"/signin", url.Values{"token": {"tok-partner"}}, 403)
		body := fetch(t, c, "GET", srv.URL+"/signin", nil, 200)
		fetch(t, c, "POST", srv.URL+"/signin", url.Values{"csrf": {csrfRE.FindStringSubmatch(body)[1]}, "token": {"wrong"}}, 401)

		p := signIn(t, srv, "tok-partner")
		u, _ := url.Parse(srv.URL)
		var session *http.Cookie
		for _, ck := range p.Jar.Cookies(u) {
			if ck.Name == "partnerlink_session" {
				session = ck
			}
		}
		if session == nil {
			t.Fatal("no session cookie")
		}
		body = fetch(t, p, "GET", srv.URL+"/partners/L1", nil, 200)
		for _, want := range []string{"Contoso DE", `id="chart-data"`, "2026-03", "Virtual Machines", "PEC", ">60.00<", `title="60 (exact)"`} {
			if !strings.Contains(body, want) {
				t.Errorf("partner page lacks %q", want)
			}
		}
		fetch(t, p, "GET", srv.URL+"/partners/L2", nil, 403)
		fetch(t, p, "GET", srv.URL+"/partners/O1", nil, 403)
		fetch(t, p, "GET", srv.URL+"/partners/nope", nil, 403)
		fetch(t, p, "GET", srv.URL+"/operator", nil, 403)
		fetch(t, p, "GET", srv.URL+"/customers/"+tenantA, nil, 403)

		a := signIn(t, srv, "tok-admin")
		body = fetch(t, a, "GET", srv.URL+"/customers/"+tenantA, nil, 200)
		if !strings.Contains(body, "Contoso DE") || !strings.Contains(body, "Ana") {
			t.Errorf("customer page lacks the attached partner:\n%s", body)
		}
		fetch(t, a, "GET", srv.URL+"/customers/bbbbbbbb-0000-0000-0000-000000000001", nil, 403)
		token := csrfRE.FindStringSubmatch(body)[1]
		// Forms without the session's CSRF token are refused, also with another session's token.
		fetch(t, a, "POST", srv.URL+"/customers/"+tenantA+"/webhooks", url.Values{"url": {"https://hooks.example.com/x"}}, 403)
		pbody := fetch(t, p, "GET", srv.URL+"/partners/L1", nil, 200)
		fetch(t, a, "POST", srv.URL+"/customers/"+tenantA+"/webhooks", url.Values{"url": {"https://hooks.example.com/x"}, "csrf": {csrfRE.FindStringSubmatch(pbody)[1]}}, 403)
		fetch(t, a, "POST", srv.URL+"/customers/"+tenantA+"/webhooks", url.Values{"url": {"http://example.com/x"}, "csrf": {token}}, 400)
		body = fetch(t, a, "POST", srv.URL+"/customers/"+tenantA+"/webhooks", url.Values{"url": {"https://hooks.example.com/x"}, "csrf": {token}}, 200)
		if !strings.Contains(body, "Signing secret") || !strings.Contains(body, "https://hooks.example.com/x") {
			t.Fatalf("webhook not listed:\n%s", body)
		}
		var id string
		if err := db.QueryRowContext(context.Background(), `SELECT id FROM webhooks WHERE tenant_id = $1`, tenantA).Scan(&id); err != nil {
			t.Fatal(err)
		}
		// The webhook gets an event, then is deleted from the dashboard: it is deactivated, its
		// pending delivery canceled, and both records kept (it was once removed with DELETE).
		if _, err := db.ExecContext(context.Background(), `INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ('ev-1', $1, 'link.created', $2, '{}')`,
			tenantA, time.Now().Add(time.Hour).UnixNano()); err != nil {
			t.Fatal(err)
		}
		if n, err := (&webhook.Worker{DB: db}).Fanout(context.Background()); err != nil || n != 1 {
			t.Fatalf("Fanout = %d, %v; want 1 delivery", n, err)
		}
		body = fetch(t, a, "POST", srv.URL+"/customers/"+tenantA+"/webhooks/"+id+"/delete", url.Values{"csrf": {token}}, 200)
		if !strings.Contains(body, "Webhook deleted") || !strings.Contains(body, "<td>no</td>") {
			t.Fatalf("after delete the webhook is not shown as inactive:\n%s", body)
		}
		counts, err := (&webhook.Store{DB: db}).DeliveryCounts(context.Background(), id)
		if err != nil || counts[webhook.StatusCanceled] != 1 {
			t.Fatalf("deliveries after a dashboard delete = %v, %v; want the one canceled and kept", counts, err)
		}
		fetch(t, a, "POST", srv.URL+"/customers/"+tenantA+"/webhooks/"+id+"x/delete", url.Values{"csrf": {token}}, 200)

		o := signIn(t, srv, "tok-operator")
		body = fetch(t, o, "GET", srv.URL+"/operator", nil, 200)
		for _, want := range []string{"Partner directory", "q1.csv", "Data-quality warnings", `href="/partners/L1"`} {
			if !strings.Contains(body, want) {
				t.Errorf("operator page lacks %q", want)
			}
		}
		fetch(t, o, "GET", srv.URL+"/partners/L2", nil, 200)
		fetch(t, o, "POST", srv.URL+"/signout", url.Values{"csrf": {csrfRE.FindStringSubmatch(body)[1]}}, 200)
		fetch(t, o, "GET", srv.URL+"/static/vendor/uPlot.iife.min.js", nil, 200)
	})
}

// TestExplainProxy: the explain box asks GET /v1/explain with the session's own token and the
// page's partner ID, and shows what was found and why not.
func TestExplainProxy(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	d := api.Deps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		Authenticate: func(r *http.Request) (*http.Request, error) {
			id, ok := tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				return nil, errors.New("unknown token")
			}
			return r.WithContext(auth.WithIdentity(r.Context(), id)), nil
		}}
	mux := api.NewMux()
	var got url.Values
	var gotAuth string
	mux.HandleFunc("GET /v1/explain", func(w http.ResponseWriter, r *http.Request) {
		got, gotAuth = r.URL.Query(), r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"partner":"L1","tenant":"`+tenantA+`","from":"2026-03-01T00:00:00Z","to":"2026-04-01T00:00:00Z","found":[{"location":"L1","org":"O1","association":"PAL","coverage":"1","admin_role":"Owner",`+
			`"chains":[[{"kind":"link","id":"L1"},{"kind":"principal","id":"`+userA+`"},{"kind":"assignment","id":"a-1","window":"[2026-03-01T00:00:00Z, 2026-04-01T00:00:00Z)"},{"kind":"role","id":"Owner"},{"kind":"scope","id":"/subscriptions/`+subA1+`"}]]}],`+
			`"reasons":[{"location":"L1","code":"eligible_never_activated","text":"assignment a-2 is eligible-only (PIM) and was never activated"}]}`)
	})
	web.Register(mux, d)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := signIn(t, srv, "tok-partner")
	page := fetch(t, c, "GET", srv.URL+"/partners/L1/explain", nil, 200)
	token := csrfRE.FindStringSubmatch(page)[1]
	fetch(t, c, "POST", srv.URL+"/partners/L1/explain", url.Values{"q": {subA1}}, 403) // no CSRF token
	body := fetch(t, c, "POST", srv.URL+"/partners/L1/explain", url.Values{"q": {subA1}, "csrf": {token}}, 200)
	if got.Get("partner") != "L1" || got.Get("subscription") != subA1 || gotAuth != "Bearer tok-partner" {
		t.Fatalf("explain asked with %v, %q", got, gotAuth)
	}
	// The chain as steps with windows; the reason in words with the fix the CLI prints.
	for _, want := range []string{"<strong>PAL</strong> for location L1 (organisation O1) · coverage 1 · admin role Owner",
		// Identities and locations by name, the ID beside them.
		`<li><span class="step">Partner admin link</span> Contoso DE <code class="id">L1</code></li>`,
		`<li><span class="step">Linked identity</span> Ana <code class="id">` + userA + `</code></li>`,
		`<span class="step">Role assignment</span> <code>a-1</code> <span class="window">[2026-03-01T00:00:00Z, 2026-04-01T00:00:00Z)</span>`,
		"<strong>L1</strong>: assignment a-2 is eligible-only (PIM) and was never activated",
		"<strong>What to do:</strong> " + attribution.Fix("eligible_never_activated")} {
		if !strings.Contains(body, want) {
			t.Errorf("explain page lacks %q:\n%s", want, body)
		}
	}
	// Input is checked before anything is asked: not a GUID, not an ARM ID.
	got = nil
	body = fetch(t, c, "POST", srv.URL+"/partners/L1/explain", url.Values{"q": {"not-a-guid"}, "csrf": {token}}, 400)
	if got != nil || !strings.Contains(body, "is neither a subscription GUID") {
		t.Errorf("explain of not-a-guid asked %v and showed:\n%s", got, body)
	}
	fetch(t, c, "POST", srv.URL+"/partners/L1/explain", url.Values{"q": {"rec-7"}, "kind": {"record"}, "csrf": {token}}, 200)
	if got.Get("record") != "rec-7" {
		t.Errorf("a record key was asked as %v", got)
	}
	fetch(t, c, "POST", srv.URL+"/partners/L2/explain", url.Values{"q": {subA1}, "csrf": {token}}, 403)
}
