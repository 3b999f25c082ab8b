// Package engines opens a database from what the user typed in --db / PARTNERLINK_DB: a file
// path or sqlite: URL for the embedded engine, a postgres:// DSN for PostgreSQL.
package engines

import (
	"context"
	"fmt"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/postgres"
	"github.com/partnerlink/partnerlink/internal/store/sqlite"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// DefaultPath is the embedded database used when no --db is given.
const DefaultPath = "./partnerlink.db"

// Open opens and migrates the database named by value.
func Open(ctx context.Context, value string) (*store.DB, error) {
	db, err := OpenNoMigrate(ctx, value)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating %s database %q: %w", db.Engine(), db.Display, err)
	}
	// Data the schema changes of 0300 and 0410 cannot move in SQL: usage and attribution rows of
	// older databases.
	if err := usage.UpgradeLegacy(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("moving the usage records of %s database %q into segments: %w", db.Engine(), db.Display, err)
	}
	if err := results.UpgradeLegacy(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("moving the attribution rows of %s database %q into segments: %w", db.Engine(), db.Display, err)
	}
	return db, nil
}

// OpenNoMigrate opens the database without applying migrations.
func OpenNoMigrate(ctx context.Context, value string) (*store.DB, error) {
	switch {
	case value == "":
		return sqlite.Open(ctx, DefaultPath)
	case strings.HasPrefix(value, "postgres://"), strings.HasPrefix(value, "postgresql://"):
		return postgres.Open(ctx, value)
	case strings.HasPrefix(value, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(value, "sqlite:"), "//")
		return sqlite.Open(ctx, p)
	case strings.HasPrefix(value, "file:"):
		return sqlite.Open(ctx, strings.TrimPrefix(value, "file:"))
	case strings.Contains(value, "://"):
		scheme, _, _ := strings.Cut(value, "://")
		return nil, store.NewError(store.ErrInvalid, fmt.Sprintf("--db %q has unknown scheme %q; use a file path (./partnerlink.db), sqlite:PATH or postgres://USER@HOST:PORT/DB", postgres.Redact(value), scheme), nil)
	}
	return sqlite.Open(ctx, value)
}
