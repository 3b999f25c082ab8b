package attribution

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"
	"weak"

	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// A stored usage segment decodes into a batch whose strings share one allocation, the whole
// dictionary's (usage.decodeSegment). Whatever outlives the batch must not keep one of those
// strings, or it keeps every one of them: these tests give a batch such strings and check,
// with a weak pointer and a collection, that the allocation is gone while the run goes on.
//
// Measured end to end from SQLite on the bench estate at 3,000,000 usage rows (60 segments,
// 7.6 MB of dictionary each), counting the dictionaries alive after a forced collection at
// every third segment: with the resolved resources and rollups holding copies but the chunks'
// stale rows not yet cleared, up to 24 were alive; with all of it, 8 to 10 (the batches in
// the pipeline).

// sharedStrings points every string of b's dictionary into one new allocation, whose first
// byte it returns a weak pointer to.
func sharedStrings(b *usage.Batch) weak.Pointer[byte] {
	arena := strings.Repeat("\x00", 1<<12) + strings.Join(b.Dict, "")
	off := 1 << 12
	for i, s := range b.Dict {
		b.Dict[i] = arena[off : off+len(s)]
		off += len(s)
	}
	return weak.Make(unsafe.StringData(arena))
}

// The engine keeps nothing of a batch once it has attributed it: its resolved resources, its
// chunks' row buffers and its sums hold copies.
func TestComputeKeepsNoStringOfAnAttributedBatch(t *testing.T) {
	for _, sums := range []bool{false, true} {
		t.Run(fmt.Sprintf("sums=%v", sums), func(t *testing.T) {
			res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v"
			bb := usage.NewBatchBuilder()
			for i := 0; i < 50; i++ { // more rows than any later chunk's, so stale rows would stay
				bb.Add(dailyRecord(fmt.Sprintf("a%02d", i), 0, res+fmt.Sprint(i), 1000))
			}
			// And two inside the interval that opens at 6h and stays open: its sums outlive
			// the batch.
			late := dailyRecord("a50", 0, res+"50", 1000)
			late.Start = h(12)
			bb.Add(late)
			late.Key, late.Currency = "a51", "EUR" // the interval's second currency
			bb.Add(late)
			first := bb.Batch()
			gone := sharedStrings(first)
			kept := true
			later := 8*min(runtime.GOMAXPROCS(0), 64) + 8
			source := func(yield func(*usage.Batch) error) error {
				if err := yield(first); err != nil {
					return err
				}
				first = nil
				// Twice as many batches after it as the engine has chunks (4 a worker), and more:
				// a chunk is taken again only once its last use is attributed, so every chunk
				// has then been used for a later batch.
				for i := 0; i < later; i++ {
					bb := usage.NewBatchBuilder()
					bb.Add(dailyRecord(fmt.Sprintf("b%03d", i), 1, res+"0", 1000))
					if err := yield(bb.Batch()); err != nil {
						return err
					}
				}
				runtime.GC()
				kept = gone.Value() != nil
				return nil
			}
			// u2, Contributor on rg1, linked from 6h: day 0's records are partly covered by
			// location 2 (the sums' path for a record that crosses an instant).
			snap := baseEstate()
			snap.Links = append(snap.Links, link.Span{TenantID: "t1", ObjectID: "u2", LocationID: "2", Valid: timeline.Since(h(6))})
			period := timeline.Window{From: h(0), To: h(48)}
			rows := 0
			var err error
			if sums {
				var ss []Sum
				_, ss, err = ComputeSums(context.Background(), snap, nil, period, source)
				for _, s := range ss {
					if s.Association == AssocPAL { // not the incentives
						rows += int(s.Rows)
					}
				}
			} else {
				_, err = Compute(context.Background(), snap, nil, period, source, func(_ *usage.Batch, _ int, rs []Row, _ []Incentive) error {
					rows += len(rs)
					return nil
				})
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := 2 * (52 + later); rows != want {
				t.Fatalf("%d attribution rows, want %d (two per record)", rows, want)
			}
			if kept {
				t.Fatal("the first batch's strings were still alive when the last batch had been attributed")
			}
		})
	}
}
