package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one embedded SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the dialect's migrations in order. File names are NNNN_name.sql; ranges of
// numbers are reserved per area (see docs/CONTRIBUTING.md) so parallel work does not collide.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(d.Migrations(), ".")
	if err != nil {
		return nil, fmt.Errorf("reading %s migrations: %w", d.Name(), err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %q: name must start with a number and '_'", name)
		}
		body, err := fs.ReadFile(d.Migrations(), name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// LatestVersion is the schema version this binary's migrations produce.
func LatestVersion(d Dialect) int {
	ms, err := Migrations(d)
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Migrate applies every migration not yet applied, each in its own transaction, and returns
// the resulting schema version.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	return db.MigrateTo(ctx, math.MaxInt)
}

// MigrateTo applies the migrations not yet applied whose versions are at most last, each in its
// own transaction, and returns the resulting schema version. Steps that are not SQL (moving the
// rows of an old table before a migration drops it) run between two calls.
func (db *DB) MigrateTo(ctx context.Context, last int) (int, error) {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, db.Translate(err)
	}
	applied := map[int]bool{}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return 0, db.Translate(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return 0, db.Translate(err)
		}
		applied[v] = true
	}
	rows.Close()
	version := 0
	for _, m := range ms {
		if m.Version > last {
			break
		}
		if applied[m.Version] {
			version = m.Version
			continue
		}
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return version, fmt.Errorf("applying %s: %w", m.Name, err)
		}
		version = m.Version
	}
	return version, nil
}

// SchemaVersion reports the highest applied migration (0 for a database no migration has
// touched, such as a new, empty one). It writes nothing.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var n int
	lookup := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if db.Engine() == Postgres {
		lookup = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	if err := db.QueryRowContext(ctx, lookup).Scan(&n); err != nil {
		return 0, db.Translate(err)
	}
	if n == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, db.Translate(err)
	}
	return int(v.Int64), nil
}
