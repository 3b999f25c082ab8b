package attribution

import (
	"slices"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Totals without rows, exactly. A resolved resource's candidates, the reseller's whole days of
// access (PEC) and the program versions change only at a few instants. Between two of them,
// in an interval, every candidate either holds throughout or not at all. A record whose
// charge period lies inside one interval therefore gets one row per holding candidate with
// coverage 1 and amount = cost, each of its PAL incentive rows round(cost × rate) (one rate
// per interval), and its PEC row round(cost × rate). ComputeSums adds those records' costs
// and per-record roundings up per interval and currency (intervalPlan.acc) and hands the sums
// to every holding candidate once, at the end, instead of measuring every candidate for every
// record. The totals are the same integers Compute's rows add up to (tested against it); a
// record that crosses an instant takes the per-candidate path (worker.hits).

// sumPlan is a resolution's intervals, built on first use in sums mode.
type sumPlan struct {
	cuts []int64        // the instants, sorted; interval k is [cuts[k-1], cuts[k])
	ivs  []intervalPlan // per interval, built on first use
}

// intervalPlan is what every record inside one interval contributes. Values, not pointers,
// and the first currency's sums inline: a record touches few cache lines.
type intervalPlan struct {
	built    bool
	first    intervalAcc   // the first currency's sums
	acc      []intervalAcc // other currencies
	slots    []int32       // the holding candidates' sum slots (attribution rows)
	palSlots []int32       // the PAL incentive slots of the holding PAL candidates without duplicate_at_org
	palRate  money.Nanos
	pecSlot  int32 // -1: no PEC in this interval
	pecRate  money.Nanos
}

type intervalAcc struct {
	cur  string
	cost money.Nanos // Σ cost
	n    int64       // records
	pal  money.Nanos // Σ round(cost × PAL rate)
	pec  money.Nanos // Σ round(cost × PEC rate) over the records PEC may pay
	pecN int64
}

// plan returns the resolution's sum plan.
func (e *engine) plan(info *resInfo) *sumPlan {
	if info.sums != nil {
		return info.sums
	}
	var cuts []int64
	add := func(w timeline.Window) {
		if w.From != timeline.Min {
			cuts = append(cuts, w.From)
		}
		if w.To != timeline.Max {
			cuts = append(cuts, w.To)
		}
	}
	for i := range info.cands {
		c := &info.cands[i]
		add(c.time.first)
		for _, w := range c.time.rest {
			add(w)
		}
	}
	for _, w := range info.pecSet {
		add(w)
	}
	for _, v := range e.progs.PEC {
		add(v.Window)
	}
	for _, v := range e.progs.PAL {
		add(v.Window)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	info.sums = &sumPlan{cuts: cuts, ivs: make([]intervalPlan, len(cuts)+1)}
	return info.sums
}

// interval returns the plan of the interval holding [a, b), or nil when [a, b) crosses an
// instant.
func (e *engine) interval(info *resInfo, a, b int64) *intervalPlan {
	p := info.sums
	if p == nil {
		p = e.plan(info)
	}
	// The first instant after a: a linear scan over a few, a binary search over many (PIM
	// activations add two each).
	k := 0
	if len(p.cuts) <= 8 {
		for k < len(p.cuts) && p.cuts[k] <= a {
			k++
		}
	} else {
		lo, hi := 0, len(p.cuts)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if p.cuts[m] <= a {
				lo = m + 1
			} else {
				hi = m
			}
		}
		k = lo
	}
	if k < len(p.cuts) && b > p.cuts[k] {
		return nil
	}
	iv := &p.ivs[k]
	if iv.built {
		return iv
	}
	// Any instant of the interval decides for all of it.
	var t int64
	switch {
	case k > 0:
		t = p.cuts[k-1]
	case len(p.cuts) > 0:
		t = p.cuts[0] - 1
	}
	iv.built, iv.pecSlot = true, -1
	seen := make([]bool, info.groups)
	palOrgs, firstOrg := 0, int32(-1)
	var palCands []int32
	for i := range info.hot {
		c := &info.hot[i]
		if c.in(t, t+1) == 0 {
			continue
		}
		iv.slots = append(iv.slots, c.slot)
		dup := seen[c.group]
		seen[c.group] = true
		if c.pal {
			// As engine.incentives counts organisations: only whether there is one.
			if c.org != firstOrg {
				if palOrgs == 0 {
					firstOrg = c.org
				}
				palOrgs++
			}
			if !dup {
				palCands = append(palCands, int32(i))
			}
		}
	}
	if i := atIndex(e.progs.PAL, t); i >= 0 && info.palOffer[i] && len(palCands) > 0 {
		v := &e.progs.PAL[i]
		iv.palRate = v.RateMulti
		if palOrgs == 1 {
			iv.palRate = v.RateSingle
		}
		for _, c := range palCands {
			iv.palSlots = append(iv.palSlots, int32(int(info.hot[c].slot)/len(sumAssocs)*len(sumAssocs)+slotPAL))
		}
	}
	if info.pec != nil {
		if i := atIndex(e.progs.PEC, t); i >= 0 && info.pecOffer[i] && coveredIn(info.pecSet, t, t+1) > 0 {
			iv.pecSlot = int32(info.pec.idx*len(sumAssocs) + slotPEC)
			iv.pecRate = e.progs.PEC[i].Rate
		}
	}
	return iv
}

// sumFast adds a record that lies inside one interval of its resolution; it reports false
// (and adds nothing) when the record crosses an instant.
func (wk *worker) sumFast(r *rowIn, info *resInfo, st *Stats) bool {
	iv := wk.e.interval(info, r.start, r.end)
	if iv == nil {
		return false
	}
	acc := &iv.first
	if acc.n == 0 && acc.cur == "" {
		acc.cur = r.currency
	}
	if acc.cur != r.currency {
		acc = nil
		for i := range iv.acc {
			if iv.acc[i].cur == r.currency {
				acc = &iv.acc[i]
				break
			}
		}
		if acc == nil {
			iv.acc = append(iv.acc, intervalAcc{cur: r.currency})
			acc = &iv.acc[len(iv.acc)-1]
		}
	}
	length := r.end - r.start
	acc.cost += r.cost
	acc.n++
	st.Rows += int64(len(iv.slots))
	if len(iv.palSlots) > 0 {
		acc.pal += money.MulDiv(r.cost, int64(iv.palRate), money.Scale)
		st.Incentives += int64(len(iv.palSlots))
	}
	if iv.pecSlot >= 0 && pecExclusion(r.pricing, r.commitment, r.publisher, r.provider) == "" {
		acc.pec += mulDiv2(r.cost, int64(iv.pecRate), money.Scale, length, length)
		acc.pecN++
		st.Incentives++
	}
	return true
}

// flushPlans hands the worker's interval sums to their slots and clears them (at the end of
// a run, and before the worker's cache of resolutions starts over).
func (wk *worker) flushPlans() {
	for _, info := range wk.infos {
		if info.sums == nil {
			continue
		}
		for k := range info.sums.ivs {
			iv := &info.sums.ivs[k]
			if !iv.built {
				continue
			}
			for _, a := range append([]intervalAcc{iv.first}, iv.acc...) {
				if a.n == 0 {
					continue
				}
				for _, s := range iv.slots {
					wk.addN(int(s), a.cur, a.cost, a.n)
				}
				for _, s := range iv.palSlots {
					wk.addN(int(s), a.cur, a.pal, a.n)
				}
				if a.pecN > 0 {
					wk.addN(int(iv.pecSlot), a.cur, a.pec, a.pecN)
				}
			}
			iv.first, iv.acc = intervalAcc{}, iv.acc[:0]
		}
	}
}
