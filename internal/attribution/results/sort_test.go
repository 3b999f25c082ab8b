package results

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// A report gives the same rows, in formats.md's order, whether its sort fits in memory or
// spills many runs to disk, and whether its strings are numbered or (the dictionary full)
// written out in full.
func TestSortedRowsAcrossRunsAndAFullDictionary(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(3, 4))
		var recs []*usage.Record
		for i := 0; i < 400; i++ {
			res := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg%d/providers/p/vm/v%d", subA, 1+rng.IntN(2), rng.IntN(50))
			// Keys repeat on other days: their records' rows are merged in order.
			recs = append(recs, dailyRecord(fmt.Sprintf("k%d", rng.IntN(300)), rng.IntN(5), res, 1+rng.Int64N(9_000_000_000)))
		}
		insertUsage(t, db, recs...)
		snap := baseEstate()
		snap.Links = append(snap.Links, link.Span{TenantID: "t1", ObjectID: "u2", LocationID: "2", Valid: timeline.Always()})
		if _, err := Run(ctx, db, RunOptions{Period: timeline.Window{From: h(0), To: h(24 * 5)}, Snapshot: snap}); err != nil {
			t.Fatal(err)
		}
		all := func() []Row {
			var out []Row
			if err := StoredRows(ctx, db, RowFilter{Period: timeline.Always()}, func(r *Row) error { out = append(out, *r); return nil }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		want := all()
		if len(want) < 400 {
			t.Fatalf("%d rows, want at least one per record", len(want))
		}
		if !slices.IsSortedFunc(want, func(a, b Row) int {
			return cmp.Or(strings.Compare(a.RecordKey, b.RecordKey), strings.Compare(a.LocationID, b.LocationID), strings.Compare(a.Association, b.Association))
		}) {
			t.Fatal("rows not sorted by record key, location and association")
		}
		defer func(b, d int) { sortBudget, dictBytes = b, d }(sortBudget, dictBytes)
		sortBudget, dictBytes = 1024, 100 // a run every few records; most strings written out
		if got := all(); !reflect.DeepEqual(got, want) {
			t.Fatalf("spilled and undictionaried rows differ:\n%v\nwant\n%v", got[:min(len(got), 5)], want[:5])
		}
	})
}
