package results

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// The rules reproduce stored runs only while they give the same rows: the engine's rows for a
// fixed estate and usage must equal testdata/rules-vN.txt for the current RulesVersion N. A
// change to the rules that changes them must increase RulesVersion and add the new file
// (runs stored under the old version are then refused, with the fix, instead of reproduced
// with other rules).
func TestGoldenRun(t *testing.T) {
	res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v"
	recs := []*usage.Record{dailyRecord("r1", 0, res+"1", 1000000000), dailyRecord("r2", 1, res+"2", 2500000001), dailyRecord("r3", 1, "/subscriptions/"+subA, 7)}
	recs[2].Currency = "EUR"
	recs[1].End = recs[1].Start + 7*3600e9
	var rows []Row
	var incs []Incentive
	_, err := attribution.Compute(context.Background(), baseEstate(), attribution.DefaultPrograms(), wide, attribution.FromRecords(recs),
		func(_ *usage.Batch, _ int, rs []Row, is []Incentive) error {
			rows, incs = append(rows, rs...), append(incs, is...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(fmt.Sprintf("testdata/rules-v%d.txt", RulesVersion))
	if err != nil {
		t.Fatal(err)
	}
	if got := goldenText(rows, incs); got != string(want) {
		t.Fatalf("the rules give other rows than rules version %d did: increase RulesVersion and write testdata/rules-v%d.txt\n%s\nwant\n%s",
			RulesVersion, RulesVersion+1, got, want)
	}
}

// A stored run's rows are reproduced from what the run saw: a later change of the estate and
// usage imported later change nothing until the period is attributed again.
func TestReproducedFromTheRecordedRun(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v1"
		insertUsage(t, db, dailyRecord("r1", 0, res, 100_000_000_000), dailyRecord("r2", 1, res, 50_000_000_000))
		snap := baseEstate()
		period := timeline.Window{From: h(0), To: h(48)}
		if _, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap}); err != nil {
			t.Fatal(err)
		}
		first := storedRows(t, db)
		if len(first) != 2 {
			t.Fatalf("rows %+v", first)
		}
		// Usage of the period imported after the run is not the run's.
		insertUsage(t, db, dailyRecord("r9", 1, res, 70_000_000_000))
		if got := storedRows(t, db); !reflect.DeepEqual(got, first) {
			t.Fatalf("usage imported after the run changed its rows:\n%+v\nwant\n%+v", got, first)
		}
		// A run of another period with another estate leaves this one's rows as they were.
		other := baseEstate()
		other.Links = append(other.Links, link.Span{TenantID: "t1", ObjectID: "u2", LocationID: "2", Valid: timeline.Always()})
		insertUsage(t, db, dailyRecord("r5", 3, res, 10_000_000_000))
		if _, err := Run(ctx, db, RunOptions{Period: timeline.Window{From: h(72), To: h(96)}, Snapshot: other}); err != nil {
			t.Fatal(err)
		}
		got := storedRows(t, db)
		if len(got) != 4 || !reflect.DeepEqual(got[:2], first) {
			t.Fatalf("rows after a run of another period:\n%+v", got)
		}
		// Attributing the period again takes the late usage in.
		if _, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap}); err != nil {
			t.Fatal(err)
		}
		if got := storedRows(t, db); len(got) != 5 {
			t.Fatalf("after restating the period: %+v", got)
		}
		// Two runs' inputs are kept (the superseded runs' are dropped), one snapshot each.
		var runs, snaps int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM attribution_run_inputs`).Scan(&runs); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM attribution_snapshots`).Scan(&snaps); err != nil {
			t.Fatal(err)
		}
		if runs != 2 || snaps != 2 {
			t.Fatalf("%d run inputs and %d snapshots stored, want 2 and 2", runs, snaps)
		}
		// A run recorded under other rules is refused, with the fix, not reproduced.
		if _, err := db.ExecContext(ctx, `UPDATE attribution_run_inputs SET rules_version = 0`); err != nil {
			t.Fatal(err)
		}
		err := StoredRows(ctx, db, RowFilter{Period: timeline.Always()}, func(*Row) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "partnerlink attribute") || !strings.Contains(err.Error(), "rules version 0") {
			t.Fatalf("a run of other rules: %v", err)
		}
	})
}

// The row pipe hands every row over in order, and fn's error stops it and is returned.
func TestRowPipe(t *testing.T) {
	for _, n := range []int{0, 1, rowPipeBatch, 3*rowPipeBatch + 7} {
		var got []string
		p := newRowPipe(context.Background(), func(r *Row) error { got = append(got, r.RecordKey); return nil })
		for i := 0; i < n; i++ {
			if err := p.send(&Row{RecordKey: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.close(); err != nil {
			t.Fatal(err)
		}
		if len(got) != n || (n > 0 && got[n-1] != fmt.Sprint(n-1)) {
			t.Fatalf("%d rows sent, %d received", n, len(got))
		}
	}
	boom := fmt.Errorf("boom")
	p := newRowPipe(context.Background(), func(r *Row) error {
		if r.RecordKey == "5000" {
			return boom
		}
		return nil
	})
	var err error
	for i := 0; i < 20*rowPipeBatch && err == nil; i++ {
		err = p.send(&Row{RecordKey: fmt.Sprint(i)})
	}
	if err == nil {
		err = p.close()
	}
	p.stop()
	if err != boom {
		t.Fatalf("got %v, want fn's error", err)
	}
}
