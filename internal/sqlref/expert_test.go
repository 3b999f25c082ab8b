package sqlref_test

import (
	"context"
	"sort"
	"testing"

	"github.com/partnerlink/partnerlink/internal/sqlref"
	"github.com/partnerlink/partnerlink/internal/store"
)

// checkExpert checks the expert formulation against the engine's stored results: its totals,
// and every row ExpertRows writes (without the admin role and duplicate_at_org, which it does
// not compute).
func checkExpert(t *testing.T, db *store.DB, o sqlref.Options, engAtts []sqlref.Attribution) {
	t.Helper()
	ctx := context.Background()
	d := sqlref.Dialect(db.Engine())
	tot, err := sqlref.ExpertTotals(ctx, db, d, o)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "expert total", lines(tot), lines(engineTotals(t, db)))
	n, err := sqlref.ExpertRows(ctx, db, d, o, "xp_attribution")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, "SELECT record_key, location_id, association, org_id, coverage, amount FROM xp_attribution")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []sqlref.Attribution
	for rows.Next() {
		var a sqlref.Attribution
		if err := rows.Scan(&a.RecordKey, &a.LocationID, &a.Association, &a.OrgID, &a.Coverage, &a.Amount); err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != n {
		t.Errorf("ExpertRows reported %d rows, the table holds %d", n, len(got))
	}
	want := make([]sqlref.Attribution, len(engAtts))
	for i, a := range engAtts {
		a.AdminRole, a.DuplicateAtOrg = "", false
		want[i] = a
	}
	sort.Slice(got, func(i, j int) bool { return lines(got[i : i+1])[0] < lines(got[j : j+1])[0] })
	sort.Slice(want, func(i, j int) bool { return lines(want[i : i+1])[0] < lines(want[j : j+1])[0] })
	diff(t, "expert attribution", lines(got), lines(want))
	tt, err := sqlref.TableTotals(ctx, db, "xp_attribution")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "expert table total", lines(tt), lines(tot))
}
