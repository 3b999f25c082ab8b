package estatefile_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

// A link an import backfills is a change like one made through the API: it has a history row
// and a link.backfilled event, which reaches the tenant's webhooks. Both import paths: the bulk
// load of a first import, and the general path of a later one (which here moves the link).
func TestBackfilledLinkReachesWebhooks(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const tenant, object = "11111111-0000-4000-8000-000000000001", "33333333-0000-4000-8000-000000000002"
		var mu sync.Mutex
		var got []webhook.Event
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var p webhook.Payload
			if err := json.Unmarshal(body, &p); err != nil {
				t.Errorf("delivery body %s: %v", body, err)
			}
			mu.Lock()
			got = append(got, p.Event)
			mu.Unlock()
		}))
		defer srv.Close()
		policy := webhook.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		if _, err := (&webhook.Store{DB: db, Policy: policy, Now: now}).Create(ctx, tenant, srv.URL); err != nil {
			t.Fatal(err)
		}
		worker := &webhook.Worker{DB: db, Policy: policy, Now: now}
		deliver := func() []webhook.Event {
			t.Helper()
			mu.Lock()
			got = nil
			mu.Unlock()
			if _, err := worker.Fanout(ctx); err != nil {
				t.Fatal(err)
			}
			if res, err := worker.DeliverDue(ctx); err != nil || res.Delivered != 1 {
				t.Fatalf("deliveries: %+v, %v; want one delivered", res, err)
			}
			mu.Lock()
			defer mu.Unlock()
			return got
		}
		data, err := os.ReadFile("testdata/snapshot1.json")
		if err != nil {
			t.Fatal(err)
		}

		// The first import takes the bulk path.
		clock = clock.Add(time.Hour)
		if _, err := estatefile.Import(ctx, db, strings.NewReader(string(data)), "s1.json", estatefile.Options{Now: now}); err != nil {
			t.Fatal(err)
		}
		checkBackfill(t, deliver(), tenant, object, "", "4100001", 1)

		// A later import moves the link: the general path.
		moved := strings.Replace(string(data), `"partnerId": "4100001", "from": "2026-01-01T00:00:00Z", "to": null}
  ]`, `"partnerId": "4100002", "from": "2026-01-01T00:00:00Z", "to": null}
  ]`, 1)
		if moved == string(data) {
			t.Fatal("the test file's link is not where the test expects it")
		}
		clock = clock.Add(time.Hour)
		if _, err := estatefile.Import(ctx, db, strings.NewReader(moved), "s2.json", estatefile.WithoutBulk(estatefile.Options{Now: now})); err != nil {
			t.Fatal(err)
		}
		checkBackfill(t, deliver(), tenant, object, "4100001", "4100002", 2)

		history, err := (&link.Store{DB: db}).History(ctx, tenant, object)
		if err != nil || len(history) != 2 || history[0].Action != link.ActionBackfill || history[1].By != "import" {
			t.Fatalf("history = %+v, %v; want two backfills by import", history, err)
		}
	})
}

// checkBackfill wants exactly one delivered event: object's link backfilled from one partner
// to another, at version.
func checkBackfill(t *testing.T, events []webhook.Event, tenant, object, from, to string, version int) {
	t.Helper()
	if len(events) != 1 {
		t.Fatalf("%d events delivered, want one: %+v", len(events), events)
	}
	e := events[0]
	var data struct {
		ObjectID      string `json:"objectId"`
		Action        string `json:"action"`
		FromPartnerID string `json:"fromPartnerId"`
		ToPartnerID   string `json:"toPartnerId"`
		Version       int    `json:"version"`
	}
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatalf("event data %s: %v", e.Data, err)
	}
	if e.Type != "link.backfilled" || e.TenantID != tenant || data.ObjectID != object || data.Action != "backfill" ||
		data.FromPartnerID != from || data.ToPartnerID != to || data.Version != version {
		t.Fatalf("delivered %s %s %+v; want link.backfilled of %s from %q to %q, version %d", e.Type, e.TenantID, data, object, from, to, version)
	}
}
