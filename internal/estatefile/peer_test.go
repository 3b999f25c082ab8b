package estatefile_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
)

// The peer of the import benchmarks: the rows an import wrote, loaded again into a fresh
// database without partnerlink's parsing and validation, by the engine's own plain path.
//
// After its timed import, the first import child of a benchmark run dumps every table an
// estate import writes (peerTables) to a directory: per table a file in PostgreSQL's COPY text
// format (one row a line, columns separated by tabs, \\, \t, \n and \r escaped) and a line of
// manifest.tsv naming its columns and which of them are integers. The rows are the stored
// ones, in the order the engine returns them (on SQLite the order of insertion, which is
// the file's), so the peer writes the same tables, the same rows and, link_history's random
// IDs aside, the same values.
//
// A peer child then opens a fresh, migrated database (as the import child does) and times,
// from BEGIN to the end of COMMIT:
//
//   - PostgreSQL: for each table, COPY table (columns) FROM STDIN with the table's file as
//     the data, on one pgx connection in one transaction (pgconn's CopyFrom, which streams the
//     file to the server unchanged: the server parses the text).
//   - SQLite: for each table, one prepared INSERT INTO table (columns) VALUES (?, ...) run
//     once per line of the table's file (split at tabs, unescaped, integer columns converted
//     with strconv.ParseInt), in one transaction, through the same driver and DSN as the import
//     (modernc.org/sqlite, store/sqlite.Open).
//
// In mode "plain" the tables keep every index the migrations give them while rows go in. In
// mode "deferred" the peer first drops the indexes of the tables with windows that the engine
// lets be dropped (see peerDeferredIndexes), loads, and builds them again before COMMIT: the
// advice of both engines' documentation for bulk loads.

// peerTables are the tables an estate import writes, in an order that satisfies their
// foreign keys.
var peerTables = []string{"partner_orgs", "partner_org_tenants", "partner_locations", "partner_location_active",
	"tenants", "management_groups", "subscriptions", "subscription_dpor", "principals", "group_memberships",
	"role_definitions", "role_assignments", "pim_activations", "delegations", "delegation_authorizations",
	"links", "link_spans", "link_history", "tracking_ids", "deployments"}

// peerIndexedTables are the tables whose indexes the deferred peer builds after the load: the
// estate tables with windows (the set the import's bulk path defers too).
var peerIndexedTables = []string{"management_groups", "subscriptions", "subscription_dpor", "principals", "group_memberships",
	"role_definitions", "role_assignments", "pim_activations", "delegations", "delegation_authorizations",
	"partner_location_active", "link_spans"}

// dumpForPeer writes the peer's input (see above) to dir.
func dumpForPeer(ctx context.Context, db *store.DB, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var manifest strings.Builder
	for _, table := range peerTables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			return err
		}
		types, err := rows.ColumnTypes()
		if err != nil {
			rows.Close()
			return err
		}
		names := make([]string, len(types))
		kinds := make([]byte, len(types))
		for i, ct := range types {
			names[i] = ct.Name()
			kinds[i] = 's'
			if strings.Contains(strings.ToUpper(ct.DatabaseTypeName()), "INT") {
				kinds[i] = 'i'
			}
		}
		fmt.Fprintf(&manifest, "%s\t%s\t%s\n", table, strings.Join(names, ","), kinds)
		f, err := os.Create(filepath.Join(dir, table+".tsv"))
		if err != nil {
			rows.Close()
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		vals := make([]sql.NullString, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				f.Close()
				return err
			}
			for i, v := range vals {
				if i > 0 {
					w.WriteByte('\t')
				}
				if !v.Valid {
					w.WriteString(`\N`)
					continue
				}
				copyEscaper.WriteString(w, v.String)
			}
			w.WriteByte('\n')
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "manifest.tsv"), []byte(manifest.String()), 0o644)
}

var copyEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)
var copyUnescaper = strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n", `\r`, "\r")

type peerTable struct {
	name  string
	cols  []string
	kinds string
}

func readManifest(dir string) ([]peerTable, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		return nil, err
	}
	var out []peerTable
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("manifest line %q", line)
		}
		out = append(out, peerTable{f[0], strings.Split(f[1], ","), f[2]})
	}
	return out, nil
}

// peerLoad loads dir into db (fresh and migrated) as the peer does and returns the time from
// BEGIN to the end of COMMIT and the rows written.
func peerLoad(ctx context.Context, db *store.DB, dir, mode string) (time.Duration, int64, error) {
	tables, err := readManifest(dir)
	if err != nil {
		return 0, 0, err
	}
	if mode != "plain" && mode != "deferred" {
		return 0, 0, fmt.Errorf("peer mode %q: want plain or deferred", mode)
	}
	var drops, creates []string
	if mode == "deferred" {
		if drops, creates, err = peerDeferredIndexes(ctx, db); err != nil {
			return 0, 0, err
		}
	}
	if db.Engine() == store.Postgres {
		return peerPostgres(ctx, db, dir, tables, drops, creates)
	}
	return peerSQLite(ctx, db, dir, tables, drops, creates)
}

