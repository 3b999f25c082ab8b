package groupcommit

import (
	"context"
	"database/sql"
	"sync"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Prepared returns a Querier that runs the statements of hot paths (the link API) through
// statements prepared once and kept per query text, on q (the pool or a transaction of db).
//
// modernc's SQLite compiles every statement it is given; under load that compilation was a
// fifth of the link API's CPU. On PostgreSQL, pgx already keeps prepared statements per
// connection, so Prepared returns q unchanged there.
func (c *Committer) Prepared(q store.Querier) store.Querier {
	if c.db.Engine() != store.SQLite {
		return q
	}
	return prepared{c: c, q: q}
}

type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
}

func (c *Committer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.stmts.mu.Lock()
	defer c.stmts.mu.Unlock()
	if st, ok := c.stmts.stmts[query]; ok {
		return st, nil
	}
	st, err := c.db.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts.stmts == nil {
		c.stmts.stmts = map[string]*sql.Stmt{}
	}
	c.stmts.stmts[query] = st
	return st, nil
}

type prepared struct {
	c *Committer
	q store.Querier
}

// bind returns the cached statement, bound to the transaction when q is one (database/sql
// then reuses the statement already prepared on the transaction's connection).
func (p prepared) bind(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := p.c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if tx, ok := p.q.(*sql.Tx); ok {
		return tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

func (p prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.bind(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.bind(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.bind(ctx, query)
	if err != nil {
		// *sql.Row cannot be built with an error outside database/sql; run the statement
		// unprepared so that the caller's Scan reports the same error.
		return p.q.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
