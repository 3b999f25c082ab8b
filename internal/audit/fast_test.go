package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

// The audit adds up records that are credited alike before the engine sees them (fast.go);
// its report is the one it gives attributing every record on its own, to the nano: on random
// estates, with records that share charge periods (some of them covered in part, some of zero
// or negative cost, some on resources outside their subscription).
func TestAggregatedEqualsRecordByRecord(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := factstest.GenSnapshot(t)
		recs := genUsage(t)
		for i, n := 0, rapid.IntRange(0, 12).Draw(t, "copies"); i < n; i++ {
			r := *recs[rapid.IntRange(0, len(recs)-1).Draw(t, "of")]
			r.Key = fmt.Sprintf("copy%02d", i)
			r.Cost = money.Nanos(rapid.Int64Range(-1_000_000_000, 5_000_000_000_000).Draw(t, "cost"))
			sub := r.SubscriptionID
			r.ResourceID = rapid.SampledFrom([]string{r.ResourceID, "/subscriptions/" + sub + "/resourceGroups/rg9/providers/p/x/" + fmt.Sprint(i),
				"/subscriptions/" + strings.ToUpper(sub), "/subscriptions/00000000-0000-0000-0000-00000000000b/resourceGroups/rg1"}).Draw(t, "res")
			if rapid.Bool().Draw(t, "other provider") {
				r.ProviderID = "aws"
			}
			recs = append(recs, &r)
		}
		if rapid.Bool().Draw(t, "stored order") {
			// As segments hold them (by subscription and resource): a class's records mostly
			// come one after another.
			slices.SortStableFunc(recs, func(x, y *usage.Record) int {
				return cmp.Or(cmp.Compare(strings.ToLower(x.SubscriptionID), strings.ToLower(y.SubscriptionID)), cmp.Compare(x.ResourceID, y.ResourceID))
			})
		}
		for _, o := range s.Organisations {
			for _, partner := range append([]string{o.ID}, locationIDs(o.Locations)...) {
				q := Query{Partner: partner, Period: wide}
				fast, err := Compute(context.Background(), s, q, attribution.FromRecords(recs))
				if err != nil {
					t.Fatal(err)
				}
				aggregate = false
				plain, err := Compute(context.Background(), s, q, attribution.FromRecords(recs))
				aggregate = true
				if err != nil {
					t.Fatal(err)
				}
				if a, b := comparable(fast), comparable(plain); a != b {
					t.Fatalf("%s: aggregated:\n%s\nrecord by record:\n%s", partner, a, b)
				}
			}
		}
	})
}

// comparable is a report as JSON, without what names one record where the aggregated audit
// names the subscription's records together: the costliest record a gap's explanation falls
// back on.
func comparable(rep *Report) string {
	for _, f := range rep.Findings {
		if f.Kind == KindGap && strings.Contains(f.Detail, "its costliest record") {
			f.Detail = "(explained on its costliest record)"
		}
	}
	b, _ := json.MarshalIndent(rep, "", " ")
	return string(b)
}

func locationIDs(ls []directory.Location) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

// TestClassScopeEqualsCanonical checks classScope's comparison without lowering against the
// canonical keys' (scope.Key, scope.PrefixCovers), over spellings in any case, with white
// space, slashes and letters that are not ASCII (among them the Kelvin sign, which lowers to k).
func TestClassScopeEqualsCanonical(t *testing.T) {
	subKey := "/subscriptions/ab12-k"
	deep := []string{"/subscriptions/ab12-k/resourcegroups/rg-k/providers/x/y", "/subscriptions/ab12-k/resourcegroups/rg-\u00e9t\u00e9",
		"/subscriptions/ab12-k/resourcegroups/rg-k"}
	canonical := func(res string) string {
		if strings.TrimRight(strings.TrimSpace(res), "/") == "" {
			return subKey
		}
		return classScopeKey(res, subKey, deep)
	}
	for _, res := range []string{
		"", " ", "/", "//", "/subscriptions/ab12-k", "/SUBSCRIPTIONS/AB12-K", "/subscriptions/ab12-k/",
		" /subscriptions/AB12-k/resourceGroups/RG-K ", "/subscriptions/ab12-k/resourcegroups/rg-k2",
		"/subscriptions/ab12-k/resourcegroups/rg-k/providers/X/Y/z", "/subscriptions/ab12-k/resourcegroups/rg-k/providers/x/y2",
		"/subscriptions/ab12-\u212a/resourcegroups/rg-k", "/subscriptions/ab12-k/resourcegroups/rg-\u212a/providers/x/y",
		"/subscriptions/ab12-k/resourcegroups/rg-k\u212a", "/subscriptions/ab12-k\u00e9", "/subscriptions/ab12-k/\u00e9",
		"subscriptions/ab12-k/resourcegroups/rg-k", "/subscriptions/ab12", "/subscriptions/ab12-kk", "/subscriptions/ab12-k\xff/x",
		"/subscriptions/ab12-k/resourcegroups/rg-k\xff", "/subscriptions/\u0130b12-k", "/subscriptions/ab12-k/resourcegroups/rg-k/",
		"/subscriptions/ab12-k/resourcegroups/rg-\u00e9t\u00e9/x", "/subscriptions/ab12-k/resourceGroups/RG-\u00c9T\u00c9/x",
		"/subscriptions/ab12-k/resourcegroups/rg-\u00e9t\u00e92", "/subscriptions/ab12-k/resourcegroups/rg-\u00e9t\u00e9",
	} {
		if got, want := classScope(res, subKey, deep), canonical(res); got != want {
			t.Errorf("classScope(%q) = %q, the canonical keys give %q", res, got, want)
		}
	}
}

// costLog gives every class its costs in the order added, across blocks and chunks, whether
// its records come one after another or between other classes'.
func TestCostLogKeepsEveryCost(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	var l costLog
	classes := make([]*class, 40)
	want := make([][]money.Nanos, len(classes))
	for i := range classes {
		classes[i] = &class{}
	}
	for added := 0; added < 3*blocksPerChunk*costsPerBlock/2; {
		k := rng.IntN(len(classes))
		if rng.IntN(10) > 0 {
			k = rng.IntN(3) // a few classes get long runs
		}
		for range 1 + rng.IntN(5000) {
			cost := money.Nanos(rng.Int64N(1_000_000) - 1000)
			l.add(classes[k], cost)
			want[k] = append(want[k], cost)
			added++
		}
	}
	for i, c := range classes {
		if got := l.of(c); !slices.Equal(got, want[i]) || int(c.n) != len(want[i]) {
			t.Fatalf("class %d: %d costs (n %d), want %d; equal: %v", i, len(got), c.n, len(want[i]), slices.Equal(got, want[i]))
		}
	}
}