// peerDeferredIndexes returns the statements that drop the indexes of peerIndexedTables
// that the engine lets be built after a load, and those that build them again: on SQLite
// the indexes that back no constraint; on PostgreSQL those and the primary keys no foreign
// key references (pg_restore's order: data, primary keys, indexes).
func peerDeferredIndexes(ctx context.Context, db *store.DB) (drops, creates []string, err error) {
	in := "'" + strings.Join(peerIndexedTables, "', '") + "'"
	queries := []string{`SELECT 'DROP INDEX ' || name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (` + in + `) ORDER BY name`}
	if db.Engine() == store.Postgres {
		queries = []string{
			`SELECT 'ALTER TABLE ' || t.relname || ' DROP CONSTRAINT ' || c.conname, 'ALTER TABLE ' || t.relname || ' ADD CONSTRAINT ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
			FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
			WHERE c.contype = 'p' AND c.connamespace = current_schema()::regnamespace AND t.relname IN (` + in + `)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = c.conrelid) ORDER BY c.conname`,
			`SELECT 'DROP INDEX ' || i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename IN (` + in + `)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace)
			ORDER BY i.indexname`,
		}
	}
	for _, q := range queries {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var drop, create string
			if err := rows.Scan(&drop, &create); err != nil {
				rows.Close()
				return nil, nil, err
			}
			drops, creates = append(drops, drop), append(creates, create)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return drops, creates, nil
}

func peerPostgres(ctx context.Context, db *store.DB, dir string, tables []peerTable, drops, creates []string) (time.Duration, int64, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	var elapsed time.Duration
	var total int64
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		start := time.Now()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		for _, q := range drops {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		for _, t := range tables {
			f, err := os.Open(filepath.Join(dir, t.name+".tsv"))
			if err != nil {
				return err
			}
			tag, err := tx.Conn().PgConn().CopyFrom(ctx, f, `COPY `+t.name+` (`+strings.Join(t.cols, ", ")+`) FROM STDIN`)
			f.Close()
			if err != nil {
				return fmt.Errorf("COPY %s: %w", t.name, err)
			}
			total += tag.RowsAffected()
		}
		for _, q := range creates {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		elapsed = time.Since(start)
		return nil
	})
	return elapsed, total, err
}

func peerSQLite(ctx context.Context, db *store.DB, dir string, tables []peerTable, drops, creates []string) (time.Duration, int64, error) {
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	for _, q := range drops {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, 0, err
		}
	}
	var total int64
	for _, t := range tables {
		n, err := peerSQLiteTable(ctx, tx, dir, t)
		if err != nil {
			return 0, 0, fmt.Errorf("insert into %s: %w", t.name, err)
		}
		total += n
	}
	for _, q := range creates {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	return time.Since(start), total, nil
}

func peerSQLiteTable(ctx context.Context, tx *sql.Tx, dir string, t peerTable) (int64, error) {
	st, err := tx.PrepareContext(ctx, `INSERT INTO `+t.name+` (`+strings.Join(t.cols, ", ")+`) VALUES (?`+strings.Repeat(", ?", len(t.cols)-1)+`)`)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	f, err := os.Open(filepath.Join(dir, t.name+".tsv"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	args := make([]any, len(t.cols))
	var n int64
	for sc.Scan() {
		line := sc.Text()
		for i := range args {
			var v string
			if i == len(args)-1 {
				v = line
			} else {
				var ok bool
				if v, line, ok = strings.Cut(line, "\t"); !ok {
					return n, fmt.Errorf("line %d has %d of %d columns", n+1, i+1, len(args))
				}
			}
			switch {
			case v == `\N`:
				args[i] = nil
			case t.kinds[i] == 'i':
				x, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return n, fmt.Errorf("line %d: %w", n+1, err)
				}
				args[i] = x
			case strings.IndexByte(v, '\\') >= 0:
				args[i] = copyUnescaper.Replace(v)
			default:
				args[i] = v
			}
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return n, err
		}
		n++
	}
	return n, sc.Err()
}

// TestPeerLoadsTheImportsRows checks the peer of the import benchmarks: what an import wrote,
// dumped and loaded again by the peer (both modes), is the same rows with the same indexes.
func TestPeerLoadsTheImportsRows(t *testing.T) {
	var gen strings.Builder
	if err := synth.Generate(3, synth.Small).WriteEstate(&gen); err != nil {
		t.Fatal(err)
	}
	// A value the dump must escape, and one that reads like COPY's NULL.
	body := strings.Replace(gen.String(), `"name": "sub-0-0"`, `"name": "a\tb\\c\nd\re \\N"`, 1)
	if body == gen.String() {
		t.Fatal("fixture changed")
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := importFile(t, db, body, estatefile.Options{}); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := dumpForPeer(ctx, db, dir); err != nil {
			t.Fatal(err)
		}
		want := withoutImports(dumpTables(t, db))
		// dumpTables prints values as they are: a real tab, backslash, newline and carriage return.
		if !strings.Contains(want, "name=a\tb\\c\nd\re \\N ") {
			t.Fatalf("the import did not store the escaped name:\n%s", want)
		}
		for _, mode := range []string{"plain", "deferred"} {
			t.Run(mode, func(t *testing.T) {
				peer := storetest.SQLite(t)
				if db.Engine() == store.Postgres {
					peer = storetest.Postgres(t)
				}
				_, n, err := peerLoad(ctx, peer, dir, mode)
				if err != nil {
					t.Fatal(err)
				}
				if got := withoutImports(dumpTables(t, peer)); got != want {
					t.Fatalf("the peer stored other rows (%d) than the import:\n--- peer\n%s\n--- import\n%s", n, got, want)
				}
				if a, b := indexNames(t, peer), indexNames(t, db); a != b {
					t.Fatalf("indexes after the peer: %s; after the import: %s", a, b)
				}
			})
		}
	})
}

func withoutImports(dump string) string {
	var keep []string
	for _, line := range strings.Split(dump, "\n") {
		if !strings.HasPrefix(line, "imports ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// indexNames lists the indexes of the database's estate tables.
func indexNames(t *testing.T, db *store.DB) string {
	t.Helper()
	q := `SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'index' ORDER BY 1`
	if db.Engine() == store.Postgres {
		q = `SELECT tablename || '.' || indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1`
	}
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}
