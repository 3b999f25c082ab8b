package attribution

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

// version2Programs is the shipped programs plus flat-rate programs on a version 2 type (with a
// provider filter) and on a version 1 type, so that every path pays.
func version2Programs(t interface{ Fatal(...any) }) *Programs {
	p, err := ParsePrograms([]byte(`{"version": "v2-test", "programs": [
  {"name": "PEC", "versions": [{"version": "PEC-1", "from": "2000-01-01", "offers": ["csp"], "rate": "0.15"}]},
  {"name": "PAL", "versions": [{"version": "PAL-1", "from": "2000-01-01", "offers": ["ea", "mca", "payg"], "rate_single": "0.06", "rate_multi": "0.02"}]},
  {"name": "APN", "association": "TAG", "provider": "Amazon Web Services", "versions": [{"version": "APN-1", "from": "2000-01-01", "rate": "0.03"}]},
  {"name": "RESALE-BONUS", "association": "RESALE", "versions": [{"version": "R-1", "from": "2000-01-01", "rate": "0.01"}]},
  {"name": "CSP-FLAT", "association": "CSP", "versions": [{"version": "C-1", "from": "2000-01-01", "rate": "0.005"}]}]}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The engine equals the rules (internal/rules.Reference) on random multi-provider estates and
// usage: rows, incentives (flat-rate programs included), tag warnings and, for ComputeSums,
// totals.
func TestEngineMatchesReferenceVersion2(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSnapshot(t)
		factstest.GenVersion2(t, s)
		recs := append(factstest.GenRecordsV2(t), genRecords(t)...)
		progs := DefaultPrograms()
		if rapid.Bool().Draw(t, "flat programs") {
			progs = version2Programs(t)
		}
		rows, incs, st := computeAll(t, s, progs, wide, recs)
		x := &rules.Reference{Snapshot: s, Programs: progs}
		var wantRows []Row
		var wantIncs []Incentive
		type wk struct{ tag, value, reason string }
		want := map[wk]int64{}
		for _, r := range recs {
			rs, is := x.Record(r)
			wantRows = append(wantRows, rs...)
			wantIncs = append(wantIncs, is...)
			for _, w := range x.Warnings(r) {
				want[wk{w.Tag, w.Value, w.Reason}]++
			}
		}
		sortRows(wantRows)
		sortIncs(wantIncs)
		if !reflect.DeepEqual(rows, wantRows) {
			t.Fatalf("rows differ\nengine:    %+v\nreference: %+v", rows, wantRows)
		}
		if !reflect.DeepEqual(incs, wantIncs) {
			t.Fatalf("incentives differ\nengine:    %+v\nreference: %+v", incs, wantIncs)
		}
		got := map[wk]int64{}
		for _, w := range st.TagWarnings {
			got[wk{w.Tag, w.Value, w.Reason}] = w.Records
		}
		if len(want) <= maxTagWarnings && !reflect.DeepEqual(got, want) {
			t.Fatalf("tag warnings differ\nengine:    %v\nreference: %v", got, want)
		}
		// ComputeSums adds up exactly the rows Compute writes.
		_, sums, err := ComputeSums(context.Background(), s, progs, wide, FromRecords(recs))
		if err != nil {
			t.Fatal(err)
		}
		type sk struct{ loc, assoc, cur string }
		wantSums := map[sk]money.Nanos{}
		for _, r := range rows {
			wantSums[sk{r.LocationID, r.Association, r.Currency}] += r.Amount
		}
		for _, i := range incs {
			wantSums[sk{i.LocationID, "incentive:" + i.Program, i.Currency}] += i.Amount
		}
		gotSums := map[sk]money.Nanos{}
		for _, x := range sums {
			if x.Amount != 0 || x.Rows != 0 {
				gotSums[sk{x.LocationID, x.Association, x.Currency}] += x.Amount
			}
		}
		for k, v := range wantSums {
			if gotSums[k] != v {
				keys := make([]string, 0)
				for k := range gotSums {
					keys = append(keys, k.loc+"/"+k.assoc)
				}
				sort.Strings(keys)
				t.Fatalf("sum %v = %s, rows give %s (sums %v)", k, gotSums[k], v, keys)
			}
		}
	})
}

var _ = usage.CategoryUsage
