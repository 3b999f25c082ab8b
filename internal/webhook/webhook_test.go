package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

// receiver fails the first failFirst attempts of every delivery ID and records successes.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	secret    string
	attempts  map[string]int    // delivery ID -> attempts seen
	ok        map[string]int    // delivery ID -> successful receipts
	events    map[string]string // delivery ID -> event ID
	badSig    int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := webhook.Verify(r.secret, req.Header.Get(webhook.HeaderSignature), body, time.Time{}, 0); err != nil {
		r.badSig++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.DeliveryID != req.Header.Get(webhook.HeaderDelivery) {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	id := p.DeliveryID
	r.attempts[id]++
	if r.attempts[id] <= r.failFirst {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.ok[id]++
	r.events[id] = p.Event.ID
	w.WriteHeader(http.StatusNoContent)
}

func TestDeliveryRetriesAndSurvivesRestart(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rcv := &receiver{failFirst: 2, secret: "s3cret", attempts: map[string]int{}, ok: map[string]int{}, events: map[string]string{}}
		srv := httptest.NewServer(rcv)
		defer srv.Close()

		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		mustExec(t, db, `INSERT INTO webhooks (id, tenant_id, url, secret, active, created_at) VALUES ('wh1', 't1', $1, 's3cret', TRUE, $2)`, srv.URL, clock.UnixNano())
		// An inactive webhook and another tenant's event must get nothing.
		mustExec(t, db, `INSERT INTO webhooks (id, tenant_id, url, secret, active, created_at) VALUES ('wh2', 't1', $1, 'x', FALSE, $2)`, srv.URL, clock.UnixNano())
		const n = 5
		for i := range n {
			mustExec(t, db, `INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ($1, 't1', 'link.created', $2, $3)`,
				fmt.Sprintf("ev%d", i), clock.UnixNano()+int64(i), fmt.Sprintf(`{"n":%d}`, i))
		}
		mustExec(t, db, `INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ('other', 't2', 'link.created', $1, '{}')`, clock.UnixNano())

		newWorker := func() *webhook.Worker {
			return &webhook.Worker{DB: db, Policy: local, Now: now, BaseDelay: time.Minute, MaxDelay: time.Hour, MaxAttempts: 5}
		}
		w1 := newWorker()
		created, err := w1.Fanout(ctx)
		if err != nil || created != n {
			t.Fatalf("Fanout = %d, %v; want %d", created, err, n)
		}
		if again, err := w1.Fanout(ctx); err != nil || again != 0 {
			t.Fatalf("second Fanout = %d, %v; want 0 (idempotent)", again, err)
		}
		res, err := w1.DeliverDue(ctx)
		if err != nil || res.Retrying != n {
			t.Fatalf("first round = %+v, %v; want %d retrying", res, err, n)
		}
		// Not due yet: the backoff after the first failure is one minute.
		clock = clock.Add(59 * time.Second)
		if res, err := w1.DeliverDue(ctx); err != nil || res != (webhook.Result{}) {
			t.Fatalf("before backoff = %+v, %v; want nothing sent", res, err)
		}

		// "Restart": a new worker instance on the same database continues.
		w2 := newWorker()
		clock = clock.Add(time.Second)
		if res, err := w2.DeliverDue(ctx); err != nil || res.Retrying != n {
			t.Fatalf("second round = %+v, %v", res, err)
		}
		clock = clock.Add(2 * time.Minute) // second backoff: 2 minutes
		if res, err := w2.DeliverDue(ctx); err != nil || res.Delivered != n {
			t.Fatalf("third round = %+v, %v; want %d delivered", res, err, n)
		}
		clock = clock.Add(24 * time.Hour)
		if res, err := newWorker().DeliverDue(ctx); err != nil || res != (webhook.Result{}) {
			t.Fatalf("after delivery = %+v, %v; want nothing more", res, err)
		}

		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if rcv.badSig != 0 {
			t.Errorf("%d requests had a bad signature", rcv.badSig)
		}
		seen := map[string]bool{}
		for id, c := range rcv.ok {
			if c != 1 {
				t.Errorf("delivery %s succeeded %d times, want exactly once", id, c)
			}
			if rcv.attempts[id] != 3 {
				t.Errorf("delivery %s: %d attempts, want 3", id, rcv.attempts[id])
			}
			seen[rcv.events[id]] = true
		}
		for i := range n {
			if !seen[fmt.Sprintf("ev%d", i)] {
				t.Errorf("event ev%d never delivered", i)
			}
		}
		if seen["other"] || len(rcv.ok) != n {
			t.Errorf("delivered %d deliveries (%v), want only tenant t1's %d events", len(rcv.ok), seen, n)
		}
		var delivered int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered' AND attempts = 3`).Scan(&delivered); err != nil || delivered != n {
			t.Errorf("stored delivered rows = %d, %v; want %d", delivered, err, n)
		}
	})
}

func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
		defer srv.Close()
		clock := time.Unix(1000, 0)
		mustExec(t, db, `INSERT INTO webhooks (id, tenant_id, url, secret, active, created_at) VALUES ('wh', 't', $1, 'k', TRUE, 0)`, srv.URL)
		mustExec(t, db, `INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ('e', 't', 'link.deleted', 1, '{}')`)
		w := &webhook.Worker{DB: db, Policy: local, Now: func() time.Time { return clock }, MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: time.Hour}
		if _, err := w.Fanout(ctx); err != nil {
			t.Fatal(err)
		}
		var last webhook.Result
		for range 3 {
			r, err := w.DeliverDue(ctx)
			if err != nil {
				t.Fatal(err)
			}
			last = r
			clock = clock.Add(time.Hour)
		}
		if last.Failed != 1 {
			t.Fatalf("third attempt = %+v, want failed", last)
		}
		var status, lastErr string
		if err := db.QueryRowContext(ctx, `SELECT status, last_error FROM webhook_deliveries`).Scan(&status, &lastErr); err != nil || status != "failed" || lastErr == "" {
			t.Fatalf("stored = %q %q %v", status, lastErr, err)
		}
	})
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	for failed, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 10: time.Hour, 100: time.Hour} {
		if got := webhook.Backoff(failed, 10*time.Second, time.Hour); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", failed, got, want)
		}
	}
}

func TestVerifyRejectsTamperingAndOldSignatures(t *testing.T) {
	body := []byte(`{"a":1}`)
	h := webhook.Sign("k", 1000, body)
	if err := webhook.Verify("k", h, body, time.Unix(1000, 0), time.Minute); err != nil {
		t.Fatalf("valid signature rejected: %v", err)
	}
	if webhook.Verify("k", h, []byte(`{"a":2}`), time.Unix(1000, 0), 0) == nil {
		t.Error("tampered body accepted")
	}
	if webhook.Verify("other", h, body, time.Unix(1000, 0), 0) == nil {
		t.Error("wrong secret accepted")
	}
	if webhook.Verify("k", h, body, time.Unix(5000, 0), time.Minute) == nil {
		t.Error("old signature accepted")
	}
	if webhook.Verify("k", "garbage", body, time.Unix(1000, 0), 0) == nil {
		t.Error("malformed header accepted")
	}
}

// local allows the loopback receivers of httptest, as an operator's allow-list would.
var local = webhook.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}

func mustExec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
