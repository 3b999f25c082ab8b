// Package store is the storage layer shared by both SQL engines: a DB handle with its dialect,
// typed domain errors and their translation, transactions with retry, bulk loads, notifications
// and the migration runner.
//
// The SQL itself lives with the package that owns each table (internal/directory,
// internal/link, ...; the list is in docs/architecture.md), written once with $N placeholders
// that both SQLite and PostgreSQL accept. The engines
// (internal/store/sqlite, internal/store/postgres) supply the connection, migrations, error
// translation and bulk loading. They know no business rules.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Domain errors. Store code wraps them with a message naming the value; callers test with
// errors.Is and map them to HTTP statuses or exit codes in exactly one place each.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
	// ErrUnavailable means the database could not be reached or used; the driver's text is
	// logged, never shown.
	ErrUnavailable = errors.New("database unavailable")
)

// Engine names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Dialect is what an engine supplies.
type Dialect interface {
	Name() string
	// Migrations holds NNNN_name.sql files applied in order.
	Migrations() fs.FS
	// Translate maps a driver error to a domain error (wrapping ErrConflict, ErrUnavailable,
	// ...) or returns it unchanged. It never returns nil for a non-nil error.
	Translate(err error) error
	// Retryable reports whether a transaction that failed with err may be run again
	// (serialization failure, deadlock, SQLITE_BUSY).
	Retryable(err error) bool
	// Load runs fn with a Loader bound to one transaction (see DB.Load).
	Load(ctx context.Context, db *sql.DB, fn func(Loader) error) error
}

// DB is an open, migrated database.
type DB struct {
	*sql.DB
	Dialect Dialect
	// DSN as given by the user, with any password removed: safe to print.
	Display string
	// Close hooks run after the pool is closed (e.g. dropping a test schema).
	closers []func() error
	// writer admits one write transaction at a time on SQLite (nil on PostgreSQL). SQLite
	// allows a single writer; without this gate, concurrent transactions wait in SQLite's busy
	// handler, which sleeps in growing steps (up to 100 ms) instead of queueing, so 32
	// concurrent link writes had a p99 of hundreds of milliseconds. Other processes writing
	// the same file still meet the busy timeout.
	writer chan struct{}
}

// New wraps an opened pool. Engines call it.
func New(db *sql.DB, d Dialect, display string) *DB {
	out := &DB{DB: db, Dialect: d, Display: display}
	if d.Name() == SQLite {
		out.writer = make(chan struct{}, 1)
	}
	return out
}

// writeWait is how long a write waits for the SQLite write gate: SQLite's busy timeout
// (internal/store/sqlite), so a transaction opened inside another fails as it did before the
// gate instead of waiting forever.
const writeWait = 10 * time.Second

// WriteTurn waits for the SQLite write gate (no-op on PostgreSQL) and returns its release. Tx
// and Load take it themselves; code that runs its own transactions on a connection of the pool
// (the link write's group commit, internal/link/groupcommit) takes it around each one.
func (db *DB) WriteTurn(ctx context.Context) (func(), error) {
	if db.writer == nil {
		return func() {}, nil
	}
	t := time.NewTimer(writeWait)
	defer t.Stop()
	select {
	case db.writer <- struct{}{}:
		return func() { <-db.writer }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, NewError(ErrUnavailable, fmt.Sprintf("the database is busy: no write turn within %s; try again", writeWait), nil)
	}
}

// OnClose registers f to run when the DB is closed.
func (db *DB) OnClose(f func() error) { db.closers = append(db.closers, f) }

// Close closes the pool and runs the close hooks.
func (db *DB) Close() error {
	err := db.DB.Close()
	for i := len(db.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, db.closers[i]())
	}
	return err
}

// Engine is the dialect's name: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.Dialect.Name() }

// Tx runs fn in a transaction and commits it, retrying the whole function on serialization
// failures and busy errors (with a short backoff), as distributed PostgreSQL-compatible
// databases require. fn must be safe to run more than once. Errors are translated.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.Retry(ctx, func() error { return db.tryTx(ctx, fn) })
}

