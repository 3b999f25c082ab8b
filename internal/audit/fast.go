package audit

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Most of a month's usage need not go through the engine one record at a time. Within a
// subscription, a resource's coverage depends only on which of the scopes below the
// subscription where a followed identity (or a group it is in, through any chain of groups,
// or a Lighthouse delegation) holds a role cover it: the deepest of them, or none (scopes
// compare as internal/scope says: ARM-ID prefix on a segment boundary, case-insensitive).
// Records of one subscription, deepest such scope, charge period, currency and provider kind
// are covered alike: for the same nanoseconds of their charge period by the same identities.
// attribute adds each such class up and lets the engine attribute one probe record per class,
// on that scope (or the subscription), whose cost is the charge period's length in
// nanoseconds, so that each identity's amount on it is exactly the time it covers. A class
// covered wholly is credited its sum (each record its cost); one covered in part is credited
// what the engine credits each record on its own, cost × covered ÷ length rounded half-even,
// added up (its costs are kept). Records whose resource lies outside their subscription go
// through the engine as they are.
// TestAggregatedEqualsRecordByRecord checks that the two ways give the same report.

// classKey is a class of records that are credited alike.
type classKey struct {
	sub        string // lower case
	scope      string // the deepest covering scope below the subscription (scope.Key), or the subscription's
	start, end int64
	currency   string
	microsoft  bool
}

type class struct {
	sub, provider string // as the first record spells them
	sum           money.Nanos
	costs         []money.Nanos
	topCost       money.Nanos
	topRes        string // the costliest record's resource (ties: the first)
}

// aggregate, when false, sends every record through the engine (the tests' reference).
var aggregate = true

