package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

func TestStoreLimitDeleteAndCancel(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var hits atomic.Int32
		srv := counting(http.StatusServiceUnavailable, &hits)
		defer srv.Close()
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		s := &webhook.Store{DB: db, Policy: local, Limit: 2, Now: now}
		a, err := s.Create(ctx, "t1", srv.URL+"/a")
		if err != nil || !strings.HasPrefix(a.Secret, "whsec_") || !a.Active {
			t.Fatalf("Create = %+v, %v", a, err)
		}
		b, err := s.Create(ctx, "t1", srv.URL+"/b")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, "t1", srv.URL+"/c"); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "limit") {
			t.Fatalf("third webhook: %v; want the limit (conflict)", err)
		}
		if _, err := s.Create(ctx, "t2", srv.URL+"/other"); err != nil {
			t.Fatalf("another tenant's first webhook: %v", err)
		}
		if _, err := (&webhook.Store{DB: db}).Create(ctx, "t3", srv.URL); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("the default policy accepted a loopback URL: %v", err)
		}

		mustExec(t, db, `INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ('e1', 't1', 'link.created', $1, '{}')`, clock.UnixNano())
		w := &webhook.Worker{DB: db, Policy: local, Now: now, BaseDelay: time.Minute}
		if n, err := w.Fanout(ctx); err != nil || n != 2 {
			t.Fatalf("Fanout = %d, %v; want 2", n, err)
		}
		if res, err := w.DeliverDue(ctx); err != nil || res.Retrying != 2 {
			t.Fatalf("first round = %+v, %v", res, err)
		}
		// Deleting a webhook cancels its pending delivery and keeps the record.
		if err := s.Delete(ctx, "t1", a.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "t2", b.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleting another tenant's webhook: %v; want not found", err)
		}
		counts, err := s.DeliveryCounts(ctx, a.ID)
		if err != nil || counts[webhook.StatusCanceled] != 1 || len(counts) != 1 {
			t.Fatalf("deleted webhook's deliveries = %v, %v; want one canceled, kept", counts, err)
		}
		before := hits.Load()
		clock = clock.Add(time.Hour)
		if res, err := w.DeliverDue(ctx); err != nil || res.Retrying != 1 || hits.Load() != before+1 {
			t.Fatalf("after delete = %+v, %v, %d requests; want only the remaining webhook's retry", res, err, hits.Load()-before)
		}
		list, err := s.List(ctx, "t1")
		if err != nil || len(list) != 2 || list[0].Active || !list[1].Active || list[0].Secret != "" {
			t.Fatalf("List = %+v, %v; want the deleted one inactive, no secrets", list, err)
		}
		// A deleted webhook frees its place under the limit.
		if _, err := s.Create(ctx, "t1", srv.URL+"/c"); err != nil {
			t.Fatalf("after delete: %v", err)
		}
	})
}

// A tenant whose receivers hang holds only its own delivery slots: another tenant's event is
// delivered while they still hang. The ordering is observed with channels, not clocks.
func TestSlowTenantDoesNotDelayAnother(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		release := make(chan struct{})
		arrived := make(chan string, 100)
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- "slow"
			<-release
			w.WriteHeader(http.StatusNoContent)
		}))
		defer slow.Close()
		defer close(release) // before slow.Close, which waits for its handlers
		fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- "fast"
			w.WriteHeader(http.StatusNoContent)
		}))
		defer fast.Close()

		const slowHooks, perTenant = 5, 2
		s := &webhook.Store{DB: db, Policy: local}
		for i := range slowHooks {
			if _, err := s.Create(ctx, "slow-tenant", fmt.Sprintf("%s/%d", slow.URL, i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Create(ctx, "fast-tenant", fast.URL); err != nil {
			t.Fatal(err)
		}
		at := time.Now().UnixNano()
		mustExec(t, db, `INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ('e1', 'slow-tenant', 'link.created', $1, '{}')`, at)
		// The timeout is far beyond the test: only concurrency can let the other tenant through.
		w := &webhook.Worker{DB: db, Policy: local, Timeout: time.Hour, PerTenant: perTenant, Concurrency: 8}
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx, 5*time.Millisecond) }()
		next := func(what string) string {
			select {
			case got := <-arrived:
				return got
			case <-time.After(time.Minute): // a guard against hanging, not a timing assertion
				t.Fatalf("no delivery arrived while waiting for %s", what)
				return ""
			}
		}
		for range perTenant {
			if got := next("the slow tenant's first deliveries"); got != "slow" {
				t.Fatalf("got %s, want the slow tenant's deliveries first", got)
			}
		}
		// The slow tenant now hangs with all its slots; the other tenant's event comes in.
		mustExec(t, db, `INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ('e2', 'fast-tenant', 'link.created', $1, '{}')`, at+1)
		if got := next("the other tenant's delivery while the slow tenant's receivers hang"); got != "fast" {
			t.Fatalf("a %s delivery arrived beyond the per-tenant bound of %d", got, perTenant)
		}
		cancel() // cancels the hanging requests; Run returns once they are done
		<-done
	})
}

// TestConcurrentCreatesKeepTheLimit: many creates of one tenant at once (as on PostgreSQL,
// where they run in parallel) leave exactly the limit active; the others are refused with the
// limit, none fails otherwise.
func TestConcurrentCreatesKeepTheLimit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const limit, tries = 3, 16
		s := &webhook.Store{DB: db, Policy: local, Limit: limit}
		start := make(chan struct{})
		errs := make(chan error, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.Create(ctx, "t1", fmt.Sprintf("http://127.0.0.1:9/%d", i))
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		created, refused := 0, 0
		for err := range errs {
			switch {
			case err == nil:
				created++
			case errors.Is(err, store.ErrConflict) && strings.Contains(err.Error(), "limit"):
				refused++
			default:
				t.Errorf("Create: %v; want success or the limit", err)
			}
		}
		list, err := s.List(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if created != limit || refused != tries-limit || len(list) != limit {
			t.Fatalf("%d created, %d refused, %d stored; want %d, %d, %d", created, refused, len(list), limit, tries-limit, limit)
		}
	})
}
