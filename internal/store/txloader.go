package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// TxLoad is Tx (a transaction, retried as a whole, so fn must be safe to run more than once)
// whose function gets the transaction both as a Querier and as a Loader: code written once for
// a bulk load and for an ordinary transaction (the estate import's two paths, the owners' bulk
// functions) takes a Loader and runs in either. The Loader's Insert sends multi-row INSERTs.
func (db *DB) TxLoad(ctx context.Context, fn func(q Querier, ld Loader) error) error {
	return db.Tx(ctx, func(tx *sql.Tx) error {
		return fn(tx, txLoader{tx: tx, sqlite: db.Engine() == SQLite})
	})
}

type txLoader struct {
	tx     *sql.Tx
	sqlite bool
}

func (l txLoader) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := l.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (l txLoader) Query(ctx context.Context, query string, args []any, fn func(scan func(dest ...any) error) error) error {
	return Each(ctx, l.tx, query, args, func(r *sql.Rows) error { return fn(r.Scan) })
}

// txInsertRows bounds the rows of one INSERT: 400 rows of the widest estate table stay far
// below SQLite's 32,766 bound variables, and larger statements were no faster.
const txInsertRows = 400

func (l txLoader) Insert(ctx context.Context, table string, columns []string, rows [][]any, skipConflicts bool) (int64, error) {
	var total int64
	for start := 0; start < len(rows); start += txInsertRows {
		batch := rows[start:min(start+txInsertRows, len(rows))]
		var b strings.Builder
		b.WriteString(`INSERT INTO ` + table + ` (` + strings.Join(columns, ", ") + `) VALUES `)
		args := make([]any, 0, len(batch)*len(columns))
		for i, row := range batch {
			if len(row) != len(columns) {
				return total, fmt.Errorf("insert into %s: row has %d values for %d columns", table, len(row), len(columns))
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for j := range row {
				if j > 0 {
					b.WriteByte(',')
				}
				// SQLite reads $N as a named parameter (slow to bind by the thousand);
				// PostgreSQL wants $N.
				if l.sqlite {
					b.WriteByte('?')
				} else {
					fmt.Fprintf(&b, "$%d", len(args)+j+1)
				}
			}
			b.WriteByte(')')
			args = append(args, row...)
		}
		if skipConflicts {
			b.WriteString(` ON CONFLICT DO NOTHING`)
		}
		n, err := l.Exec(ctx, b.String(), args...)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// Each runs query on q and calls fn for each row.
func Each(ctx context.Context, q Querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
