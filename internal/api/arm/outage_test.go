package arm_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/managementpartner/armmanagementpartner"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// downDB is a PostgreSQL database that cannot be reached: the real driver and the real
// dialect, and a port nothing listens on.
func downDB(t *testing.T, up *store.DB) *store.DB {
	t.Helper()
	pool, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:1/none?connect_timeout=2&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return store.New(pool, up.Dialect, "down")
}

// A database outage is 503 in ARM's error shape with Retry-After, and Azure's own SDK retries
// it: the first GET meets the outage, the retry the recovered server.
func TestOutageIs503AndTheAzureSDKRetries(t *testing.T) {
	f := setup(t, storetest.Postgres(t))
	pc, _, _ := f.clients(t, ann)
	if _, err := pc.Create(context.Background(), "4100001", nil); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	key, err := auth.LoadOrCreateKey(context.Background(), f.db, clock)
	if err != nil {
		t.Fatal(err)
	}
	down := server.Handler(api.Deps{DB: downDB(t, f.db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock,
		Authenticate: auth.NewVerifier(key, clock).Authenticate})
	up := f.srv.Config.Handler
	var calls atomic.Int32
	var first struct {
		status     int
		retryAfter string
		body       map[string]map[string]string
	}
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			up.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		down.ServeHTTP(rec, r)
		first.status, first.retryAfter = rec.Code, rec.Header().Get("Retry-After")
		_ = json.Unmarshal(rec.Body.Bytes(), &first.body)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer flaky.Close()
	f.srv = flaky

	// Without retries the SDK reports the 503 as ARM's ServiceUnavailable.
	pc, _, _ = f.clients(t, ann)
	_, err = pc.Get(context.Background(), "4100001", nil)
	respErr(t, err, http.StatusServiceUnavailable, "ServiceUnavailable", "try again")
	if first.retryAfter == "" || first.body["error"]["code"] != "ServiceUnavailable" {
		t.Fatalf("outage answer: %d Retry-After %q %v", first.status, first.retryAfter, first.body)
	}

	// With the SDK's retry policy (Retry-After honoured: a delay above MaxRetryDelay would not be retried) it succeeds.
	calls.Store(0)
	opts := &azarm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: f.srv.URL, Audience: auth.Audience}}},
		InsecureAllowCredentialWithHTTP: true,
		Retry:                           policy.RetryOptions{MaxRetries: 2, MaxRetryDelay: 10 * time.Second},
	}}
	client, err := armmanagementpartner.NewPartnerClient(staticToken(f.token(t, ann)), opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.Get(context.Background(), "4100001", nil)
	if err != nil || got.Properties == nil || *got.Properties.PartnerID != "4100001" {
		t.Fatalf("Get with retries = %+v, %v", got, err)
	}
	if n := calls.Load(); n != 2 || first.status != http.StatusServiceUnavailable {
		t.Fatalf("%d requests (first answered %d); want the 503 retried once", n, first.status)
	}
}
