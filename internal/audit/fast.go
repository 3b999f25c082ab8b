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
	key classKey
	sub string // as the first record spells it
	sum money.Nanos
	// Its records' costs: n of them, in the costLog's blocks from head to tail (numbers + 1).
	head, tail, n int32
	topCost       money.Nanos
	topRes        string // the costliest record's resource (ties: the first)
	topNew        bool   // topRes is still the batch's string (addUp copies it once the batch is added up)
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
	// Classing runs in two stages on two goroutines, a batch or two apart (with decoding on a
	// third, in usage): this one finds each record's class scope from its subscription and
	// resource (the costlier half: resource IDs are compared with scopes), the other adds the
	// records up into their classes. The batches come and are added up in order, so the
	// classes, their order and their sums are those of one goroutine doing both.
	scopeIDs := map[[2]string]int32{} // subscription, scope
	var scopes []string               // this stage's; the other reads it once both are done
	// Per batch dictionary index: as a subscription or a charge category (few per batch, in a
	// map), its lower-case ID (or "" when it is not the run's) or whether it is Usage; as a
	// resource (nearly every entry, eight bytes each in a slice: when one entry held all of
	// this, a segment's fifty thousand were cleared at every segment), its class scope's number
	// for the subscription it came with (-1: outside it).
	var dict []string
	type entry struct {
		sub      string
		subKey   string   // as a subscription: its scope key, /subscriptions/<sub>
		deep     []string // and deepScopes' of it
		subScope int32    // and its number as a class scope, +1 (0: not yet numbered)
		usage    bool
	}
	type resEntry struct {
		resFor int32 // the subscription index res was found for, +1
		res    int32
	}
	ents := map[uint32]*entry{}
	var resEnts []resEntry
	work := make(chan staged, 2)
	spare := make(chan []int32, 4) // the per-row numbers' buffers, handed back once added up
	added := make(chan *classSums)
	go func() { added <- addUp(work, spare) }()
	err := src(func(b *usage.Batch) error {
		if len(b.Dict) > 0 && (len(dict) == 0 || &b.Dict[0] != &dict[0] || len(b.Dict) < len(dict)) {
			clear(ents)
			resEnts = resEnts[:0]
		}
		dict = b.Dict
		for len(resEnts) < len(dict) {
			resEnts = append(resEnts, resEntry{})
		}
		subs, ress, cats := b.Str[usage.ColSubscription], b.Str[usage.ColResource], b.Str[usage.ColChargeCategory]
		see := func(x uint32) *entry {
			e := ents[x]
			if e == nil {
				e = &entry{}
				ents[x] = e
				if s := lower(dict[x]); known[s] != nil {
					// A copy: the batch's dictionary goes with the batch, and the scope
					// numbers below would keep it alive.
					s = strings.Clone(s)
					e.sub, e.subKey, e.deep = s, "/subscriptions/"+s, deep[s]
				}
				e.usage = dict[x] == usage.CategoryUsage
			}
			return e
		}
		// Rows come by subscription, nearly all of them Usage: the last of each is kept.
		lastSub, lastCat := ^uint32(0), ^uint32(0)
		var e, ce *entry
		var res []int32
		select {
		case res = <-spare:
		default:
		}
		res = slices.Grow(res[:0], b.Len())[:b.Len()]
		for i := range res {
			si := subs[i]
			if si != lastSub {
				e, lastSub = see(si), si
			}
			if cats[i] != lastCat {
				ce, lastCat = see(cats[i]), cats[i]
			}
			if e.sub == "" || b.End[i] <= b.Start[i] || !ce.usage {
				res[i] = skipRecord // nothing the audit counts
				continue
			}
			ri := ress[i]
			re := &resEnts[ri]
			if re.resFor != int32(si)+1 {
				re.resFor, re.res = int32(si)+1, slowRecord
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
			res[i] = re.res
		}
		select {
		case work <- staged{b, res}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(work)
	sums := <-added
	if err != nil {
		return err
	}
	order, strs, slow, costs := sums.order, sums.strs, sums.slow, sums.costs
	// One probe record per class, of a cost equal to its charge period's length in
	// nanoseconds: the engine's amount for it is the nanoseconds each identity covers, exactly.
	// Its strings are few (subscriptions, scopes, currencies, providers): the batch is built by
	// column.
	n := len(order)
	pdict := append([]string{usage.CategoryUsage}, strs...) // a currency's or provider's number + 1
	subIDs := map[string]uint32{}
	scopeAt := make([]uint32, len(scopes)) // + 1 (0: not yet in pdict)
	start, end, cost := make([]int64, n), make([]int64, n), make([]money.Nanos, n)
	var cols [usage.NumStringCols][]uint32
	for _, c := range []int{usage.ColSubscription, usage.ColResource, usage.ColChargeCategory, usage.ColCurrency, usage.ColProviderID} {
		cols[c] = make([]uint32, n) // ColChargeCategory stays 0: Usage
	}
	for i, c := range order {
		k := c.key
		start[i], end[i], cost[i] = k.start, k.end, money.Nanos(k.end-k.start)
		id, ok := subIDs[c.sub]
		if !ok {
			id = uint32(len(pdict))
			subIDs[c.sub], pdict = id, append(pdict, c.sub)
		}
		cols[usage.ColSubscription][i] = id
		if scopeAt[k.scope] == 0 {
			scopeAt[k.scope], pdict = uint32(len(pdict))+1, append(pdict, scopes[k.scope])
		}
		cols[usage.ColResource][i] = scopeAt[k.scope] - 1
		cols[usage.ColCurrency][i], cols[usage.ColProviderID][i] = uint32(k.currency)+1, uint32(k.provider)+1
	}
	slowBatch, probeBatch := slow.Batch(), usage.LeanBatch(pdict, start, end, cost, cols)
	return follow(ctx, run, a.q.Period, a.runTenants, ids, batches(slowBatch, probeBatch), func(r *record) {
		if r.batch != probeBatch {
			a.visit(r)
			return
		}
		c := order[r.row]
		length := c.key.end - c.key.start
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
			for _, cost := range costs.of(c) {
				h.amount += money.MulDiv(cost, covered, length)
			}
		}
		a.visit(r)
	})
}

// A batch's records as the first stage of classing leaves them: per row, its class scope's
// number, or one of these.
const (
	slowRecord int32 = -1 // its resource lies outside its subscription: through the engine as it is
	skipRecord int32 = -2 // nothing the audit counts (not the run's subscription, no time, not Usage)
)

type staged struct {
	b   *usage.Batch
	res []int32
}

// classSums is what addUp adds up: the classes in the order first met, the currencies' and
// providers' strings by number, and the records that go through the engine as they are.
type classSums struct {
	classes map[classKey]*class
	order   []*class
	strs    []string
	slow    *usage.BatchBuilder
	costs   *costLog
}

// addUp adds the staged batches' records up into their classes, in the order they come, and
// hands each batch's numbers back to spare.
func addUp(work <-chan staged, spare chan<- []int32) *classSums {
	out := &classSums{classes: map[classKey]*class{}, slow: usage.NewBatchBuilder(), costs: &costLog{}}
	// Currencies and providers are numbered as they are first met, so that a record's class
	// is found by numbers; strings are looked at once per batch dictionary entry.
	strIDs := map[string]int32{}
	intern := func(s string) int32 {
		id, ok := strIDs[s]
		if !ok {
			s = strings.Clone(s)
			id = int32(len(out.strs))
			strIDs[s], out.strs = id, append(out.strs, s)
		}
		return id
	}
	var dict []string
	type entry struct {
		str   int32
		known bool
	}
	var ents []entry
	type recentClass struct {
		k classKey
		c *class
	}
	var recent [4]recentClass
	next := 0
	costs := out.costs
	var fresh []*class // the classes whose topRes is the batch's
	var rec usage.Record
	for w := range work {
		b := w.b
		if len(b.Dict) > 0 && (len(dict) == 0 || &b.Dict[0] != &dict[0] || len(b.Dict) < len(dict)) {
			ents = ents[:0]
		}
		dict = b.Dict
		for len(ents) < len(dict) {
			ents = append(ents, entry{})
		}
		subs, ress := b.Str[usage.ColSubscription], b.Str[usage.ColResource]
		curs, provs := b.Str[usage.ColCurrency], b.Str[usage.ColProviderID]
		for i, res := range w.res {
			if res == skipRecord {
				continue
			}
			if res == slowRecord {
				rec = usage.Record{Start: b.Start[i], End: b.End[i], SubscriptionID: dict[subs[i]], ResourceID: dict[ress[i]],
					ChargeCategory: usage.CategoryUsage, Currency: b.S(usage.ColCurrency, i), ProviderID: b.S(usage.ColProviderID, i), Cost: b.Cost[i]}
				out.slow.Add(&rec)
				continue
			}
			cu, pe := &ents[curs[i]], &ents[provs[i]]
			if !cu.known {
				cu.str, cu.known = intern(dict[curs[i]]), true
			}
			if !pe.known {
				pe.str, pe.known = intern(dict[provs[i]]), true
			}
			k := classKey{res, cu.str, pe.str, b.Start[i], b.End[i]}
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
				if c = out.classes[k]; c == nil {
					c = &class{key: k, sub: strings.Clone(dict[subs[i]])}
					out.classes[k] = c
					out.order = append(out.order, c)
				}
				recent[next] = recentClass{k, c}
				next = (next + 1) % len(recent)
			}
			cost := b.Cost[i]
			c.sum += cost
			costs.add(c, cost)
			if r := dict[ress[i]]; c.n == 1 || cost > c.topCost || (cost == c.topCost && r < c.topRes) {
				c.topCost, c.topRes = cost, r
				if !c.topNew {
					c.topNew = true
					fresh = append(fresh, c)
				}
			}
		}
		select {
		case spare <- w.res:
		default:
		}
		// A class's costliest resource changes a few times in a batch: it is copied once, and
		// nothing of the batch is kept, so its memory goes to the segments read next.
		for _, c := range fresh {
			c.topRes, c.topNew = strings.Clone(c.topRes), false
		}
		fresh = fresh[:0]
		b.Release()
	}
	return out
}

// costLog keeps the classes' costs in blocks of costsPerBlock, each linked to the class's next,
// carved from large chunks: a class's costs are never copied as they grow, and the class keeps
// where they are as numbers (the collector has no pointer to follow, no barrier to pass).
// Growing a slice per class was a tenth of the classing's CPU at the bench scale, and as much
// garbage as the costs themselves; a class's records are not always one after another (a
// resource's hours come together, then the next resource's).
type costLog struct {
	chunks [][]costBlock // each blocksPerChunk long
	used   int32         // blocks handed out
}

const (
	costsPerBlock  = 15 // with the link, 128 bytes
	blocksPerChunk = 1 << 16
)

type costBlock struct {
	costs [costsPerBlock]money.Nanos
	next  int32 // the class's next block + 1 (0: none)
}

func (l *costLog) block(at int32) *costBlock {
	at--
	return &l.chunks[at/blocksPerChunk][at%blocksPerChunk]
}

func (l *costLog) add(c *class, cost money.Nanos) {
	k := c.n % costsPerBlock
	if k == 0 { // c's last block is full, or c has none
		if int(l.used) == len(l.chunks)*blocksPerChunk {
			l.chunks = append(l.chunks, make([]costBlock, blocksPerChunk))
		}
		l.used++
		if c.head == 0 {
			c.head = l.used
		} else {
			l.block(c.tail).next = l.used
		}
		c.tail = l.used
	}
	l.block(c.tail).costs[k] = cost
	c.n++
}

// of is c's costs.
func (l *costLog) of(c *class) []money.Nanos {
	out := make([]money.Nanos, 0, c.n)
	for at := c.head; at != 0; {
		b := l.block(at)
		out = append(out, b.costs[:min(int(c.n)-len(out), costsPerBlock)]...)
		at = b.next
	}
	return out
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
	r := res
	// Trimmed already, as resource IDs nearly always are (a byte at each end tells).
	if n := len(r); n == 0 || r[0] != '/' || r[n-1] <= ' ' || r[n-1] == '/' || r[n-1] >= 0x80 {
		r = strings.TrimRight(strings.TrimSpace(r), "/")
	}
	if r == "" {
		return subKey
	}
	if r[0] == '/' {
		if sc, ok := classScopeASCII(r, subKey, deep); ok {
			return sc
		}
	}
	return classScopeKey(res, subKey, deep) // the rare spelling
}

// classScopeKey is classScope of a resource ID that is not empty, decided on its canonical
// key (allocated).
func classScopeKey(res, subKey string, deep []string) string {
	r := scope.Key(res)
	if !scope.PrefixCovers(subKey, r) {
		return ""
	}
	for _, d := range deep {
		if scope.PrefixCovers(d, r) {
			return d
		}
	}
	return subKey
}

// classScopeASCII is classScope of a trimmed resource ID r that starts with a slash, compared
// without lowering it: ok is false when a byte it had to compare is not ASCII (then only the
// canonical key, which lowers every letter, compares right). Up to such a byte, the canonical
// key's bytes are r's with ASCII letters lowered, at the same places.
func classScopeASCII(r, subKey string, deep []string) (sc string, ok bool) {
	in, ok := foldedPrefix(r, subKey, 0)
	if !ok || !in {
		return "", ok
	}
	for _, d := range deep {
		// Every deep scope is subKey and more: only the rest is compared.
		if in, ok := foldedPrefix(r, d, len(subKey)); !ok {
			return "", false
		} else if in {
			return d, true
		}
	}
	return subKey, true
}

// foldedPrefix reports whether the canonical scope key k covers r (scope.PrefixCovers), given
// that r's first from bytes are k's in some case, comparing ASCII letters in any case; ok is
// false when it met a byte that is not ASCII before it knew.
func foldedPrefix(r, k string, from int) (covers, ok bool) {
	n := min(len(r), len(k))
	i := from
	if from < n && r[from:n] == k[from:n] && scope.ASCII(k[from:n]) {
		i = n // the usual spelling: already the key's (one comparison of memory)
	}
	for ; i < n; i++ {
		c := r[i]
		if c >= 0x80 {
			return false, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != k[i] {
			return false, true
		}
	}
	if len(r) < len(k) {
		return false, true
	}
	if len(r) == len(k) {
		return true, true
	}
	if r[len(k)] >= 0x80 {
		return false, false
	}
	return r[len(k)] == '/', true
}
