package attribution

import (
	"slices"
	"strings"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Everything the rules need about a record except its charge period depends only on its
// subscription version and resource: which locations could be credited, through which
// association, when, with which admin roles, and when the reseller had whole days of admin
// access. The engine resolves that once per resource (resolve) and keeps it in its worker, so
// that per record it only measures the charge period against a few prepared time sets. A
// month of usage names each resource tens of times, so this replaces a scope walk, set unions
// and a sort per record with a map lookup.

// maxCachedResources bounds the resolved resources an engine's workers keep, each worker a
// share (records are dealt to workers by subscription, so each meets its share of them).
// Usage names the estate's resources, so the caches are bounded by the estate; the cap keeps
// memory bounded even for usage that names an unbounded number of distinct resources (a
// worker's cache then starts over). With a cap per worker, one worker (GOMAXPROCS=1) started
// over several times a day at the bench scale (200,000 resources) and spent twice the CPU of
// two. A variable so that a test can shrink it.
var maxCachedResources = 1 << 18

// worker is one goroutine's engine state. It is not shared, so its cache needs no locking.
//
// Records find their resource by the hash of its resource ID (computed once, when the record
// is dealt to a worker), so the hot path hashes no strings; byKey settles hash collisions.
type worker struct {
	e      *engine
	byHash map[uint64]*resEntry
	byKey  map[resKey]*resEntry
	infos  map[infoKey]*resInfo // a resolution may be here under several keys
	bases  map[subVersion]*subBase
	// maxResources bounds byKey (its share of maxCachedResources).
	maxResources int
	seen         []bool   // per record: which (organisation, association) already has a row
	hitBuf       []hit    // per record: its attribution rows before they are written out
	incBuf       []incHit // per record: its incentive rows before they are written out
	holdBuf      []hold   // scratch of buildPlan
	sums         [][]curSum
	res          dictCache[resRef] // resource dictionary index -> entry, for the batch at hand
	nextDay      int64             // sums mode: the start of the day after the latest record's (see retire)
	live         []*sumPlan        // sums mode: the plans with intervals built and not retired
	// Copies of the batches' strings the worker keeps past a batch (a batch's strings share
	// one allocation with its whole dictionary): subscription IDs and currency codes once
	// each in strs, resource IDs appended to blocks of strBuf (see entry).
	strs   interner
	strBuf []byte
	// Version 2: per record scratch, the tags strings parsed (per dictionary index) and the
	// tag warnings counted.
	v2Buf []v2hit
	tags  dictCache[*tagInfo]
	subs  dictCache[resaleRef] // sub-account dictionary index -> resale declarations
	bills dictCache[resaleRef] // billing account dictionary index -> resale declarations
	warns map[tagWarnKey]*tagWarnAcc
}

// newWorker returns one of an engine's n workers.
func (e *engine) newWorker(n int) *worker {
	return &worker{e: e, byHash: map[uint64]*resEntry{}, byKey: map[resKey]*resEntry{}, infos: map[infoKey]*resInfo{}, bases: map[subVersion]*subBase{},
		strs: interner{}, maxResources: max(1, maxCachedResources/n)}
}

// infoKey identifies a resolution: resources of one subscription version whose deepest scope
// with a grant (grantRep) and deepest ID with a CUA deployment (cuaRep) are the same resolve
// identically, so they share one resInfo (most resources have no grant or deployment of their
// own and share their resource group's).
type infoKey struct {
	sub              string
	version          int
	grantRep, cuaRep string
}

// resKey is a resource as a record names it (subscription and resource ID as given).
type resKey struct{ sub, res string }

// resEntry is a resource's resolution, per version of its subscription.
type resEntry struct {
	rawSub           string                // subscription ID as given
	sub, res         string                // subscription ID in lower case; resource ID as given
	vs               []estate.Subscription // the subscription's versions; empty when it is unknown
	infos            []*resInfo            // per version, resolved on first use
	grantRep, cuaRep string                // see infoKey; set with the first resolution
	reps             bool
}

// resInfo is what the rules need about a resource under one subscription version.
type resInfo struct {
	tenant, sub, offer string
	// cands are the possible attribution rows, sorted by location and association as rows
	// are output: a record gets the row of each candidate whose time meets its period. hot
	// holds, at the same positions, the little each record reads of every candidate, packed
	// (40 bytes each) so that a record touches few cache lines; cands holds the rest.
	cands  []cand
	hot    []candHot
	groups int // distinct (organisation, association) among cands
	// pec is the reseller location that may earn PEC, and pecSet the whole UTC days in which
	// its organisation had admin access while it was active; nil when it cannot earn any.
	pec    *locInfo
	pecSet timeline.Set
	// pecOffer and palOffer say, per program version, whether the offer takes part.
	pecOffer, palOffer []bool
	// sums is the resolution's plan for totals without rows (ComputeSums; see sums.go).
	sums *sumPlan
}

// cand is one location credited through one association while its time holds (association
// time already intersected with the location's active time).
type cand struct {
	pal   bool
	assoc string
	slot  int // sumSlot(li, association): where ComputeSums adds the row's amount
	li    *locInfo
	time  span
	// PAL: the admin role. fixed is the answer for every record when one role alone gives
	// all of the location's time and sorts first; otherwise roles holds each eligible role's
	// time (∩ active), sorted by role name.
	fixed string
	roles []roleTime
	group int // index of (organisation, association) for duplicate_at_org
}

type roleTime struct {
	role string
	time span
}

// candHot is what a record reads of every candidate: its time, where its amount is summed,
// its organisation (PAL incentive rate) and duplicate group.
type candHot struct {
	first timeline.Window // the candidate's time: first window ...
	rest  *timeline.Set   // ... and the others, nil when there are none
	slot  int32           // see cand.slot
	org   int32           // index of the location's organisation
	group int32           // see cand.group
	pal   bool
}

// in is |time ∩ [a, b)|.
func (c *candHot) in(a, b int64) int64 {
	n := min(c.first.To, b) - max(c.first.From, a)
	if n < 0 {
		n = 0
	}
	if c.rest != nil {
		n += coveredIn(*c.rest, a, b)
	}
	return n
}

// span is a normalised time set with its first window inline: the common one-window set is
// measured without following a pointer on the hot path.
type span struct {
	first timeline.Window
	rest  timeline.Set // the windows after first, nil when there are none
}

func newSpan(s timeline.Set) span {
	if len(s) == 0 {
		return span{}
	}
	sp := span{first: s[0]}
	if len(s) > 1 {
		sp.rest = s[1:]
	}
	return sp
}

// in is |s ∩ [a, b)|.
func (s *span) in(a, b int64) int64 {
	n := min(s.first.To, b) - max(s.first.From, a)
	if n < 0 {
		n = 0
	}
	if s.rest != nil {
		n += coveredIn(s.rest, a, b)
	}
	return n
}

// keep returns a copy of s in memory the worker owns: appended to a block that is never
// written again where it holds strings.
func (wk *worker) keep(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > cap(wk.strBuf)-len(wk.strBuf) {
		wk.strBuf = make([]byte, 0, max(64<<10, len(s)))
	}
	n := len(wk.strBuf)
	wk.strBuf = append(wk.strBuf, s...)
	return unsafe.String(&wk.strBuf[n], len(s))
}

// entry returns the cached entry of a resource (h is the hash of res), creating it
// (unresolved) on first sight.
func (wk *worker) entry(h uint64, sub, res string) *resEntry {
	if ent := wk.byHash[h]; ent != nil && ent.res == res && ent.rawSub == sub {
		return ent
	}
	k := resKey{sub, res}
	ent := wk.byKey[k]
	if ent == nil {
		if len(wk.byKey) >= wk.maxResources {
			wk.flushPlans() // the sums held by the resolutions about to be dropped
			clear(wk.byHash)
			clear(wk.byKey)
			clear(wk.infos)
			clear(wk.bases)
			clear(wk.strs)
			wk.strBuf = nil
			wk.res.reset() // it refers to the entries just dropped
		}
		// Copies: a batch's strings share one allocation with the rest of its dictionary,
		// which an entry, kept for the whole run, would otherwise keep alive (see
		// retain_test.go). Copied into the worker's own memory, not one allocation each:
		// those cost BenchmarkComputeSums 12 %.
		sub, res = wk.strs.get(sub), wk.keep(res)
		k = resKey{sub, res}
		ls := lowerFast(sub)
		vs := wk.e.ix.subs[ls]
		ent = &resEntry{rawSub: sub, sub: ls, res: res, vs: vs, infos: make([]*resInfo, len(vs))}
		wk.byKey[k] = ent
	}
	if wk.byHash[h] == nil {
		wk.byHash[h] = ent
	}
	return ent
}

// info returns the resolution for the subscription version that applies to period w.
func (wk *worker) info(ent *resEntry, w timeline.Window) *resInfo {
	v := versionAt(ent.vs, w)
	if info := ent.infos[v]; info != nil {
		return info
	}
	ix := wk.e.ix
	if !ent.reps {
		rk := resourceRef(ent.res, ent.sub)
		if scopes := ix.subScopes[ent.sub]; len(scopes) > 0 {
			ent.grantRep = deepest(asciiLower(rk), func(p string) bool { return scopes[p] })
		}
		if k := key(rk); ix.mayDeploy(k) {
			ent.cuaRep = deepest(k, func(p string) bool { return len(ix.deploys[p]) > 0 })
		}
		ent.reps = true
	}
	k := infoKey{ent.sub, v, ent.grantRep, ent.cuaRep}
	info := wk.infos[k]
	if info == nil {
		info = wk.e.resolve(wk.base(ent, v), ent.grantRep, ent.cuaRep)
		wk.infos[k] = info
	}
	ent.infos[v] = info
	return info
}

// mayDeploy reports whether a deployment may be on the resource with key k or on a scope
// above it.
func (ix *index) mayDeploy(k string) bool {
	if k = idRoot(k); ix.deployRoots[k] {
		return true
	}
	// The prefixes with fewer than two segments ("/subscriptions") are their own roots.
	for i := strings.LastIndexByte(k, '/'); i > 0; i = strings.LastIndexByte(k, '/') {
		if k = k[:i]; ix.deployRoots[k] {
			return true
		}
	}
	return false
}

// deepest returns the longest of k and its prefixes that end before a '/' for which has is
// true, "" if none: the prefixes are exactly the scopes that cover k by ARM-ID prefix.
func deepest(k string, has func(string) bool) string {
	for {
		if has(k) {
			return k
		}
		i := strings.LastIndexByte(k, '/')
		if i <= 0 {
			return ""
		}
		k = k[:i]
	}
}

// asciiLower lowers ASCII letters only: the folding prefixCoversFold applies, so that
// PrefixCovers(sk, asciiLower(r)) == prefixCoversFold(sk, r).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			scope.LowerASCII(b[i:])
			return string(b)
		}
	}
	return s
}

