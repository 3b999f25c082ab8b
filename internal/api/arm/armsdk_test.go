package arm_test

// These tests drive a real partnerlink HTTP server on loopback with Azure's own Go SDK
// (armmanagementpartner). They live in a _test package so the SDK never enters the binary.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/managementpartner/armmanagementpartner"
	"github.com/golang-jwt/jwt/v5"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

const (
	tenant = "11111111-0000-4000-8000-000000000001"
	ann    = "33333333-0000-4000-8000-000000000002"
	bob    = "33333333-0000-4000-8000-0000000000b0"
	group  = "33333333-0000-4000-8000-000000000001"
)

var now = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	db  *store.DB
	srv *httptest.Server
	key *auth.Key
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open("../../estatefile/testdata/snapshot1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	clock := func() time.Time { return now }
	if _, err := estatefile.Import(ctx, db, f, "snapshot1.json", estatefile.Options{Now: clock}); err != nil {
		t.Fatal(err)
	}
	// A location that closed at the end of 2025, and drop the estate's backfilled link so that
	// the tests start from no link.
	for _, q := range []string{
		`INSERT INTO partner_locations (id, org_id, name, country) VALUES ('4100003', '4100000', 'Contoso Austria', 'AT')`,
		`INSERT INTO partner_location_active (location_id, valid_from, valid_to) VALUES ('4100003', 1704067200000000000, 1767225600000000000)`,
		`DELETE FROM links`, `DELETE FROM link_spans`, `DELETE FROM link_history`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	key, err := auth.LoadOrCreateKey(ctx, db, clock)
	if err != nil {
		t.Fatal(err)
	}
	d := api.Deps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock,
		Authenticate: auth.NewVerifier(key, clock).Authenticate}
	srv := httptest.NewServer(server.Handler(d))
	t.Cleanup(srv.Close)
	return &fixture{db: db, srv: srv, key: key}
}

func (f *fixture) token(t *testing.T, oid string) string {
	t.Helper()
	tok, err := f.key.Mint(auth.Claims{TenantID: tenant, ObjectID: oid, IDType: "user"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type staticToken string

func (s staticToken) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: now.Add(time.Hour)}, nil
}

func (f *fixture) clients(t *testing.T, oid string) (*armmanagementpartner.PartnerClient, *armmanagementpartner.PartnersClient, *armmanagementpartner.OperationClient) {
	t.Helper()
	opts := &azarm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: f.srv.URL, Audience: auth.Audience}}},
		InsecureAllowCredentialWithHTTP: true,
		Retry:                           policy.RetryOptions{MaxRetries: -1},
	}}
	cred := staticToken(f.token(t, oid))
	pc, err := armmanagementpartner.NewPartnerClient(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	psc, _ := armmanagementpartner.NewPartnersClient(cred, opts)
	oc, _ := armmanagementpartner.NewOperationClient(cred, opts)
	return pc, psc, oc
}

func respErr(t *testing.T, err error, status int, code string, contains ...string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an *azcore.ResponseError", err)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("got %d %s, want %d %s: %v", re.StatusCode, re.ErrorCode, status, code, err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error lacks %q: %v", c, err)
		}
	}
}

func TestAzureSDKLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		pc, psc, oc := f.clients(t, ann)

		got, err := pc.Create(ctx, "4100001", nil)
		if err != nil {
			t.Fatal(err)
		}
		p := got.Properties
		if *got.ID != "/providers/microsoft.managementpartner/partners/4100001" || *got.Name != "4100001" || *got.Etag != 1 ||
			*got.Type != "Microsoft.ManagementPartner/partners" || *p.PartnerID != "4100001" || *p.PartnerName != "Contoso Germany" ||
			*p.TenantID != tenant || *p.ObjectID != ann || *p.Version != 1 || *p.State != armmanagementpartner.ManagementPartnerStateActive {
			t.Fatalf("create returned %+v %+v", got.PartnerResponse, *p)
		}
		created := *p.CreatedTime
		again, err := pc.Create(ctx, "4100001", nil)
		if err != nil || *again.Etag != 1 {
			t.Fatalf("repeated create: etag %v, %v", again.Etag, err)
		}
		_, err = pc.Create(ctx, "4100002", nil)
		respErr(t, err, 409, "Conflict", "4100001", "PATCH")

		if g, err := pc.Get(ctx, "4100001", nil); err != nil || *g.Properties.State != "Active" {
			t.Fatalf("get: %v", err)
		}
		_, err = pc.Get(ctx, "4100002", nil)
		respErr(t, err, 404, "NotFound")
		if g, err := psc.Get(ctx, nil); err != nil || *g.Name != "4100001" {
			t.Fatalf("partners get: %v", err)
		}

		moved, err := pc.Update(ctx, "4100002", nil)
		if err != nil {
			t.Fatal(err)
		}
		if *moved.Etag != 2 || *moved.Properties.PartnerID != "4100002" || !moved.Properties.CreatedTime.Equal(created) {
			t.Fatalf("update returned etag %d partner %s created %v (want %v)", *moved.Etag, *moved.Properties.PartnerID, moved.Properties.CreatedTime, created)
		}
		_, err = pc.Delete(ctx, "4100001", nil)
		respErr(t, err, 404, "NotFound", "4100001")
		if _, err := pc.Delete(ctx, "4100002", nil); err != nil {
			t.Fatal(err)
		}
		_, err = psc.Get(ctx, nil)
		respErr(t, err, 404, "NotFound")
		_, err = pc.Update(ctx, "4100001", nil)
		respErr(t, err, 404, "NotFound")

		// Re-creating after a delete continues the version sequence; history has every step.
		if re, err := pc.Create(ctx, "4100001", nil); err != nil || *re.Etag != 4 {
			t.Fatalf("re-create: %v %v", re.Etag, err)
		}
		var n int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM link_history WHERE object_id = $1`, ann).Scan(&n)
		var events int
		// The API's events (the estate import's link.backfilled events are of other principals).
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND type <> 'link.backfilled'`, tenant).Scan(&events)
		if n != 4 || events != 4 {
			t.Fatalf("%d history rows and %d events, want 4 each", n, events)
		}

		pager := oc.NewListPager(nil)
		var ops []string
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Value {
				ops = append(ops, *o.Name)
			}
		}
		if len(ops) != 4 || ops[0] != "Microsoft.ManagementPartner/partners/read" {
			t.Fatalf("operations: %v", ops)
		}
	})
}

