package store

import (
	"context"
	"database/sql"
)

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

// pipeliner is implemented by dialects that send a batch in one network round trip
// (PostgreSQL), including the BEGIN with the first batch and the COMMIT with the last.
type pipeliner interface {
	PipelineTx(ctx context.Context, db *sql.DB, fn func(Pipe) error) error
}

// PipelineTx runs fn in a transaction whose statements are sent in batches. On PostgreSQL each
// batch is one round trip; a link write went from seven round trips to three this way. On
// SQLite (no network) it is an ordinary transaction through Prepared statements. Retries and
// errors are as for Tx; fn must be safe to run more than once.
func (db *DB) PipelineTx(ctx context.Context, fn func(Pipe) error) error {
	p, ok := db.Dialect.(pipeliner)
	if !ok {
		return db.Tx(ctx, func(tx *sql.Tx) error {
			return fn(sqlPipe{q: db.Prepared(tx)})
		})
	}
	return db.retry(ctx, func() error { return p.PipelineTx(ctx, db.DB, fn) })
}

// sqlPipe runs batches statement by statement in a database/sql transaction.
type sqlPipe struct{ q Querier }

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
