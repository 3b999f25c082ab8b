package results

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// storedSegs is the rollup segments of a database: table, owner and day -> data and hash.
func storedSegs(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, st := range segTables {
		rows, err := db.QueryContext(context.Background(), `SELECT `+st.owner+`, day, data, data_hash FROM `+st.name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var owner string
			var d int64
			var data []byte
			var h sql.NullInt64
			if err := rows.Scan(&owner, &d, &data, &h); err != nil {
				t.Fatal(err)
			}
			if !h.Valid || h.Int64 != segHash(data) {
				t.Errorf("%s %s day %d: stored hash %v, its data's is %d", st.name, owner, d, h, segHash(data))
			}
			out[fmt.Sprintf("%s %s %d", st.name, owner, d)] = fmt.Sprintf("%x", data)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// A restatement rewrites only the rollup segments whose bytes change, drops those no longer
// computed, and leaves the database as a first run of the same inputs would.
func TestRestatementRewritesOnlyChangedSegments(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fresh := func() *store.DB {
			if db.Engine() == store.Postgres {
				return storetest.Postgres(t)
			}
			return storetest.SQLite(t)
		}
		res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v1"
		recs := []*usage.Record{dailyRecord("r1", 0, res, 100_000_000_000), dailyRecord("r2", 1, res, 50_000_000_000), dailyRecord("r3", 2, res, 30_000_000_000)}
		insertUsage(t, db, recs...)
		period := timeline.Window{From: h(0), To: h(72)}
		clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
		snap := baseEstate()
		run := func(db *store.DB) {
			t.Helper()
			if _, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, Now: clock}); err != nil {
				t.Fatal(err)
			}
		}
		// firstRun is what a database that never held a run stores for the same inputs.
		firstRun := func() map[string]string {
			t.Helper()
			other := fresh()
			insertUsage(t, other, recs...)
			run(other)
			return storedSegs(t, other)
		}
		run(db)
		before := storedSegs(t, db)
		if len(before) != 6 { // location 1 and tenant t1, three days
			t.Fatalf("first run stored %d segments: %v", len(before), before)
		}
		// A mark outside the segments' bytes shows which rows a run rewrote.
		mark := func() {
			t.Helper()
			if _, err := db.ExecContext(ctx, `UPDATE rollup_groups SET org_id = 'untouched'`); err != nil {
				t.Fatal(err)
			}
		}
		marked := func() map[string]bool {
			t.Helper()
			out := map[string]bool{}
			rows, err := db.QueryContext(ctx, `SELECT location_id, day FROM rollup_groups WHERE org_id = 'untouched'`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var loc string
				var d int64
				if err := rows.Scan(&loc, &d); err != nil {
					t.Fatal(err)
				}
				out[fmt.Sprintf("%s %d", loc, (d-h(0))/day)] = true
			}
			return out
		}

		// The same inputs again: nothing is rewritten.
		mark()
		run(db)
		if got := storedSegs(t, db); !maps.Equal(got, before) {
			t.Fatalf("unchanged restatement changed segments:\n%v\n%v", got, before)
		}
		if got, want := marked(), map[string]bool{"1 0": true, "1 1": true, "1 2": true}; !maps.Equal(got, want) {
			t.Fatalf("unchanged restatement rewrote location 1's segments: untouched %v", got)
		}

		// u2 linked to location 2 from day 1 noon: location 2 gains segments on days 1 and 2,
		// the tenant's segments of those days change, location 1's stay as they are.
		snap.Links = append(snap.Links, link.Span{TenantID: "t1", ObjectID: "u2", LocationID: "2", Valid: timeline.Since(h(36))})
		mark()
		run(db)
		after := storedSegs(t, db)
		if want := firstRun(); !maps.Equal(after, want) {
			t.Fatalf("after the link, segments differ from a first run's:\n%v\n%v", after, want)
		}
		if got, want := marked(), map[string]bool{"1 0": true, "1 1": true, "1 2": true}; !maps.Equal(got, want) {
			t.Fatalf("after the link: untouched %v, want %v", got, want)
		}
		if len(after) != 8 {
			t.Fatalf("after the link: %d segments, want 8", len(after))
		}
		if k := "rollup_tenants t1 " + fmt.Sprint(h(24)); after[k] == before[k] {
			t.Fatalf("after the link: the tenant's day 1 is unchanged")
		}

		// u2's role was on another resource group all along: location 2's segments go, and
		// the tenant's are as before the link.
		snap.Assignments[1].Scope = "/subscriptions/" + subA + "/resourceGroups/rg2"
		run(db)
		if got := storedSegs(t, db); !maps.Equal(got, before) {
			t.Fatalf("after the correction, segments differ from the first run's:\n%v\n%v", got, before)
		}

		// RewriteSegments (the benchmark's worst case) writes every segment again.
		mark()
		if _, err := Run(ctx, db, RunOptions{Period: period, Snapshot: snap, Now: clock, RewriteSegments: true}); err != nil {
			t.Fatal(err)
		}
		if got := marked(); len(got) != 0 {
			t.Fatalf("RewriteSegments left segments untouched: %v", got)
		}
		if got := storedSegs(t, db); !maps.Equal(got, before) {
			t.Fatalf("after RewriteSegments:\n%v\n%v", got, before)
		}

		// Segments stored before hashes were (NULL) count as changed and get one.
		if _, err := db.ExecContext(ctx, `UPDATE rollup_tenants SET data_hash = NULL`); err != nil {
			t.Fatal(err)
		}
		run(db)
		if got := storedSegs(t, db); !maps.Equal(got, before) {
			t.Fatalf("after hashes were NULL:\n%v\n%v", got, before)
		}
	})
}
