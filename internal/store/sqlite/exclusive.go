package sqlite

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/partnerlink/partnerlink/internal/store"
)

// LoadExclusive takes an exclusive lock on the file "<database>.<name>.lock" before it opens
// the transaction. SQLite cannot wait for its own write lock longer than the busy timeout,
// while the work this serialises (an attribution run) may hold it for minutes; a file lock
// waits as long as it takes, is seen by every process that opens the database, and is
// released by the kernel when its holder dies. An in-memory database has no other process:
// a mutex per name does.
func (d dialect) LoadExclusive(ctx context.Context, db *store.DB, name string, waiting func(), fn func(store.Loader) error) error {
	var release func()
	var err error
	if d.path == ":memory:" {
		release, err = memoryLock(ctx, name, waiting)
	} else {
		release, err = fileLock(ctx, d.path+"."+name+".lock", waiting)
	}
	if err != nil {
		return err
	}
	defer release()
	return db.Load(ctx, fn)
}

var memoryLocks sync.Map // name -> chan struct{} of capacity 1

func memoryLock(ctx context.Context, name string, waiting func()) (func(), error) {
	v, _ := memoryLocks.LoadOrStore(name, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	default:
	}
	waiting()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fileLock locks path exclusively, creating it if needed. It calls waiting once before it
// blocks. When ctx ends first, the lock is released as soon as it is granted.
func fileLock(ctx context.Context, path string, waiting func()) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot create the lock file %q beside the database; check the directory is writable", path), err)
	}
	ok, err := tryLockFile(f)
	if err != nil {
		f.Close()
		return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot lock %q", path), err)
	}
	unlock := func() {
		_ = unlockFile(f)
		f.Close()
	}
	if ok {
		return unlock, nil
	}
	waiting()
	done := make(chan error, 1)
	go func() { done <- lockFile(f) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot lock %q", path), err)
		}
		return unlock, nil
	case <-ctx.Done():
		go func() {
			if <-done == nil {
				_ = unlockFile(f)
			}
			f.Close()
		}()
		return nil, ctx.Err()
	}
}
