// Package sqlref is the attribution rules (docs/attribution.md) written as SQL over the core
// tables, the way a data team would compute them in their own database. It exists to check the
// engine (identical rows on the same data) and to benchmark it against SQL engines.
//
// Choices and limits, on purpose:
//   - Time is handled as windows, merged into disjoint islands per resource and location with
//     window functions, and joined to records by overlap (no expansion to hours). Coverage is
//     counted in whole hours at the end, so every window, activation, deployment time and
//     charge period must lie on a whole UTC hour (internal/synth guarantees it). Run refuses
//     usage records that do not.
//   - Role eligibility (table, overrides, write-action rule) is decided in Go by the caller and
//     handed to SQL as a list of eligible role definition IDs: parsing actions out of JSON is not
//     what this formulation is meant to show.
//   - A subscription's tenant, offer, reseller and management group are those of the version
//     valid at the record's charge start.
//   - Group nesting and management-group ancestry are followed 12 levels deep.
//   - A deployment's tracking GUID credits the deployed resource and its child resources; PEC
//     counts only time in which the reseller location is active (as the engine does).
//   - Totals (what the benchmark times) computes every attribution row's amount but not its
//     admin role or duplicate_at_org flag, which no total needs; Run computes those too.
//   - The same SQL runs on SQLite, PostgreSQL and DuckDB; only integer division, collation,
//     string search and greatest/least differ, see Dialect.
//   - Version 2 (TAG, RESALE, MARKETPLACE) reads the record's tags exploded into
//     sqlref_usage_tags and provider names normalised at load (provider_id, publisher_id,
//     host_provider_id), as a warehouse would hold them; the tag rules are the shipped ones.
package sqlref

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Dialect names: "sqlite", "postgres", "duckdb".
type Dialect string

// Rate is a rational rate num/den (15/100 = 15%).
type Rate struct{ Num, Den int64 }

// Programs are the incentive parameters the SQL applies (the shipped defaults: PEC 15%, PAL 6%
// alone and 2% shared).
type Programs struct {
	PEC, PALSingle, PALMulti Rate
	PECVersion, PALVersion   string
}

// DefaultPrograms mirrors the shipped program file (internal/attribution/programs_default.json).
var DefaultPrograms = Programs{PEC: Rate{3, 20}, PALSingle: Rate{3, 50}, PALMulti: Rate{1, 50}, PECVersion: "PEC-1", PALVersion: "PAL-1"}

// RateOf turns a rate in nano-units (0.15 = 150000000) into a reduced fraction, so that the
// products in SQL stay far from int64 overflow.
func RateOf(nanos int64) Rate {
	a, b := nanos, int64(1_000_000_000)
	for b != 0 {
		a, b = b, a%b
	}
	if a == 0 {
		return Rate{0, 1}
	}
	return Rate{nanos / a, 1_000_000_000 / a}
}

// Options of a run.
type Options struct {
	Period   timeline.Window
	Eligible []string // eligible role definition IDs
	Programs Programs
	// ByDay makes Totals run the query once per UTC day of the period and add the results
	// (the same totals: days hold disjoint records), for engines whose working set for a
	// whole month does not fit (DuckDB spilled more than 30 GB at the bench scale).
	ByDay bool
	// Trace, when set, is told how long each statement of the expert formulation took.
	Trace func(step string, took time.Duration)
}

// Attribution is one attribution row.
type Attribution struct {
	RecordKey, LocationID, Association, OrgID string
	Coverage, Amount                          int64 // coverage × 1e9; amount in nanos
	AdminRole                                 string
	DuplicateAtOrg                            bool
}

// Incentive is one incentive row.
type Incentive struct {
	RecordKey, LocationID, Program, OrgID, Version string
	Amount                                         int64
}

const hour = int64(time.Hour)
const day = 24 * hour
const mgPrefix = "/providers/microsoft.management/managementgroups/"

