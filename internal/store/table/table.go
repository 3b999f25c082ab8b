// Package table describes a table once, in the package that owns it, for the reads and writes
// that code outside the owner runs on its rows without knowing its meaning: the estate import
// (internal/estatefile) diffs versions of a dozen tables generically and loads them in bulk.
// The owner declares the table (name, key and value columns, whether rows carry a validity
// window); this package builds the SQL, so that no other package spells a table's name.
package table

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Table is a table as its owner declares it. Owners export their tables as package variables;
// nobody else changes them.
type Table struct {
	Name string
	// Key are the columns that identify an entity (with Windowed, each of its versions has a
	// row); Values the other columns that Columns lists.
	Key, Values []string
	// Windowed tables hold versions: valid_from and valid_to follow the values.
	Windowed bool
}

// Columns are the key columns, the value columns and, for a windowed table, valid_from and
// valid_to: the order of every row this package reads or writes.
func (t *Table) Columns() []string {
	cols := append(append([]string{}, t.Key...), t.Values...)
	if t.Windowed {
		cols = append(cols, "valid_from", "valid_to")
	}
	return cols
}

// Rows calls fn with every row: key and value columns as text, and the window (zero for a table
// without one). Versions come in the order of their start, other rows in the order of their key.
func (t *Table) Rows(ctx context.Context, q store.Querier, fn func(cols []string, from, to int64) error) error {
	cols := append(append([]string{}, t.Key...), t.Values...)
	order := strings.Join(t.Key, ", ")
	query := `SELECT ` + strings.Join(cols, ", ")
	if t.Windowed {
		query += `, valid_from, valid_to`
		order = `valid_from`
	}
	vals := make([]string, len(cols))
	var from, to int64
	ptrs := make([]any, 0, len(cols)+2)
	for i := range vals {
		ptrs = append(ptrs, &vals[i])
	}
	if t.Windowed {
		ptrs = append(ptrs, &from, &to)
	}
	return store.Each(ctx, q, query+` FROM `+t.Name+` ORDER BY `+order, nil, func(r *sql.Rows) error {
		if err := r.Scan(ptrs...); err != nil {
			return err
		}
		return fn(append([]string(nil), vals...), from, to)
	})
}

// Upsert writes one row (in Columns order), replacing the values of a row with its key.
func (t *Table) Upsert(ctx context.Context, ld store.Loader, row ...any) error {
	cols := t.Columns()
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	q := `INSERT INTO ` + t.Name + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(ph, ", ") + `) ON CONFLICT (` + strings.Join(t.Key, ", ") + `) DO `
	if len(t.Values) == 0 {
		q += `NOTHING`
	} else {
		set := make([]string, len(t.Values))
		for i, c := range t.Values {
			set[i] = c + " = excluded." + c
		}
		q += `UPDATE SET ` + strings.Join(set, ", ")
	}
	_, err := ld.Exec(ctx, q, row...)
	return err
}

// Delete deletes every row (every version) with key.
func (t *Table) Delete(ctx context.Context, ld store.Loader, key []string) error {
	where := make([]string, len(t.Key))
	args := make([]any, len(key))
	for i, c := range t.Key {
		where[i] = fmt.Sprintf("%s = $%d", c, i+1)
		args[i] = key[i]
	}
	_, err := ld.Exec(ctx, `DELETE FROM `+t.Name+` WHERE `+strings.Join(where, " AND "), args...)
	return err
}

// Insert writes rows (in Columns order) with the loader's bulk insert and reports how many it
// inserted; with skipConflicts, rows whose key exists are skipped.
func (t *Table) Insert(ctx context.Context, ld store.Loader, rows [][]any, skipConflicts bool) (int64, error) {
	return ld.Insert(ctx, t.Name, t.Columns(), rows, skipConflicts)
}

// Empty reports whether the table has no row.
func (t *Table) Empty(ctx context.Context, q store.Querier) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM `+t.Name+` LIMIT 1) AS x`).Scan(&n)
	return n == 0, err
}

// Lock takes, on PostgreSQL, a lock on the tables that lets others read them but not write
// them until the load's transaction ends (SHARE ROW EXCLUSIVE), so that what the load reads
// through other connections of the pool stays what its transaction sees. SQLite's loads hold
// the database's only write lock already; there Lock does nothing.
func Lock(ctx context.Context, db *store.DB, ld store.Loader, tables []*Table) error {
	if db.Engine() != store.Postgres {
		return nil
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	_, err := ld.Exec(ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN SHARE ROW EXCLUSIVE MODE`)
	return err
}

// DeferIndexes drops, on PostgreSQL, the indexes of tables, their primary keys included, and
// returns, by table name, the statements that build them again once the table's rows are
// loaded: building an index over loaded rows (one sort) costs far less than a million random
// index inserts (PostgreSQL's "Populating a Database" advice, and pg_restore's order: data,
// then primary keys, then indexes). Measured on the project's machine, importing 1,000,000
// role assignments: the server's CPU time (backend and parallel workers) went from 28-30 s with
// only the secondary indexes deferred to 20-21 s with the primary keys deferred too. A primary
// key that a foreign key references stays (dropping it would need the foreign key dropped too).
// It is all the load's transaction: no one sees the tables without their indexes. The drop
// takes the tables' ACCESS EXCLUSIVE lock, so their readers wait for the load to commit. On
// SQLite it does nothing and returns no statements.
func DeferIndexes(ctx context.Context, db *store.DB, ld store.Loader, tables []*Table) (map[string][]string, error) {
	if db.Engine() != store.Postgres {
		return nil, nil
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = "'" + t.Name + "'"
	}
	in := strings.Join(names, ", ")
	var drops []string
	builds := map[string][]string{}
	read := func(q string, each func(a, b, c string)) error {
		return store.Each(ctx, db, q, nil, func(r *sql.Rows) error {
			var a, b, c string
			if err := r.Scan(&a, &b, &c); err != nil {
				return err
			}
			each(a, b, c)
			return nil
		})
	}
	// Primary keys first (built first again), then the other indexes, each sorted by name.
	err := read(`SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
		WHERE c.contype = 'p' AND c.connamespace = current_schema()::regnamespace AND t.relname IN (`+in+`)
		AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = c.conrelid)
		ORDER BY c.conname`, func(table, name, def string) {
		drops = append(drops, `ALTER TABLE `+table+` DROP CONSTRAINT `+name)
		builds[table] = append(builds[table], `ALTER TABLE `+table+` ADD CONSTRAINT `+name+` `+def)
	})
	if err != nil {
		return nil, err
	}
	err = read(`SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename IN (`+in+`)
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace)
		ORDER BY i.indexname`, func(table, name, def string) {
		drops = append(drops, `DROP INDEX `+name)
		builds[table] = append(builds[table], def)
	})
	if err != nil {
		return nil, err
	}
	for _, q := range drops {
		if _, err := ld.Exec(ctx, q); err != nil {
			return nil, err
		}
	}
	return builds, nil
}
