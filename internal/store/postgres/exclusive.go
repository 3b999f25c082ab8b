package postgres

import (
	"context"

	"github.com/partnerlink/partnerlink/internal/store"
)

// LoadExclusive locks the row called name in store_locks inside the load's transaction, so the
// lock ends when the transaction does (commit, rollback or a dropped connection). The row is
// created first in a statement of its own, so that no caller waits on another's uncommitted
// insert without being told; a first look with SKIP LOCKED then tells whether it must wait.
func (d dialect) LoadExclusive(ctx context.Context, db *store.DB, name string, waiting func(), fn func(store.Loader) error) error {
	if _, err := db.ExecContext(ctx, `INSERT INTO store_locks (name) VALUES ($1) ON CONFLICT DO NOTHING`, name); err != nil {
		return err
	}
	return db.Load(ctx, func(l store.Loader) error {
		got := false
		if err := l.Query(ctx, `SELECT name FROM store_locks WHERE name = $1 FOR UPDATE SKIP LOCKED`, []any{name},
			func(func(...any) error) error { got = true; return nil }); err != nil {
			return err
		}
		if !got {
			waiting()
			if _, err := l.Exec(ctx, `SELECT name FROM store_locks WHERE name = $1 FOR UPDATE`, name); err != nil {
				return err
			}
		}
		return fn(l)
	})
}
