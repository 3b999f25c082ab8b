// Package storetest runs the same test function against every storage engine: a fresh SQLite
// file and a fresh PostgreSQL schema. Domain packages use it for their store tests, which makes
// them one conformance suite that both engines must pass.
//
// PostgreSQL is reached through PARTNERLINK_TEST_POSTGRES (for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it is unset the PostgreSQL
// subtests skip with a message, except under CI=true, where they fail: CI never passes by
// skipping. Each test gets its own schema, so test runs can share one server.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/postgres"
	"github.com/partnerlink/partnerlink/internal/store/sqlite"
)

// EnvPostgres names the variable holding the test server's DSN.
const EnvPostgres = "PARTNERLINK_TEST_POSTGRES"

// Run runs fn as subtests "sqlite" and "postgres", each with a fresh, migrated database.
func Run(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run(store.SQLite, func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run(store.Postgres, func(t *testing.T) { fn(t, Postgres(t)) })
}

// RunEmpty runs fn as subtests "sqlite" and "postgres", each with a new database no migration
// has touched: for tests of migrating.
func RunEmpty(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run(store.SQLite, func(t *testing.T) { fn(t, openSQLite(t, false)) })
	t.Run(store.Postgres, func(t *testing.T) {
		db, _ := openPostgres(t, false)
		fn(t, db)
	})
}

// RunPair runs fn as subtests "sqlite" and "postgres", each with two handles (pools) on one
// fresh, migrated database: what two processes sharing a database see.
func RunPair(t *testing.T, fn func(t *testing.T, a, b *store.DB)) {
	t.Helper()
	t.Run(store.SQLite, func(t *testing.T) {
		a := SQLite(t)
		b, err := sqlite.Open(context.Background(), a.Display)
		if err != nil {
			t.Fatalf("open sqlite again: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		fn(t, a, b)
	})
	t.Run(store.Postgres, func(t *testing.T) {
		a, dsn := PostgresWithDSN(t)
		b, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("open postgres again: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		fn(t, a, b)
	})
}

// SQLite returns a fresh migrated database in a temporary file, closed at the end of the test.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return openSQLite(t, true)
}

func openSQLite(t testing.TB, migrate bool) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	if migrate {
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate sqlite: %v", err)
		}
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDSN returns the test server's DSN, skipping (or, under CI=true, failing) when unset.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: under CI=true the PostgreSQL tests must run", EnvPostgres)
		}
		t.Skipf("PostgreSQL tests skipped: set %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them", EnvPostgres)
	}
	return dsn
}

// Postgres returns a fresh migrated database in a new schema of the test server; the schema
// is dropped when the test ends.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	db, _ := PostgresWithDSN(t)
	return db
}

// PostgresWithDSN is Postgres, also returning a DSN that opens the same schema (for tests that
// start a server process or open a second pool).
func PostgresWithDSN(t testing.TB) (*store.DB, string) {
	t.Helper()
	return openPostgres(t, true)
}

func openPostgres(t testing.TB, migrate bool) (*store.DB, string) {
	t.Helper()
	base := PostgresDSN(t)
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgres.Redact(base), err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	admin.Close(ctx)
	dsn := WithSearchPath(t, base, schema)
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	if migrate {
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate postgres: %v", err)
		}
	}
	t.Cleanup(func() {
		db.Close()
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	return db, dsn
}

// WithSearchPath adds search_path=schema to a postgres:// DSN.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