// subBase is what every resource of one subscription version shares, worked out once per
// worker: the CSP and DPOR candidates and the grants of the scopes that cover the whole
// subscription (the tenant root, its management groups and, for resources under it, the
// subscription itself). Resources differ only in the grants of their resource groups and
// resources and in their CUA deployments; most have neither and share one resolution.
type subBase struct {
	sv                 *estate.Subscription
	sub                string
	scope              string // the subscription's scope key
	tenant             string
	pecOffer, palOffer []bool // see resInfo
	cspOrg             string // the reseller's organisation, "" when the subscription has none
	fixed              []cand // CSP and DPOR
	outer              *palLevel
	own                *palLevel // outer and the subscription's own scope; built on first use
	inner              []*grant  // the grants on and below the subscription that resolution reads (PAL, the reseller's)
}

// palLevel is the PAL candidates and the reseller's access that a set of grants gives.
type palLevel struct {
	locs   []palLoc
	access timeline.Set // the reseller organisation's time with any eligible grant (PEC)
	info   *resInfo     // the resolution of a resource with nothing more of its own
}

// palLoc is one location's PAL time from a level's grants: the union over them, and per role
// (sorted by name).
type palLoc struct {
	loc   string
	set   timeline.Set
	roles []roleSet
	done  *palCand // shared by the levels that take this location over unchanged
}

