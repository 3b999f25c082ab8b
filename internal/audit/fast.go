package audit

import (
	"context"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Most of a month's usage need not go through the engine one record at a time: in a
// subscription where none of the followed identities (nor a group they are in, nor a
// Lighthouse delegation) holds a role below the subscription, every resource has the
// subscription's coverage, so all its consumption records of one charge period and currency
// are credited alike. attribute adds those records up per class (subscription, charge period,
// currency, provider) and lets the engine attribute one record per class, of the summed cost,
// on the subscription itself. When every identity covers the class's charge period wholly, each
// record's credit is its cost and the class's is the sum: exact. When one covers it in part,
// each record's credit is rounded on its own, so the class is attributed again record by
// record (its costs are kept). Records of other subscriptions go through the engine as they
// are. TestAggregatedEqualsRecordByRecord checks that the two ways give the same report.

// classKey is a class of records that are credited alike.
type classKey struct {
	sub        string // lower case
	start, end int64
	currency   string
	microsoft  bool
}

type class struct {
	sub, provider string // as the first record spells them
	sum           money.Nanos
	costs         []money.Nanos
	positive      bool // every cost > 0: a sum that is credited whole has parts credited whole
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
	uniform := uniformSubs(run, ids)
	known := newSubTenants(run)
	classes := map[classKey]*class{}
	var order []classKey
	slow := usage.NewBatchBuilder()
	var rec usage.Record
	// Per batch dictionary index: the subscription's lower-case ID and whether its records may
	// be aggregated; the resource's whether it lies in the subscription.
	var dict []string
	var subKind []int8 // 0 unknown, 1 not the run's, 2 record by record, 3 aggregated
	var subLower []string
	var resIn []int8 // 0 unknown, 1 no, 2 yes
	err := src(func(b *usage.Batch) error {
		if len(b.Dict) > 0 && (len(dict) == 0 || &b.Dict[0] != &dict[0] || len(b.Dict) < len(dict)) {
			subKind, subLower, resIn = subKind[:0], subLower[:0], resIn[:0]
		}
		dict = b.Dict
		for len(subKind) < len(dict) {
			subKind, subLower, resIn = append(subKind, 0), append(subLower, ""), append(resIn, 0)
		}
		subs, ress := b.Str[usage.ColSubscription], b.Str[usage.ColResource]
		for i := 0; i < b.Len(); i++ {
			si := subs[i]
			if subKind[si] == 0 {
				s := lower(dict[si])
				subLower[si], subKind[si] = s, 1
				if _, ok := known[s]; ok {
					subKind[si] = 2
					if uniform[s] {
						subKind[si] = 3
					}
				}
			}
			if subKind[si] == 1 || b.End[i] <= b.Start[i] || b.S(usage.ColChargeCategory, i) != usage.CategoryUsage {
				continue // nothing the audit counts
			}
			ri := ress[i]
			if subKind[si] == 3 && resIn[ri] == 0 {
				r, p := lower(dict[ri]), "/subscriptions/"+subLower[si]
				resIn[ri] = 1
				if r == p || strings.HasPrefix(r, p+"/") {
					resIn[ri] = 2
				}
			}
			if subKind[si] != 3 || resIn[ri] != 2 {
				rec = usage.Record{Start: b.Start[i], End: b.End[i], SubscriptionID: dict[si], ResourceID: dict[ri],
					ChargeCategory: usage.CategoryUsage, Currency: b.S(usage.ColCurrency, i), ProviderID: b.S(usage.ColProviderID, i), Cost: b.Cost[i]}
				slow.Add(&rec)
				continue
			}
			provider := b.S(usage.ColProviderID, i)
			k := classKey{subLower[si], b.Start[i], b.End[i], b.S(usage.ColCurrency, i), usage.IsMicrosoft(provider)}
			c := classes[k]
			if c == nil {
				k.currency = strings.Clone(k.currency)
				c = &class{sub: strings.Clone(dict[si]), provider: strings.Clone(provider), positive: true}
				classes[k] = c
				order = append(order, k)
			}
			c.sum += b.Cost[i]
			c.costs = append(c.costs, b.Cost[i])
			if len(c.costs) == 1 || b.Cost[i] > c.topCost || (b.Cost[i] == c.topCost && dict[ri] < c.topRes) {
				c.topCost, c.topRes = b.Cost[i], strings.Clone(dict[ri])
			}
			c.positive = c.positive && b.Cost[i] > 0
		}
		return nil
	})
	if err != nil {
		return err
	}
	sums := usage.NewBatchBuilder()
	for _, k := range order {
		c := classes[k]
		rec = usage.Record{Start: k.start, End: k.end, SubscriptionID: c.sub, ResourceID: "/subscriptions/" + c.sub,
			ChargeCategory: usage.CategoryUsage, Currency: k.currency, ProviderID: c.provider, Cost: c.sum}
		sums.Add(&rec)
	}
	slowBatch, sumBatch := slow.Batch(), sums.Batch()
	var again []int // classes whose records are credited in part: record by record
	err = follow(ctx, run, a.q.Period, a.runTenants, ids, batches(slowBatch, sumBatch), func(r *record) {
		if r.batch != sumBatch {
			a.visit(r)
			return
		}
		c := classes[order[r.row]]
		for _, h := range r.hits {
			if h.amount != r.cost || !c.positive {
				again = append(again, r.row)
				return
			}
		}
		r.class = c
		a.visit(r)
	})
	if err != nil || len(again) == 0 {
		return err
	}
	parts := usage.NewBatchBuilder()
	for _, j := range again {
		k := order[j]
		c := classes[k]
		for _, cost := range c.costs {
			rec = usage.Record{Start: k.start, End: k.end, SubscriptionID: c.sub, ResourceID: "/subscriptions/" + c.sub,
				ChargeCategory: usage.CategoryUsage, Currency: k.currency, ProviderID: c.provider, Cost: cost}
			parts.Add(&rec)
		}
	}
	// The parts keep no resource: they are named by their class's costliest record, which only
	// explain's routes of a risk could read, and they look at the subscription first, where a
	// uniform subscription's roles are.
	partOf := make([]*class, 0, parts.Len())
	for _, j := range again {
		c := classes[order[j]]
		for range c.costs {
			partOf = append(partOf, c)
		}
	}
	return follow(ctx, run, a.q.Period, a.runTenants, ids, batches(parts.Batch()), func(r *record) {
		r.resource = partOf[r.row].topRes
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

// uniformSubs lists the subscriptions (lower case) of the run in which no role of a followed
// identity lies below the subscription: no assignment of a followed principal, or of a group
// it is in (through any chain of groups, at any time), on a resource group or resource, and no
// Lighthouse delegation of a resource group. Their resources are all covered as the
// subscription is.
func uniformSubs(run *facts.Snapshot, ids []*ident) set {
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
	below := set{}
	mark := func(scope string) {
		rest, ok := strings.CutPrefix(lower(scope), "/subscriptions/")
		if !ok {
			return
		}
		if sub, tail, deeper := strings.Cut(rest, "/"); deeper && strings.Trim(tail, "/") != "" {
			below[sub] = true
		}
	}
	for _, as := range run.Assignments {
		if who[lower(as.TenantID)][lower(as.PrincipalID)] {
			mark(as.Scope)
		}
	}
	for _, d := range run.Delegations {
		mark(d.Scope)
	}
	out := set{}
	for _, s := range run.Subscriptions {
		if id := lower(s.ID); !below[id] {
			out[id] = true
		}
	}
	return out
}
