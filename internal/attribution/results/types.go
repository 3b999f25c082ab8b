// Package results stores what attribution runs produce and reads it back: the run records,
// which run's results hold for which charge-start interval (coverage), the inputs each run's
// rows are reproduced from, the daily rollups the reports read, and the result segments of
// runs stored before rows were reproduced, and sharded runs' parts. It owns the tables
// attribution_runs, attribution_coverage, attribution_run_inputs, attribution_snapshots,
// attribution_segments, attribution_shards, attribution_shard_parts, rollup_days,
// rollup_groups, rollup_tenants, rollup_incentives_daily and the emptied rollup_daily; nobody
// else names them (internal/sqlref excepted).
//
// The engine (package attribution) is a pure function of an estate snapshot, the programs and
// the usage. A stored run records those inputs (the snapshot, content-addressed; the programs;
// the IDs of the usage segments it read) instead of its rows, so storing a run costs its
// rollups and a few rows, and restating a period swaps which run covers it. Rows are
// reproduced on demand, exactly: the same inputs through the same rules give the same rows.
package results

import (
	"context"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Row and Incentive are the engine's rows.
type (
	Row       = attribution.Row
	Incentive = attribution.Incentive
)

// RulesVersion names the attribution rules this partnerlink applies. A stored run records it,
// and its rows are reproduced only by a partnerlink applying the same rules: a change to the
// engine's rules that changes any row must increase it (TestGoldenRun fails until it does),
// and runs stored under other rules are then restated (`partnerlink attribute` again).
const RulesVersion = 2

const day = int64(86400) * 1_000_000_000

func floorDay(t int64) int64 {
	d := t / day * day
	if d > t {
		d -= day
	}
	return d
}

// loadFacts reads the estate a period needs. Records starting in the period may end after
// it, and PEC looks at whole UTC days, so every version from the period's first UTC midnight
// onwards is loaded (still bounded by the estate, never by usage).
func loadFacts(ctx context.Context, q store.Querier, w timeline.Window) (*facts.Snapshot, error) {
	if w.From != timeline.Min {
		w = timeline.Window{From: floorDay(w.From), To: timeline.Max}
	}
	return facts.Load(ctx, q, w)
}