// Run computes the period's attribution and incentive rows with SQL on q, sorted like the
// engine's output (record, location, association or program).
func Run(ctx context.Context, q querier, d Dialect, o Options) ([]Attribution, []Incentive, error) {
	_, ok, err := prepare(ctx, q, o)
	if err != nil || !ok {
		return nil, nil, err
	}
	text := Query(d, o)
	var atts []Attribution
	rows, err := q.QueryContext(ctx, text.Attributions)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlref: attributions query: %w", err)
	}
	for rows.Next() {
		var a Attribution
		var dup int64
		if err := rows.Scan(&a.RecordKey, &a.LocationID, &a.Association, &a.OrgID, &a.Coverage, &a.Amount, &a.AdminRole, &dup); err != nil {
			rows.Close()
			return nil, nil, err
		}
		a.DuplicateAtOrg = dup != 0
		atts = append(atts, a)
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var incs []Incentive
	rows, err = q.QueryContext(ctx, text.Incentives)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlref: incentives query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i Incentive
		if err := rows.Scan(&i.RecordKey, &i.LocationID, &i.Program, &i.OrgID, &i.Version, &i.Amount); err != nil {
			return nil, nil, err
		}
		incs = append(incs, i)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// Sort in Go too: engines order text by their collation; the contract is byte order.
	sort.Slice(atts, func(i, j int) bool {
		a, b := atts[i], atts[j]
		if a.RecordKey != b.RecordKey {
			return a.RecordKey < b.RecordKey
		}
		if a.LocationID != b.LocationID {
			return a.LocationID < b.LocationID
		}
		return a.Association < b.Association
	})
	sort.Slice(incs, func(i, j int) bool {
		a, b := incs[i], incs[j]
		if a.RecordKey != b.RecordKey {
			return a.RecordKey < b.RecordKey
		}
		if a.LocationID != b.LocationID {
			return a.LocationID < b.LocationID
		}
		return a.Program < b.Program
	})
	return atts, incs, nil
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// prepare checks the period's records lie on whole hours and returns their latest end.
func prepare(ctx context.Context, q querier, o Options) (int64, bool, error) {
	var bad int64
	var maxEnd sql.NullInt64
	err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(CASE WHEN charge_start %% %[1]d <> 0 OR charge_end %% %[1]d <> 0 THEN 1 END), max(charge_end)
		FROM sqlref_usage WHERE charge_start >= %[2]d AND charge_start < %[3]d`, hour, o.Period.From, o.Period.To)).Scan(&bad, &maxEnd)
	if err != nil {
		return 0, false, fmt.Errorf("sqlref: reading the period's usage: %w", err)
	}
	if bad > 0 {
		return 0, false, fmt.Errorf("sqlref: %d usage records of the period do not start and end on a whole hour; the SQL formulation measures time in hours (use internal/synth data)", bad)
	}
	return maxEnd.Int64, maxEnd.Valid, nil
}

// Total is the sum of amounts of one location, association and currency.
type Total struct {
	LocationID, Association, Currency string
	Amount, Rows                      int64
}

// Totals runs the formulation in the database and returns only the totals per location,
// association and currency (what the benchmark compares; rows never leave the server).
func Totals(ctx context.Context, q querier, d Dialect, o Options) ([]Total, error) {
	if o.ByDay {
		return totalsByDay(ctx, q, d, o)
	}
	_, ok, err := prepare(ctx, q, o)
	if err != nil || !ok {
		return nil, err
	}
	return scanTotals(ctx, q, Query(d, o).Totals)
}

// totalsByDay runs Totals for each UTC day of the period and adds the results up: the
// records of different days are disjoint, so the sums are the whole period's.
func totalsByDay(ctx context.Context, q querier, d Dialect, o Options) ([]Total, error) {
	o.ByDay = false
	type k struct{ loc, assoc, cur string }
	at := map[k]int{}
	var out []Total
	for from := o.Period.From; from < o.Period.To; {
		to := min(o.Period.To, from-((from%day)+day)%day+day)
		part := o
		part.Period = timeline.Window{From: from, To: to}
		tot, err := Totals(ctx, q, d, part)
		if err != nil {
			return nil, err
		}
		for _, t := range tot {
			i, ok := at[k{t.LocationID, t.Association, t.Currency}]
			if !ok {
				i = len(out)
				at[k{t.LocationID, t.Association, t.Currency}] = i
				out = append(out, Total{LocationID: t.LocationID, Association: t.Association, Currency: t.Currency})
			}
			out[i].Amount += t.Amount
			out[i].Rows += t.Rows
		}
		from = to
	}
	SortTotals(out)
	return out, nil
}

// SortTotals sorts totals by location, association and currency, in byte order (the order
// every phase of the benchmark compares them in).
func SortTotals(ts []Total) {
	sort.Slice(ts, func(i, j int) bool {
		a, b := ts[i], ts[j]
		if a.LocationID != b.LocationID {
			return a.LocationID < b.LocationID
		}
		if a.Association != b.Association {
			return a.Association < b.Association
		}
		return a.Currency < b.Currency
	})
}

// Text is the SQL of a run.
type Text struct{ Attributions, Incentives, Totals string }

func (d Dialect) div(a, b string) string {
	if d == "duckdb" {
		return "((" + a + ") // (" + b + "))"
	}
	return "((" + a + ") / (" + b + "))"
}

// rhe is round-half-even of n/den for den > 0, in integer arithmetic.
func (d Dialect) rhe(n, den string) string {
	q := d.div(n, den)
	r := "((" + n + ") - " + q + " * (" + den + "))"
	return fmt.Sprintf("(%s + CASE WHEN 2 * abs(%s) > (%s) OR (2 * abs(%s) = (%s) AND %s %% 2 <> 0) THEN (CASE WHEN (%s) < 0 THEN -1 ELSE 1 END) ELSE 0 END)",
		q, r, den, r, den, q, n)
}

func (d Dialect) collate() string {
	switch d {
	case "postgres":
		return ` COLLATE "C"`
	}
	return ""
}

func gt(a, b string) string {
	return "CASE WHEN " + a + " > " + b + " THEN " + a + " ELSE " + b + " END"
}
func lt(a, b string) string {
	return "CASE WHEN " + a + " < " + b + " THEN " + a + " ELSE " + b + " END"
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (d Dialect) instr(h, n string) string {
	if d == "postgres" {
		return "strpos(" + h + ", " + n + ")"
	}
	return "instr(" + h + ", " + n + ")"
}

// greatest and least of several integer expressions (SQLite spells them max and min).
func (d Dialect) greatest(xs ...string) string {
	if d == "sqlite" {
		return "max(" + strings.Join(xs, ", ") + ")"
	}
	return "GREATEST(" + strings.Join(xs, ", ") + ")"
}

func (d Dialect) least(xs ...string) string {
	if d == "sqlite" {
		return "min(" + strings.Join(xs, ", ") + ")"
	}
	return "LEAST(" + strings.Join(xs, ", ") + ")"
}

// islands merges the windows [f, t) of src into disjoint windows per keys (the classic
// "gaps and islands": a window starts a new island unless it begins by the latest end so far
// in its group). It turns unions of time into rows that can be summed. n is the number of
// islands of the group: most groups are one window, and a record then meets at most one.
// Equal windows are collapsed first: with ties in the ordering, the two window functions
// could order them differently and put one into the previous island.
func islands(src, keys string) string {
	return `SELECT ` + keys + `, f, t, count(*) OVER (PARTITION BY ` + keys + `) AS n FROM (
  SELECT ` + keys + `, min(f) AS f, max(t) AS t FROM (
    SELECT ` + keys + `, f, t, sum(brk) OVER (PARTITION BY ` + keys + ` ORDER BY f, t ROWS UNBOUNDED PRECEDING) AS isl FROM (
      SELECT ` + keys + `, f, t, CASE WHEN f <= max(t) OVER (PARTITION BY ` + keys + ` ORDER BY f, t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        THEN 0 ELSE 1 END AS brk
      FROM (SELECT DISTINCT ` + keys + `, f, t FROM ` + src + `) s) x) y
  GROUP BY ` + keys + `, isl) z`
}

// Query builds the SQL for a period.
//
// Time is handled as windows, never expanded to hours: each association's time per resource
// (or subscription, or location) is first merged into disjoint islands, already intersected
// with the location's active time; a record then joins the islands that overlap its charge
// period and sums the overlaps. Only the final coverage is counted in hours.
func Query(d Dialect, o Options) Text {
	t, _ := queryParts(d, o)
	return t
}

// queryParts builds Query's text and also returns its WITH clause (every association,
// version 2 included, down to att), which the expert formulation (expert.go) reuses.
func queryParts(d Dialect, o Options) (Text, string) {
	p := o.Programs
	if p.PEC.Den == 0 {
		p = DefaultPrograms
	}
	from, to := o.Period.From, o.Period.To
	elig := []string{"('')"} // never matches, keeps VALUES non-empty
	for _, id := range o.Eligible {
		elig = append(elig, "("+quote(id)+")")
	}
	minS, maxS := "(-9223372036854775807-1)", "9223372036854775807"
	hr, dy := fmt.Sprint(hour), fmt.Sprint(day)
	// overlap of island i with record r's charge period, in nanoseconds.
	overlap := func(i string) string {
		return d.least(i+".t", "r.charge_end") + " - " + d.greatest(i+".f", "r.charge_start")
	}
	meets := func(i string) string { return i + ".f < r.charge_end AND r.charge_start < " + i + ".t" }
	// The tags that match a shipped tag rule, with the identifier scheme and value they name
	// (scheme '' names a location ID), values of the wrong form left out. In one SELECT:
	// SQLite limits how deeply views and subqueries nest, and the incentives query is deep.
	key := "lower(trim(tag_key))"
	k := "CASE WHEN substr(" + key + ", 1, 18) = 'resourcetags/user:' THEN substr(" + key + ", 19) WHEN substr(" + key + ", 1, 5) = 'user:' THEN substr(" + key + ", 6) ELSE " + key + " END"
	v := "trim(tag_value)"
	pc := "lower(substr(" + v + ", 1, 3)) = 'pc:'"
	scheme := "CASE WHEN " + k + " = 'goog-partner-solution' THEN 'gcp-solution' WHEN " + k + " = 'partnerlink-partner-id' THEN '' WHEN " + pc + " THEN 'aws-product-code' ELSE 'aws-revenue-attribution' END"
	val := "CASE WHEN " + k + " IN ('goog-partner-solution', 'partnerlink-partner-id') THEN " + v + " WHEN " + pc + " THEN trim(substr(" + v + ", 4)) ELSE " + v + " END"
	tagRefs := `SELECT record_key, charge_start, ` + scheme + ` AS scheme, ` + val + ` AS val FROM sqlref_usage_tags
    WHERE (` + k + ` IN ('aws-apn-id', 'goog-partner-solution', 'partnerlink-partner-id')
      OR (substr(` + k + `, 1, 11) = 'aws-apn-id-' AND length(` + k + `) = 23 AND ltrim(substr(` + k + `, 12), '0123456789') = ''))
    AND ` + val + ` <> ''
    AND (` + scheme + ` <> 'aws-revenue-attribution' OR (length(` + v + `) = 16 AND substr(` + v + `, 1, 3) = 'ra-'
      AND ltrim(substr(` + v + `, 4), 'abcdefghijklmnopqrstuvwxyz0123456789') = ''))`
	v2branches := `  UNION ALL
  SELECT r.record_key, i.location_id, 'TAG', r.currency, r.cost_nanos, r.rh, '', i.n, ` + overlap("i") + `
  FROM urec r JOIN tag_loc tl ON tl.record_key = r.record_key AND tl.charge_start = r.charge_start
  JOIN active i ON i.location_id = tl.location_id AND ` + meets("i") + `
  UNION ALL
  SELECT r.record_key, i.location_id, 'MARKETPLACE', r.currency, r.cost_nanos, r.rh, '', i.n, ` + overlap("i") + `
  FROM urec r JOIN mkt_loc ml ON ml.record_key = r.record_key AND ml.charge_start = r.charge_start
  JOIN active i ON i.location_id = ml.location_id AND ` + meets("i") + `
  UNION ALL
  -- RESALE: the union of a location's time on the sub-account and on the billing account, as
  -- |sub| + |billing| - |both| (each side's pieces are disjoint); n = 2 sends them to the sum.
  SELECT r.record_key, i.location_id, 'RESALE', r.currency, r.cost_nanos, r.rh, '', 2, ` + overlap("i") + `
  FROM urec r JOIN resale_sub i ON i.record_key = r.record_key
  UNION ALL
  SELECT r.record_key, i.location_id, 'RESALE', r.currency, r.cost_nanos, r.rh, '', 2, ` + overlap("i") + `
  FROM urec r JOIN resale_bill i ON i.record_key = r.record_key
  UNION ALL
  SELECT r.record_key, i.location_id, 'RESALE', r.currency, r.cost_nanos, r.rh, '', 2,
    ` + d.greatest("i.f", "j.f", "r.charge_start") + ` - ` + d.least("i.t", "j.t", "r.charge_end") + `
  FROM urec r JOIN resale_sub i ON i.record_key = r.record_key
  JOIN resale_bill j ON j.record_key = r.record_key AND j.location_id = i.location_id
  WHERE ` + d.greatest("i.f", "j.f", "r.charge_start") + ` < ` + d.least("i.t", "j.t", "r.charge_end") + ``
	w := `WITH RECURSIVE
eligible(id) AS (VALUES ` + strings.Join(elig, ", ") + `),
role_names(id, role_name) AS (SELECT r.id, r.role_name FROM role_definitions r
  WHERE r.valid_from = (SELECT max(r2.valid_from) FROM role_definitions r2 WHERE r2.id = r.id)),
closure(tenant_id, member_id, group_id, f, t, depth) AS (
  SELECT tenant_id, member_id, group_id, valid_from, valid_to, 1 FROM group_memberships
  UNION ALL
  SELECT c.tenant_id, c.member_id, m.group_id, ` + gt("c.f", "m.valid_from") + `, ` + lt("c.t", "m.valid_to") + `, c.depth + 1
  FROM closure c JOIN group_memberships m ON m.tenant_id = c.tenant_id AND m.member_id = c.group_id
  WHERE c.depth < 12 AND m.valid_from < c.t AND c.f < m.valid_to),
mg_anc(tenant_id, mg, anc, f, t, depth) AS (
  SELECT tenant_id, id, id, valid_from, valid_to, 1 FROM management_groups
  UNION ALL
  SELECT a.tenant_id, a.mg, m.parent_id, ` + gt("a.f", "m.valid_from") + `, ` + lt("a.t", "m.valid_to") + `, a.depth + 1
  FROM mg_anc a JOIN management_groups m ON m.tenant_id = a.tenant_id AND m.id = a.anc
  WHERE a.depth < 12 AND m.parent_id <> '' AND m.valid_from < a.t AND a.f < m.valid_to),
holds(cust_tenant, x_tenant, x, role_id, scope_key, via, f, t) AS (
  SELECT a.tenant_id, a.tenant_id, a.principal_id, a.role_definition_id, a.scope_key, 'direct', a.valid_from, a.valid_to
  FROM role_assignments a JOIN eligible e ON e.id = a.role_definition_id WHERE a.kind = 'active'
  UNION ALL
  SELECT a.tenant_id, a.tenant_id, a.principal_id, a.role_definition_id, a.scope_key, 'direct', ` + gt("a.valid_from", "p.valid_from") + `, ` + lt("a.valid_to", "p.valid_to") + `
  FROM role_assignments a JOIN eligible e ON e.id = a.role_definition_id JOIN pim_activations p ON p.assignment_id = a.id
  WHERE a.kind = 'eligible' AND p.valid_from < a.valid_to AND a.valid_from < p.valid_to
  UNION ALL
  SELECT d.customer_tenant_id, d.managing_tenant_id, z.principal_id, z.role_definition_id, d.scope_key, 'lighthouse', ` + gt("d.valid_from", "z.valid_from") + `, ` + lt("d.valid_to", "z.valid_to") + `
  FROM delegations d JOIN delegation_authorizations z ON z.delegation_id = d.id JOIN eligible e ON e.id = z.role_definition_id
  WHERE z.valid_from < d.valid_to AND d.valid_from < z.valid_to),
xholds(cust_tenant, x_tenant, x, role_id, scope_key, via, f, t) AS (
  SELECT cust_tenant, x_tenant, x, role_id, scope_key, via, f, t FROM holds
  UNION ALL
  SELECT h.cust_tenant, h.x_tenant, c.member_id, h.role_id, h.scope_key, h.via, ` + gt("h.f", "c.f") + `, ` + lt("h.t", "c.t") + `
  FROM holds h JOIN closure c ON c.tenant_id = h.x_tenant AND c.group_id = h.x WHERE c.f < h.t AND h.f < c.t),
pal(cust_tenant, location_id, org_id, role_id, scope_key, f, t) AS (
  SELECT xh.cust_tenant, l.location_id, pl.org_id, xh.role_id, xh.scope_key, ` + gt("xh.f", "l.valid_from") + `, ` + lt("xh.t", "l.valid_to") + `
  FROM xholds xh JOIN link_spans l ON l.tenant_id = xh.x_tenant AND l.object_id = xh.x
  JOIN partner_locations pl ON pl.id = l.location_id
  WHERE l.valid_from < xh.t AND xh.f < l.valid_to),
active_raw(location_id, f, t) AS (
  SELECT location_id, valid_from, valid_to FROM partner_location_active
  UNION ALL
  SELECT pl.id, ` + minS + `, ` + maxS + ` FROM partner_locations pl
  WHERE NOT EXISTS (SELECT 1 FROM partner_location_active x WHERE x.location_id = pl.id)),
active(location_id, f, t, n) AS (` + islands("active_raw", "location_id") + `),
rec AS (
  SELECT u.record_key, u.subscription_id, u.currency, u.charge_start, u.charge_end, u.resource_key, u.cost_nanos, u.pricing_category,
    u.commitment_discount_id, u.publisher, u.provider,
    s.tenant_id, s.offer, s.csp_location_id, s.management_group_id AS mg,
    ` + d.div("u.charge_end - u.charge_start", hr) + ` AS rh
  FROM sqlref_usage u JOIN subscriptions s ON s.id = u.subscription_id AND s.valid_from <= u.charge_start AND u.charge_start < s.valid_to
  WHERE u.charge_start >= ` + fmt.Sprint(from) + ` AND u.charge_start < ` + fmt.Sprint(to) + ` AND u.charge_category = 'Usage'
    AND u.provider_id IN ('', 'microsoft')),
rkeys AS (SELECT DISTINCT resource_key, tenant_id, mg FROM rec),
res_pre(resource_key, pre, rest) AS (
  SELECT resource_key, CAST('' AS TEXT), substr(resource_key, 2) FROM (SELECT DISTINCT resource_key FROM rkeys) x
  UNION ALL
  SELECT resource_key, pre || '/' || CASE WHEN ` + d.instr("rest", "'/'") + ` > 0 THEN substr(rest, 1, ` + d.instr("rest", "'/'") + ` - 1) ELSE rest END,
    CASE WHEN ` + d.instr("rest", "'/'") + ` > 0 THEN substr(rest, ` + d.instr("rest", "'/'") + ` + 1) ELSE NULL END
  FROM res_pre WHERE rest IS NOT NULL),
rscope(resource_key, tenant_id, scope_key, f, t) AS (
  SELECT rp.resource_key, rk.tenant_id, rp.pre, ` + minS + `, ` + maxS + ` FROM res_pre rp JOIN rkeys rk ON rk.resource_key = rp.resource_key WHERE rp.pre <> ''
  UNION ALL
  SELECT resource_key, tenant_id, '/', ` + minS + `, ` + maxS + ` FROM rkeys
  UNION ALL
  SELECT resource_key, tenant_id, '', ` + minS + `, ` + maxS + ` FROM rkeys
  UNION ALL
  SELECT rk.resource_key, rk.tenant_id, '` + mgPrefix + `' || lower(ma.anc), ma.f, ma.t
  FROM rkeys rk JOIN mg_anc ma ON ma.tenant_id = rk.tenant_id AND ma.mg = rk.mg),
pal_piece(resource_key, tenant_id, location_id, role_id, f, t) AS (
  SELECT rs.resource_key, rs.tenant_id, p.location_id, p.role_id, ` + d.greatest("p.f", "rs.f", "ac.f") + `, ` + d.least("p.t", "rs.t", "ac.t") + `
  FROM rscope rs JOIN pal p ON p.cust_tenant = rs.tenant_id AND p.scope_key = rs.scope_key
  JOIN active ac ON ac.location_id = p.location_id
  WHERE p.f < rs.t AND rs.f < p.t AND ac.f < ` + d.least("p.t", "rs.t") + ` AND ` + d.greatest("p.f", "rs.f") + ` < ac.t),
pal_isl(resource_key, tenant_id, location_id, f, t, n) AS (` + islands("pal_piece", "resource_key, tenant_id, location_id") + `),
cua_piece(resource_key, location_id, f, t) AS (
  SELECT rp.resource_key, ti.location_id, ` + d.greatest("dep.at", "ac.f") + `, ac.t
  FROM res_pre rp JOIN deployments dep ON dep.resource_key = rp.pre JOIN tracking_ids ti ON ti.guid = dep.tracking_guid
  JOIN active ac ON ac.location_id = ti.location_id AND dep.at < ac.t
  WHERE rp.pre <> ''),
cua_isl(resource_key, location_id, f, t, n) AS (` + islands("cua_piece", "resource_key, location_id") + `),
dpor_piece(subscription_id, location_id, f, t) AS (
  SELECT dp.subscription_id, dp.location_id, ` + d.greatest("dp.valid_from", "ac.f") + `, ` + d.least("dp.valid_to", "ac.t") + `
  FROM subscription_dpor dp JOIN active ac ON ac.location_id = dp.location_id AND ac.f < dp.valid_to AND dp.valid_from < ac.t),
dpor_isl(subscription_id, location_id, f, t, n) AS (` + islands("dpor_piece", "subscription_id, location_id") + `),
urec AS (
  SELECT u.record_key, u.charge_start, u.charge_end, u.currency, u.cost_nanos, u.subscription_id, u.billing_account_id, u.provider_id,
    u.provider, u.publisher, u.publisher_id, u.host_provider_id, ` + d.div("u.charge_end - u.charge_start", hr) + ` AS rh
  FROM sqlref_usage u
  WHERE u.charge_start >= ` + fmt.Sprint(from) + ` AND u.charge_start < ` + fmt.Sprint(to) + ` AND u.charge_category = 'Usage'
    AND u.charge_end > u.charge_start),
tag_loc(record_key, charge_start, location_id) AS (
  SELECT tk.record_key, tk.charge_start, i.location_id FROM (` + tagRefs + `) tk
  JOIN partner_identifiers i ON i.scheme = tk.scheme AND i.value_key = lower(tk.val) AND i.valid_from <= tk.charge_start AND tk.charge_start < i.valid_to
  WHERE tk.scheme <> ''
  UNION
  SELECT tk.record_key, tk.charge_start, pl.id FROM (` + tagRefs + `) tk JOIN partner_locations pl ON pl.id = tk.val WHERE tk.scheme = ''),
resale_decl(provider, kind, account_key, location_id, f, t) AS MATERIALIZED (
  SELECT a.provider, a.kind, a.account_key, ar.location_id, ` + d.greatest("ar.valid_from", "ac.f") + `, ` + d.least("ar.valid_to", "ac.t") + `
  FROM accounts a JOIN account_resale ar ON ar.provider = a.provider AND ar.account_key = a.account_key
  JOIN active ac ON ac.location_id = ar.location_id AND ac.f < ar.valid_to AND ar.valid_from < ac.t),
resale_sub(record_key, location_id, f, t) AS (
  SELECT r.record_key, i.location_id, i.f, i.t FROM urec r JOIN resale_decl i ON i.provider = r.provider_id AND i.kind = 'sub'
    AND i.account_key = lower(trim(r.subscription_id)) AND ` + meets("i") + `
  WHERE r.provider_id NOT IN ('', 'microsoft')),
resale_bill(record_key, location_id, f, t) AS (
  SELECT r.record_key, i.location_id, i.f, i.t FROM urec r JOIN resale_decl i ON i.provider = r.provider_id AND i.kind = 'billing'
    AND r.billing_account_id <> '' AND i.account_key = lower(trim(r.billing_account_id)) AND ` + meets("i") + `
  WHERE r.provider_id NOT IN ('', 'microsoft')),
mkt(record_key, charge_start, seller) AS (
  SELECT record_key, charge_start, CASE WHEN trim(publisher) <> '' AND publisher_id <> provider_id THEN trim(publisher) ELSE trim(provider) END
  FROM urec WHERE (trim(publisher) <> '' AND publisher_id <> provider_id)
    OR (host_provider_id <> '' AND trim(provider) <> '' AND host_provider_id <> provider_id)),
mkt_loc(record_key, charge_start, location_id) AS (
  SELECT m.record_key, m.charge_start, i.location_id FROM mkt m
  JOIN partner_identifiers i ON i.scheme = 'publisher' AND i.value_key = lower(m.seller) AND i.valid_from <= m.charge_start AND m.charge_start < i.valid_to),
cov(record_key, location_id, association, currency, cost_nanos, rh, offer, n, ns) AS (
  SELECT r.record_key, r.csp_location_id, 'CSP', r.currency, r.cost_nanos, r.rh, r.offer, i.n, ` + overlap("i") + `
  FROM rec r JOIN active i ON i.location_id = r.csp_location_id AND ` + meets("i") + `
  WHERE r.offer = 'csp' AND r.csp_location_id <> ''
  UNION ALL
  SELECT r.record_key, i.location_id, 'DPOR', r.currency, r.cost_nanos, r.rh, r.offer, i.n, ` + overlap("i") + `
  FROM rec r JOIN dpor_isl i ON i.subscription_id = r.subscription_id AND ` + meets("i") + `
  UNION ALL
  SELECT r.record_key, i.location_id, 'CUA', r.currency, r.cost_nanos, r.rh, r.offer, i.n, ` + overlap("i") + `
  FROM rec r JOIN cua_isl i ON i.resource_key = r.resource_key AND ` + meets("i") + `
  UNION ALL
  SELECT r.record_key, i.location_id, 'PAL', r.currency, r.cost_nanos, r.rh, r.offer, i.n, ` + overlap("i") + `
  FROM rec r JOIN pal_isl i ON i.resource_key = r.resource_key AND i.tenant_id = r.tenant_id AND ` + meets("i") + `
  JOIN partner_locations pl ON pl.id = i.location_id
  LEFT JOIN partner_locations csp ON r.offer = 'csp' AND csp.id = r.csp_location_id
  WHERE csp.org_id IS NULL OR csp.org_id <> pl.org_id
/*v2*/),
assoc AS (
  -- A record meets at most one island of a one-island group: no aggregation needed there.
  SELECT record_key, location_id, association, currency, cost_nanos, rh, offer, ` + d.div("ns", hr) + ` AS hrs FROM cov WHERE n = 1
  UNION ALL
  SELECT record_key, location_id, association, min(currency), min(cost_nanos), min(rh), min(offer),
    ` + d.div("CAST(sum(ns) AS BIGINT)", hr) + `
  FROM cov WHERE n > 1 GROUP BY record_key, location_id, association),
att AS (
  SELECT a.record_key, a.location_id, a.association, pl.org_id, a.offer, a.currency, a.cost_nanos, a.rh, a.hrs,
    ` + d.rhe("a.hrs * 1000000000", "a.rh") + ` AS coverage,
    ` + d.rhe("a.cost_nanos * a.hrs", "a.rh") + ` AS amount
  FROM assoc a JOIN partner_locations pl ON pl.id = a.location_id
  WHERE a.hrs > 0)`
	wV1 := strings.Replace(w, "/*v2*/", "", 1)
	w = strings.Replace(w, "/*v2*/", v2branches, 1)

	// Rows: the admin role (the role with the most time, ties by name) and duplicate_at_org.
	rowsOf := func(w string) string {
		return w + `,
role_piece(resource_key, tenant_id, location_id, role_name, f, t) AS (
  SELECT pp.resource_key, pp.tenant_id, pp.location_id, rn.role_name, pp.f, pp.t FROM pal_piece pp JOIN role_names rn ON rn.id = pp.role_id),
role_isl(resource_key, tenant_id, location_id, role_name, f, t, n) AS (` + islands("role_piece", "resource_key, tenant_id, location_id, role_name") + `),
admin AS (
  SELECT record_key, location_id, role_name FROM (
    SELECT r.record_key, i.location_id, i.role_name,
      ROW_NUMBER() OVER (PARTITION BY r.record_key, i.location_id ORDER BY sum(` + overlap("i") + `) DESC, i.role_name` + d.collate() + `) AS k
    FROM rec r JOIN role_isl i ON i.resource_key = r.resource_key AND i.tenant_id = r.tenant_id AND ` + meets("i") + `
    GROUP BY r.record_key, i.location_id, i.role_name) y WHERE k = 1),
att_rows AS (
  SELECT a.*, COALESCE(ad.role_name, '') AS admin_role,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY a.record_key, a.org_id, a.association
      ORDER BY CASE WHEN ltrim(a.location_id, '0123456789') = '' THEN length(a.location_id) ELSE 0 END, a.location_id` + d.collate() + `) > 1 THEN 1 ELSE 0 END AS dup
  FROM att a LEFT JOIN admin ad ON a.association = 'PAL' AND ad.record_key = a.record_key AND ad.location_id = a.location_id)`
	}
	attributions := rowsOf(w) + `
SELECT record_key, location_id, association, org_id, coverage, amount, admin_role, dup FROM att_rows`

	// Incentives. PEC: admin access of the reseller's organisation, whole UTC days only.
	floorDay := func(x string) string { return "(" + x + " - ((" + x + " % " + dy + ") + " + dy + ") % " + dy + ")" }
	inc := rowsOf(wV1) + `,
access(org_id, cust_tenant, scope_key, f, t) AS (
  SELECT ot.org_id, xh.cust_tenant, xh.scope_key, ` + gt("xh.f", "pr.valid_from") + `, ` + lt("xh.t", "pr.valid_to") + `
  FROM xholds xh JOIN principals pr ON pr.tenant_id = xh.cust_tenant AND pr.object_id = xh.x AND pr.type = 'ForeignGroup'
  JOIN partner_org_tenants ot ON ot.tenant_id = pr.home_tenant_id
  WHERE xh.via = 'direct' AND pr.valid_from < xh.t AND xh.f < pr.valid_to
  UNION ALL
  SELECT ot.org_id, xh.cust_tenant, xh.scope_key, xh.f, xh.t
  FROM xholds xh JOIN partner_org_tenants ot ON ot.tenant_id = xh.x_tenant WHERE xh.via = 'lighthouse'
  UNION ALL
  SELECT org_id, cust_tenant, scope_key, f, t FROM pal),
pec_rec AS (
  SELECT r.*, pl.id AS location_id, pl.org_id FROM rec r JOIN partner_locations pl ON pl.id = r.csp_location_id
  WHERE r.offer = 'csp' AND r.pricing_category <> 'Dynamic' AND r.commitment_discount_id = ''
    AND NOT (r.publisher <> '' AND r.publisher <> r.provider)),
acc_piece(resource_key, tenant_id, org_id, f, t) AS (
  SELECT rs.resource_key, rs.tenant_id, a.org_id, ` + gt("a.f", "rs.f") + `, ` + lt("a.t", "rs.t") + `
  FROM rscope rs JOIN access a ON a.cust_tenant = rs.tenant_id AND a.scope_key = rs.scope_key
  WHERE a.f < rs.t AND rs.f < a.t),
acc_isl(resource_key, tenant_id, org_id, f, t, n) AS (` + islands("acc_piece", "resource_key, tenant_id, org_id") + `),
full_days(resource_key, tenant_id, org_id, f, t) AS (
  SELECT resource_key, tenant_id, org_id, f, t FROM (
    SELECT resource_key, tenant_id, org_id,
      CASE WHEN f = ` + minS + ` THEN f WHEN ` + floorDay("f") + ` = f THEN f ELSE ` + floorDay("f") + ` + ` + dy + ` END AS f,
      CASE WHEN t = ` + maxS + ` THEN t ELSE ` + floorDay("t") + ` END AS t
    FROM acc_isl) x WHERE f < t),
pec_q(record_key, qh) AS (
  SELECT r.record_key, ` + d.div("CAST(sum("+d.least("fd.t", "ac.t", "r.charge_end")+" - "+d.greatest("fd.f", "ac.f", "r.charge_start")+") AS BIGINT)", hr) + `
  FROM pec_rec r JOIN full_days fd ON fd.resource_key = r.resource_key AND fd.tenant_id = r.tenant_id AND fd.org_id = r.org_id AND ` + meets("fd") + `
  JOIN active ac ON ac.location_id = r.location_id AND ` + meets("ac") + `
  WHERE ` + d.greatest("fd.f", "ac.f") + ` < ` + d.least("fd.t", "ac.t") + `
  GROUP BY r.record_key),
pal_orgs(record_key, n) AS (
  SELECT record_key, count(DISTINCT org_id) FROM att_rows WHERE association = 'PAL' GROUP BY record_key)
SELECT r.record_key, r.location_id, 'PEC', r.org_id, ` + quote(p.PECVersion) + `,
  ` + d.rhe(fmt.Sprintf("r.cost_nanos * %d * q.qh", p.PEC.Num), fmt.Sprintf("%d * r.rh", p.PEC.Den)) + `
FROM pec_rec r JOIN pec_q q ON q.record_key = r.record_key
WHERE q.qh > 0
UNION ALL
SELECT a.record_key, a.location_id, 'PAL', a.org_id, ` + quote(p.PALVersion) + `,
  CASE WHEN po.n = 1 THEN ` + d.rhe(fmt.Sprintf("a.amount * %d", p.PALSingle.Num), fmt.Sprint(p.PALSingle.Den)) + `
  ELSE ` + d.rhe(fmt.Sprintf("a.amount * %d", p.PALMulti.Num), fmt.Sprint(p.PALMulti.Den)) + ` END
FROM att_rows a JOIN pal_orgs po ON po.record_key = a.record_key
WHERE a.association = 'PAL' AND a.dup = 0 AND a.offer IN ('ea', 'mca', 'payg')`
	totals := w + `
SELECT location_id, association, currency, CAST(sum(amount) AS BIGINT), count(*) FROM att GROUP BY location_id, association, currency`
	return Text{Attributions: attributions, Incentives: inc, Totals: totals}, w
}
