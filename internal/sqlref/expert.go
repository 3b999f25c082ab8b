package sqlref

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// The expert formulation: the same rules and the same rows as Query, written for speed the
// way a practitioner of each engine would, in two steps.
//
//  1. Coverage, once per run, into tables: the period's Azure usage with its subscription's
//     version (xp_rec) and every scope prefix of its resources (xp_res_pre), each read once;
//     then the disjoint coverage intervals per resource (xp_pal: links × assignments × scopes
//     × the location's active time, merged into islands; xp_cua: tracking GUIDs of
//     deployments), per subscription (xp_dpor) and per location (xp_active, the active time
//     CSP, TAG and MARKETPLACE read). On PostgreSQL they are unlogged, indexed on their keys
//     and analysed (the planner then has real row counts instead of CTE guesses); DuckDB
//     needs neither (zone maps, hash joins).
//  2. Usage joined to those tables in one query over the whole period (no per-day split): an
//     equality join on the resource (subscription, location) with the overlap of [f, t) and
//     [charge_start, charge_end) as the join's range condition. PostgreSQL plans it (EXPLAIN)
//     as a hash join on the key with the range as its join filter; DuckDB's plan was not
//     inspected. A key has few islands (most one), so an interval join without the key
//     (DuckDB's IEJoin, PostgreSQL's GiST over int8range) would compare more pairs, not fewer. Every association of Query is covered, version 2 (TAG,
//     RESALE, MARKETPLACE) included: those branches read the usage's tags and provider names
//     as Query does, against the precomputed active time.
//
// The straightforward Query stays as it is (one statement, CTEs only): it is the reference.
// ExpertTotals returns the same totals as Totals; ExpertRows writes every attribution row
// (record, location, association, organisation, currency, coverage, amount; not the admin role
// nor duplicate_at_org) into a table.

// Execer is what the expert formulation needs: it writes its coverage tables.
type Execer interface {
	querier
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}

// ExpertTables are the tables the expert formulation writes (dropped and recreated each run).
var ExpertTables = []string{"xp_rec", "xp_res_pre", "xp_active", "xp_pal", "xp_cua", "xp_dpor"}

// Expert is the SQL of the expert formulation: Coverage builds the coverage tables (run in
// order), With is the WITH clause down to att reading them (append a final SELECT).
type Expert struct {
	Coverage []string
	With     string
}

// swapCTE replaces the definition of the CTE that starts with start (up to the next CTE, which
// starts with next) by one reading table.
func swapCTE(w, start, next, cols, table string) (string, error) {
	i := strings.Index(w, start)
	if i < 0 || strings.Count(w, start) != 1 {
		return "", fmt.Errorf("sqlref: expert: the definition %q is not found once in the formulation", start)
	}
	j := strings.Index(w[i:], next)
	if j < 0 {
		return "", fmt.Errorf("sqlref: expert: nothing follows the definition %q", start)
	}
	name := strings.TrimRight(start[:strings.IndexAny(start, " (")], " ")
	lead := w[:i] + start[:len(start)-len(strings.TrimLeft(start, "\n"))]
	name = strings.TrimLeft(name, "\n")
	return lead + name + "(" + cols + ") AS (SELECT " + cols + " FROM " + table + ")" + w[i+j:], nil
}

// ExpertQuery builds the expert formulation's SQL for a period.
func ExpertQuery(d Dialect, o Options) (Expert, error) {
	_, w := queryParts(d, o)
	create := "CREATE TABLE "
	if d == "postgres" {
		create = "CREATE UNLOGGED TABLE " // scratch tables: no WAL
	}
	var e Expert
	for _, t := range ExpertTables {
		e.Coverage = append(e.Coverage, "DROP TABLE IF EXISTS "+t)
	}
	const recCols = "record_key, subscription_id, currency, charge_start, charge_end, resource_key, cost_nanos, pricing_category, commitment_discount_id, publisher, provider, tenant_id, offer, csp_location_id, mg, rh"
	// The period's Azure usage with its subscription's version, read once.
	e.Coverage = append(e.Coverage, create+"xp_rec AS "+w+"\nSELECT "+recCols+" FROM rec")
	w, err := swapCTE(w, "\nrec AS (\n", ",\nrkeys AS (", recCols, "xp_rec")
	if err != nil {
		return Expert{}, err
	}
	// Every scope prefix of the period's resources, once (PAL and CUA both read them).
	e.Coverage = append(e.Coverage, create+"xp_res_pre AS "+w+"\nSELECT resource_key, pre, rest FROM res_pre")
	if w, err = swapCTE(w, "res_pre(resource_key, pre, rest) AS (", ",\nrscope(", "resource_key, pre, rest", "xp_res_pre"); err != nil {
		return Expert{}, err
	}
	e.Coverage = append(e.Coverage,
		create+"xp_active AS "+w+"\nSELECT location_id, f, t, n FROM active",
		create+"xp_pal AS "+w+"\nSELECT resource_key, tenant_id, location_id, f, t, n FROM pal_isl",
		create+"xp_cua AS "+w+"\nSELECT resource_key, location_id, f, t, n FROM cua_isl",
		create+"xp_dpor AS "+w+"\nSELECT subscription_id, location_id, f, t, n FROM dpor_isl",
	)
	if d != "duckdb" { // DuckDB keeps min/max zone maps and hashes the join keys itself
		e.Coverage = append(e.Coverage,
			"CREATE INDEX xp_pal_key ON xp_pal (resource_key, tenant_id, f)",
			"CREATE INDEX xp_cua_key ON xp_cua (resource_key, f)",
			"CREATE INDEX xp_dpor_key ON xp_dpor (subscription_id, f)",
			"CREATE INDEX xp_active_key ON xp_active (location_id, f)",
		)
		if d == "postgres" {
			e.Coverage = append(e.Coverage, "ANALYZE xp_rec", "ANALYZE xp_active", "ANALYZE xp_pal", "ANALYZE xp_cua", "ANALYZE xp_dpor")
		} else {
			e.Coverage = append(e.Coverage, "ANALYZE")
		}
	}
	// The usage query: the same WITH clause with the four interval CTEs read from the tables
	// (CTEs nothing references any more are not evaluated).
	with := w
	for _, r := range []struct{ def, table, cols string }{
		{"active(location_id, f, t, n) AS (" + islands("active_raw", "location_id") + ")", "xp_active", "location_id, f, t, n"},
		{"pal_isl(resource_key, tenant_id, location_id, f, t, n) AS (" + islands("pal_piece", "resource_key, tenant_id, location_id") + ")", "xp_pal", "resource_key, tenant_id, location_id, f, t, n"},
		{"cua_isl(resource_key, location_id, f, t, n) AS (" + islands("cua_piece", "resource_key, location_id") + ")", "xp_cua", "resource_key, location_id, f, t, n"},
		{"dpor_isl(subscription_id, location_id, f, t, n) AS (" + islands("dpor_piece", "subscription_id, location_id") + ")", "xp_dpor", "subscription_id, location_id, f, t, n"},
	} {
		if strings.Count(with, r.def) != 1 {
			return Expert{}, fmt.Errorf("sqlref: expert: the definition of %s is not found once in the formulation", r.table)
		}
		name := r.def[:strings.Index(r.def, "(")]
		with = strings.Replace(with, r.def, name+"("+r.cols+") AS (SELECT "+r.cols+" FROM "+r.table+")", 1)
	}
	e.With = with
	return e, nil
}

