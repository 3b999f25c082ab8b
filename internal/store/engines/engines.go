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

// Open opens the database named by value for a command that reads or writes it. A new
// database (no migration applied: the first command run against it) is migrated; a database
// at another schema version than this binary's is refused with a *SchemaError that names
// `partnerlink migrate`: migrating an existing database is an explicit step (Migrate).
func Open(ctx context.Context, value string) (*store.DB, error) {
	db, err := OpenNoMigrate(ctx, value)
	if err != nil {
		return nil, err
	}
	have, err := db.SchemaVersion(ctx)
	if err == nil && have == 0 {
		_, _, err = Migrate(ctx, db)
	} else if err == nil {
		err = Check(ctx, db)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenCurrent opens the database named by value only if it is at this binary's schema
// version, new databases included: what serve accepts (a *SchemaError otherwise).
func OpenCurrent(ctx context.Context, value string) (*store.DB, error) {
	db, err := OpenNoMigrate(ctx, value)
	if err != nil {
		return nil, err
	}
	if err := Check(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// dropsLegacy is the migration that drops the row-per-record tables of old schemas
// (usage_records, attributions, incentives); their rows move into segments before it.
const dropsLegacy = 600

// Migrate brings db to this binary's schema version and returns the versions before and
// after. The migrations before dropsLegacy are applied first; then, on a database that had a
// schema already, the rows of the abandoned tables move into segments (data that SQL cannot
// move: usage.UpgradeLegacy, results.UpgradeLegacy, each one transaction); then the
// remaining migrations drop those tables and go on. Interrupted, it starts again where it
// stopped: each step is a transaction and the moves do nothing once the tables are empty.
func Migrate(ctx context.Context, db *store.DB) (from, to int, err error) {
	fail := func(what string, err error) (int, int, error) {
		return from, to, fmt.Errorf("%s %s database %q: %w", what, db.Engine(), db.Display, err)
	}
	if from, err = db.SchemaVersion(ctx); err != nil {
		return fail("reading the schema version of", err)
	}
	if from > 0 && from < dropsLegacy {
		if to, err = db.MigrateTo(ctx, dropsLegacy-1); err != nil {
			return fail("migrating", err)
		}
		if err := usage.UpgradeLegacy(ctx, db); err != nil {
			return fail("moving into segments the usage records of", err)
		}
		if err := results.UpgradeLegacy(ctx, db); err != nil {
			return fail("moving into segments the attribution rows of", err)
		}
	}
	if to, err = db.Migrate(ctx); err != nil {
		return fail("migrating", err)
	}
	// Rollups written before schema 621 move into that schema's tables (one transaction).
	if err := results.UpgradeRollups(ctx, db); err != nil {
		return fail("moving into today's rollups the daily rollups of", err)
	}
	return from, to, nil
}

// SchemaError says the database is not at this binary's schema version, and what to do.
type SchemaError struct {
	Engine, Display string
	Have, Want      int
}

func (e *SchemaError) Error() string {
	db := fmt.Sprintf("%s database %q", e.Engine, e.Display)
	switch {
	case e.Have == 0:
		return fmt.Sprintf("%s has no schema yet; create it with `partnerlink migrate --db %s`", db, e.Display)
	case e.Have < e.Want:
		return fmt.Sprintf("%s is at schema version %d and this partnerlink needs %d; back it up, then run `partnerlink migrate --db %s`", db, e.Have, e.Want, e.Display)
	}
	return fmt.Sprintf("%s is at schema version %d, newer than this partnerlink's %d; use the partnerlink that migrated it, or a newer one", db, e.Have, e.Want)
}

// Unwrap makes a SchemaError a store.ErrInvalid: the database cannot be used as it is.
func (e *SchemaError) Unwrap() error { return store.ErrInvalid }

// Check returns a *SchemaError unless db is at this binary's schema version.
func Check(ctx context.Context, db *store.DB) error {
	have, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version of %s database %q: %w", db.Engine(), db.Display, err)
	}
	if want := store.LatestVersion(db.Dialect); have != want {
		return &SchemaError{Engine: db.Engine(), Display: db.Display, Have: have, Want: want}
	}
	return nil
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

// LocalPath returns the SQLite file a --db value names, and false for a server database.
func LocalPath(value string) (string, bool) {
	switch {
	case value == "":
		return DefaultPath, true
	case strings.HasPrefix(value, "sqlite:"):
		return strings.TrimPrefix(strings.TrimPrefix(value, "sqlite:"), "//"), true
	case strings.HasPrefix(value, "file:"):
		return strings.TrimPrefix(value, "file:"), true
	case strings.Contains(value, "://"):
		return "", false
	}
	return value, true
}
