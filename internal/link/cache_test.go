package link

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

func cacheFixture(t testing.TB, db *store.DB) (context.Context, Caller) {
	t.Helper()
	ctx := context.Background()
	org := directory.Organisation{ID: "4000000", Name: "Contoso", Locations: []directory.Location{
		{ID: "4000001", Name: "Contoso East"}, {ID: "4000002", Name: "Contoso West"}}}
	if err := (directory.Store{DB: db}).Put(ctx, org); err != nil {
		t.Fatal(err)
	}
	return ctx, Caller{TenantID: "t1", ObjectID: "u1", IDType: "user", RequestID: "r"}
}

func mustGet(t *testing.T, s *Store, ctx context.Context, c Caller) *Link {
	t.Helper()
	l, err := s.Get(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// An enabled cache answers from memory, and this process's own changes replace what it holds.
func TestCacheServesAndForgetsOwnChanges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx, c := cacheFixture(t, db)
		s := &Store{DB: db, Cache: NewCache()}
		s.Cache.reset(true) // as Listen does once subscribed
		if _, err := s.Create(ctx, c, "4000001"); err != nil {
			t.Fatal(err)
		}
		if l := mustGet(t, s, ctx, c); l.Version != 1 || l.PartnerName != "Contoso East" {
			t.Fatalf("first GET: %+v", l)
		}
		// A change behind the cache's back (no notification without Listen) is not seen...
		if _, err := db.ExecContext(ctx, `UPDATE links SET version = 99 WHERE object_id = 'u1'`); err != nil {
			t.Fatal(err)
		}
		if l := mustGet(t, s, ctx, c); l.Version != 1 {
			t.Fatalf("GET after a silent change: version %d; want the cached 1", l.Version)
		}
		// ...but a change through the service is, at once.
		if _, err := s.Update(ctx, c, "4000002"); err != nil {
			t.Fatal(err)
		}
		if l := mustGet(t, s, ctx, c); l.Version != 100 || l.PartnerID != "4000002" || l.PartnerName != "Contoso West" {
			t.Fatalf("GET after own update: %+v; want version 100 at 4000002", l)
		}
		if err := s.Delete(ctx, c, "4000002"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, c, ""); err == nil {
			t.Fatal("GET after delete found a link")
		}
	})
}

// A read that started before a change must not put its old answer into the cache.
func TestCacheDropsReadsOverlappingAChange(t *testing.T) {
	c := NewCache()
	c.reset(true)
	k := cacheKey{"t1", "u1"}
	_, hit, tk := c.lookup(k)
	if hit || !tk.ok {
		t.Fatalf("an empty enabled cache answered %v and gave ticket %+v", hit, tk)
	}
	c.invalidate(k) // a change commits while the read is in flight
	c.put(k, tk, cached{found: true, link: Link{Version: 1}})
	if _, ok, _ := c.lookup(k); ok {
		t.Fatal("a read that overlapped a change was cached")
	}
	_, _, tk = c.lookup(k)
	c.put(k, tk, cached{found: true, link: Link{Version: 2}})
	if e, ok, _ := c.lookup(k); !ok || e.link.Version != 2 {
		t.Fatalf("a read that overlapped nothing was not cached: %v %+v", ok, e)
	}
	c.reset(false)
	if _, ok, _ := c.lookup(k); ok {
		t.Fatal("a disabled cache answered")
	}
}

// On PostgreSQL, changes made by another process (here: another service without the cache, and
// plain SQL) reach the cache through the triggers' notifications.
func TestCacheHearsOtherProcessesOnPostgres(t *testing.T) {
	db := storetest.Postgres(t)
	ctx, c := cacheFixture(t, db)
	events := make(chan string, 1024)
	cached := &Store{DB: db, Cache: &Cache{observe: events}}
	other := &Store{DB: db}
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cached.Cache.Listen(lctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { stop(); <-done }()
	// Other tests share the database and its notification channel, so foreign notifications
	// arrive too: wait until the cache gives the expected answer, re-checking after each
	// notification applied, and fail if none comes for 30 s.
	next := func() string {
		t.Helper()
		select {
		case got := <-events:
			return got
		case <-time.After(30 * time.Second):
			t.Fatal("no notification arrived for 30 s")
			return ""
		}
	}
	until := func(what string, ok func(l *Link) bool) {
		t.Helper()
		for {
			l, err := cached.Get(ctx, c, "")
			if err == nil && ok(l) {
				return
			}
			t.Logf("waiting for %s: %+v, %v", what, l, err)
			next()
		}
	}
	for next() != "ready" {
	}
	if _, err := other.Create(ctx, c, "4000001"); err != nil {
		t.Fatal(err)
	}
	until("the link created by another process", func(l *Link) bool { return l.Version == 1 })
	if _, err := other.Update(ctx, c, "4000002"); err != nil {
		t.Fatal(err)
	}
	until("the update by another process", func(l *Link) bool { return l.Version == 2 && l.PartnerID == "4000002" })
	// Writers other than the link service (imports, SQL by hand) are heard too.
	if _, err := db.ExecContext(ctx, `UPDATE links SET version = 7 WHERE tenant_id = 't1' AND object_id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	until("the change made in SQL", func(l *Link) bool { return l.Version == 7 })
	if _, err := db.ExecContext(ctx, `UPDATE partner_locations SET name = 'Contoso Renamed' WHERE id = '4000002'`); err != nil {
		t.Fatal(err)
	}
	until("the renamed location", func(l *Link) bool { return l.PartnerName == "Contoso Renamed" })
}
