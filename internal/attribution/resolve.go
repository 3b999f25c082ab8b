package attribution

import (
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Everything the rules need about a record except its charge period depends only on its
// subscription version and resource: which locations could be credited, through which
// association, when, with which admin roles, and when the reseller had whole days of admin
// access. The engine resolves that once per resource (resolve) and keeps it in its worker, so
// that per record it only measures the charge period against a few prepared time sets. A
// month of usage names each resource tens of times, so this replaces a scope walk, set unions
// and a sort per record with a map lookup.

// maxCachedResources bounds a worker's resolved resources. Usage names the estate's resources,
// so the cache is bounded by the estate; the cap keeps memory bounded even for usage that names
// an unbounded number of distinct resources (the cache then starts over). A variable so that
// a test can shrink it.
var maxCachedResources = 1 << 17

// worker is one goroutine's engine state. It is not shared, so its cache needs no locking.
//
// Records find their resource by the hash of its resource ID (computed once, when the record
// is dealt to a worker), so the hot path hashes no strings; byKey settles hash collisions.
type worker struct {
	e      *engine
	byHash map[uint64]*resEntry
	byKey  map[resKey]*resEntry
	infos  map[infoKey]*resInfo
	seen   []bool   // per record: which (organisation, association) already has a row
	hitBuf []hit    // per record: its attribution rows before they are written out
	incBuf []incHit // per record: its incentive rows before they are written out
	sums   [][]curSum
	res    dictCache[resRef] // resource dictionary index -> entry, for the batch at hand
}

func (e *engine) newWorker() *worker {
	return &worker{e: e, byHash: map[uint64]*resEntry{}, byKey: map[resKey]*resEntry{}, infos: map[infoKey]*resInfo{}}
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

// entry returns the cached entry of a resource (h is the hash of res), creating it
// (unresolved) on first sight.
func (wk *worker) entry(h uint64, sub, res string) *resEntry {
	if ent := wk.byHash[h]; ent != nil && ent.res == res && ent.rawSub == sub {
		return ent
	}
	k := resKey{sub, res}
	ent := wk.byKey[k]
	if ent == nil {
		if len(wk.byKey) >= maxCachedResources {
			wk.flushPlans() // the sums held by the resolutions about to be dropped
			clear(wk.byHash)
			clear(wk.byKey)
			clear(wk.infos)
			wk.res.reset() // it refers to the entries just dropped
		}
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
		ent.grantRep = deepest(asciiLower(rk), func(p string) bool { return ix.subScopes[ent.sub][p] })
		ent.cuaRep = deepest(key(rk), func(p string) bool { return len(ix.deploys[p]) > 0 })
		ent.reps = true
	}
	k := infoKey{ent.sub, v, ent.grantRep, ent.cuaRep}
	info := wk.infos[k]
	if info == nil {
		info = wk.e.resolve(&ent.vs[v], ent.sub, ent.grantRep, ent.cuaRep)
		wk.infos[k] = info
	}
	ent.infos[v] = info
	return info
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
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// resolve gathers every association that could credit a location for usage under
// subscription version sv of a resource whose deepest scope with grants is grantRep and
// deepest ID with CUA deployments is cuaRep ("" when there is none), with the time it holds.
// Matching grants against grantRep instead of the resource gives the same grants: every
// grant that covers the resource has a scope that is a prefix of grantRep.
func (e *engine) resolve(sv *estate.Subscription, sub, grantRep, cuaRep string) *resInfo {
	ix := e.ix
	info := &resInfo{tenant: lowerFast(sv.TenantID), sub: sub, offer: string(sv.Offer)}
	for _, v := range e.progs.PEC {
		info.pecOffer = append(info.pecOffer, v.Offers[info.offer])
	}
	for _, v := range e.progs.PAL {
		info.palOffer = append(info.palOffer, v.Offers[info.offer])
	}
	var cs []cand
	add := func(assoc string, li *locInfo, set timeline.Set) bool {
		set = set.Intersect(li.active)
		if len(set) == 0 {
			return false
		}
		cs = append(cs, cand{pal: assoc == AssocPAL, assoc: assoc, slot: sumSlot(li, assoc), li: li, time: newSpan(set)})
		return true
	}
	cspOrg := ""
	if sv.Offer == estate.OfferCSP && sv.CSPLocationID != "" {
		if li := ix.locs[sv.CSPLocationID]; li != nil {
			cspOrg = li.org
			add(AssocCSP, li, timeline.Set{timeline.Always()})
		}
	}
	for _, d := range ix.dporList[sub] {
		if li := ix.locs[d.loc]; li != nil {
			add(AssocDPOR, li, d.set)
		}
	}
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
				add(AssocCUA, li, cua[loc])
			}
		}
	}
	// PAL: per location, the union of its grants' time and, per role, the role's.
	type palAcc struct {
		loc   string
		set   []timeline.Window
		roles map[string][]timeline.Window
	}
	var pal []palAcc
	ix.covering(info.tenant, sub, grantRep, func(g *grant, set timeline.Set) {
		if g.kind != grantPAL {
			return
		}
		k := -1
		for i := range pal {
			if pal[i].loc == g.loc {
				k = i
				break
			}
		}
		if k < 0 {
			pal = append(pal, palAcc{loc: g.loc, roles: map[string][]timeline.Window{}})
			k = len(pal) - 1
		}
		pal[k].set = append(pal[k].set, set...)
		pal[k].roles[g.role] = append(pal[k].roles[g.role], set...)
	})
	for _, a := range pal {
		li := ix.locs[a.loc]
		if li == nil || (cspOrg != "" && li.org == cspOrg) {
			continue // CSP precedence: the reseller's organisation is credited as CSP
		}
		set := timeline.Union(a.set...)
		if !add(AssocPAL, li, set) {
			continue
		}
		set = set.Intersect(li.active)
		c := &cs[len(cs)-1]
		for _, role := range sortedKeys(a.roles) {
			// A role without time here never gives the most coverage: the roles' times
			// together make up the location's time.
			if rs := timeline.Union(a.roles[role]...).Intersect(li.active); len(rs) > 0 {
				if len(c.roles) == 0 && sameSet(rs, set) {
					c.fixed = role // first by name and always the most: always the answer
					break
				}
				c.roles = append(c.roles, roleTime{role, newSpan(rs)})
			}
		}
		if c.fixed != "" {
			c.roles = nil
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].li.id != cs[j].li.id {
			return lessLocation(cs[i].li.id, cs[j].li.id)
		}
		return cs[i].assoc < cs[j].assoc
	})
	for i := range cs {
		cs[i].group = -1
		for j := 0; j < i; j++ {
			if cs[j].li.org == cs[i].li.org && cs[j].assoc == cs[i].assoc {
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
			if set := fullDays(e.orgAccess(li.org, info.tenant, sub, grantRep)).Intersect(li.active); len(set) > 0 {
				info.pec, info.pecSet = li, set
			}
		}
	}
	return info
}
