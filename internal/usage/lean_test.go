package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// leanView is what StreamLean keeps of a record.
type leanView struct {
	Start, End int64
	Cost       int64
	Strs       [NumStringCols]string
}

func leanOf(b *Batch, i int) leanView {
	v := leanView{Start: b.Start[i], End: b.End[i], Cost: int64(b.Cost[i])}
	for c := range v.Strs {
		v.Strs[c] = b.S(c, i)
	}
	return v
}

func collect(t *testing.T, read func(context.Context, store.Querier, timeline.Window, func(*Batch) error) error, db *store.DB, w timeline.Window) []leanView {
	t.Helper()
	var out []leanView
	err := read(context.Background(), db, w, func(b *Batch) error {
		for i := 0; i < b.Len(); i++ {
			out = append(out, leanOf(b, i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b leanView) int {
		if a.Start != b.Start {
			return int(a.Start - b.Start)
		}
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	return out
}

// StreamLean reads the records Stream reads, in a window or whole, with their charge periods,
// costs and strings (of both segment versions), and keys that read as "".
func TestStreamLeanReadsWhatStreamReads(t *testing.T) {
	forStoredGolden(t, func(version int, db *store.DB, w timeline.Window) {
		want := collect(t, Stream, db, w)
		got := collect(t, StreamLean, db, w)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("version %d, window %s: StreamLean read\n%+v\nStream\n%+v", version, w, got, want)
		}
		err := StreamLean(context.Background(), db, w, func(b *Batch) error {
			for i := 0; i < b.Len(); i++ {
				if version == 2 && b.Key(i) != "" {
					t.Fatalf("key %q, want none", b.Key(i))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// forStoredGolden calls fn with the stored golden data of each segment version loaded into
// SQLite, for the whole time and for one day of it.
func forStoredGolden(t *testing.T, fn func(version int, db *store.DB, w timeline.Window)) {
	t.Helper()
	for _, version := range storedVersions {
		raw, err := os.ReadFile(storedGoldenPath(version, "focus-azure-1.0.csv"))
		if err != nil {
			t.Fatal(err)
		}
		var d storedDump
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		db := storetest.SQLite(t)
		loadStored(t, db, d)
		march2, _ := timeline.ParseDateOrTime("2026-03-02")
		march3, _ := timeline.ParseDateOrTime("2026-03-03")
		for _, w := range []timeline.Window{timeline.Always(), {From: march2, To: march3}} {
			fn(version, db, w)
		}
	}
}

// StreamAttribution reads Stream's records in Stream's order, its batches naming the same
// segments and sources (both segment versions; the predicate's cut is tested on an import
// of many sub-accounts, TestStreamLeanSubscriptionsImported).
func TestStreamAttributionIsStreamInItsOrder(t *testing.T) {
	forStoredGolden(t, func(version int, db *store.DB, w timeline.Window) {
		checkAttributionRead(t, fmt.Sprintf("version %d, window %s", version, w), db, w, nil)
	})
}

// attributionRead is what a read gives, in its order.
type attributionRead struct {
	views           []leanView
	sources, segIDs []string
}

// checkAttributionRead checks that StreamAttribution with keep reads what Stream reads of the
// sub-accounts keep accepts (nil: all), in Stream's order, and, given no keep, names the
// same sources and segments.
func checkAttributionRead(t *testing.T, what string, db *store.DB, w timeline.Window, keep func(sub string) bool) {
	t.Helper()
	ctx := context.Background()
	read := func(stream func(func(*Batch) error) error, keep func(sub string) bool) attributionRead {
		var r attributionRead
		err := stream(func(b *Batch) error {
			r.sources, r.segIDs = append(r.sources, b.Source), append(r.segIDs, b.Segment)
			for i := 0; i < b.Len(); i++ {
				if keep == nil || keep(b.S(ColSubscription, i)) {
					r.views = append(r.views, leanOf(b, i))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want := read(func(fn func(*Batch) error) error { return Stream(ctx, db, w, fn) }, keep)
	got := read(func(fn func(*Batch) error) error { return StreamAttribution(ctx, db, w, keep, fn) }, nil)
	if len(want.views) == 0 || !slices.Equal(got.views, want.views) ||
		keep == nil && (!slices.Equal(got.sources, want.sources) || !slices.Equal(got.segIDs, want.segIDs)) {
		t.Fatalf("%s: StreamAttribution read\n%+v\nStream\n%+v", what, got, want)
	}
}
