package results

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// storedOutput is every stored attribution and incentive row of all time, as the CSV reports
// print them.
func storedOutput(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	ctx := context.Background()
	all := RowFilter{Period: timeline.Always()}
	if err := StoredRows(ctx, db, all, func(r *Row) error { b.WriteString(strings.Join(r.Fields(), ",") + "\n"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := StoredIncentives(ctx, db, all, func(i *Incentive) error { b.WriteString(strings.Join(i.Fields(), ",") + "\n"); return nil }); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

type runEvent struct {
	waited bool // the run called Waiting (else it finished)
	res    *RunResult
	err    error
}

// TestConcurrentRunsAreSerialised starts two runs through two handles on one database (two
// processes, as far as the database can tell) while a third holder has the run lock, checks
// that both wait for it, and then that the stored rows are those of one run and that each
// run's difference is against the run it replaced.
func TestConcurrentRunsAreSerialised(t *testing.T) {
	cases := map[string][2]timeline.Window{
		"same period":         {{From: h(0), To: h(72)}, {From: h(0), To: h(72)}},
		"overlapping periods": {{From: h(0), To: h(48)}, {From: h(24), To: h(72)}},
	}
	for name, periods := range cases {
		t.Run(name, func(t *testing.T) {
			storetest.RunPair(t, func(t *testing.T, a, b *store.DB) {
				ctx := context.Background()
				res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v1"
				insertUsage(t, a, dailyRecord("r1", 0, res, 100_000_000_000), dailyRecord("r2", 1, res, 50_000_000_000),
					dailyRecord("r3", 2, res, 30_000_000_000))
				snap := baseEstate()
				events := make(chan runEvent, 4)
				release := make(chan struct{})
				var releaseOnce sync.Once
				free := func() { releaseOnce.Do(func() { close(release) }) }
				t.Cleanup(free) // a failing test must not leave the lock held while the database is dropped
				held := make(chan error, 1)
				locked := make(chan struct{})
				go func() {
					held <- a.LoadExclusive(ctx, runLock, nil, func(store.Loader) error { close(locked); <-release; return nil })
				}()
				<-locked
				for i, db := range []*store.DB{a, b} {
					go func() {
						r, err := Run(ctx, db, RunOptions{Period: periods[i], Snapshot: snap, RequestedBy: "test",
							Waiting: func() { events <- runEvent{waited: true} }})
						events <- runEvent{res: r, err: err}
					}()
				}
				for range 2 {
					if e := <-events; !e.waited {
						t.Fatalf("a run went ahead while another held the run lock: %+v", e)
					}
				}
				free()
				if err := <-held; err != nil {
					t.Fatal(err)
				}
				var runs []*RunResult
				for range 2 {
					e := <-events
					if e.err != nil {
						t.Fatal(e.err)
					}
					runs = append(runs, e.res)
				}
				concurrent := storedOutput(t, a)

				// The same periods run one after the other store the same rows.
				for _, p := range periods {
					if _, err := Run(ctx, a, RunOptions{Period: p, Snapshot: snap}); err != nil {
						t.Fatal(err)
					}
				}
				if serial := storedOutput(t, a); serial != concurrent {
					t.Fatalf("concurrent runs stored:\n%s\nserial runs store:\n%s", concurrent, serial)
				}
				if n := strings.Count(concurrent, "\n"); n != 6 {
					t.Fatalf("%d stored rows, want 3 PAL rows and 3 incentives:\n%s", n, concurrent)
				}

				// The run history: for the same period, one run replaced the other and its
				// difference is empty; for different periods, neither replaced anything.
				first, second := runs[0], runs[1]
				if second.PreviousRunID == "" {
					first, second = second, first
				}
				if first.PreviousRunID != "" {
					t.Fatalf("the first run replaced %q", first.PreviousRunID)
				}
				if periods[0] == periods[1] {
					if second.PreviousRunID != first.RunID || len(second.Diff) != 0 {
						t.Fatalf("second run: previous %q (want %q), diff %v", second.PreviousRunID, first.RunID, second.Diff)
					}
				} else if second.PreviousRunID != "" || len(second.Diff) == 0 {
					d, _ := json.Marshal(second.Diff)
					t.Fatalf("second run: previous %q, diff %s", second.PreviousRunID, d)
				}
			})
		})
	}
}