// palCand is a location's PAL candidate, worked out on first use.
type palCand struct {
	built, ok bool
	c         cand
}

type roleSet struct {
	role string
	set  timeline.Set
}

// palAcc gathers the windows of grants per location and role before they are unioned.
type palAcc struct {
	loc   string
	set   []timeline.Window
	roles []roleSet // the windows of each role, not yet unioned
}

// role returns the accumulator of role r.
func (a *palAcc) role(r string) *roleSet {
	for i := range a.roles {
		if a.roles[i].role == r {
			return &a.roles[i]
		}
	}
	a.roles = append(a.roles, roleSet{role: r})
	return &a.roles[len(a.roles)-1]
}

func addPAL(acc []palAcc, g *grant, set timeline.Set) []palAcc {
	k := -1
	for i := range acc {
		if acc[i].loc == g.loc {
			k = i
			break
		}
	}
	if k < 0 {
		acc = append(acc, palAcc{loc: g.loc})
		k = len(acc) - 1
	}
	acc[k].set = append(acc[k].set, set...)
	r := acc[k].role(g.role)
	r.set = append(r.set, set...)
	return acc
}

// base returns the shared part of subscription version v's resolutions.
func (wk *worker) base(ent *resEntry, v int) *subBase {
	k := subVersion{ent.sub, v}
	if b := wk.bases[k]; b != nil {
		return b
	}
	b := wk.e.newBase(&ent.vs[v], ent.sub)
	wk.bases[k] = b
	return b
}

