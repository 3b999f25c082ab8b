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

// classKey is a class of records that are covered alike: of one subscription and class scope
// (numbered), currency and provider (numbered), and charge period.
type classKey struct {
	scope, currency, provider int32
	start, end                int64
}

type class struct {
	sub     string // as the first record spells it
	sum     money.Nanos
	costs   []money.Nanos
	topCost money.Nanos
	topRes  string // the costliest record's resource (ties: the first)
}

// aggregate, when false, sends every record through the engine (the tests' reference).
var aggregate = true

// attribute runs the identities over src and visits every consumption record (see follow),
// aggregated as above where that is exact.
func (a *auditor) attribute(ctx context.Context, run *facts.Snapshot, ids []*ident, subs map[string]bool, srcOf usageSource) error {
	if !aggregate {
		return follow(ctx, run, a.q.Period, a.runTenants, ids, srcOf(subs, nil), a.visit)
	}
	// The records are only classed here (the engine sees the classes' probes): of their
	// strings only these columns are read.
	src := srcOf(subs, []int{usage.ColSubscription, usage.ColResource, usage.ColChargeCategory, usage.ColCurrency, usage.ColProviderID})
	who := followed(run, ids)
	deep := deepScopes(run, who)
	// Only the assignments of the followed principals and their groups can credit them: the
	// engine's index need not hold the others.
	own := *run
	own.Assignments = nil
	for _, as := range run.Assignments {
		if who[lower(as.TenantID)][lower(as.PrincipalID)] {
			own.Assignments = append(own.Assignments, as)
		}
	}
	run = &own
	known := newSubTenants(run)
	classes := map[classKey]*class{}
	var order []classKey
	slow := usage.NewBatchBuilder()
	var rec usage.Record
	// Scopes, currencies and providers are numbered as they are first met, so that a record's
	// class is found by numbers; strings are looked at once per batch dictionary entry.
	scopeIDs := map[[2]string]int32{} // subscription, scope
	var scopes []string
	strIDs := map[string]int32{}
	var strs []string
	intern := func(s string) int32 {
		id, ok := strIDs[s]
		if !ok {
			s = strings.Clone(s)
			id = int32(len(strs))
			strIDs[s], strs = id, append(strs, s)
		}
		return id
	}
	// Per batch dictionary index: as a subscription, its lower-case ID (or "" when it is not
	// the run's); as a resource, its class scope's number for the subscription it came with
	// (-1: outside it); as a charge category, whether it is Usage; as a currency or provider,
	// its number.
	var dict []string
	type entry struct {
		seen     bool
		sub      string
		subKey   string   // as a subscription: its scope key, /subscriptions/<sub>
		deep     []string // and deepScopes' of it
		subScope int32    // and its number as a class scope, +1 (0: not yet numbered)
		resFor   int32    // the subscription index res was found for, +1
		res      int32
		usage    bool
		str      int32
		strKnown bool
	}
	var ents []entry
	type recentClass struct {
		k classKey
		c *class
	}
	var recent [4]recentClass
	next := 0
	err := src(func(b *usage.Batch) error {
		if len(b.Dict) > 0 && (len(dict) == 0 || &b.Dict[0] != &dict[0] || len(b.Dict) < len(dict)) {
			ents = ents[:0]
		}
		dict = b.Dict
		for len(ents) < len(dict) {
			ents = append(ents, entry{})
		}
		subs, ress, cats := b.Str[usage.ColSubscription], b.Str[usage.ColResource], b.Str[usage.ColChargeCategory]
		curs, provs := b.Str[usage.ColCurrency], b.Str[usage.ColProviderID]
		see := func(x uint32) *entry {
			e := &ents[x]
			if !e.seen {
				e.seen = true
				if s := lower(dict[x]); known[s] != nil {
					e.sub, e.subKey, e.deep = s, "/subscriptions/"+s, deep[s]
				}
				e.usage = dict[x] == usage.CategoryUsage
			}
			return e
		}
		for i := 0; i < b.Len(); i++ {
			si := subs[i]
			e, ce := see(si), see(cats[i])
			if e.sub == "" || b.End[i] <= b.Start[i] || !ce.usage {
				continue // nothing the audit counts
			}
			ri := ress[i]
			re := &ents[ri]
			if re.resFor != int32(si)+1 {
				re.resFor, re.res = int32(si)+1, -1
				// Most resources' class scope is their subscription: its number is kept with it.
				if sc := classScope(dict[ri], e.subKey, e.deep); sc == e.subKey && e.subScope > 0 {
					re.res = e.subScope - 1
				} else if sc != "" {
					k := [2]string{e.sub, sc}
					id, ok := scopeIDs[k]
					if !ok {
						id = int32(len(scopes))
						scopeIDs[k], scopes = id, append(scopes, sc)
					}
					re.res = id
					if sc == e.subKey {
						e.subScope = id + 1
					}
				}
			}
			if re.res < 0 {
				rec = usage.Record{Start: b.Start[i], End: b.End[i], SubscriptionID: dict[si], ResourceID: dict[ri],
					ChargeCategory: usage.CategoryUsage, Currency: b.S(usage.ColCurrency, i), ProviderID: b.S(usage.ColProviderID, i), Cost: b.Cost[i]}
				slow.Add(&rec)
				continue
			}
			cu, pe := &ents[curs[i]], &ents[provs[i]]
			if !cu.strKnown {
				cu.str, cu.strKnown = intern(dict[curs[i]]), true
			}
			if !pe.strKnown {
				pe.str, pe.strKnown = intern(dict[provs[i]]), true
			}
			k := classKey{re.res, cu.str, pe.str, b.Start[i], b.End[i]}
			// A segment holds a resource's records of the day together, and its class's other
			// resources next to it: the last few classes are most rows' class.
			var c *class
			for j := range recent {
				if recent[j].c != nil && recent[j].k == k {
					c = recent[j].c
					break
				}
			}
			if c == nil {
				if c = classes[k]; c == nil {
					c = &class{sub: strings.Clone(dict[si])}
					classes[k] = c
					order = append(order, k)
				}
				recent[next] = recentClass{k, c}
				next = (next + 1) % len(recent)
			}
			cost := b.Cost[i]
			c.sum += cost
			c.costs = append(c.costs, cost)
			if len(c.costs) == 1 || cost > c.topCost || (cost == c.topCost && dict[ri] < c.topRes) {
				c.topCost, c.topRes = cost, strings.Clone(dict[ri])
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
		rec = usage.Record{Start: k.start, End: k.end, SubscriptionID: c.sub, ResourceID: scopes[k.scope],
			ChargeCategory: usage.CategoryUsage, Currency: strs[k.currency], ProviderID: strs[k.provider], Cost: money.Nanos(k.end - k.start)}
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

// followed is, per tenant, the followed principals and the groups they are in (through any
// chain of groups, at any time).
func followed(run *facts.Snapshot, ids []*ident) map[string]set {
	who := map[string]set{}
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
	return who
}

// deepScopes lists, per subscription of the run (lower case), the scopes below it (scope.Key)
// where a followed identity holds a role: an assignment of a followed principal, or of a group
// it is in (through any chain of groups, at any time), on a resource group or resource, and
// every Lighthouse delegation of a resource group. Deepest first.
func deepScopes(run *facts.Snapshot, who map[string]set) map[string][]string {
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

// classScope is the scope of resource res's class in the subscription of scope key subKey
// (/subscriptions/<lower-case ID>): the deepest of deep that covers it, or subKey; "" when
// res lies outside the subscription. A resource without an ID is the subscription's, as the
// engine reads it.
func classScope(res, subKey string, deep []string) string {
	r := strings.TrimRight(strings.TrimSpace(res), "/")
	if r == "" {
		return subKey
	}
	// Only the bytes compared below matter: if they are ASCII, comparing them case-insensitively
	// is comparing the canonical keys.
	n := len(subKey)
	for _, d := range deep {
		n = max(n, len(d))
	}
	if r[0] != '/' || !ascii(r[:min(len(r), n+1)]) {
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
