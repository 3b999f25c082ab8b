package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// sqlrefTables are the tables the SQL formulation reads.
var sqlrefTables = []string{"partner_orgs", "partner_org_tenants", "partner_locations", "partner_location_active",
	"management_groups", "subscriptions", "subscription_dpor", "principals", "group_memberships", "role_definitions",
	"role_assignments", "pim_activations", "delegations", "delegation_authorizations", "link_spans", "tracking_ids",
	"deployments", "sqlref_usage", "partner_identifiers", "accounts", "account_resale", "sqlref_usage_tags"}

// copyToDuckDB copies the tables from a migrated SQLite database into a new DuckDB file, with
// the same columns (BIGINT, TEXT, BOOLEAN), through DuckDB's appender.
func copyToDuckDB(ctx context.Context, src *sql.DB, path string) (*sql.DB, error) {
	conn, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, fmt.Errorf("duckdb %s: %w", path, err)
	}
	db := sql.OpenDB(conn)
	c, err := conn.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for _, t := range sqlrefTables {
		cols, types, err := sqliteColumns(ctx, src, t)
		if err != nil {
			return nil, err
		}
		var defs []string
		for i, c := range cols {
			defs = append(defs, `"`+c+`" `+types[i])
		}
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+t+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return nil, fmt.Errorf("duckdb create %s: %w", t, err)
		}
		if err := appendRows(ctx, src, c, t, cols, types); err != nil {
			return nil, err
		}
	}
	return db, nil
}

func sqliteColumns(ctx context.Context, db *sql.DB, table string) ([]string, []string, error) {
	rows, err := db.QueryContext(ctx, "SELECT name, type FROM pragma_table_info('"+table+"') ORDER BY cid")
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var cols, types []string
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			return nil, nil, err
		}
		switch strings.ToUpper(ty) {
		case "BIGINT", "INTEGER":
			ty = "BIGINT"
		case "BOOLEAN":
			ty = "BOOLEAN"
		default:
			ty = "VARCHAR"
		}
		cols, types = append(cols, n), append(types, ty)
	}
	return cols, types, rows.Err()
}

func appendRows(ctx context.Context, src *sql.DB, c driver.Conn, table string, cols, types []string) error {
	app, err := duckdb.NewAppenderFromConn(c, "", table)
	if err != nil {
		return fmt.Errorf("duckdb appender %s: %w", table, err)
	}
	rows, err := src.QueryContext(ctx, `SELECT "`+strings.Join(cols, `", "`)+`" FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	ptrs := make([]any, len(cols))
	ints := make([]int64, len(cols))
	strs := make([]string, len(cols))
	for i, ty := range types {
		if ty == "VARCHAR" {
			ptrs[i] = &strs[i]
		} else {
			ptrs[i] = &ints[i]
		}
	}
	row := make([]driver.Value, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("reading %s: %w", table, err)
		}
		for i, ty := range types {
			switch ty {
			case "VARCHAR":
				row[i] = strs[i]
			case "BOOLEAN":
				row[i] = ints[i] != 0
			default:
				row[i] = ints[i]
			}
		}
		if err := app.AppendRow(row...); err != nil {
			return fmt.Errorf("duckdb append %s: %w", table, err)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return app.Close()
}
