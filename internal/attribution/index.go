package attribution

import (
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// grantKind says how a grant gives access.
type grantKind int

const (
	grantPAL        grantKind = iota // a principal linked to a location holds an eligible role
	grantAOBO                        // a ForeignGroup from one of the organisation's tenants
	grantLighthouse                  // a Lighthouse authorisation from one of the organisation's tenants
)

// grant is "org (and, for PAL, location) holds role on scope during set" in one customer
// tenant. It is the unit of the index: everything per record is a lookup of grants.
type grant struct {
	kind     grantKind
	loc      string // PAL only
	org      string
	scopeKey string
	set      timeline.Set
	role     string
	// provenance for explain
	principal  string // linked (or foreign / authorised) principal
	via        string // group through which the principal holds the role, "" if direct
	assignment string // role assignment or delegation ID
}

type tenantGrants struct {
	root  []*grant
	mg    map[string][]*grant // management group ID -> grants
	bySub map[string][]*grant // subscription ID -> grants at or below it
}

type locInfo struct {
	id, org string
	active  timeline.Set
	idx     int // position in index.locList: ComputeSums adds up per location by it
	orgIdx  int // the organisation as a number (same number, same organisation)
	rank    int // position in lessLocation's order, so that sorting compares numbers
}

type locSet struct {
	loc string
	set timeline.Set
}

type deployment struct {
	loc string
	at  int64
}

// index is everything the engine needs about the estate for one period. It is built once and
// read concurrently by the workers: its size depends on the estate, never on usage volume.
type index struct {
	locs       map[string]*locInfo
	locList    []*locInfo
	orgTenants map[string]map[string]bool // org -> its own tenant IDs
	subs       map[string][]estate.Subscription
	subMG      map[string]map[string]timeline.Set // sub -> management group -> time it is an ancestor
	subMGList  map[string][]locSet                // the same sorted by group (locSet.loc = group ID)
	dpor       map[string]map[string]timeline.Set // sub -> location -> time it is DPOR
	dporList   map[string][]locSet                // the same, sorted by location
	deploys    map[string][]deployment            // resource key -> deployments with a known GUID
	// deployRoots holds idRoot of every key of deploys: an ID whose root is not here has no
	// deployment on it or on a scope above it, so resolution need not walk it.
	deployRoots map[string]bool
	grants      map[string]*tenantGrants   // customer tenant -> grants
	subScopes   map[string]map[string]bool // subscription -> scope keys of grants at or below it
	roleNames   map[string]string          // role definition key -> name
	v2          *v2index                   // version 2: identifiers and resale
}

// idRoot is an ID up to the end of its second segment ("/subscriptions/<id>"), or the
// whole ID when it has fewer. Every prefix of k that ends before a '/' and has two segments
// or more has k's root; the shorter ones are their own roots.
func idRoot(k string) string {
	n := 0
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			if n++; n == 3 {
				return k[:i]
			}
		}
	}
	return k
}

func lower(s string) string { return scope.Lower(s) }

func (ix *index) tenant(t string) *tenantGrants {
	tg := ix.grants[t]
	if tg == nil {
		tg = &tenantGrants{mg: map[string][]*grant{}, bySub: map[string][]*grant{}}
		ix.grants[t] = tg
	}
	return tg
}

func (ix *index) add(tenant string, g *grant) {
	if len(g.set) == 0 {
		return
	}
	tg := ix.tenant(tenant)
	kind, id := classify(g.scopeKey, tenant)
	switch kind {
	case scopeRoot:
		tg.root = append(tg.root, g)
	case scopeMG:
		tg.mg[id] = append(tg.mg[id], g)
	case scopeSub:
		tg.bySub[id] = append(tg.bySub[id], g)
	}
}

type memberEdge struct {
	group string
	set   timeline.Set
}

type roleVersion struct {
	name string
	from int64        // start of the version the name comes from (the latest wins)
	set  timeline.Set // when the definition exists and is eligible
}

// linksPerPart is how many link spans make it worth a goroutine of their own when the index
// is built (a variable so that tests split even a few links).
var linksPerPart = 4096