// Retry runs try until it succeeds, fails with an error the dialect does not retry, or has
// failed ten times, backing off from 2 ms to 256 ms. Errors are translated. Tx uses it; so
// does code that runs transactions Tx cannot express (internal/link/groupcommit).
func (db *DB) Retry(ctx context.Context, try func() error) error {
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil {
			return nil
		}
		if attempt >= 10 || !db.Dialect.Retryable(err) || ctx.Err() != nil {
			return db.Translate(err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return db.Translate(err)
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	release, err := db.WriteTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Translate maps a driver error to a domain error; domain errors pass through unchanged.
func (db *DB) Translate(err error) error {
	if err == nil {
		return nil
	}
	for _, e := range []error{ErrNotFound, ErrConflict, ErrInvalid, ErrUnavailable, ErrInternal, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return err
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w", ErrNotFound)
	}
	return db.Dialect.Translate(err)
}

// Bool reads a BOOLEAN column portably (SQLite stores 0/1).
type Bool bool

func (b *Bool) Scan(v any) error {
	switch x := v.(type) {
	case bool:
		*b = Bool(x)
	case int64:
		*b = x != 0
	case nil:
		*b = false
	default:
		return fmt.Errorf("store.Bool: cannot scan %T", v)
	}
	return nil
}

// ErrInternal marks a database error that is not the user's doing (a bug or an unexpected
// server answer). Its message is generic; the driver's text stays in the cause for logs.
var ErrInternal = errors.New("internal storage error")

// Error is a translated driver error: Error() is safe to show users, Cause() is for logs.
type Error struct {
	Kind  error // ErrConflict, ErrUnavailable, ErrInternal, ...
	Msg   string
	cause error
}

// NewError builds a translated error. Engines call it.
func NewError(kind error, msg string, cause error) *Error {
	return &Error{Kind: kind, Msg: msg, cause: cause}
}

func (e *Error) Error() string   { return e.Msg }
func (e *Error) Unwrap() []error { return []error{e.Kind} }

// Cause is the driver's error, for logs only.
func (e *Error) Cause() error { return e.cause }

// Loader writes in bulk inside one transaction. Get one from DB.Load.
type Loader interface {
	// Exec runs a statement in the load's transaction and reports rows affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Insert writes rows into table's columns as fast as the engine allows (COPY on
	// PostgreSQL, batched multi-row inserts on SQLite). With skipConflicts, rows whose primary
	// key exists are skipped. It reports the rows inserted. After an error the load's
	// transaction can only be rolled back (some of the rows may be written): return it.
	Insert(ctx context.Context, table string, columns []string, rows [][]any, skipConflicts bool) (int64, error)
	// Query runs a query in the load's transaction (so it sees the load's own writes) and
	// calls fn for each row with a function that scans it.
	Query(ctx context.Context, query string, args []any, fn func(scan func(dest ...any) error) error) error
}

// Load runs fn with a Loader in one transaction (committed when fn returns nil). Not retried:
// bulk input is usually streamed and cannot be replayed.
func (db *DB) Load(ctx context.Context, fn func(Loader) error) error {
	release, err := db.WriteTurn(ctx)
	if err != nil {
		return db.Translate(err)
	}
	defer release()
	return db.Translate(db.Dialect.Load(ctx, db.DB, fn))
}

// ErrNoNotifications is returned by Listen on engines without notifications (SQLite).
var ErrNoNotifications = errors.New("this database engine does not deliver notifications")

// notifier is implemented by dialects with notifications (PostgreSQL's LISTEN/NOTIFY).
type notifier interface {
	Listen(ctx context.Context, db *sql.DB, channel string, ready func(), fn func(payload string)) error
}

// Listen calls fn with the payload of every notification on channel until ctx ends or the
// connection fails (the error says which). ready is called once notifications are delivered.
// Engines without notifications return ErrNoNotifications at once.
func (db *DB) Listen(ctx context.Context, channel string, ready func(), fn func(payload string)) error {
	n, ok := db.Dialect.(notifier)
	if !ok {
		return ErrNoNotifications
	}
	return n.Listen(ctx, db.DB, channel, ready, fn)
}

// Querier is what store functions take, so the same function runs on the pool or inside a
// transaction (*sql.DB and *sql.Tx both satisfy it).
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// IsPool reports whether q is a connection pool, whose statements may run at the same time
// on separate connections, rather than a transaction, whose statements run one at a time.
func IsPool(q Querier) bool {
	_, ok := q.(*sql.DB)
	return ok
}
