package results

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// A run in two shards stores what one run stores: the same rollups, rows, totals and stats,
// and only the last shard commits.
func TestTwoShardsStoreWhatOneRunStores(t *testing.T) {
	d := synth.Generate(11, synth.Tiny)
	dir := t.TempDir()
	for name, fn := range map[string]func(w *os.File) error{
		"estate.json": func(w *os.File) error { return d.WriteEstate(w) },
		"usage.csv":   func(w *os.File) error { return d.WriteUsage(w) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	now := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, err := os.Open(filepath.Join(dir, "estate.json"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := estatefile.Import(ctx, db, f, "estate.json", estatefile.Options{AsOf: timeline.Nanos(now())}); err != nil {
			t.Fatal(err)
		}
		if _, err := usage.ImportFiles(ctx, db, []string{filepath.Join(dir, "usage.csv")}, usage.ImportOptions{Now: now}); err != nil {
			t.Fatal(err)
		}
		w := timeline.Window{From: timeline.Nanos(d.From), To: timeline.Nanos(d.To)}
		one, err := Run(ctx, db, RunOptions{Period: w, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		wantRows, wantRollups := storedRows(t, db), rollupRows(t, db)
		if len(wantRows) == 0 {
			t.Fatal("the dataset gives no rows")
		}
		first, err := Run(ctx, db, RunOptions{Period: w, Now: now, Shard: &Shard{Group: "g", Index: 1, Count: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if first.Stored || first.Stats.Records == 0 || first.Stats.Records == one.Stats.Records {
			t.Fatalf("the first shard to finish: stored %v, %d of %d records", first.Stored, first.Stats.Records, one.Stats.Records)
		}
		if got := storedRows(t, db); !reflect.DeepEqual(got, wantRows) {
			t.Fatal("a shard that is not the last changed the stored rows")
		}
		last, err := Run(ctx, db, RunOptions{Period: w, Now: now, Shard: &Shard{Group: "g", Index: 0, Count: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if !last.Stored || last.PreviousRunID != one.RunID || len(last.Diff) != 0 || !reflect.DeepEqual(last.Totals, one.Totals) {
			t.Fatalf("the last shard: stored %v, previous %q (want %q), diff %v", last.Stored, last.PreviousRunID, one.RunID, last.Diff)
		}
		st, want := last.Stats, one.Stats
		st.UnknownSubscriptions, want.UnknownSubscriptions = nil, nil
		if !reflect.DeepEqual(st, want) {
			t.Fatalf("stats %+v, want %+v", last.Stats, one.Stats)
		}
		if got := storedRows(t, db); !reflect.DeepEqual(got, wantRows) {
			t.Fatalf("two shards stored %d rows, one run %d, or other rows", len(got), len(wantRows))
		}
		if got := rollupRows(t, db); !reflect.DeepEqual(got, wantRollups) {
			t.Fatalf("two shards stored other rollups:\n%v\nwant\n%v", got, wantRollups)
		}
		var parts int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM attribution_shard_parts`).Scan(&parts); err != nil || parts != 0 {
			t.Fatalf("%d parts left after the commit (%v)", parts, err)
		}
	})
}