// build constructs the index from a snapshot.
func build(s *facts.Snapshot) *index {
	ix := &index{
		locs:       map[string]*locInfo{},
		orgTenants: map[string]map[string]bool{},
		subs:       map[string][]estate.Subscription{},
		subMG:      map[string]map[string]timeline.Set{},
		dpor:       map[string]map[string]timeline.Set{},
		deploys:    map[string][]deployment{},
		grants:     map[string]*tenantGrants{},
		roleNames:  map[string]string{},
	}
	orgIdx := map[string]int{}
	for _, o := range s.Organisations {
		ts := map[string]bool{}
		for _, t := range o.TenantIDs {
			ts[lower(t)] = true
		}
		ix.orgTenants[o.ID] = ts
		for _, l := range o.Locations {
			org := l.OrgID
			if org == "" {
				org = o.ID
			}
			if _, ok := orgIdx[org]; !ok {
				orgIdx[org] = len(orgIdx)
			}
			li := &locInfo{id: l.ID, org: org, active: timeline.Union(l.Active...), idx: len(ix.locList), orgIdx: orgIdx[org]}
			ix.locs[l.ID] = li
			ix.locList = append(ix.locList, li)
		}
	}
	byID := slices.Clone(ix.locList)
	slices.SortFunc(byID, func(a, b *locInfo) int {
		switch {
		case lessLocation(a.id, b.id):
			return -1
		case lessLocation(b.id, a.id):
			return 1
		}
		return 0
	})
	for r, li := range byID {
		li.rank = r
	}
	for _, sub := range s.Subscriptions {
		id := lower(sub.ID)
		ix.subs[id] = append(ix.subs[id], sub)
	}
	for id := range ix.subs {
		vs := ix.subs[id]
		sort.SliceStable(vs, func(a, b int) bool { return vs[a].Valid.From < vs[b].Valid.From })
	}
	// Management-group ancestry of each subscription over time.
	type mgKey struct{ tenant, id string }
	mgs := map[mgKey][]estate.ManagementGroup{}
	for _, m := range s.ManagementGroups {
		k := mgKey{lower(m.TenantID), lower(m.ID)}
		mgs[k] = append(mgs[k], m)
	}
	for id, vs := range ix.subs {
		anc := map[string]timeline.Set{}
		var walk func(tenant, mg string, set timeline.Set, depth int)
		walk = func(tenant, mg string, set timeline.Set, depth int) {
			if mg == "" || len(set) == 0 || depth > 64 || mg == tenant {
				return
			}
			anc[mg] = timeline.Union(append(anc[mg], set...)...)
			for _, v := range mgs[mgKey{tenant, mg}] {
				walk(tenant, lower(v.ParentID), set.Clip(v.Valid), depth+1)
			}
		}
		for _, v := range vs {
			walk(lower(v.TenantID), lower(v.ManagementGroupID), timeline.Union(v.Valid), 0)
		}
		if len(anc) > 0 {
			ix.subMG[id] = anc
		}
	}
	for _, d := range s.DPOR {
		sub := lower(d.SubscriptionID)
		m := ix.dpor[sub]
		if m == nil {
			m = map[string]timeline.Set{}
			ix.dpor[sub] = m
		}
		m[d.LocationID] = m[d.LocationID].Add(d.Valid)
	}
	ix.subMGList = map[string][]locSet{}
	for sub, m := range ix.subMG {
		for _, mg := range sortedKeys(m) {
			ix.subMGList[sub] = append(ix.subMGList[sub], locSet{mg, m[mg]})
		}
	}
	ix.dporList = map[string][]locSet{}
	for sub, m := range ix.dpor {
		for _, loc := range sortedKeys(m) {
			ix.dporList[sub] = append(ix.dporList[sub], locSet{loc, m[loc]})
		}
	}
	guids := map[string]string{}
	for _, t := range s.TrackingIDs {
		guids[lower(t.GUID)] = t.LocationID
	}
	for _, d := range s.Deployments {
		if loc, ok := guids[lower(d.TrackingGUID)]; ok {
			k := key(d.ResourceID)
			ix.deploys[k] = append(ix.deploys[k], deployment{loc: loc, at: d.At})
		}
	}
	ix.deployRoots = map[string]bool{}
	for k := range ix.deploys {
		ix.deployRoots[idRoot(k)] = true
	}

	// Roles: when each definition is eligible.
	roles := map[string]roleVersion{}
	for _, def := range s.RoleDefinitions {
		k := roleKey(def.ID)
		rv := roles[k]
		if rv.name == "" || def.Valid.From >= rv.from {
			rv.name, rv.from = def.RoleName, def.Valid.From
		}
		if ok, _ := eligibleRole(def, s.EligibilityOverrides); ok {
			rv.set = rv.set.Add(def.Valid)
		}
		roles[k] = rv
		ix.roleNames[k] = rv.name
	}

	// Group membership edges per tenant.
	edges := map[string]map[string][]memberEdge{} // tenant -> member -> edges
	for _, m := range s.Memberships {
		t := lower(m.TenantID)
		if edges[t] == nil {
			edges[t] = map[string][]memberEdge{}
		}
		mem := lower(m.MemberID)
		edges[t][mem] = append(edges[t][mem], memberEdge{group: lower(m.GroupID), set: timeline.Union(m.Valid)})
	}
	groupsOf := func(tenant, x string) map[string]timeline.Set {
		return closure(edges[tenant], x)
	}

	// Assignments per tenant and principal, with the time they grant an eligible role.
	type held struct {
		a              *access.RoleAssignment
		set            timeline.Set
		scopeKey, role string // a's, as its grants carry them
	}
	byPrincipal := map[string]map[string][]held{} // tenant -> principal -> assignments
	for i := range s.Assignments {
		a := &s.Assignments[i]
		set := timeline.Union(a.Valid)
		if a.Kind != access.Active {
			set = set.Intersect(timeline.Union(a.Activations...))
		}
		set = set.Intersect(roles[roleKey(a.RoleDefinitionID)].set)
		if len(set) == 0 {
			continue
		}
		t := lower(a.TenantID)
		if byPrincipal[t] == nil {
			byPrincipal[t] = map[string][]held{}
		}
		p := lower(a.PrincipalID)
		byPrincipal[t][p] = append(byPrincipal[t][p], held{a: a, set: set, scopeKey: key(a.Scope), role: ix.roleNames[roleKey(a.RoleDefinitionID)]})
	}
	// holds lists, for principal x in tenant t, every assignment x holds (directly or through
	// a group) and when, intersected with within.
	// It only reads, so links are worked through in parallel.
	holds := func(t, x string, within timeline.Set, emit func(h *held, via string, set timeline.Set)) {
		hs := byPrincipal[t][x]
		for i := range hs {
			if set := hs[i].set.Intersect(within); len(set) > 0 {
				emit(&hs[i], "", set)
			}
		}
		gs := groupsOf(t, x)
		for _, g := range sortedKeys(gs) {
			hs := byPrincipal[t][g]
			for i := range hs {
				if set := hs[i].set.Intersect(gs[g]).Intersect(within); len(set) > 0 {
					emit(&hs[i], g, set)
				}
			}
		}
	}
	// authorised lists Lighthouse authorisations naming x (directly or through a group of the
	// managing tenant) with an eligible role.
	type delegAuth struct {
		d    *access.Delegation
		auth access.Authorization
		set  timeline.Set
	}
	var das []delegAuth
	byManaging := map[string][]int{}
	for i := range s.Delegations {
		d := &s.Delegations[i]
		for _, au := range d.Authorizations {
			set := timeline.Union(d.Valid).Clip(au.Valid).Intersect(roles[roleKey(au.RoleDefinitionID)].set)
			if len(set) == 0 {
				continue
			}
			byManaging[lower(d.ManagingTenantID)] = append(byManaging[lower(d.ManagingTenantID)], len(das))
			das = append(das, delegAuth{d, au, set})
		}
	}
	authorised := func(m, x string, within timeline.Set, emit func(da *delegAuth, via string, set timeline.Set)) {
		gs := groupsOf(m, x)
		for _, i := range byManaging[m] {
			da := &das[i]
			p := lower(da.auth.PrincipalID)
			if p == x {
				if set := da.set.Intersect(within); len(set) > 0 {
					emit(da, "", set)
				}
			} else if gset, ok := gs[p]; ok {
				if set := da.set.Intersect(gset).Intersect(within); len(set) > 0 {
					emit(da, p, set)
				}
			}
		}
	}

	// PAL grants: every link span of a principal that holds eligible roles. The spans are
	// worked through in parts, in parallel (the largest part of building the index), and
	// their grants added in the order of the spans.
	type tenantGrant struct {
		tenant string
		g      *grant
	}
	palGrants := func(links []link.Span) []tenantGrant {
		var out []tenantGrant
		for _, sp := range links {
			li := ix.locs[sp.LocationID]
			if li == nil {
				continue // unknown location: earns nothing (explain says the ID is unknown)
			}
			t, x := lower(sp.TenantID), lower(sp.ObjectID)
			within := timeline.Union(sp.Valid)
			holds(t, x, within, func(h *held, via string, set timeline.Set) {
				out = append(out, tenantGrant{t, &grant{kind: grantPAL, loc: li.id, org: li.org, scopeKey: h.scopeKey, set: set,
					role: h.role, principal: x, via: via, assignment: h.a.ID}})
			})
			authorised(t, x, within, func(da *delegAuth, via string, set timeline.Set) {
				out = append(out, tenantGrant{lower(da.d.CustomerTenantID), &grant{kind: grantPAL, loc: li.id, org: li.org,
					scopeKey: key(da.d.Scope), set: set, role: ix.roleNames[roleKey(da.auth.RoleDefinitionID)], principal: x,
					via: via, assignment: da.d.ID}})
			})
		}
		return out
	}
	parts := make([][]tenantGrant, min(runtime.GOMAXPROCS(0), 8, 1+len(s.Links)/linksPerPart))
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(s.Links)/len(parts), (i+1)*len(s.Links)/len(parts)
		wg.Go(func() { parts[i] = palGrants(s.Links[lo:hi]) })
	}
	wg.Wait()
	for _, part := range parts {
		for _, tg := range part {
			ix.add(tg.tenant, tg.g)
		}
	}
	// PEC admin access without a link: AOBO foreign groups and Lighthouse from the
	// organisation's own tenants.
	orgOfTenant := map[string][]string{}
	for _, o := range s.Organisations {
		for t := range ix.orgTenants[o.ID] {
			orgOfTenant[t] = append(orgOfTenant[t], o.ID)
		}
	}
	always := timeline.Set{timeline.Always()}
	for _, p := range s.Principals {
		if p.Type != estate.ForeignGroup {
			continue
		}
		for _, org := range orgOfTenant[lower(p.HomeTenantID)] {
			t, x := lower(p.TenantID), lower(p.ObjectID)
			holds(t, x, always, func(h *held, via string, set timeline.Set) {
				ix.add(t, &grant{kind: grantAOBO, org: org, scopeKey: h.scopeKey, set: set,
					role: h.role, principal: x, via: via, assignment: h.a.ID})
			})
		}
	}
	for i := range das {
		da := &das[i]
		for _, org := range orgOfTenant[lower(da.d.ManagingTenantID)] {
			ix.add(lower(da.d.CustomerTenantID), &grant{kind: grantLighthouse, org: org, scopeKey: key(da.d.Scope), set: da.set,
				role: ix.roleNames[roleKey(da.auth.RoleDefinitionID)], principal: lower(da.auth.PrincipalID), assignment: da.d.ID})
		}
	}
	ix.subScopes = map[string]map[string]bool{}
	for _, tg := range ix.grants {
		for sub, gs := range tg.bySub {
			m := ix.subScopes[sub]
			if m == nil {
				m = map[string]bool{}
				ix.subScopes[sub] = m
			}
			for _, g := range gs {
				m[g.scopeKey] = true
			}
		}
	}
	ix.v2 = buildV2(s, ix)
	return ix
}

