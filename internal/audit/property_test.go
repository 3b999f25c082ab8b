package audit

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

var wide = timeline.Window{From: factstest.H(-1000), To: factstest.H(1000)}

// genUsage draws records in two currencies.
func genUsage(t *rapid.T) []*usage.Record {
	recs := factstest.GenRecords(t)
	for _, r := range recs {
		r.Currency = rapid.SampledFrom([]string{"USD", "EUR"}).Draw(t, "currency")
	}
	return recs
}

func plainRows(t *rapid.T, s *facts.Snapshot, recs []*usage.Record) map[string][]attribution.Row {
	out := map[string][]attribution.Row{}
	_, err := attribution.Compute(context.Background(), s, nil, wide, attribution.FromRecords(recs), func(b *usage.Batch, i int, rows []attribution.Row, _ []attribution.Incentive) error {
		out[b.Key(i)] = append([]attribution.Row(nil), rows...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The property: per currency, the audit's gap total plus the consumption of the
// subscriptions of its tenants that earned the organisation any PAL credit, or on which its
// CSP took precedence (both as the plain engine says), is the consumption of all of them.
func TestGapsAndCreditAddUp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := factstest.GenSnapshot(t)
		recs := genUsage(t)
		rows := plainRows(t, s, recs)
		subs := newSubTenants(s)
		for _, o := range s.Organisations {
			rep, err := Compute(context.Background(), s, Query{Partner: o.ID, Period: wide}, attribution.FromRecords(recs))
			if err != nil {
				t.Fatal(err)
			}
			tenants := set{}
			for _, x := range rep.Tenants {
				tenants[x.ID] = true
			}
			credited := set{}
			for _, rs := range rows {
				for _, r := range rs {
					if r.OrgID == o.ID && (r.Association == attribution.AssocPAL || r.Association == attribution.AssocCSP) {
						credited[r.SubscriptionID] = true
					}
				}
			}
			all, covered := map[string]money.Nanos{}, map[string]money.Nanos{}
			for _, r := range recs {
				sub := lower(r.SubscriptionID)
				w := timeline.Window{From: r.Start, To: r.End}
				if r.ChargeCategory != usage.CategoryUsage || w.Empty() || !wide.Contains(r.Start) || !tenants[subs.at(sub, w)] {
					continue
				}
				all[r.Currency] += r.Cost
				if credited[sub] {
					covered[r.Currency] += r.Cost
				}
			}
			gap := map[string]money.Nanos{}
			for _, f := range rep.Findings {
				if f.Kind == KindGap && !f.fine {
					gap[f.Currency] += f.amount
				}
			}
			for _, x := range rep.Totals {
				if n, _ := money.Parse(x.Amount); x.Total == "gap" && n != gap[x.Currency] {
					t.Fatalf("%s: gap total %s %s, but the gap findings add up to %s", o.ID, x.Amount, x.Currency, gap[x.Currency])
				}
			}
			for _, cur := range []string{"USD", "EUR"} {
				if gap[cur]+covered[cur] != all[cur] {
					t.Fatalf("%s %s: gaps %s + credited %s != consumption %s", o.ID, cur, gap[cur], covered[cur], all[cur])
				}
			}
		}
	})
}

// The identities the audit follows change nothing for the real locations, and a record earns
// the organisation PAL credit exactly when some linked identity of it earns credit alone.
func TestFollowedIdentitiesMatchTheEngine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := factstest.GenSnapshot(t)
		recs := genUsage(t)
		o := s.Organisations[rapid.IntRange(0, len(s.Organisations)-1).Draw(t, "org")]
		for i := range o.Locations { // inactive locations more often than the generator draws them
			if rapid.Bool().Draw(t, "closes") {
				o.Locations[i].Active = []timeline.Window{factstest.GenWindow(t, "active")}
			}
		}
		sc, err := ResolveScope(s, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		all := set{}
		for _, x := range s.Subscriptions {
			all[lower(x.TenantID)] = true
		}
		a := &auditor{s: s, sc: sc, q: Query{Period: wide}, tenants: all}
		ids := a.identities()
		want := plainRows(t, s, recs)
		for _, r := range recs {
			var real []attribution.Row
			linked := false
			err := follow(context.Background(), s, wide, all, ids, attribution.FromRecords([]*usage.Record{r}), func(rec *record) {
				for _, x := range rec.rows {
					real = append(real, attribution.Row{LocationID: x.location, Association: x.assoc, Amount: x.amount})
				}
				for _, h := range rec.hits {
					linked = linked || h.id.kind == identLinked
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			var plain []attribution.Row
			pal := false
			for _, x := range want[r.Key] {
				if r.ChargeCategory == usage.CategoryUsage && all[lower(x.TenantID)] {
					plain = append(plain, attribution.Row{LocationID: x.LocationID, Association: x.Association, Amount: x.Amount})
				}
				pal = pal || (x.OrgID == o.ID && x.Association == attribution.AssocPAL)
			}
			sortRows(real)
			sortRows(plain)
			if !reflect.DeepEqual(real, plain) {
				t.Fatalf("record %s: rows of real locations with the identities followed %+v, without %+v", r.Key, real, plain)
			}
			if linked != pal {
				t.Fatalf("record %s: PAL row of %s %v, credit of a linked identity %v", r.Key, o.ID, pal, linked)
			}
		}
	})
}

// The engine gives a slice's tenants' usage the same rows as the whole estate does.
func TestSliceAttributesLikeTheWhole(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := factstest.GenSnapshot(t)
		recs := genUsage(t)
		tenant := rapid.SampledFrom([]string{"t1", "t2"}).Draw(t, "tenant")
		whole := plainRows(t, s, recs)
		part := plainRows(t, Slice(s, set{tenant: true}), recs)
		for _, r := range recs {
			var w []attribution.Row
			for _, x := range whole[r.Key] {
				if x.TenantID == tenant {
					w = append(w, x)
				}
			}
			if !reflect.DeepEqual(w, part[r.Key]) && len(w)+len(part[r.Key]) > 0 {
				t.Fatalf("record %s of %s: whole estate %+v, slice %+v", r.Key, tenant, w, part[r.Key])
			}
		}
	})
}

