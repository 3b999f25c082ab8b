package store

import (
	"context"
)

// exclusiveLoader is implemented by dialects that serialise named work themselves.
type exclusiveLoader interface {
	// LoadExclusive runs fn like Load, holding the named lock until the transaction ends. It
	// calls waiting once, before it blocks, if another holder has the lock.
	LoadExclusive(ctx context.Context, db *DB, name string, waiting func(), fn func(Loader) error) error
}

// LoadExclusive is Load holding the lock called name for the whole transaction: a second
// caller with the same name, in this process or in another, waits until the first commits or
// rolls back, and then sees what the first wrote. waiting (may be nil) is called once if it
// must wait, so a command can say what it waits for. The lock dies with its holder: a killed
// process leaves nothing locked.
//
// It is for work that reads what the previous holder wrote and replaces it, such as an
// attribution run, which replaces the period's results and records its difference from the
// run it replaced.
func (db *DB) LoadExclusive(ctx context.Context, name string, waiting func(), fn func(Loader) error) error {
	if waiting == nil {
		waiting = func() {}
	}
	x, ok := db.Dialect.(exclusiveLoader)
	if !ok {
		return db.Load(ctx, fn)
	}
	return db.Translate(x.LoadExclusive(ctx, db, name, waiting, fn))
}
