package link

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/sqlite"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// listening starts c.Listen on db and returns once the cache is enabled; the watch stops at
// the end of the test.
func listening(t *testing.T, db *store.DB) *Cache {
	t.Helper()
	events := make(chan string, 16)
	c := &Cache{observe: events}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Listen(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() { stop(); <-done })
	if got := <-events; got != "ready" {
		t.Fatalf("first event %q, want ready", got)
	}
	return c
}

func (c *Cache) hitCount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

// otherProcess opens a second pool on the SQLite file of db: to SQLite it is another process.
func otherProcess(t *testing.T, db *store.DB) *store.DB {
	t.Helper()
	other, err := sqlite.Open(context.Background(), db.Display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// On SQLite the cache answers from memory, and the next GET after any commit by anyone (raw SQL
// on this pool, another process, a transaction, a directory change, a delete) sees it.
func TestSQLiteCacheSeesEveryCommit(t *testing.T) {
	db := storetest.SQLite(t)
	ctx, c := cacheFixture(t, db)
	s := &Store{DB: db, Cache: listening(t, db)}
	other := otherProcess(t, db)
	// The control: a cache that nobody tells of changes (PostgreSQL's without its
	// notifications) keeps serving what it read. If it did not, this test could not tell a
	// cache that checks from one that does not cache at all.
	blind := &Store{DB: db, Cache: NewCache()}
	blind.Cache.reset(true)

	if _, err := s.Create(ctx, c, "4000001"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, blind, ctx, c)
	// want checks that the next GET gives the record ok accepts, and the one after it too,
	// from memory.
	want := func(what string, ok func(l *Link, err error) bool) {
		t.Helper()
		l, err := s.Get(ctx, c, "")
		if !ok(l, err) {
			t.Fatalf("GET after %s: %+v, %v", what, l, err)
		}
		hits := s.Cache.hitCount()
		l, err = s.Get(ctx, c, "")
		if !ok(l, err) {
			t.Fatalf("second GET after %s: %+v, %v", what, l, err)
		}
		if s.Cache.hitCount() != hits+1 {
			t.Fatalf("second GET after %s was not answered from memory", what)
		}
	}
	version := func(v int64) func(*Link, error) bool {
		return func(l *Link, err error) bool { return err == nil && l.Version == v }
	}
	exec := func(db *store.DB, q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	want("create", version(1))

	exec(db, `UPDATE links SET version = 10 WHERE object_id = 'u1'`)
	want("SQL on this process's pool", version(10))
	if l := mustGet(t, blind, ctx, c); l.Version != 1 {
		t.Fatalf("the control cache saw the change (version %d): it does not cache", l.Version)
	}

	exec(other, `UPDATE links SET version = 11 WHERE object_id = 'u1'`)
	want("SQL in another process", version(11))

	err := other.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE links SET version = 12 WHERE object_id = 'u1'`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE partner_locations SET name = 'East, renamed' WHERE id = '4000001'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want("a transaction in another process", func(l *Link, err error) bool {
		return err == nil && l.Version == 12 && l.PartnerName == "East, renamed"
	})

	exec(other, `UPDATE partner_locations SET name = 'East again' WHERE id = '4000001'`)
	want("a directory change in another process", func(l *Link, err error) bool { return err == nil && l.PartnerName == "East again" })

	exec(other, `DELETE FROM links WHERE object_id = 'u1'`)
	want("a delete in another process", func(_ *Link, err error) bool {
		var le *Error
		return errors.As(err, &le) && le.Code == CodeNotFound
	})

	exec(other, `INSERT INTO links (tenant_id, object_id, location_id, version, state, created_at, updated_at) VALUES ('t1', 'u1', '4000002', 20, 'Active', 1, 1)`)
	want("an insert in another process", func(l *Link, err error) bool { return err == nil && l.Version == 20 && l.PartnerID == "4000002" })

	if _, err := (&Store{DB: other}).Update(ctx, c, "4000001"); err != nil {
		t.Fatal(err)
	}
	want("a link write by another server", func(l *Link, err error) bool { return err == nil && l.Version == 21 && l.PartnerID == "4000001" })

	if err := s.Delete(ctx, c, "4000001"); err != nil {
		t.Fatal(err)
	}
	want("a delete through this service", func(_ *Link, err error) bool { return err != nil })
}

// Concurrent GETs never return a version older than one whose commit (in another process)
// completed before the GET began.
func TestSQLiteCacheNeverServesACompletedChangeLate(t *testing.T) {
	db := storetest.SQLite(t)
	ctx, c := cacheFixture(t, db)
	s := &Store{DB: db, Cache: listening(t, db)}
	other := otherProcess(t, db)
	if _, err := s.Create(ctx, c, "4000001"); err != nil {
		t.Fatal(err)
	}
	var committed atomic.Int64
	committed.Store(1)
	var stop atomic.Bool
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				floor := committed.Load()
				l, err := s.Get(ctx, c, "")
				if err != nil {
					errs <- err
					return
				}
				if l.Version < floor {
					errs <- fmt.Errorf("GET gave version %d after version %d had committed", l.Version, floor)
					return
				}
			}
		})
	}
	for v := int64(2); v <= 300; v++ {
		if _, err := other.ExecContext(ctx, `UPDATE links SET version = $1 WHERE object_id = 'u1'`, v); err != nil {
			t.Fatal(err)
		}
		committed.Store(v)
		runtime.Gosched()
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s.Cache.hitCount() == 0 {
		t.Fatal("no GET was answered from memory: the test exercised only the database")
	}
}

// A caller that arrives while a reading runs is not answered by it (it may have begun before a
// commit that completed before the caller arrived) but by the next one.
func TestCommitWatchAnswersFromAReadingBegunAfterTheCall(t *testing.T) {
	release := make(chan int64)
	entered := make(chan struct{}, 4)
	w := newCommitWatch(func() (int64, bool, error) {
		entered <- struct{}{}
		return <-release, false, nil
	}, nil)
	w.last = 5
	first := make(chan uint64)
	go func() {
		e, _ := w.Epoch()
		first <- e
	}()
	select { // the first reading is running
	case <-entered:
	case e := <-first:
		t.Fatalf("first caller answered (epoch %d) without a reading", e)
	}
	second := make(chan uint64)
	go func() {
		e, _ := w.Epoch()
		second <- e
	}()
	for { // no sleeping: wait until the second caller waits
		w.mu.Lock()
		n := w.waiting
		w.mu.Unlock()
		if n == 1 {
			break
		}
		runtime.Gosched()
	}
	release <- 5 // the first reading saw no change...
	if e := <-first; e != 0 {
		t.Fatalf("first caller: epoch %d, want 0 (no change)", e)
	}
	select { // ...and the second caller started a reading of its own,
	case <-entered:
	case e := <-second:
		t.Fatalf("second caller answered (epoch %d) by the reading that ran when it called", e)
	}
	release <- 6 // which sees the commit
	if e := <-second; e != 1 {
		t.Fatalf("second caller: epoch %d, want 1: it was answered by a reading begun before it called", e)
	}
	w.close()
	if _, err := w.Epoch(); !errors.Is(err, errWatchClosed) {
		t.Fatalf("Epoch after close: %v", err)
	}
}

// A failed reading, or one from a new connection, counts as a change.
func TestCommitWatchCountsFailuresAndNewConnectionsAsChanges(t *testing.T) {
	type answer struct {
		v     int64
		fresh bool
		err   error
	}
	answers := []answer{{7, true, nil}, {7, false, nil}, {0, false, errors.New("disk I/O error")}, {7, true, nil}, {7, false, nil}}
	i := 0
	w := newCommitWatch(func() (int64, bool, error) { a := answers[i]; i++; return a.v, a.fresh, a.err }, nil)
	want := []struct {
		epoch uint64
		fails bool
	}{{1, false}, {1, false}, {2, true}, {3, false}, {3, false}}
	for n, wt := range want {
		e, err := w.Epoch()
		if e != wt.epoch || (err != nil) != wt.fails {
			t.Fatalf("reading %d: epoch %d, error %v; want epoch %d, failing %v", n, e, err, wt.epoch, wt.fails)
		}
	}
}