// expertCoverage checks the period and builds the coverage tables.
func expertCoverage(ctx context.Context, q Execer, d Dialect, o Options) (Expert, bool, error) {
	_, ok, err := prepare(ctx, q, o)
	if err != nil || !ok {
		return Expert{}, false, err
	}
	e, err := ExpertQuery(d, o)
	if err != nil {
		return Expert{}, false, err
	}
	for _, s := range e.Coverage {
		began := time.Now()
		if _, err := q.ExecContext(ctx, s); err != nil {
			return Expert{}, false, fmt.Errorf("sqlref: expert coverage (%.60s): %w", s, err)
		}
		trace(o, s, began)
	}
	return e, true, nil
}

// ExpertTotals computes the coverage tables, then the totals per location, association and
// currency in one query over the period's usage (the same totals as Totals).
func ExpertTotals(ctx context.Context, q Execer, d Dialect, o Options) ([]Total, error) {
	e, ok, err := expertCoverage(ctx, q, d, o)
	if err != nil || !ok {
		return nil, err
	}
	began := time.Now()
	tot, err := scanTotals(ctx, q, e.With+`
SELECT location_id, association, currency, CAST(sum(amount) AS BIGINT), count(*) FROM att GROUP BY location_id, association, currency`)
	trace(o, "usage joined to the coverage tables, totals", began)
	return tot, err
}

// trace tells o.Trace how long step took: the first words of a statement, or a name.
func trace(o Options, step string, began time.Time) {
	if o.Trace == nil {
		return
	}
	if i := strings.Index(step, " AS WITH"); i > 0 {
		step = step[:i]
	}
	o.Trace(step, time.Since(began))
}

// ExpertRows computes the coverage tables, then writes the period's attribution rows into
// table (dropped first): record_key, location_id, association, org_id, currency, coverage,
// amount. It returns the number of rows written.
func ExpertRows(ctx context.Context, q Execer, d Dialect, o Options, table string) (int64, error) {
	if _, err := q.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		return 0, err
	}
	e, ok, err := expertCoverage(ctx, q, d, o)
	if err != nil || !ok {
		return 0, err
	}
	create := "CREATE TABLE "
	if d == "postgres" {
		create = "CREATE UNLOGGED TABLE "
	}
	began := time.Now()
	if _, err := q.ExecContext(ctx, create+table+" AS "+e.With+`
SELECT record_key, location_id, association, org_id, currency, coverage, amount FROM att`); err != nil {
		return 0, fmt.Errorf("sqlref: expert rows: %w", err)
	}
	trace(o, "usage joined to the coverage tables, rows into "+table, began)
	var n int64
	err = q.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// TableTotals sums a table written by ExpertRows per location, association and currency.
func TableTotals(ctx context.Context, q querier, table string) ([]Total, error) {
	return scanTotals(ctx, q, "SELECT location_id, association, currency, CAST(sum(amount) AS BIGINT), count(*) FROM "+table+" GROUP BY location_id, association, currency")
}

func scanTotals(ctx context.Context, q querier, text string) ([]Total, error) {
	rows, err := q.QueryContext(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("sqlref: totals query: %w", err)
	}
	defer rows.Close()
	var out []Total
	for rows.Next() {
		var t Total
		if err := rows.Scan(&t.LocationID, &t.Association, &t.Currency, &t.Amount, &t.Rows); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	SortTotals(out)
	return out, rows.Err()
}
