package v1_test

import (
	"context"
	"encoding/json"
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
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

type linksEnv struct {
	t   *testing.T
	srv *httptest.Server
	key *auth.Key
	now time.Time
}

func (e *linksEnv) token(tenant, object string, roles []string, partners ...string) string {
	tok, err := e.key.Mint(auth.Claims{TenantID: tenant, ObjectID: object, IDType: "user", Roles: roles, PartnerIDs: partners}, e.now, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *linksEnv) do(method, path, token, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func items(m map[string]any) []any { v, _ := m["items"].([]any); return v }

func newLinksEnv(t *testing.T, db *store.DB) *linksEnv {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key, err := auth.LoadOrCreateKey(ctx, db, clock)
	if err != nil {
		t.Fatal(err)
	}
	d := api.Deps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock, Authenticate: auth.NewVerifier(key, clock).Authenticate,
		Webhooks: &webhook.Store{DB: db, Now: clock, Policy: webhook.Policy{Resolver: webhook.StaticResolver{
			"receiver.example": {"93.184.215.14"}, "evil.example": {"93.184.215.15"}, "internal.example": {"10.0.0.7"}}}}}
	mux := api.NewMux()
	v1.Register(mux, d)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, o := range []directory.Organisation{
		{ID: "4000000", Name: "Contoso", Locations: []directory.Location{{ID: "4000001", Name: "Contoso UK"}, {ID: "4000002", Name: "Contoso DE"}}},
		{ID: "5000000", Name: "Fabrikam", Locations: []directory.Location{{ID: "5000001", Name: "Fabrikam US"}}},
	} {
		if err := (directory.Store{DB: db}).Put(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	svc := &link.Store{DB: db, Now: clock}
	for _, l := range []struct{ tenant, object, partner string }{{"ta", "p1", "4000001"}, {"ta", "p2", "4000002"}, {"tb", "p3", "5000001"}} {
		if _, err := svc.Create(ctx, link.Caller{TenantID: l.tenant, ObjectID: l.object, IDType: "user", RequestID: "r-" + l.object}, l.partner); err != nil {
			t.Fatalf("create %v: %v", l, err)
		}
	}
	return &linksEnv{t: t, srv: srv, key: key, now: now}
}

func TestV1LinksViewsAndDenials(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLinksEnv(t, db)
		adminA := e.token("ta", "admin", []string{"customer-admin"})
		adminB := e.token("tb", "admin", []string{"customer-admin"})
		p1 := e.token("ta", "p1", nil)
		p2 := e.token("ta", "p2", nil)
		loc1 := e.token("pt", "x", []string{"partner"}, "4000001")
		org := e.token("pt", "y", []string{"partner"}, "4000000")
		op := e.token("ops", "o", []string{"operator"})

		check := func(name string, got, want int) {
			t.Helper()
			if got != want {
				t.Errorf("%s: status %d, want %d", name, got, want)
			}
		}
		st, body := e.do("GET", "/v1/tenants/ta/links", adminA, "")
		check("admin A reads tenant A", st, 200)
		if n := len(items(body)); n != 2 {
			t.Errorf("tenant A links = %d, want 2: %v", n, body)
		}
		st, _ = e.do("GET", "/v1/tenants/tb/links", adminA, "")
		check("admin A reads tenant B", st, 403)
		st, _ = e.do("GET", "/v1/tenants/ta/links", p1, "")
		check("plain principal reads tenant links", st, 403)
		st, body = e.do("GET", "/v1/tenants/tb/links", adminB, "")
		check("admin B reads tenant B", st, 200)
		if n := len(items(body)); n != 1 {
			t.Errorf("tenant B links = %d, want 1", n)
		}

		st, body = e.do("GET", "/v1/partners/4000001/links", loc1, "")
		check("location partner reads its links", st, 200)
		if n := len(items(body)); n != 1 {
			t.Errorf("location 4000001 links = %d, want 1", n)
		}
		st, _ = e.do("GET", "/v1/partners/4000002/links", loc1, "")
		check("location partner reads sibling location", st, 403)
		st, _ = e.do("GET", "/v1/partners/4000000/links", loc1, "")
		check("location partner reads whole organisation", st, 403)
		st, _ = e.do("GET", "/v1/partners/5000001/links", org, "")
		check("partner reads another partner", st, 403)
		st, body = e.do("GET", "/v1/partners/4000000/links", org, "")
		check("organisation partner reads its organisation", st, 200)
		if n := len(items(body)); n != 2 {
			t.Errorf("organisation links = %d, want 2 (across its locations)", n)
		}
		st, _ = e.do("GET", "/v1/partners/5000001/links", op, "")
		check("operator reads any partner", st, 200)

		st, _ = e.do("GET", "/v1/tenants/ta/links/p1/history", p1, "")
		check("principal reads own history", st, 200)
		st, _ = e.do("GET", "/v1/tenants/ta/links/p1/history", p2, "")
		check("other principal reads history", st, 403)
		st, body = e.do("GET", "/v1/tenants/ta/links/p1/history", adminA, "")
		check("admin reads history", st, 200)
		if h := items(body); len(h) != 1 || h[0].(map[string]any)["toPartnerId"] != "4000001" || h[0].(map[string]any)["requestId"] != "r-p1" {
			t.Errorf("history = %v", body)
		}

		if st, doc := e.do("GET", "/v1/openapi.json", "", ""); st != 200 || doc["openapi"] != "3.1.0" {
			t.Errorf("GET /v1/openapi.json without a token = %d, want 200 and the document", st)
		}

		// Token problems: none, expired, wrong key.
		st, _ = e.do("GET", "/v1/tenants/ta/links", "", "")
		check("no token", st, 401)
		expired, _ := e.key.Mint(auth.Claims{TenantID: "ta", ObjectID: "admin", Roles: []string{"customer-admin"}}, e.now.Add(-3*time.Hour), time.Hour)
		st, _ = e.do("GET", "/v1/tenants/ta/links", expired, "")
		check("expired token", st, 401)
		st, _ = e.do("GET", "/v1/tenants/ta/links", adminA[:len(adminA)-4]+"AAAA", "")
		check("bad signature", st, 401)
	})
}

func TestV1EventsWebhooksAndDirectory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLinksEnv(t, db)
		adminA := e.token("ta", "admin", []string{"customer-admin"})
		adminB := e.token("tb", "admin", []string{"customer-admin"})
		op := e.token("ops", "o", []string{"operator"})
		org := e.token("pt", "y", []string{"partner"}, "4000000")

		st, body := e.do("GET", "/v1/tenants/ta/events?limit=1", adminA, "")
		if st != 200 || len(items(body)) != 1 || body["next"] == nil {
			t.Fatalf("events page 1 = %d %v", st, body)
		}
		st, body2 := e.do("GET", "/v1/tenants/ta/events?limit=1&after="+body["next"].(string), adminA, "")
		if st != 200 || len(items(body2)) != 1 || body2["next"] != nil {
			t.Fatalf("events page 2 = %d %v", st, body2)
		}
		if ev := items(body2)[0].(map[string]any); ev["type"] != "link.created" || ev["tenantId"] != "ta" {
			t.Errorf("event = %v", ev)
		}
		if st, _ := e.do("GET", "/v1/tenants/ta/events", adminB, ""); st != 403 {
			t.Errorf("admin B reads A's events: %d, want 403", st)
		}
		if st, _ := e.do("GET", "/v1/tenants/ta/events?limit=0", adminA, ""); st != 400 {
			t.Errorf("limit=0: %d, want 400", st)
		}

		st, hook := e.do("POST", "/v1/tenants/ta/webhooks", adminA, `{"url":"https://receiver.example/hook"}`)
		if st != 201 || !strings.HasPrefix(hook["secret"].(string), "whsec_") {
			t.Fatalf("create webhook = %d %v", st, hook)
		}
		if st, _ := e.do("POST", "/v1/tenants/ta/webhooks", adminA, `{"url":"http://receiver.example/hook"}`); st != 400 {
			t.Errorf("plain http webhook: %d, want 400", st)
		}
		if st, _ := e.do("POST", "/v1/tenants/ta/webhooks", adminB, `{"url":"https://evil.example/"}`); st != 403 {
			t.Errorf("admin B adds a webhook to A: %d, want 403", st)
		}
		st, list := e.do("GET", "/v1/tenants/ta/webhooks", adminA, "")
		if st != 200 || len(items(list)) != 1 || items(list)[0].(map[string]any)["secret"] != nil {
			t.Errorf("list webhooks = %d %v (secret must not be listed)", st, list)
		}
		id := hook["id"].(string)
		if st, _ := e.do("DELETE", "/v1/tenants/tb/webhooks/"+id, adminB, ""); st != 404 {
			t.Errorf("admin B deletes A's webhook via B's path: %d, want 404", st)
		}
		if st, _ := e.do("DELETE", "/v1/tenants/ta/webhooks/"+id, adminB, ""); st != 403 {
			t.Errorf("admin B deletes A's webhook: %d, want 403", st)
		}
		if st, _ := e.do("DELETE", "/v1/tenants/ta/webhooks/"+id, adminA, ""); st != 204 {
			t.Errorf("delete webhook: %d, want 204", st)
		}

		put := `{"name":"Northwind","tenantIds":["NT"],"locations":[{"id":"6000001","name":"Northwind FR","country":"FR","active":[{"from":"2026-01-01","to":null}]}]}`
		if st, _ := e.do("PUT", "/v1/partners/6000000", adminA, put); st != 403 {
			t.Errorf("non-operator PUT partner: %d, want 403", st)
		}
		st, p := e.do("PUT", "/v1/partners/6000000", op, put)
		if st != 200 || p["name"] != "Northwind" || len(p["locations"].([]any)) != 1 {
			t.Fatalf("operator PUT partner = %d %v", st, p)
		}
		if st, _ := e.do("PUT", "/v1/partners/6000000", op, `{"name":"x","locations":[{"id":"6000001","active":[{"from":"2026-02-01","to":"2026-01-01"}]}]}`); st != 400 {
			t.Errorf("inverted window: %d, want 400", st)
		}
		if st, _ := e.do("GET", "/v1/partners/4000000", org, ""); st != 200 {
			t.Errorf("partner reads own organisation: %d", st)
		}
		if st, _ := e.do("GET", "/v1/partners/6000000", org, ""); st != 403 {
			t.Errorf("partner reads other organisation: %d, want 403", st)
		}
		if st, _ := e.do("GET", "/v1/partners/nope", org, ""); st != 403 {
			t.Errorf("partner reads unknown organisation: %d, want 403 (no probing)", st)
		}
		st, all := e.do("GET", "/v1/partners", org, "")
		if st != 200 || len(items(all)) != 1 {
			t.Errorf("partner lists directory = %d %v, want only its own organisation", st, all)
		}
		st, all = e.do("GET", "/v1/partners", op, "")
		if st != 200 || len(items(all)) != 3 {
			t.Errorf("operator lists directory = %d, %d items, want 3", st, len(items(all)))
		}
		if st, _ := e.do("GET", "/v1/partners", adminA, ""); st != 403 {
			t.Errorf("customer admin lists directory: %d, want 403", st)
		}
	})
}

func TestOpenAPIDocumentMergesFragments(t *testing.T) {
	doc, err := v1.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		OpenAPI    string                     `json:"openapi"`
		Paths      map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatalf("merged document is not valid JSON: %v", err)
	}
	for _, p := range []string{"/v1/partners", "/v1/partners/{id}", "/v1/partners/{id}/links", "/v1/tenants/{tenantId}/links",
		"/v1/tenants/{tenantId}/events", "/v1/tenants/{tenantId}/webhooks", "/v1/openapi.json"} {
		if _, ok := parsed.Paths[p]; !ok {
			t.Errorf("path %s missing from the merged document", p)
		}
	}
	for _, s := range []string{"Partner", "Link", "Event", "Webhook", "Problem"} {
		if _, ok := parsed.Components.Schemas[s]; !ok {
			t.Errorf("schema %s missing", s)
		}
	}
	// Every local $ref must resolve.
	var all any
	_ = json.Unmarshal(doc, &all)
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
				cur := all
				for _, p := range parts {
					m, _ := cur.(map[string]any)
					cur = m[p]
				}
				if cur == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(all)
}
