package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
)

// The conformance suite for the storage primitives every domain store relies on.

func TestMigrateIsIdempotentAndVersioned(t *testing.T) {
	Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		want := store.LatestVersion(db.Dialect)
		if want == 0 {
			t.Fatal("no migrations embedded")
		}
		got, err := db.Migrate(ctx)
		if err != nil || got != want {
			t.Fatalf("second Migrate = %d, %v; want %d", got, err, want)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != want {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, want)
		}
	})
}

func TestConflictIsTyped(t *testing.T) {
	Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins := func() error {
			return db.Tx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $2)`, "t1", "Fabrikam")
				return err
			})
		}
		if err := ins(); err != nil {
			t.Fatal(err)
		}
		err := ins()
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate insert: %v; want ErrConflict", err)
		}
		if err.Error() != "conflicts with an existing record" {
			t.Errorf("driver text leaked into the message: %q", err.Error())
		}
		var se *store.Error
		if !errors.As(err, &se) || se.Cause() == nil {
			t.Error("translated error must keep the driver's cause for logs")
		}
	})
}

func TestNotFoundIsTyped(t *testing.T) {
	Run(t, func(t *testing.T, db *store.DB) {
		var name string
		err := db.QueryRowContext(context.Background(), `SELECT name FROM tenants WHERE id = $1`, "nope").Scan(&name)
		if !errors.Is(db.Translate(err), store.ErrNotFound) {
			t.Fatalf("missing row: %v; want ErrNotFound", err)
		}
	})
}

func TestTxRollsBackOnError(t *testing.T) {
	Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $2)`, "t1", "x"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx error = %v", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows after rollback = %d, %v", n, err)
		}
	})
}

// Concurrent read-modify-write transactions on one row must not lose updates: SQLite
// serialises writers, PostgreSQL needs the row lock taken by UPDATE ... RETURNING.
func TestConcurrentTransactionsDoNotLoseUpdates(t *testing.T) {
	Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		countConcurrently(t, db, func() error {
			return db.Tx(ctx, func(tx *sql.Tx) error {
				var v int
				if err := tx.QueryRowContext(ctx, `UPDATE meta SET value = value WHERE name = 'counter' RETURNING value`).Scan(&v); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE meta SET value = $1 WHERE name = 'counter'`, fmt.Sprint(v+1))
				return err
			})
		})
	})
}

func TestBulkInsertSkipsConflictsAndIsAtomic(t *testing.T) {
	Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cols := []string{"id", "name"}
		var rows [][]any
		for i := 0; i < 1234; i++ {
			rows = append(rows, []any{fmt.Sprintf("t%04d", i), "n"})
		}
		var n int64
		err := db.Load(ctx, func(l store.Loader) error {
			var err error
			n, err = l.Insert(ctx, "tenants", cols, rows, true)
			return err
		})
		if err != nil || n != 1234 {
			t.Fatalf("first load: %d, %v", n, err)
		}
		// Again, with 10 new rows: only those go in.
		for i := 1234; i < 1244; i++ {
			rows = append(rows, []any{fmt.Sprintf("t%04d", i), "n"})
		}
		err = db.Load(ctx, func(l store.Loader) error {
			var err error
			n, err = l.Insert(ctx, "tenants", cols, rows, true)
			return err
		})
		if err != nil || n != 10 {
			t.Fatalf("second load inserted %d, %v; want 10", n, err)
		}
		// A failing load leaves nothing behind.
		err = db.Load(ctx, func(l store.Loader) error {
			if _, err := l.Insert(ctx, "tenants", cols, [][]any{{"new1", "n"}}, true); err != nil {
				return err
			}
			return errors.New("stop")
		})
		if err == nil {
			t.Fatal("failing load reported success")
		}
		// Without skipping, a conflict is an error, and the load leaves nothing behind: not
		// the new rows of the same statement before the conflicting one, nor earlier ones.
		err = db.Load(ctx, func(l store.Loader) error {
			if _, err := l.Insert(ctx, "tenants", cols, [][]any{{"new2", "n"}}, false); err != nil {
				return err
			}
			_, err := l.Insert(ctx, "tenants", cols, [][]any{{"new3", "n"}, {"t0005", "n"}, {"new4", "n"}}, false)
			return err
		})
		if err == nil {
			t.Fatal("a conflicting insert reported success")
		}
		var c int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants`).Scan(&c); err != nil || c != 1244 {
			t.Fatalf("tenants = %d, %v; want 1244", c, err)
		}
	})
}

func TestBoolScansOnBothEngines(t *testing.T) {
	Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `INSERT INTO webhooks (id, tenant_id, url, secret, active, created_at) VALUES ($1,$2,$3,$4,$5,$6)`,
			"w1", "t", "http://x", "s", true, 1); err != nil {
			t.Fatal(err)
		}
		var b store.Bool
		if err := db.QueryRowContext(ctx, `SELECT active FROM webhooks WHERE id = 'w1'`).Scan(&b); err != nil || !bool(b) {
			t.Fatalf("active = %v, %v", b, err)
		}
	})
}

// countConcurrently runs increment, a read-modify-write of meta's counter, 40 times at once
// and checks that no update was lost.
func countConcurrently(t *testing.T, db *store.DB, increment func() error) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('counter', '0')`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- increment()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var v string
	if err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'counter'`).Scan(&v); err != nil || v != "40" {
		t.Fatalf("counter = %s, %v; want 40", v, err)
	}
}

// EachJoined gives every row's fields once, in order, integers in decimal, on both engines; a
// value holding the separator itself is read column by column instead, still once.
func TestEachJoinedOnBothEngines(t *testing.T) {
	Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		read := func(second string) [][]string {
			t.Helper()
			var got [][]string
			rest := `(SELECT 'a' AS x, '' AS y, 5 AS n UNION ALL SELECT '` + second + `', 'é/Z', -9007199254740993) t ORDER BY n`
			if err := store.EachJoined(ctx, db, []string{"x", "y", "n"}, rest, nil, func(f []string) error {
				got = append(got, append([]string(nil), f...))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		for _, second := range []string{"b", "b\x1fc", "\x1f"} {
			got := read(second)
			want := [][]string{{second, "é/Z", "-9007199254740993"}, {"a", "", "5"}}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("with %q: got %q, want %q", second, got, want)
			}
		}
	})
}