type subVersion struct {
	sub     string
	version int
}

func (e *engine) newBase(sv *estate.Subscription, sub string) *subBase {
	ix := e.ix
	b := &subBase{sv: sv, sub: sub, scope: "/subscriptions/" + sub, tenant: lowerFast(sv.TenantID)}
	for _, v := range e.progs.PEC {
		b.pecOffer = append(b.pecOffer, v.Offers[string(sv.Offer)])
	}
	for _, v := range e.progs.PAL {
		b.palOffer = append(b.palOffer, v.Offers[string(sv.Offer)])
	}
	if sv.Offer == estate.OfferCSP && sv.CSPLocationID != "" {
		if li := ix.locs[sv.CSPLocationID]; li != nil {
			b.cspOrg = li.org
			b.fixed = addCand(b.fixed, AssocCSP, li, timeline.Set{timeline.Always()})
		}
	}
	for _, d := range ix.dporList[sub] {
		if li := ix.locs[d.loc]; li != nil {
			b.fixed = addCand(b.fixed, AssocDPOR, li, d.set)
		}
	}
	var pal []palAcc
	var access []timeline.Window
	ix.outerCovering(b.tenant, sub, func(g *grant, set timeline.Set) {
		if g.kind == grantPAL {
			pal = addPAL(pal, g, set)
		}
		if b.cspOrg != "" && g.org == b.cspOrg {
			access = append(access, set...)
		}
	})
	b.outer = newLevel(pal, access)
	if tg := ix.grants[b.tenant]; tg != nil {
		for _, g := range tg.bySub[sub] {
			if g.kind == grantPAL || (b.cspOrg != "" && g.org == b.cspOrg) {
				b.inner = append(b.inner, g)
			}
		}
	}
	return b
}

// ownLevel is the outer level with the grants on the subscription's own scope.
func (b *subBase) ownLevel() *palLevel {
	if b.own != nil {
		return b.own
	}
	var own []*grant
	for _, g := range b.inner {
		if g.scopeKey == b.scope {
			own = append(own, g)
		}
	}
	if len(own) == 0 {
		b.own = b.outer
	} else {
		b.own = b.outer.with(own, b.cspOrg)
	}
	return b.own
}

func newLevel(pal []palAcc, access []timeline.Window) *palLevel {
	l := &palLevel{access: timeline.Union(access...)}
	for i := range pal {
		l.locs = append(l.locs, pal[i].union())
	}
	return l
}

func (a *palAcc) union() palLoc {
	pl := palLoc{loc: a.loc, set: timeline.Union(a.set...), done: &palCand{}}
	slices.SortFunc(a.roles, func(x, y roleSet) int { return strings.Compare(x.role, y.role) })
	pl.roles = make([]roleSet, len(a.roles))
	for i, r := range a.roles {
		pl.roles[i] = roleSet{r.role, timeline.Union(r.set...)}
	}
	return pl
}

// with returns the level with grants gs added. The locations gs do not name are taken over
// as they are, with their finished candidates.
func (l *palLevel) with(gs []*grant, cspOrg string) *palLevel {
	var pal []palAcc
	var access []timeline.Window
	for _, g := range gs {
		if g.kind == grantPAL {
			pal = addPAL(pal, g, g.set)
		}
		if cspOrg != "" && g.org == cspOrg {
			access = append(access, g.set...)
		}
	}
	out := &palLevel{locs: slices.Clone(l.locs), access: l.access}
	if len(access) > 0 {
		out.access = timeline.Union(append(slices.Clone(l.access), access...)...)
	}
	for i := range pal {
		a := &pal[i]
		k := slices.IndexFunc(out.locs, func(pl palLoc) bool { return pl.loc == a.loc })
		if k < 0 {
			out.locs = append(out.locs, a.union())
			continue
		}
		// Clipped: appending must copy, never write into the level's arrays.
		old := out.locs[k]
		a.set = append(slices.Clip(old.set), a.set...)
		for _, r := range old.roles {
			x := a.role(r.role)
			x.set = append(slices.Clip(r.set), x.set...)
		}
		out.locs[k] = a.union()
	}
	return out
}

func addCand(cs []cand, assoc string, li *locInfo, set timeline.Set) []cand {
	set = set.Intersect(li.active)
	if len(set) == 0 {
		return cs
	}
	return append(cs, cand{pal: assoc == AssocPAL, assoc: assoc, slot: sumSlot(li, assoc), li: li, time: newSpan(set)})
}