func sortRows(rs []attribution.Row) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.LocationID != b.LocationID {
			return a.LocationID < b.LocationID
		}
		return a.Association < b.Association
	})
}

// A gap's reason, asked of explain on a one-tenant slice with only the partner's links and its
// principals' assignments, is the one explain gives on the whole estate.
func TestGapReasonsAreExplains(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := factstest.GenSnapshot(t)
		recs := genUsage(t)
		for _, o := range s.Organisations {
			rep, err := Compute(context.Background(), s, Query{Partner: o.ID, Period: wide}, attribution.FromRecords(recs))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.Findings {
				if f.Kind != KindGap || f.fine || strings.HasPrefix(f.Detail, "its costliest record") {
					continue // explained on its costliest record instead
				}
				ex, err := attribution.ExplainSnapshot(s, attribution.ExplainQuery{Partner: o.ID, Subscription: f.SubscriptionID, Period: wide}, nil)
				if err != nil {
					t.Fatal(err)
				}
				best, code := 0, attribution.ReasonNoOverlap // what the audit says when explain finds access
				for _, r := range ex.Reasons {
					if reasonRank[r.Code] > best {
						best, code = reasonRank[r.Code], r.Code
					}
				}
				if code != f.ExplainReason || GapReason(code) != f.Reason {
					t.Fatalf("%s, subscription %s: the audit says %s (%s), explain on the whole estate %s (%+v)", o.ID, f.SubscriptionID, f.Reason, f.ExplainReason, code, ex.Reasons)
				}
			}
		}
	})
}
