package sqlref_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/sqlref"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/synth/synthtest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The SQL formulation and the engine give identical rows on a synthetic estate, on both
// engines, after the real estate and usage imports.
func TestSameRowsAsTheEngine(t *testing.T) {
	d := synth.Generate(11, synth.Tiny)
	estatePath, usagePath := synthtest.Files(t, d)
	now := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		synthtest.Import(t, db, estatePath, usagePath, now)
		w := timeline.Window{From: timeline.Nanos(d.From), To: timeline.Nanos(d.To)}
		if _, err := results.Run(ctx, db, results.RunOptions{Period: w, RequestedBy: "test", Now: now}); err != nil {
			t.Fatal(err)
		}
		snap, err := facts.Load(ctx, db, timeline.Always())
		if err != nil {
			t.Fatal(err)
		}
		var elig []string
		for _, def := range snap.RoleDefinitions {
			if ok, _ := attribution.Eligible(def, snap.EligibilityOverrides); ok {
				elig = append(elig, def.ID)
			}
		}
		if _, err := sqlref.LoadUsage(ctx, db, w); err != nil {
			t.Fatal(err)
		}
		pp := attribution.DefaultPrograms()
		progs := sqlref.Programs{PEC: sqlref.RateOf(int64(pp.PEC[0].Rate)), PALSingle: sqlref.RateOf(int64(pp.PAL[0].RateSingle)),
			PALMulti: sqlref.RateOf(int64(pp.PAL[0].RateMulti)), PECVersion: pp.PEC[0].Version, PALVersion: pp.PAL[0].Version}
		began := time.Now()
		atts, incs, err := sqlref.Run(ctx, db, sqlref.Dialect(db.Engine()), sqlref.Options{Period: w, Eligible: elig, Programs: progs})
		if err != nil {
			t.Fatal(err)
		}
		engAtts, engIncs := engineRows(t, db)
		if len(atts) == 0 || len(incs) == 0 {
			t.Fatalf("the synthetic month gave %d attribution and %d incentive rows; expected some of each", len(atts), len(incs))
		}
		per := map[string]int{}
		for _, a := range atts {
			per[a.Association]++
		}
		for _, i := range incs {
			per["incentive "+i.Program]++
		}
		for _, k := range []string{"PAL", "CSP", "DPOR", "CUA", "incentive PEC", "incentive PAL"} {
			if per[k] == 0 {
				t.Errorf("no %s rows: the synthetic estate should exercise every rule (%v)", k, per)
			}
		}
		t.Logf("SQL formulation took %v", time.Since(began))
		t.Logf("%d attribution and %d incentive rows: %v", len(atts), len(incs), per)
		diff(t, "attribution", lines(atts), lines(engAtts))
		diff(t, "incentive", lines(incs), lines(engIncs))
		// Totals (what the benchmark compares) is a query of its own: it must agree too.
		tot, err := sqlref.Totals(ctx, db, sqlref.Dialect(db.Engine()), sqlref.Options{Period: w, Eligible: elig, Programs: progs})
		if err != nil {
			t.Fatal(err)
		}
		diff(t, "total", lines(tot), lines(engineTotals(t, db)))
		byDay, err := sqlref.Totals(ctx, db, sqlref.Dialect(db.Engine()), sqlref.Options{Period: w, Eligible: elig, Programs: progs, ByDay: true})
		if err != nil {
			t.Fatal(err)
		}
		diff(t, "total by day", lines(byDay), lines(tot))
		checkExpert(t, db, sqlref.Options{Period: w, Eligible: elig, Programs: progs}, engAtts)
	})
}

// engineTotals sums the stored rollups (what the reports read) per location, association and
// currency.
func engineTotals(t *testing.T, db *store.DB) []sqlref.Total {
	tots, err := results.StoredTotals(context.Background(), db, timeline.Min, timeline.Max)
	if err != nil {
		t.Fatal(err)
	}
	var out []sqlref.Total
	for _, x := range tots {
		out = append(out, sqlref.Total{LocationID: x.LocationID, Association: x.Association, Currency: x.Currency, Amount: x.Amount, Rows: x.Records})
	}
	if len(out) == 0 {
		t.Fatal("the engine stored no attribution rows")
	}
	return out
}

// engineRows reads the stored rows as the reports give them.
func engineRows(t *testing.T, db *store.DB) ([]sqlref.Attribution, []sqlref.Incentive) {
	ctx := context.Background()
	all := results.RowFilter{Period: timeline.Always()}
	var atts []sqlref.Attribution
	err := results.StoredRows(ctx, db, all, func(r *attribution.Row) error {
		atts = append(atts, sqlref.Attribution{RecordKey: r.RecordKey, LocationID: r.LocationID, Association: r.Association, OrgID: r.OrgID,
			Coverage: r.Coverage, Amount: int64(r.Amount), AdminRole: r.AdminRole, DuplicateAtOrg: r.DuplicateAtOrg})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var incs []sqlref.Incentive
	err = results.StoredIncentives(ctx, db, all, func(i *attribution.Incentive) error {
		incs = append(incs, sqlref.Incentive{RecordKey: i.RecordKey, LocationID: i.LocationID, Program: i.Program, OrgID: i.OrgID,
			Version: i.ProgramVersion, Amount: int64(i.Amount)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return atts, incs
}

func lines[T any](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%+v", x)
	}
	return out
}

// diff reports rows only one side has (both inputs sorted the same way).
func diff(t *testing.T, what string, sqlRows, engRows []string) {
	t.Helper()
	in := map[string]int{}
	for _, l := range engRows {
		in[l]++
	}
	for _, l := range sqlRows {
		in[l]--
	}
	n := 0
	for l, c := range in {
		if c != 0 && n < 15 {
			side := "engine only"
			if c < 0 {
				side = "SQL only"
			}
			t.Errorf("%s row %s: %s", what, side, l)
			n++
		}
	}
	if n > 0 {
		t.Errorf("%d %s rows from SQL, %d from the engine", len(sqlRows), what, len(engRows))
	}
}
