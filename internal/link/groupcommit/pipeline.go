// Package groupcommit holds the transactions of the link write, the one hot write path: a
// transaction sent as batches of statements (one network round trip per batch on PostgreSQL),
// statements prepared once (SQLite), and group commit, which lets concurrent writes share a
// transaction and its commit (GroupTx). Only internal/link uses it (and the bench module's
// API benchmark, for its peer); everything else writes with store.DB.Tx or store.DB.Load.
package groupcommit

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Committer runs the transactions of one database. It keeps state that must be shared by every
// writer of the database in this process (the group lanes, the SQLite lane's connection, the
// prepared statements), so there is one per store.DB: get it with For.
type Committer struct {
	db       *store.DB
	stmts    stmtCache
	once     sync.Once
	lanes    []*lane
	runs     atomic.Int64 // groups run (tests)
	attempts atomic.Int64 // transactions they took (tests)
}

var committers sync.Map // *store.DB -> *Committer

// For returns db's Committer, made on first use and forgotten when db is closed.
func For(db *store.DB) *Committer {
	if c, ok := committers.Load(db); ok {
		return c.(*Committer)
	}
	c, loaded := committers.LoadOrStore(db, &Committer{db: db})
	if !loaded {
		db.OnClose(func() error {
			committers.Delete(db)
			c.(*Committer).stmts.close()
			return nil
		})
	}
	return c.(*Committer)
}

// Row is one result row to scan: *sql.Row and the PostgreSQL driver's rows both are.
type Row interface {
	Scan(dest ...any) error
}

// Batch is statements to send to the database together.
type Batch struct {
	Stmts []BatchStmt
}

// BatchStmt is one statement of a batch; Scan, if set, reads its first row (sql.ErrNoRows if
// there is none). On PostgreSQL the row is the driver's own, whose conversions are stricter than
// database/sql's: scan each column into its own Go type (text into a string, not an int).
type BatchStmt struct {
	Query string
	Args  []any
	Scan  func(Row) error
}

// Exec adds a statement whose result is not read.
func (b *Batch) Exec(query string, args ...any) {
	b.Stmts = append(b.Stmts, BatchStmt{Query: query, Args: args})
}

// QueryRow adds a statement whose first row scan reads.
func (b *Batch) QueryRow(scan func(Row) error, query string, args ...any) {
	b.Stmts = append(b.Stmts, BatchStmt{Query: query, Args: args, Scan: scan})
}

// Pipe sends the batches of one transaction.
type Pipe interface {
	// Send runs b's statements in order and stops at the first error.
	Send(ctx context.Context, b *Batch) error
	// Commit runs b (may be nil) and commits. A transaction function that returns nil
	// without calling Commit is committed after it returns.
	Commit(ctx context.Context, b *Batch) error
}

// PipelineTx runs fn in a transaction whose statements are sent in batches. On PostgreSQL each
// batch is one round trip; a link write went from seven round trips to three this way. On
// SQLite (no network) it is an ordinary transaction through Prepared statements. Retries and
// errors are as for store.DB.Tx; fn must be safe to run more than once.
func (c *Committer) PipelineTx(ctx context.Context, fn func(Pipe) error) error {
	if c.db.Engine() != store.Postgres {
		return c.db.Tx(ctx, func(tx *sql.Tx) error {
			return fn(sqlPipe{q: c.Prepared(tx)})
		})
	}
	return c.db.Retry(ctx, func() error { return postgresPipelineTx(ctx, c.db.DB, fn) })
}

// sqlPipe runs batches statement by statement in a database/sql transaction.
type sqlPipe struct{ q store.Querier }

func (p sqlPipe) Send(ctx context.Context, b *Batch) error {
	if b == nil {
		return nil
	}
	for _, s := range b.Stmts {
		if s.Scan == nil {
			if _, err := p.q.ExecContext(ctx, s.Query, s.Args...); err != nil {
				return err
			}
			continue
		}
		if err := s.Scan(p.q.QueryRowContext(ctx, s.Query, s.Args...)); err != nil {
			return err
		}
	}
	return nil
}

// Commit only sends b: Tx commits when the function returns.
func (p sqlPipe) Commit(ctx context.Context, b *Batch) error { return p.Send(ctx, b) }

// Querier makes p usable with PipeQuerier (group.go).
func (p sqlPipe) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.q.ExecContext(ctx, query, args...)
}

func (p sqlPipe) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.q.QueryContext(ctx, query, args...)
}

func (p sqlPipe) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.q.QueryRowContext(ctx, query, args...)
}
