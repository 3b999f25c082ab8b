package results

import (
	"context"
	"fmt"
	"github.com/partnerlink/partnerlink/internal/attribution"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

const subA = "00000000-0000-0000-0000-00000000000a"

// baseEstate: organisation org-a with locations 1 and 2 in partner tenant pt0; customer tenant
// t1 with an EA subscription; u1 (linked to location 1) is Owner on the subscription and u2
// (not linked yet) is Contributor on a resource group.
func baseEstate() *facts.Snapshot {
	contributor := access.RoleDefinition{ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", RoleName: "Contributor", RoleType: "BuiltInRole", Valid: timeline.Always()}
	return &facts.Snapshot{
		Organisations: []directory.Organisation{{ID: "org-a", TenantIDs: []string{"pt0"}, Locations: []directory.Location{
			{ID: "1", OrgID: "org-a", Active: []timeline.Window{timeline.Always()}},
			{ID: "2", OrgID: "org-a", Active: []timeline.Window{timeline.Always()}},
		}}},
		Tenants:         []estate.Tenant{{ID: "t1"}},
		Subscriptions:   []estate.Subscription{{ID: subA, TenantID: "t1", Offer: estate.OfferEA, Valid: timeline.Always()}},
		RoleDefinitions: []access.RoleDefinition{roleOwner, contributor},
		Assignments: []access.RoleAssignment{
			{ID: "a1", TenantID: "t1", PrincipalID: "u1", RoleDefinitionID: roleOwner.ID, Scope: "/subscriptions/" + subA, Kind: access.Active, Valid: timeline.Always()},
			{ID: "a2", TenantID: "t1", PrincipalID: "u2", RoleDefinitionID: contributor.ID, Scope: "/subscriptions/" + subA + "/resourceGroups/rg1", Kind: access.Active, Valid: timeline.Always()},
		},
		Links: []link.Span{{TenantID: "t1", ObjectID: "u1", LocationID: "1", Valid: timeline.Since(h(0))}},
	}
}

func insertUsage(t *testing.T, db *store.DB, recs ...*usage.Record) {
	t.Helper()
	var rs []usage.Record
	for _, r := range recs {
		rs = append(rs, *r)
	}
	if _, err := usage.ImportRecords(context.Background(), db, "test", rs, usage.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
}

func dailyRecord(k string, dayN int, res string, cost int64) *usage.Record {
	return &usage.Record{Key: k, Start: h(24 * dayN), End: h(24 * (dayN + 1)), SubscriptionID: subA, ResourceID: res,
		Service: "vm", ChargeCategory: usage.CategoryUsage, PricingCategory: "Standard", Currency: "USD", Cost: mustMoney(cost)}
}

func storedRows(t *testing.T, db *store.DB) []Row {
	t.Helper()
	var out []Row
	err := StoredRows(context.Background(), db, RowFilter{Period: timeline.Always()}, func(r *Row) error {
		out = append(out, Row{RecordKey: r.RecordKey, LocationID: r.LocationID, Association: r.Association, OrgID: r.OrgID,
			Coverage: r.Coverage, Amount: r.Amount, AdminRole: r.AdminRole, DuplicateAtOrg: r.DuplicateAtOrg})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunRestatement(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v1"
		insertUsage(t, db, dailyRecord("r1", 0, res, 100_000_000_000), dailyRecord("r2", 1, res, 50_000_000_000),
			&usage.Record{Key: "r3", Start: h(30), End: h(31), SubscriptionID: subA, ResourceID: res, ChargeCategory: "Purchase", Currency: "USD", Cost: 7})
		period := timeline.Window{From: h(0), To: h(72)}
		clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
		snap := baseEstate()
		r1, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, Now: clock, RequestedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		first := storedRows(t, db)
		if len(first) != 2 || first[0].LocationID != "1" || first[0].Amount != 100_000_000_000 || first[0].AdminRole != "Owner" {
			t.Fatalf("first run rows: %+v", first)
		}
		if r1.Stats.NotConsumption != 1 || r1.PreviousRunID != "" {
			t.Fatalf("first run: %+v", r1)
		}
		// Unchanged re-run: identical rows, empty diff.
		r2, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		if got := storedRows(t, db); !reflect.DeepEqual(got, first) {
			t.Fatalf("re-run changed rows:\n%+v\n%+v", got, first)
		}
		if len(r2.Diff) != 0 || r2.PreviousRunID != r1.RunID || r2.InputsHash != r1.InputsHash {
			t.Fatalf("re-run diff %+v prev %q hash %q/%q", r2.Diff, r2.PreviousRunID, r2.InputsHash, r1.InputsHash)
		}
		// Late link backfill: u2 linked to location 2 from day 1 noon. Only location 2's rows
		// appear; location 1's are untouched; the diff names location 2 only.
		snap.Links = append(snap.Links, link.Span{TenantID: "t1", ObjectID: "u2", LocationID: "2", Valid: timeline.Since(h(36))})
		r3, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		got := storedRows(t, db)
		if len(got) != 3 || got[0] != first[0] || got[1] != first[1] {
			t.Fatalf("after backfill: %+v", got)
		}
		want := Row{RecordKey: "r2", LocationID: "2", Association: attribution.AssocPAL, OrgID: "org-a", Coverage: 500_000_000, Amount: 25_000_000_000,
			AdminRole: "Contributor", DuplicateAtOrg: true}
		if got[2] != want {
			t.Fatalf("backfilled row %+v, want %+v", got[2], want)
		}
		if len(r3.Diff) != 1 || r3.Diff["2"]["PAL"]["USD"] != "25" {
			t.Fatalf("diff %+v", r3.Diff)
		}
		// Rollups: org_amount counts the record once.
		var amount, orgAmount int64
		if err := db.QueryRowContext(ctx, `SELECT SUM(amount_nanos), SUM(org_amount_nanos) FROM rollup_days WHERE day = $1`, h(24)).Scan(&amount, &orgAmount); err != nil {
			t.Fatal(err)
		}
		if amount != 75_000_000_000 || orgAmount != 50_000_000_000 {
			t.Fatalf("rollup day 1: amount %d org %d", amount, orgAmount)
		}
		// Late usage: one more record; only its row is added.
		insertUsage(t, db, dailyRecord("r4", 2, res, 30_000_000_000))
		r4, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		got = storedRows(t, db)
		if len(got) != 5 || got[0] != first[0] || got[1] != first[1] || got[3].RecordKey != "r4" || got[4].RecordKey != "r4" {
			t.Fatalf("after late usage: %+v", got)
		}
		if len(r4.Diff) != 2 || r4.Diff["1"]["PAL"]["USD"] != "30" || r4.Diff["2"]["PAL"]["USD"] != "30" || r4.InputsHash == r3.InputsHash {
			t.Fatalf("late usage diff %+v", r4.Diff)
		}
		// Corrected assignment: u2's Contributor was on another resource group all along, so
		// location 2 loses its rows and nothing else changes.
		snap.Assignments[1].Scope = "/subscriptions/" + subA + "/resourceGroups/rg2"
		r5, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		after := storedRows(t, db)
		if len(after) != 3 || after[0] != first[0] || after[1] != first[1] || after[2] != got[3] {
			t.Fatalf("after correction: %+v", after)
		}
		if len(r5.Diff) != 1 || r5.Diff["2"]["PAL"]["USD"] != "-55" {
			t.Fatalf("correction diff %+v", r5.Diff)
		}
		var runs int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM attribution_runs`).Scan(&runs); err != nil || runs != 5 {
			t.Fatalf("runs %d %v", runs, err)
		}
		var diffJSON string
		if err := db.QueryRowContext(ctx, `SELECT diff FROM attribution_runs WHERE id = $1`, r5.RunID).Scan(&diffJSON); err != nil ||
			!strings.Contains(diffJSON, `"previous_run_id":"`+r4.RunID+`"`) || !strings.Contains(diffJSON, `"-55"`) {
			t.Fatalf("stored diff %s %v", diffJSON, err)
		}
	})
}

// A dry run reports the totals and counts a stored run records, and writes nothing.
func TestRunDryRunTotalsAsStored(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v1"
		insertUsage(t, db, dailyRecord("r1", 0, res, 100_000_000_000), dailyRecord("r2", 1, res, 50_000_000_003))
		period := timeline.Window{From: h(0), To: h(72)}
		snap := baseEstate()
		snap.Links = append(snap.Links, link.Span{TenantID: "t1", ObjectID: "u2", LocationID: "2", Valid: timeline.Since(h(30))})
		dry, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if dry.Stored || len(storedRows(t, db)) != 0 {
			t.Fatalf("dry run stored rows: %+v", dry)
		}
		stored, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, RequestedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(dry.Totals, stored.Totals) || dry.Stats.Rows != stored.Stats.Rows || dry.Stats.Incentives != stored.Stats.Incentives {
			t.Fatalf("dry run %+v\nstored  %+v", dry, stored)
		}
		if len(dry.Totals["2"]) == 0 || dry.Totals["1"]["incentive:PAL"]["USD"] == "" {
			t.Fatalf("expected PAL rows and incentives for both locations: %v", dry.Totals)
		}
	})
}

// rollupRows reads every rollup table in a fixed order, rollup segments decoded.
func rollupRows(t *testing.T, db *store.DB) []string {
	t.Helper()
	var out []string
	ctx := context.Background()
	for _, q := range []string{
		`SELECT day, location_id, org_id, association, currency, amount_nanos, org_amount_nanos, records FROM rollup_days
			ORDER BY day, location_id, association, currency`,
		`SELECT day, location_id, org_id, program, currency, amount_nanos, records, 0 FROM rollup_incentives_daily
			ORDER BY day, location_id, program, currency`,
	} {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v [8]any
			p := make([]any, len(v))
			for i := range v {
				p[i] = &v[i]
			}
			if err := rows.Scan(p...); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(v[:]...))
		}
		rows.Close()
	}
	for _, x := range []struct {
		q    string
		k, m int
	}{{`SELECT location_id || ' ' || org_id, day, data FROM rollup_groups ORDER BY day, location_id`, 6, 3},
		{`SELECT tenant_id, day, data FROM rollup_tenants ORDER BY day, tenant_id`, 4, 2}} {
		rows, err := db.QueryContext(ctx, x.q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var who string
			var d int64
			var data []byte
			if err := rows.Scan(&who, &d, &data); err != nil {
				t.Fatal(err)
			}
			if err := decodeRollup("test", data, x.k, x.m, func(strs []string, nums []int64) {
				out = append(out, fmt.Sprint(d, " ", who, " ", strs, " ", nums))
			}); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
	}
	slices.Sort(out) // a rollup segment's rows are in no particular order
	return out
}

// Periods that cut days compose: attributing [0h, 36h) and then [36h, 72h) stores the rows and
// rollups one run of [0h, 72h) stores, on the day they share too. A re-run of the second
// period after a change replaces only its own records' rows.
func TestRunPeriodsThatCutDays(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v1"
		var recs []*usage.Record
		for i := 0; i < 12; i++ {
			recs = append(recs, &usage.Record{Key: fmt.Sprintf("r%02d", i), Start: h(6 * i), End: h(6*i + 6), SubscriptionID: subA,
				ResourceID: res, ChargeCategory: "Usage", Currency: "USD", Cost: mustMoney(int64(1000 + i))})
		}
		insertUsage(t, db, recs...)
		snap := baseEstate()
		clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
		run := func(from, to int) {
			t.Helper()
			if _, err := Run(ctx, db, RunOptions{Period: timeline.Window{From: h(from), To: h(to)}, Snapshot: snap, Now: clock}); err != nil {
				t.Fatal(err)
			}
		}
		run(0, 72)
		wantRows, wantRollups := storedRows(t, db), rollupRows(t, db)
		if len(wantRows) != 12 || len(wantRollups) == 0 {
			t.Fatalf("one run stored %d rows and %d rollup rows", len(wantRows), len(wantRollups))
		}
		run(0, 36)
		run(36, 72)
		if got := storedRows(t, db); !reflect.DeepEqual(got, wantRows) {
			t.Fatalf("rows after two runs that cut day 1:\n%+v\nwant\n%+v", got, wantRows)
		}
		if got := rollupRows(t, db); !reflect.DeepEqual(got, wantRollups) {
			t.Fatalf("rollups after two runs that cut day 1:\n%v\nwant\n%v", got, wantRollups)
		}
		// Location 1 inactive from 48h: a re-run of [36h, 72h) changes the rows of r08..r11 only.
		changed := baseEstate()
		changed.Organisations[0].Locations[0].Active = []timeline.Window{{From: timeline.Min, To: h(48)}}
		snap = changed
		run(36, 72)
		got := storedRows(t, db)
		if len(got) != 8 {
			t.Fatalf("after the location went inactive at 48h: %d rows, want 8 (r00..r07)", len(got))
		}
		if !reflect.DeepEqual(got, wantRows[:8]) {
			t.Fatalf("the re-run changed rows outside its period:\n%+v", got)
		}
	})
}

// Results stored as rows by older versions move into segments unchanged (version 2), and
// their incentive rollups are filled.
func TestUpgradeLegacyResults(t *testing.T) {
	storetest.RunEmpty(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Schema 0600 drops the legacy tables once engines.Migrate has called UpgradeLegacy.
		if _, err := db.MigrateTo(ctx, 599); err != nil {
			t.Fatal(err)
		}
		res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v1"
		var rows []Row
		var incs []Incentive
		_, err := attribution.Compute(ctx, baseEstate(), nil, timeline.Window{From: h(0), To: h(72)},
			attribution.FromRecords([]*usage.Record{dailyRecord("r1", 0, res, 100_000_000_000), dailyRecord("r2", 1, res, 50_000_000_000)}),
			func(_ *usage.Batch, _ int, rs []Row, is []Incentive) error {
				rows, incs = append(rows, rs...), append(incs, is...)
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 || len(incs) == 0 {
			t.Fatalf("%d rows and %d incentives; the test needs both", len(rows), len(incs))
		}
		exec := func(q string, args ...any) {
			if _, err := db.ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range rows {
			exec(`INSERT INTO attributions (record_key, location_id, association, org_id, charge_start, charge_end, tenant_id, subscription_id,
				resource_id, service, currency, cost_nanos, coverage_nanos, amount_nanos, admin_role, duplicate_at_org, run_id)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,'old')`, r.RecordKey, r.LocationID, r.Association, r.OrgID,
				r.Start, r.End, r.TenantID, r.SubscriptionID, r.ResourceID, r.Service, r.Currency, int64(r.Cost), r.Coverage, int64(r.Amount),
				r.AdminRole, r.DuplicateAtOrg)
		}
		for _, x := range incs {
			exec(`INSERT INTO incentives (record_key, location_id, program, org_id, program_version, charge_start, currency, amount_nanos, run_id)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'old')`, x.RecordKey, x.LocationID, x.Program, x.OrgID, x.ProgramVersion, x.Start, x.Currency, int64(x.Amount))
		}
		if err := UpgradeLegacy(ctx, db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		all := RowFilter{Period: timeline.Always()}
		var gotRows []Row
		var gotIncs []Incentive
		if err := StoredRows(ctx, db, all, func(r *Row) error { gotRows = append(gotRows, *r); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := StoredIncentives(ctx, db, all, func(x *Incentive) error { gotIncs = append(gotIncs, *x); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotRows, rows) || !reflect.DeepEqual(gotIncs, incs) {
			t.Fatalf("after the upgrade:\n%+v\n%+v\nwant\n%+v\n%+v", gotRows, gotIncs, rows, incs)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM rollup_incentives_daily`).Scan(&n); err != nil || n == 0 {
			t.Fatalf("%d incentive rollups after the upgrade (%v)", n, err)
		}
	})
}
