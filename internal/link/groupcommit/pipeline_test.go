package groupcommit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/partnerlink/partnerlink/internal/link/groupcommit"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// Prepared statements bound to a transaction must see its uncommitted rows and nothing of
// them after a rollback; the same query text is reused on the pool afterwards.
func TestPreparedFollowsTheTransaction(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const count = `SELECT COUNT(*) FROM tenants WHERE id = $1`
		rollback := errors.New("roll back")
		err := db.Tx(ctx, func(sqlTx *sql.Tx) error {
			tx := groupcommit.For(db).Prepared(sqlTx)
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $2)`, "t1", "Contoso"); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, count, "t1").Scan(&n); err != nil || n != 1 {
				t.Errorf("inside the transaction: %d rows, %v; want 1", n, err)
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		var n int
		if err := groupcommit.For(db).Prepared(db).QueryRowContext(ctx, count, "t1").Scan(&n); err != nil || n != 0 {
			t.Fatalf("after rollback: %d rows, %v; want 0", n, err)
		}
		var name string
		err = groupcommit.For(db).Prepared(db).QueryRowContext(ctx, `SELECT name FROM no_such_table`).Scan(&name)
		if err == nil {
			t.Fatal("a statement on a missing table succeeded")
		}
	})
}

// PipelineTx sends statements in batches (one round trip each on PostgreSQL): scans, "no rows",
// rollback on a failed statement or a refusing function, and row locks must behave as in Tx.
func TestPipelineTxBehavesLikeTx(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := `INSERT INTO tenants (id, name) VALUES ($1, $2)`
		// backend names the PostgreSQL connection in use: failed transactions must end with a
		// ROLLBACK that keeps it, not leave it open for the pool to throw away and reconnect.
		backend := func() (pid int) {
			if db.Engine() == store.Postgres {
				if err := db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
					t.Fatal(err)
				}
			}
			return pid
		}
		if db.Engine() == store.Postgres {
			db.SetMaxOpenConns(1) // SQLite's fallback prepares on the pool inside Tx: not there
		}
		pid := backend()

		var count int
		var missing string
		err := groupcommit.For(db).PipelineTx(ctx, func(p groupcommit.Pipe) error {
			var b groupcommit.Batch
			b.Exec(insert, "t1", "Contoso")
			b.QueryRow(func(r groupcommit.Row) error { return r.Scan(&count) }, `SELECT COUNT(*) FROM tenants`)
			b.QueryRow(func(r groupcommit.Row) error {
				if err := r.Scan(&missing); !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("missing row scanned as %v; want sql.ErrNoRows", err)
				}
				return nil
			}, `SELECT name FROM tenants WHERE id = $1`, "nope")
			if err := p.Send(ctx, &b); err != nil {
				return err
			}
			var c groupcommit.Batch
			c.Exec(insert, "t2", "Fabrikam")
			return p.Commit(ctx, &c)
		})
		if err != nil || count != 1 {
			t.Fatalf("PipelineTx = %v, count inside = %d; want nil, 1", err, count)
		}

		// A failing statement in the committing batch undoes the earlier batch too.
		err = groupcommit.For(db).PipelineTx(ctx, func(p groupcommit.Pipe) error {
			var b groupcommit.Batch
			b.Exec(insert, "t3", "Northwind")
			if err := p.Send(ctx, &b); err != nil {
				return err
			}
			var c groupcommit.Batch
			c.Exec(insert, "t1", "duplicate")
			return p.Commit(ctx, &c)
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate in the last batch: %v; want ErrConflict", err)
		}

		// A function that refuses after sending rolls back, and the connection is usable after.
		refuse := errors.New("refuse")
		err = groupcommit.For(db).PipelineTx(ctx, func(p groupcommit.Pipe) error {
			var b groupcommit.Batch
			b.Exec(insert, "t4", "Litware")
			if err := p.Send(ctx, &b); err != nil {
				return err
			}
			return refuse
		})
		if !errors.Is(err, refuse) {
			t.Fatalf("refusing function: %v; want its error", err)
		}
		if err := groupcommit.For(db).PipelineTx(ctx, func(p groupcommit.Pipe) error {
			var b groupcommit.Batch
			b.Exec(insert, "t5", "Tailspin")
			return p.Commit(ctx, &b)
		}); err != nil {
			t.Fatalf("transaction after a refused one: %v", err)
		}
		if got := backend(); got != pid {
			t.Errorf("the connection changed from backend %d to %d: a failed transaction was not rolled back", pid, got)
		}
		var ids []string
		rows, err := db.QueryContext(ctx, `SELECT id FROM tenants ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if fmt.Sprint(ids) != "[t1 t2 t5]" {
			t.Fatalf("tenants = %v; want [t1 t2 t5] (the failed and refused transactions rolled back)", ids)
		}

		// Read-modify-write through the pipeline keeps every update.
		countConcurrently(t, db, func() error {
			return groupcommit.For(db).PipelineTx(ctx, func(p groupcommit.Pipe) error {
				var v string // text: PostgreSQL's driver does not convert it to a number as database/sql does
				var b groupcommit.Batch
				b.QueryRow(func(r groupcommit.Row) error { return r.Scan(&v) }, `UPDATE meta SET value = value WHERE name = 'counter' RETURNING value`)
				if err := p.Send(ctx, &b); err != nil {
					return err
				}
				n, err := strconv.Atoi(v)
				if err != nil {
					return err
				}
				var c groupcommit.Batch
				c.Exec(`UPDATE meta SET value = $1 WHERE name = 'counter'`, strconv.Itoa(n+1))
				return p.Commit(ctx, &c)
			})
		})
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