// resolve gathers every association that could credit a location for usage under base's
// subscription version of a resource whose deepest scope with grants is grantRep and deepest
// ID with CUA deployments is cuaRep ("" when there is none), with the time it holds.
// Matching grants against grantRep instead of the resource gives the same grants: every
// grant that covers the resource has a scope that is a prefix of grantRep (and a resource
// that is not under its subscription has no grant of the subscription's: grantRep is "").
func (e *engine) resolve(b *subBase, grantRep, cuaRep string) *resInfo {
	lvl := b.outer
	if grantRep != "" {
		lvl = b.ownLevel()
		var extra []*grant
		for _, g := range b.inner {
			if g.scopeKey != b.scope && prefixCoversFold(g.scopeKey, grantRep) {
				extra = append(extra, g)
			}
		}
		if len(extra) > 0 {
			lvl = lvl.with(extra, b.cspOrg)
		}
	}
	if cuaRep == "" && lvl.info != nil {
		return lvl.info
	}
	info := e.finish(b, lvl, cuaRep)
	if cuaRep == "" {
		lvl.info = info
	}
	return info
}

// finish builds the resolution from its PAL level and the CUA deployments of cuaRep.
func (e *engine) finish(b *subBase, lvl *palLevel, cuaRep string) *resInfo {
	ix := e.ix
	sv := b.sv
	info := &resInfo{tenant: b.tenant, sub: b.sub, offer: string(sv.Offer), pecOffer: b.pecOffer, palOffer: b.palOffer}
	cs := make([]cand, len(b.fixed), len(b.fixed)+len(lvl.locs)+2)
	copy(cs, b.fixed)
	if cuaRep != "" {
		var cua map[string]timeline.Set
		for k := cuaRep; ; {
			for _, d := range ix.deploys[k] {
				if cua == nil {
					cua = map[string]timeline.Set{}
				}
				cua[d.loc] = cua[d.loc].Add(timeline.Since(d.at))
			}
			i := strings.LastIndexByte(k, '/')
			if i <= 0 {
				break
			}
			k = k[:i]
		}
		for _, loc := range sortedKeys(cua) {
			if li := ix.locs[loc]; li != nil {
				cs = addCand(cs, AssocCUA, li, cua[loc])
			}
		}
	}
	for i := range lvl.locs {
		pl := &lvl.locs[i]
		if !pl.done.built {
			pl.done.c, pl.done.ok = e.palCand(b, pl)
			pl.done.built = true
		}
		if pl.done.ok {
			cs = append(cs, pl.done.c)
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.li != b.li {
			return a.li.rank - b.li.rank
		}
		return strings.Compare(a.assoc, b.assoc)
	})
	for i := range cs {
		cs[i].group = -1
		for j := 0; j < i; j++ {
			if cs[j].li.orgIdx == cs[i].li.orgIdx && cs[j].assoc == cs[i].assoc {
				cs[i].group = cs[j].group
				break
			}
		}
		if cs[i].group < 0 {
			cs[i].group = info.groups
			info.groups++
		}
	}
	info.cands = cs
	info.hot = make([]candHot, len(cs))
	for i := range cs {
		c := &cs[i]
		h := &info.hot[i]
		h.first, h.slot, h.org, h.group, h.pal = c.time.first, int32(c.slot), int32(c.li.orgIdx), int32(c.group), c.pal
		if c.time.rest != nil {
			rest := c.time.rest
			h.rest = &rest
		}
	}
	if cl := sv.CSPLocationID; cl != "" {
		if li := ix.locs[cl]; li != nil {
			if set := fullDays(lvl.access).Intersect(li.active); len(set) > 0 {
				info.pec, info.pecSet = li, set
			}
		}
	}
	return info
}

// palCand is location pl's PAL candidate, false when it has none.
func (e *engine) palCand(b *subBase, pl *palLoc) (cand, bool) {
	li := e.ix.locs[pl.loc]
	if li == nil || (b.cspOrg != "" && li.org == b.cspOrg) {
		return cand{}, false // CSP precedence: the reseller's organisation is credited as CSP
	}
	cs := addCand(nil, AssocPAL, li, pl.set)
	if len(cs) == 0 {
		return cand{}, false
	}
	set := pl.set.Intersect(li.active)
	c := &cs[0]
	for _, r := range pl.roles {
		// A role without time here never gives the most coverage: the roles' times
		// together make up the location's time.
		if rs := r.set.Intersect(li.active); len(rs) > 0 {
			if len(c.roles) == 0 && sameSet(rs, set) {
				c.fixed = r.role // first by name and always the most: always the answer
				break
			}
			c.roles = append(c.roles, roleTime{r.role, newSpan(rs)})
		}
	}
	if c.fixed != "" {
		c.roles = nil
	}
	return *c, true
}
