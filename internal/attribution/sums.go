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
// record. The totals are the same integers Compute's rows add up to (tested against it).
//
// A record that crosses instants spans a run of intervals, and its plan is that run's: the
// candidates that hold in all of them are added up as above; only those that hold in some
// (partial) are measured per record, as Compute measures them, and so is PEC's time.

// sumPlan is a resolution's intervals, built on first use in sums mode.
type sumPlan struct {
	cuts  []int64         // the instants, sorted; interval k is [cuts[k-1], cuts[k])
	ivs   []intervalPlan  // per interval, built on first use
	cross []*intervalPlan // per run of intervals that records cross, built on first use
	// The intervals before this one were retired (see worker.retire); pending counts the
	// plans built and not yet retired. A plan is in the worker's live list while it has any.
	retired, pending int
}

// intervalPlan is what every record inside one interval (or run of intervals) contributes.
// Values, not pointers, and the first currency's sums inline: a record touches few cache lines.
type intervalPlan struct {
	built    bool
	first    intervalAcc   // the first currency's sums
	acc      []intervalAcc // other currencies
	slots    []int32       // the sum slots of the candidates that hold throughout (attribution rows)
	palSlots []int32       // the PAL incentive slots of those that are PAL without duplicate_at_org
	palRate  money.Nanos
	pecSlot  int32 // -1: no PEC here
	pecRate  money.Nanos
	// Runs only: the run's intervals, the candidates that hold in part of it, and whether PEC
	// holds in part of it (then its time is measured per record).
	k1, k2     int
	partial    []partialCand
	pecPartial bool
}

type intervalAcc struct {
	cur  string
	cost money.Nanos // Σ cost
	n    int64       // records
	pal  money.Nanos // Σ round(cost × PAL rate)
	pec  money.Nanos // Σ round(cost × PEC rate × PEC time ÷ length) over the records PEC may pay
	pecN int64
}

