package attribution

import (
	"reflect"
	"testing"

	"github.com/partnerlink/partnerlink/internal/link"
	"pgregory.net/rapid"
)

func TestInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSnapshot(t)
		recs := genRecords(t)
		rows, incs, _ := computeAll(t, s, nil, wide, recs)
		cost := map[string]int64{}
		for _, r := range recs {
			cost[r.Key] = int64(r.Cost)
		}
		free := map[[3]string]int{}
		perLocAssoc := map[[3]string]int64{}
		for _, r := range rows {
			if r.Coverage < 0 || r.Coverage > 1e9 {
				t.Fatalf("coverage out of [0,1]: %+v", r)
			}
			if r.Amount < 0 || int64(r.Amount) > cost[r.RecordKey] {
				t.Fatalf("amount above cost: %+v", r)
			}
			perLocAssoc[[3]string{r.RecordKey, r.LocationID, r.Association}] += int64(r.Amount)
			if !r.DuplicateAtOrg {
				free[[3]string{r.RecordKey, r.OrgID, r.Association}]++
			}
		}
		for k, n := range perLocAssoc {
			if n > cost[k[0]] {
				t.Fatalf("record %s location %s %s totals %d above cost %d", k[0], k[1], k[2], n, cost[k[0]])
			}
		}
		for _, r := range rows {
			if n := free[[3]string{r.RecordKey, r.OrgID, r.Association}]; n != 1 {
				t.Fatalf("record %s org %s %s has %d rows counted at org level, want 1", r.RecordKey, r.OrgID, r.Association, n)
			}
		}
		// Restating an unchanged period changes nothing.
		rows2, incs2, _ := computeAll(t, s, nil, wide, recs)
		if !reflect.DeepEqual(rows, rows2) || !reflect.DeepEqual(incs, incs2) {
			t.Fatal("second computation differs")
		}
		// Adding a link never removes (or changes) another location's credit.
		sp := link.Span{TenantID: rapid.SampledFrom([]string{"t1", "t2", "pt0"}).Draw(t, "newt"), ObjectID: rapid.SampledFrom([]string{"u1", "u2", "g1"}).Draw(t, "newp"),
			LocationID: rapid.SampledFrom([]string{"1", "2", "10", "x7"}).Draw(t, "newloc"), Valid: genWindow(t, "newlink")}
		s.Links = append(s.Links, sp)
		after, _, _ := computeAll(t, s, nil, wide, recs)
		type k struct{ rec, loc, assoc string }
		got := map[k]Row{}
		for _, r := range after {
			got[k{r.RecordKey, r.LocationID, r.Association}] = r
		}
		for _, r := range rows {
			if r.LocationID == sp.LocationID {
				continue
			}
			a, ok := got[k{r.RecordKey, r.LocationID, r.Association}]
			if !ok || a.Amount != r.Amount || a.Coverage != r.Coverage {
				t.Fatalf("adding link %+v changed %+v into %+v (present %v)", sp, r, a, ok)
			}
		}
	})
}