func TestAzureSDKHelpfulErrors(t *testing.T) {
	f := setup(t, storetest.SQLite(t))
	ctx := context.Background()
	pc, _, _ := f.clients(t, bob)
	_, err := pc.Create(ctx, "4100000", nil)
	respErr(t, err, 400, "BadRequest", "organisation ID of Contoso Cloud", "4100001 (Contoso Germany)", "4100002 (Contoso France)")
	_, err = pc.Create(ctx, "9999999", nil)
	respErr(t, err, 400, "BadRequest", "no partner location has the ID 9999999")
	_, err = pc.Create(ctx, "4100003", nil)
	respErr(t, err, 400, "BadRequest", "inactive since 2026-01-01T00:00:00Z")
	groupClient, _, _ := f.clients(t, group)
	_, err = groupClient.Create(ctx, "4100001", nil)
	respErr(t, err, 400, "BadRequest", "groups cannot be linked")
}

func do(t *testing.T, method, url, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestDenials(t *testing.T) {
	f := setup(t, storetest.SQLite(t))
	base := f.srv.URL + "/providers/Microsoft.ManagementPartner/partners/4100001?api-version=2018-02-01"
	annTok, bobTok := f.token(t, ann), f.token(t, bob)
	if resp, body := do(t, "PUT", base, annTok); resp.StatusCode != 200 || resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("x-ms-correlation-request-id") == "" {
		t.Fatalf("ann's PUT = %d %s", resp.StatusCode, body)
	}
	// Another principal sees and changes only its own link, never ann's.
	if resp, _ := do(t, "GET", base, bobTok); resp.StatusCode != 404 {
		t.Errorf("bob reading: %d, want 404 (bob has no link)", resp.StatusCode)
	}
	if resp, _ := do(t, "DELETE", base, bobTok); resp.StatusCode != 404 {
		t.Errorf("bob deleting: %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", base, annTok); resp.StatusCode != 200 {
		t.Errorf("ann's link is gone after bob's attempts: %d", resp.StatusCode)
	}

	other, _ := auth.LoadOrCreateKey(context.Background(), storetest.SQLite(t), func() time.Time { return now })
	forged, _ := other.Mint(auth.Claims{TenantID: tenant, ObjectID: ann}, now, time.Hour)
	expired, _ := f.key.Mint(auth.Claims{TenantID: tenant, ObjectID: ann}, now.Add(-3*time.Hour), time.Hour)
	wrongAud := func() string {
		c := auth.Claims{TenantID: tenant, ObjectID: ann}
		c.Issuer, c.Audience, c.ExpiresAt = auth.Issuer, jwt.ClaimStrings{"https://management.azure.com"}, jwt.NewNumericDate(now.Add(time.Hour))
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = f.key.ID
		s, _ := f.key.SignRaw(tok)
		return s
	}()
	none := func() string {
		c := auth.Claims{TenantID: tenant, ObjectID: ann}
		c.Issuer, c.Audience, c.ExpiresAt = auth.Issuer, jwt.ClaimStrings{auth.Audience}, jwt.NewNumericDate(now.Add(time.Hour))
		s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	hmac := func() string {
		c := auth.Claims{TenantID: tenant, ObjectID: ann}
		c.Issuer, c.Audience, c.ExpiresAt = auth.Issuer, jwt.ClaimStrings{auth.Audience}, jwt.NewNumericDate(now.Add(time.Hour))
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		tok.Header["kid"] = f.key.ID
		s, _ := tok.SignedString([]byte("guessable"))
		return s
	}()
	for name, tok := range map[string]string{"no token": "", "other key": forged, "expired": expired, "wrong audience": wrongAud, "alg none": none, "HS256": hmac, "garbage": "abc.def.ghi"} {
		resp, body := do(t, "DELETE", base, tok)
		if resp.StatusCode != 401 || !strings.Contains(body, `"code":"Unauthorized"`) {
			t.Errorf("%s: %d %s, want 401 Unauthorized", name, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, "GET", base, annTok); resp.StatusCode != 200 {
		t.Fatal("a rejected token changed the link")
	}
	resp, body := do(t, "GET", strings.Replace(base, "2018-02-01", "2020-01-01", 1), annTok)
	if resp.StatusCode != 400 || !strings.Contains(body, "InvalidApiVersionParameter") || !strings.Contains(body, "2018-02-01") {
		t.Errorf("wrong api-version: %d %s", resp.StatusCode, body)
	}
}
