package sqlref

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

func TestHandCheckedScenario(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if err := SeedScenario(func(q string, args ...any) error {
			_, err := db.ExecContext(context.Background(), q, args...)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		atts, incs, err := Run(context.Background(), db, Dialect(db.Engine()), Options{
			Period: ScenarioPeriod, Eligible: ScenarioEligible, Programs: DefaultPrograms})
		if err != nil {
			t.Fatal(err)
		}
		want := ScenarioAttributions
		if !reflect.DeepEqual(atts, want) {
			t.Errorf("attributions\n got %+v\nwant %+v", atts, want)
		}
		wantInc := ScenarioIncentives
		if !reflect.DeepEqual(incs, wantInc) {
			t.Errorf("incentives\n got %+v\nwant %+v", incs, wantInc)
		}
		tot, err := Totals(context.Background(), db, Dialect(db.Engine()), Options{
			Period: ScenarioPeriod, Eligible: ScenarioEligible, Programs: DefaultPrograms})
		if err != nil {
			t.Fatal(err)
		}
		wantTot := []Total{{"4100001", "PAL", "USD", 7_500_000_001, 1}, {"4200001", "PAL", "USD", 7_750_000_000, 2},
			{"4200002", "PAL", "USD", 2_500_000_000, 1}, {"4300001", "CSP", "USD", 3_000_000_000, 1}, {"4300001", "DPOR", "USD", 2_500_000_000, 1}}
		if !reflect.DeepEqual(tot, wantTot) {
			t.Errorf("totals\n got %+v\nwant %+v", tot, wantTot)
		}
	})
}

func TestRoundHalfEvenInSQL(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		d := Dialect(db.Engine())
		for _, c := range [][3]int64{{5, 2, 2}, {7, 2, 4}, {-5, 2, -2}, {-7, 2, -4}, {10, 4, 2}, {11, 4, 3}, {-11, 4, -3}, {9, 3, 3}, {1, 3, 0}, {2, 3, 1}} {
			var got int64
			q := "SELECT " + d.rhe(fmt.Sprint(c[0]), fmt.Sprint(c[1]))
			if err := db.QueryRowContext(context.Background(), q).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c[2] {
				t.Errorf("%d/%d = %d, want %d", c[0], c[1], got, c[2])
			}
		}
	})
}

func TestRefusesRecordsOffTheHour(t *testing.T) {
	db := storetest.SQLite(t)
	h0 := ScenarioPeriod.From
	if _, err := db.ExecContext(context.Background(), `INSERT INTO sqlref_usage VALUES ('r', $1, $2, 's', '/x', '/x', '', '', 'Usage', '', '', '', '', 'USD', 1, '1', 'billed', 'i', 'microsoft', '', '', '', '')`, h0+1, h0+hour); err != nil {
		t.Fatal(err)
	}
	_, _, err := Run(context.Background(), db, "sqlite", Options{Period: ScenarioPeriod})
	if err == nil || !strings.Contains(err.Error(), "whole hour") {
		t.Fatalf("%v", err)
	}
}

func TestRateOf(t *testing.T) {
	if r := RateOf(150_000_000); r != (Rate{3, 20}) {
		t.Fatal(r)
	}
	if r := RateOf(0); r != (Rate{0, 1}) {
		t.Fatal(r)
	}
}

// islands merges overlapping, touching and equal windows into disjoint ones per key; equal
// windows once put a window into the previous island when the engine ordered ties
// differently in its two window functions.
func TestIslandsMergeEqualWindows(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := `WITH src(k, f, t) AS (VALUES ('a', 0, 10), ('a', 20, 30), ('a', 20, 30), ('a', 25, 40), ('a', 40, 45), ('a', 50, 60),
			('b', 5, 6), ('b', 5, 6))
SELECT k, f, t, n FROM (` + islands("src", "k") + `) i ORDER BY k, f`
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var k string
			var f, to, n int64
			if err := rows.Scan(&k, &f, &to, &n); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s [%d,%d) of %d", k, f, to, n))
		}
		want := []string{"a [0,10) of 3", "a [20,45) of 3", "a [50,60) of 3", "b [5,6) of 1"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("islands %v, want %v", got, want)
		}
	})
}
