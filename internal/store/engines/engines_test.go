package engines_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/store/sqlite"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

const day = int64(86400_000_000_000)

// TestMigrateMovesLegacyRowsThenDrops: a database of schema 0599 holding rows in the abandoned
// row-per-record tables is migrated with its rows moved into segments first; then the tables
// are gone.
func TestMigrateMovesLegacyRowsThenDrops(t *testing.T) {
	storetest.RunEmpty(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		old, err := db.MigrateTo(ctx, 599)
		if err != nil {
			t.Fatal(err)
		}
		start := 20000 * day
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		sub := "11111111-2222-3333-4444-555555555555"
		res := "/subscriptions/" + sub + "/resourcegroups/rg/providers/p/vm/v1"
		exec(`INSERT INTO usage_records (record_key, charge_start, charge_end, subscription_id, resource_id, resource_key, service,
			service_category, charge_category, pricing_category, commitment_discount_id, provider, publisher, currency, cost_nanos,
			cost_raw, measure, import_id) VALUES ('k1', $1, $2, $3, $4, $4, 'VM', '', 'Usage', '', '', 'Microsoft', 'Microsoft', 'USD',
			1500000000, '1.5', 'billed', 'old')`, start, start+day, sub, res)
		exec(`INSERT INTO attributions (record_key, location_id, association, org_id, charge_start, charge_end, tenant_id, subscription_id,
			resource_id, service, currency, cost_nanos, coverage_nanos, amount_nanos, admin_role, duplicate_at_org, run_id)
			VALUES ('k1', '4100001', 'PAL', '4100000', $1, $2, 't1', $3, $4, 'VM', 'USD', 1500000000, 1000000000, 1500000000, 'Owner', false, 'old')`,
			start, start+day, sub, res)

		from, to, err := engines.Migrate(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if want := store.LatestVersion(db.Dialect); from != old || to != want {
			t.Fatalf("Migrate = %d -> %d, want %d -> %d", from, to, old, want)
		}
		var recs []usage.Record
		if err := usage.Records(ctx, db, timeline.Always(), func(r *usage.Record) error { recs = append(recs, *r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Key != "k1" || recs[0].Cost != 1_500_000_000 {
			t.Fatalf("usage after the migration = %+v, want the legacy record", recs)
		}
		var rows []attribution.Row
		if err := results.StoredRows(ctx, db, results.RowFilter{Period: timeline.Always()}, func(r *attribution.Row) error {
			rows = append(rows, *r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].LocationID != "4100001" || rows[0].Amount != 1_500_000_000 {
			t.Fatalf("results after the migration = %+v, want the legacy row", rows)
		}
		for _, table := range []string{"usage_records", "attributions", "incentives"} {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err == nil {
				t.Errorf("table %s still exists after the migration", table)
			}
		}
		if from, to, err := engines.Migrate(ctx, db); err != nil || from != to {
			t.Fatalf("a second Migrate = %d -> %d, %v; want nothing to do", from, to, err)
		}
	})
}

// TestOpenPolicy: commands migrate a new database, refuse one at another version with the
// command to run, and serve (OpenCurrent) refuses a new one too.
func TestOpenPolicy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	fresh := filepath.Join(dir, "fresh.db")
	if _, err := engines.OpenCurrent(ctx, fresh); !isSchemaError(err, "has no schema yet", "partnerlink migrate --db") {
		t.Fatalf("OpenCurrent of a new database = %v; want a SchemaError naming partnerlink migrate", err)
	}
	db, err := engines.Open(ctx, fresh)
	if err != nil {
		t.Fatalf("Open of a new database = %v; want it migrated", err)
	}
	if v, _ := db.SchemaVersion(ctx); v != store.LatestVersion(db.Dialect) {
		t.Fatalf("Open left a new database at version %d", v)
	}
	db.Close()
	if db, err = engines.OpenCurrent(ctx, fresh); err != nil {
		t.Fatalf("OpenCurrent of a migrated database = %v", err)
	}
	db.Close()

	old := filepath.Join(dir, "old.db")
	raw, err := sqlite.Open(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.MigrateTo(ctx, 510); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	for name, open := range map[string]func(context.Context, string) (*store.DB, error){"Open": engines.Open, "OpenCurrent": engines.OpenCurrent} {
		if _, err := open(ctx, old); !isSchemaError(err, "is at schema version 510", "partnerlink migrate --db") {
			t.Errorf("%s of a database at 510 = %v; want a SchemaError naming partnerlink migrate", name, err)
		}
	}
	raw, _ = sqlite.Open(ctx, old)
	defer raw.Close()
	if v, _ := raw.SchemaVersion(ctx); v != 510 {
		t.Fatalf("refusing the database migrated it to %d", v)
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := engines.Open(ctx, old); !isSchemaError(err, "newer than this partnerlink", "") {
		t.Errorf("Open of a newer database = %v; want a SchemaError", err)
	}
}

func isSchemaError(err error, parts ...string) bool {
	var se *engines.SchemaError
	if !errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) {
		return false
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			return false
		}
	}
	return true
}

// TestSQLiteMapsReads: every connection of a file database reads through a memory map (see
// the mmap_size pragma in internal/store/sqlite), not one read call per page.
func TestSQLiteMapsReads(t *testing.T) {
	ctx := context.Background()
	db, err := engines.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conns := make([]*sql.Conn, 3) // distinct connections of the pool: each gets the DSN's pragmas
	for i := range conns {
		if conns[i], err = db.Conn(ctx); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
		var n int64
		if err := conns[i].QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n < 1<<30 {
			t.Errorf("connection %d: mmap_size = %d, want at least 1 GiB", i, n)
		}
	}
}
