package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
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

// fieldSep joins the columns EachJoined reads: the ASCII unit separator, which IDs, scopes
// and names do not hold (a value that does is still read right: see EachJoined).
const fieldSep = "\x1f"

// EachJoined runs SELECT cols FROM rest on q and calls fn with each row's fields as text (an
// integer column in decimal). The columns must be NOT NULL text or integer expressions. They
// are read as one column, joined by fieldSep: the SQLite driver enters the connection's mutex
// for every column it reads, and a hundred thousand role assignments of eight columns took
// twice as long to read as the same rows joined into one (262 against 130 ms, 2026-12-08).
// A value that holds fieldSep itself makes its row split into more fields than cols; the
// rows are then read again column by column, so fn sees every row exactly once either way.
// fields is reused from row to row (its strings are not).
func EachJoined(ctx context.Context, q Querier, cols []string, rest string, args []any, fn func(fields []string) error) error {
	joined := "SELECT " + strings.Join(cols, " || '"+fieldSep+"' || ") + " FROM " + rest
	var rows []string
	split := true
	err := Each(ctx, q, joined, args, func(r *sql.Rows) error {
		var s string
		if err := r.Scan(&s); err != nil {
			return err
		}
		if strings.Count(s, fieldSep) != len(cols)-1 {
			split = false
		}
		if split {
			rows = append(rows, s)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fields := make([]string, len(cols))
	if !split {
		rows = nil
		ptrs := make([]any, len(cols))
		for i := range ptrs {
			ptrs[i] = &fields[i]
		}
		return Each(ctx, q, "SELECT "+strings.Join(cols, ", ")+" FROM "+rest, args, func(r *sql.Rows) error {
			if err := r.Scan(ptrs...); err != nil {
				return err
			}
			return fn(fields)
		})
	}
	for _, s := range rows {
		for i := range fields[:len(fields)-1] {
			fields[i], s, _ = strings.Cut(s, fieldSep)
		}
		fields[len(fields)-1] = s
		if err := fn(fields); err != nil {
			return err
		}
	}
	return nil
}

// JoinedWindow reads the valid_from and valid_to fields of an EachJoined row.
func JoinedWindow(from, to string) (int64, int64, error) {
	f, err := strconv.ParseInt(from, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("valid_from %q is not an integer: %w", from, err)
	}
	t, err := strconv.ParseInt(to, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("valid_to %q is not an integer: %w", to, err)
	}
	return f, t, nil
}