// partialCand is a candidate that holds in part of a run of intervals.
type partialCand struct {
	c      int32 // index in resInfo.hot
	palInc bool  // it earns a PAL incentive row (PAL, not a duplicate, the program applies)
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

// interval returns the plan of the interval holding [a, b), or of the run of intervals it
// crosses.
func (wk *worker) interval(info *resInfo, a, b int64) *intervalPlan {
	p := info.sums
	if p == nil {
		p = wk.e.plan(info)
	}
	k := countAtMost(p.cuts, a)
	if k < len(p.cuts) && b > p.cuts[k] {
		return wk.span(info, p, k, countAtMost(p.cuts, b-1))
	}
	iv := &p.ivs[k]
	if !iv.built {
		wk.buildPlan(info, p, iv, k, k)
	}
	return iv
}

// countAtMost is how many instants are ≤ t: the index of the interval holding t. A linear
// scan over a few, a binary search over many (PIM activations add two each).
func countAtMost(cuts []int64, t int64) int {
	if len(cuts) <= 8 {
		k := 0
		for k < len(cuts) && cuts[k] <= t {
			k++
		}
		return k
	}
	lo, hi := 0, len(cuts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cuts[m] <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// span returns the plan of the intervals k1 to k2 (k1 < k2).
func (wk *worker) span(info *resInfo, p *sumPlan, k1, k2 int) *intervalPlan {
	for _, iv := range p.cross {
		if iv.k1 == k1 && iv.k2 == k2 {
			return iv
		}
	}
	iv := &intervalPlan{}
	wk.buildPlan(info, p, iv, k1, k2)
	p.cross = append(p.cross, iv)
	return iv
}

// at is an instant of interval k: any instant of an interval decides for all of it.
func (p *sumPlan) at(k int) int64 {
	switch {
	case k > 0:
		return p.cuts[k-1]
	case len(p.cuts) > 0:
		return p.cuts[0] - 1
	}
	return 0
}

// buildPlan builds iv, the plan of the intervals k1 to k2, in the order engine.hitsOf and
// engine.incentives decide: a candidate is a row when it holds in any of the intervals, and
// the PAL and PEC programs are the versions at the records' start (interval k1).
func (wk *worker) buildPlan(info *resInfo, p *sumPlan, iv *intervalPlan, k1, k2 int) {
	e := wk.e
	iv.built, iv.pecSlot, iv.k1, iv.k2 = true, -1, k1, k2
	if p.pending == 0 {
		wk.live = append(wk.live, p)
	}
	p.pending++
	t := p.at(k1)
	if cap(wk.seen) < info.groups {
		wk.seen = make([]bool, info.groups)
	}
	seen := wk.seen[:info.groups]
	clear(seen)
	palOrgs, firstOrg := 0, int32(-1)
	hs := wk.holdBuf[:0]
	nAll, nPal := 0, 0
	for i := range info.hot {
		c := &info.hot[i]
		n := 0
		for k := k1; k <= k2; k++ {
			if x := p.at(k); c.in(x, x+1) > 0 {
				n++
			}
		}
		if n == 0 {
			continue
		}
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
		}
		h := hold{i: int32(i), all: n == k2-k1+1, palI: c.pal && !dup}
		hs = append(hs, h)
		if h.all {
			nAll++
			if h.palI {
				nPal++
			}
		}
	}
	wk.holdBuf = hs
	palApplies := false
	if i := atIndex(e.progs.PAL, t); i >= 0 && info.palOffer[i] {
		v := &e.progs.PAL[i]
		palApplies = true
		iv.palRate = v.RateMulti
		if palOrgs == 1 {
			iv.palRate = v.RateSingle
		}
	}
	// One array for both lists of slots; the partial candidates are few and rare.
	buf := make([]int32, 0, nAll+nPal)
	iv.slots, iv.palSlots = buf[:0:nAll], buf[nAll:nAll]
	for _, h := range hs {
		c := &info.hot[h.i]
		palInc := h.palI && palApplies
		if !h.all {
			iv.partial = append(iv.partial, partialCand{c: h.i, palInc: palInc})
			continue
		}
		iv.slots = append(iv.slots, c.slot)
		if palInc {
			iv.palSlots = append(iv.palSlots, palSlot(c.slot))
		}
	}
	if info.pec != nil {
		if i := atIndex(e.progs.PEC, t); i >= 0 && info.pecOffer[i] {
			n := 0
			for k := k1; k <= k2; k++ {
				if x := p.at(k); coveredIn(info.pecSet, x, x+1) > 0 {
					n++
				}
			}
			if n > 0 {
				iv.pecSlot = int32(info.pec.idx*len(sumAssocs) + slotPEC)
				iv.pecRate = e.progs.PEC[i].Rate
				iv.pecPartial = n < k2-k1+1
			}
		}
	}
}

// hold is a candidate that holds in a plan's intervals: in all of them or in some; palI: it is
// PAL and not a duplicate at its organisation.
type hold struct {
	i         int32
	all, palI bool
}

// palSlot is the PAL incentive slot of the location of the candidate with sum slot s.
func palSlot(s int32) int32 { return int32(int(s)/len(sumAssocs)*len(sumAssocs) + slotPAL) }

// sumFast adds a record to the sums of its interval or run of intervals.
func (wk *worker) sumFast(r *rowIn, info *resInfo, st *Stats) {
	iv := wk.interval(info, r.start, r.end)
	acc := &iv.first
	if acc.n == 0 && acc.cur == "" {
		acc.cur = wk.strs.get(r.currency) // an interval may stay open all run
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
			iv.acc = append(iv.acc, intervalAcc{cur: wk.strs.get(r.currency)})
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
		q := length
		if iv.pecPartial {
			q = coveredIn(info.pecSet, r.start, r.end)
		}
		if q > 0 {
			acc.pec += mulDiv2(r.cost, int64(iv.pecRate), money.Scale, q, length)
			acc.pecN++
			st.Incentives++
		}
	}
	for _, pc := range iv.partial {
		c := &info.hot[pc.c]
		amount := money.MulDiv(r.cost, c.in(r.start, r.end), length)
		wk.add(int(c.slot), r.currency, amount)
		st.Rows++
		if pc.palInc {
			wk.add(int(palSlot(c.slot)), r.currency, money.MulDiv(amount, int64(iv.palRate), money.Scale))
			st.Incentives++
		}
	}
}

// reach is called with each record's start in sums mode: at a record of a later day than any
// before it, it retires the intervals that ended by that day's start.
func (wk *worker) reach(start int64) {
	if start >= wk.nextDay {
		d := floorDay(start)
		wk.retire(d)
		wk.nextDay = d + day
	}
}

// retire hands the sums of the intervals that end by instant t to their slots and drops those
// intervals' plans and the plans of the runs that start in them. Records come in day order
// (stored usage always does), so once a worker meets a record of a later day no record will
// fall in them again: without this, the plans built would grow with the number of records
// until every interval of the period had one. A record that does come later (a file out of
// order) finds its plan gone and builds it again, so the sums are right in any order.
func (wk *worker) retire(t int64) {
	live := wk.live[:0]
	for _, p := range wk.live {
		for p.retired < len(p.cuts) && p.cuts[p.retired] <= t {
			iv := &p.ivs[p.retired]
			if iv.built {
				wk.flush(iv)
				*iv = intervalPlan{}
				p.pending--
			}
			p.retired++
		}
		keep := p.cross[:0]
		for _, iv := range p.cross {
			if iv.k1 < p.retired {
				wk.flush(iv)
				p.pending--
				continue
			}
			keep = append(keep, iv)
		}
		clear(p.cross[len(keep):])
		p.cross = keep
		if p.pending > 0 {
			live = append(live, p)
		}
	}
	clear(wk.live[len(live):])
	wk.live = live
}

// flushPlans hands the sums of every plan the worker holds to their slots: at the end of a
// run, and before the worker's cache of resolutions starts over and drops the plans, so the
// plans are never used again.
func (wk *worker) flushPlans() {
	for _, p := range wk.live {
		for k := range p.ivs { // below retired too: a record out of order may have built one again
			wk.flush(&p.ivs[k])
		}
		for _, iv := range p.cross {
			wk.flush(iv)
		}
	}
	clear(wk.live)
	wk.live = wk.live[:0]
}

func (wk *worker) flush(iv *intervalPlan) {
	if !iv.built {
		return
	}
	wk.flushAcc(iv, &iv.first)
	for i := range iv.acc {
		wk.flushAcc(iv, &iv.acc[i])
	}
	iv.first, iv.acc = intervalAcc{}, iv.acc[:0]
}

func (wk *worker) flushAcc(iv *intervalPlan, a *intervalAcc) {
	if a.n == 0 {
		return
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