// closure returns every group x is a member of, directly or transitively, with the time it is
// one (membership windows intersect along a path; paths union). Cycles terminate because a
// group is revisited only when its set grows.
func closure(edges map[string][]memberEdge, x string) map[string]timeline.Set {
	if len(edges[x]) == 0 {
		return nil
	}
	out := map[string]timeline.Set{}
	type item struct {
		node string
		set  timeline.Set
	}
	queue := []item{{x, timeline.Set{timeline.Always()}}}
	for steps := 0; len(queue) > 0 && steps < 100000; steps++ {
		it := queue[0]
		queue = queue[1:]
		for _, e := range edges[it.node] {
			if e.group == x {
				continue
			}
			add := it.set.Intersect(e.set)
			if len(add) == 0 {
				continue
			}
			old := out[e.group]
			grown := timeline.Union(append(append(timeline.Set{}, old...), add...)...)
			if sameSet(grown, old) {
				continue
			}
			out[e.group] = grown
			queue = append(queue, item{e.group, add})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// subscriptionAt picks the subscription version for a record (see versionAt).
func (ix *index) subscriptionAt(sub string, w timeline.Window) (estate.Subscription, bool) {
	vs := ix.subs[sub]
	if len(vs) == 0 {
		return estate.Subscription{}, false
	}
	return vs[versionAt(vs, w)], true
}

// versionAt is the index of the version for a record's period w: the one valid at its start,
// else the first overlapping it, else the latest. vs is not empty.
func versionAt(vs []estate.Subscription, w timeline.Window) int {
	for i := range vs {
		if vs[i].Valid.Contains(w.From) {
			return i
		}
	}
	for i := range vs {
		if vs[i].Valid.Overlaps(w) {
			return i
		}
	}
	return len(vs) - 1
}

// covering calls fn for every grant of the tenant whose scope covers resource rk (a key or a
// resourceRef) of
// subscription sub, with the time the scope covers it (management groups only while they are
// ancestors).
func (ix *index) covering(tenant, sub, rk string, fn func(g *grant, set timeline.Set)) {
	ix.outerCovering(tenant, sub, fn)
	if tg := ix.grants[tenant]; tg != nil {
		for _, g := range tg.bySub[sub] {
			if prefixCoversFold(g.scopeKey, rk) {
				fn(g, g.set)
			}
		}
	}
}

// outerCovering calls fn for every grant of the tenant on its root and on the management
// groups above subscription sub: the grants that cover all of the subscription.
func (ix *index) outerCovering(tenant, sub string, fn func(g *grant, set timeline.Set)) {
	tg := ix.grants[tenant]
	if tg == nil {
		return
	}
	for _, g := range tg.root {
		fn(g, g.set)
	}
	if len(tg.mg) > 0 {
		for _, a := range ix.subMGList[sub] {
			for _, g := range tg.mg[a.loc] {
				if set := g.set.Intersect(a.set); len(set) > 0 {
					fn(g, set)
				}
			}
		}
	}
}

func sameSet(a, b timeline.Set) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
