package main

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/partnerlink/partnerlink/internal/sqlref"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// The DuckDB dialect of the SQL formulation gives the hand-checked rows too.
func TestDuckDBScenario(t *testing.T) {
	ctx := context.Background()
	src := storetest.SQLite(t)
	if err := sqlref.SeedScenario(func(q string, args ...any) error { _, err := src.ExecContext(ctx, q, args...); return err }); err != nil {
		t.Fatal(err)
	}
	duck, err := copyToDuckDB(ctx, src.DB, filepath.Join(t.TempDir(), "s.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	atts, incs, err := sqlref.Run(ctx, duck, "duckdb", sqlref.Options{Period: sqlref.ScenarioPeriod, Eligible: sqlref.ScenarioEligible, Programs: sqlref.DefaultPrograms})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(atts, sqlref.ScenarioAttributions) {
		t.Errorf("attributions\n got %+v\nwant %+v", atts, sqlref.ScenarioAttributions)
	}
	if !reflect.DeepEqual(incs, sqlref.ScenarioIncentives) {
		t.Errorf("incentives\n got %+v\nwant %+v", incs, sqlref.ScenarioIncentives)
	}
}