// attribute runs the identities over src and visits every consumption record (see follow),
// aggregated as above where that is exact.
func (a *auditor) attribute(ctx context.Context, run *facts.Snapshot, ids []*ident, src attribution.Usage) error {
	if !aggregate {
		return follow(ctx, run, a.q.Period, a.runTenants, ids, src, a.visit)
	}
	deep := deepScopes(run, ids)
	known := newSubTenants(run)
	classes := map[classKey]*class{}
	var order []classKey
	slow := usage.NewBatchBuilder()
	var rec usage.Record
	// Per batch dictionary index: the subscription's lower-case ID and whether it is the run's;
	// the resource's class scope ("" when the resource lies outside its subscription). A
	// resource's class is looked up for the first subscription it comes with (resource IDs
	// begin with their subscription's); another subscription looks it up again.
	var dict []string
	var subKnown []int8 // 0 unknown, 1 not the run's, 2 the run's
	var subLower []string
	var resScope []string
	var resSub []int32 // the subscription index resScope was found for, +1
	err := src(func(b *usage.Batch) error {
		if len(b.Dict) > 0 && (len(dict) == 0 || &b.Dict[0] != &dict[0] || len(b.Dict) < len(dict)) {
			subKnown, subLower, resScope, resSub = subKnown[:0], subLower[:0], resScope[:0], resSub[:0]
		}
		dict = b.Dict
		for len(subKnown) < len(dict) {
			subKnown, subLower, resScope, resSub = append(subKnown, 0), append(subLower, ""), append(resScope, ""), append(resSub, 0)
		}
		subs, ress := b.Str[usage.ColSubscription], b.Str[usage.ColResource]
		for i := 0; i < b.Len(); i++ {
			si := subs[i]
			if subKnown[si] == 0 {
				s := lower(dict[si])
				subLower[si], subKnown[si] = s, 1
				if _, ok := known[s]; ok {
					subKnown[si] = 2
				}
			}
			if subKnown[si] == 1 || b.End[i] <= b.Start[i] || b.S(usage.ColChargeCategory, i) != usage.CategoryUsage {
				continue // nothing the audit counts
			}
			ri := ress[i]
			if resSub[ri] != int32(si)+1 {
				resScope[ri], resSub[ri] = classScope(dict[ri], subLower[si], deep[subLower[si]]), int32(si)+1
			}
			sc := resScope[ri]
			if sc == "" {
				rec = usage.Record{Start: b.Start[i], End: b.End[i], SubscriptionID: dict[si], ResourceID: dict[ri],
					ChargeCategory: usage.CategoryUsage, Currency: b.S(usage.ColCurrency, i), ProviderID: b.S(usage.ColProviderID, i), Cost: b.Cost[i]}
				slow.Add(&rec)
				continue
			}
			provider := b.S(usage.ColProviderID, i)
			k := classKey{subLower[si], sc, b.Start[i], b.End[i], b.S(usage.ColCurrency, i), usage.IsMicrosoft(provider)}
			c := classes[k]
			if c == nil {
				k.currency = strings.Clone(k.currency)
				c = &class{sub: strings.Clone(dict[si]), provider: strings.Clone(provider)}
				classes[k] = c
				order = append(order, k)
			}
			c.sum += b.Cost[i]
			c.costs = append(c.costs, b.Cost[i])
			if len(c.costs) == 1 || b.Cost[i] > c.topCost || (b.Cost[i] == c.topCost && dict[ri] < c.topRes) {
				c.topCost, c.topRes = b.Cost[i], strings.Clone(dict[ri])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// One probe record per class, of a cost equal to its charge period's length in
	// nanoseconds: the engine's amount for it is the nanoseconds each identity covers, exactly.
	probes := usage.NewBatchBuilder()
	for _, k := range order {
		c := classes[k]
		rec = usage.Record{Start: k.start, End: k.end, SubscriptionID: c.sub, ResourceID: k.scope,
			ChargeCategory: usage.CategoryUsage, Currency: k.currency, ProviderID: c.provider, Cost: money.Nanos(k.end - k.start)}
		probes.Add(&rec)
	}
	slowBatch, probeBatch := slow.Batch(), probes.Batch()
	return follow(ctx, run, a.q.Period, a.runTenants, ids, batches(slowBatch, probeBatch), func(r *record) {
		if r.batch != probeBatch {
			a.visit(r)
			return
		}
		k := order[r.row]
		c := classes[k]
		length := k.end - k.start
		r.cost, r.class = c.sum, c
		for j := range r.hits {
			h := &r.hits[j]
			covered := int64(h.amount)
			if covered == length {
				h.amount = c.sum // each record credited whole
				continue
			}
			// Each record's credit, as the engine computes it: cost × covered ÷ length,
			// rounded half-even, on its own.
			h.amount = 0
			for _, cost := range c.costs {
				h.amount += money.MulDiv(cost, covered, length)
			}
		}
		a.visit(r)
	})
}

// batches is a usage source of the non-empty batches given.
func batches(bs ...*usage.Batch) attribution.Usage {
	return func(yield func(*usage.Batch) error) error {
		for _, b := range bs {
			if b.Len() > 0 {
				if err := yield(b); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// deepScopes lists, per subscription of the run (lower case), the scopes below it (scope.Key)
// where a followed identity holds a role: an assignment of a followed principal, or of a group
// it is in (through any chain of groups, at any time), on a resource group or resource, and
// every Lighthouse delegation of a resource group. Deepest first.
func deepScopes(run *facts.Snapshot, ids []*ident) map[string][]string {
	who := map[string]set{} // tenant -> principals and groups
	for _, id := range ids {
		if who[id.tenant] == nil {
			who[id.tenant] = set{}
		}
		who[id.tenant][id.principal] = true
	}
	for grew := true; grew; {
		grew = false
		for _, m := range run.Memberships {
			w := who[lower(m.TenantID)]
			if w != nil && w[lower(m.MemberID)] && !w[lower(m.GroupID)] {
				w[lower(m.GroupID)] = true
				grew = true
			}
		}
	}
	out := map[string][]string{}
	add := func(sc string) {
		k := scope.Key(sc)
		rest, ok := strings.CutPrefix(k, "/subscriptions/")
		if !ok {
			return
		}
		if sub, _, deeper := strings.Cut(rest, "/"); deeper && !slices.Contains(out[sub], k) {
			out[sub] = append(out[sub], k)
		}
	}
	for _, as := range run.Assignments {
		if who[lower(as.TenantID)][lower(as.PrincipalID)] {
			add(as.Scope)
		}
	}
	for _, d := range run.Delegations {
		add(d.Scope)
	}
	for _, scs := range out {
		slices.SortFunc(scs, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	}
	return out
}

// classScope is the scope of resource res's class in subscription sub (lower case): the deepest
// of deep that covers it, or the subscription; "" when res lies outside the subscription. A
// resource without an ID is the subscription's, as the engine reads it.
func classScope(res, sub string, deep []string) string {
	r := strings.TrimRight(strings.TrimSpace(res), "/")
	subKey := "/subscriptions/" + sub
	if r == "" {
		return subKey
	}
	if r[0] != '/' || !ascii(r) {
		r = scope.Key(res) // the rare spelling: the canonical key, allocated
	}
	if !covers(subKey, r) {
		return ""
	}
	for _, d := range deep {
		if covers(d, r) {
			return d
		}
	}
	return subKey
}

// covers is scope.PrefixCovers of a canonical scope key over a trimmed ASCII resource ID in any
// case, without lowering it.
func covers(scopeKey, r string) bool {
	return len(r) >= len(scopeKey) && strings.EqualFold(r[:len(scopeKey)], scopeKey) && (len(r) == len(scopeKey) || r[len(scopeKey)] == '/')
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
