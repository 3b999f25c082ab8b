// Package sqlite is the embedded storage engine: pure-Go SQLite (modernc.org/sqlite), one
// file, WAL mode, immediate write transactions and a busy timeout so concurrent writers queue
// instead of failing.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/partnerlink/partnerlink/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// dialect is SQLite's; path is the database file (":memory:" for none), beside which
// LoadExclusive keeps its lock files.
type dialect struct{ path string }

func (dialect) Name() string { return store.SQLite }

func (dialect) Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Open opens (creating if needed) the database file at path. It does not migrate.
func Open(ctx context.Context, path string) (*store.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty SQLite path; give a file path such as ./partnerlink.db", store.ErrInvalid)
	}
	if path != ":memory:" {
		dir := filepath.Dir(path)
		st, err := os.Stat(dir)
		if err != nil {
			return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot use SQLite database %q: directory %q does not exist; create it or pass another --db path", path, dir), nil)
		}
		if !st.IsDir() {
			return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot use SQLite database %q: %q is not a directory", path, dir), nil)
		}
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot use SQLite database %q: it is a directory; pass a file path", path), nil)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// 64 MiB of page cache per connection (the default is 2 MiB): bulk loads insert keys in
	// random order, and a small cache turns each insert into page reads.
	q.Add("_pragma", "cache_size(-65536)")
	// Statement journals of multi-row inserts stay in memory instead of temporary files.
	q.Add("_pragma", "temp_store(MEMORY)")
	// Reads go through a memory map of the file (up to 2 GiB, the most this SQLite build
	// maps) instead of one read call per 4 KiB page into the page cache: reading a month's
	// usage segments at the bench scale (610 MB) is otherwise 150,000 read calls and a copy
	// through the cache, and the coverage audit took 8 % longer (bench/RESULTS.md,
	// 2026-12-07). The pages mapped count in the process's resident memory while the kernel
	// keeps them cached; they are the file's, not the process's, and are dropped under
	// memory pressure like any cached file.
	q.Add("_pragma", "mmap_size(2147418112)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot open SQLite database %q", path), nil)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // each connection would otherwise get its own empty database
	} else {
		// Keep connections open: the default of two idle connections made a server under
		// concurrent load open and close a connection (file, pragmas, page cache) per request.
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
	}
	// A write needs the file to be writable; checking here turns "attempt to write a readonly
	// database" deep inside a command into one clear line at start.
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`); err != nil {
		db.Close()
		return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot write SQLite database %q (%s); check the file and its directory are writable, or pass another --db path", path, reason(err)), nil)
	}
	return store.New(db, dialect{path: path}, path), nil
}

func reason(err error) string {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_READONLY:
			return "read-only"
		case sqlite3.SQLITE_CANTOPEN:
			return "cannot open file"
		case sqlite3.SQLITE_NOTADB:
			return "not an SQLite database"
		case sqlite3.SQLITE_CORRUPT:
			return "file is corrupt"
		case sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			return "permission denied"
		}
	}
	if errors.Is(err, os.ErrPermission) {
		return "permission denied"
	}
	return "not usable"
}

func (dialect) Retryable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

func (dialect) Translate(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err // not the driver's: an application error passes through
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		return store.NewError(store.ErrConflict, "conflicts with an existing record", err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return store.NewError(store.ErrUnavailable, "the database is busy; try again", err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_PERM:
		return store.NewError(store.ErrUnavailable, "the database file cannot be used ("+reason(err)+")", err)
	}
	return store.NewError(store.ErrInternal, "internal storage error", err)
}

// loader keeps its prepared multi-row INSERTs for the whole load: preparing a statement with
// thousands of parameters costs more than running it.
type loader struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (l *loader) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := l.stmts[q]; ok {
		return st, nil
	}
	st, err := l.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	l.stmts[q] = st
	return st, nil
}

func (dialect) Load(ctx context.Context, db *sql.DB, fn func(store.Loader) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	l := &loader{tx: tx, stmts: map[string]*sql.Stmt{}}
	defer func() {
		for _, st := range l.stmts {
			st.Close()
		}
	}()
	if err := fn(l); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (l *loader) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := l.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (l *loader) Query(ctx context.Context, query string, args []any, fn func(scan func(dest ...any) error) error) error {
	rows, err := l.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SQLite allows 32766 bound variables per statement; batches stay well below.
const maxVars = 30000

func (l *loader) Insert(ctx context.Context, table string, columns []string, rows [][]any, skipConflicts bool) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	per := maxVars / len(columns)
	if per > 500 {
		per = 500
	}
	var total int64
	args := make([]any, 0, per*len(columns))
	for start := 0; start < len(rows); start += per {
		end := min(start+per, len(rows))
		batch := rows[start:end]
		st, err := l.prepare(ctx, insertSQL(table, columns, len(batch), skipConflicts))
		if err != nil {
			return total, err
		}
		args = args[:0]
		for _, r := range batch {
			if len(r) != len(columns) {
				return total, fmt.Errorf("insert into %s: row has %d values for %d columns", table, len(r), len(columns))
			}
			args = append(args, r...)
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

func insertSQL(table string, columns []string, n int, skip bool) string {
	var b strings.Builder
	// INSERT OR IGNORE rather than ON CONFLICT DO NOTHING: with IGNORE as the statement's
	// resolution no row can abort it, so SQLite writes no statement journal, which was the
	// largest cost of bulk loads. Without skip, INSERT OR FAIL for the same reason: a
	// conflict stops the statement without undoing its earlier rows, and the error rolls the
	// whole load back (Load). A statement journal of the rollups' multi-row inserts (pages
	// copied into memory, freed and returned to the system at each statement's end) was 7 of
	// `attribute`'s 66 CPU seconds at the bench scale.
	verb := "INSERT OR FAIL INTO "
	if skip {
		verb = "INSERT OR IGNORE INTO "
	}
	b.WriteString(verb + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range columns {
			if j > 0 {
				b.WriteByte(',')
			}
			// Positional '?': SQLite treats $N as a named parameter, and binding thousands of
			// names is quadratic.
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Dialect is the SQLite dialect, for what needs its migrations without opening a database.
func Dialect() store.Dialect { return dialect{} }
