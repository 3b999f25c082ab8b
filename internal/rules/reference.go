package rules

import (
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Reference is the rules of attribution.md stated as code: every rule evaluated directly at
// each elementary interval of a record's period (between consecutive window boundaries of any
// fact, where nothing changes), with no index. Slow and obvious on purpose. The engine
// (internal/attribution) is an optimisation that must give the same rows as Reference.Record
// for every record; the tests check it on random estates and usage.
type Reference struct {
	Snapshot *facts.Snapshot
	Programs *Programs
	// TagRules are the tag rules in force (nil: Programs' or the shipped ones).
}

type ref struct {
	s     *facts.Snapshot
	progs *Programs
}

// Record returns the attribution and incentive rows of one usage record, sorted by location
// and association (incentives: location and program).
func (x *Reference) Record(r *usage.Record) ([]Row, []Incentive) {
	progs := x.Programs
	if progs == nil {
		progs = DefaultPrograms()
	}
	return (&ref{s: x.Snapshot, progs: progs}).record(r)
}

func (x *ref) boundaries(a, b int64) []int64 {
	pts := map[int64]bool{a: true, b: true}
	addW := func(w timeline.Window) {
		for _, t := range []int64{w.From, w.To} {
			if t > a && t < b {
				pts[t] = true
			}
		}
	}
	s := x.s
	for _, o := range s.Organisations {
		for _, l := range o.Locations {
			for _, w := range l.Active {
				addW(w)
			}
		}
	}
	for _, m := range s.ManagementGroups {
		addW(m.Valid)
	}
	for _, v := range s.Subscriptions {
		addW(v.Valid)
	}
	for _, v := range s.DPOR {
		addW(v.Valid)
	}
	for _, v := range s.Memberships {
		addW(v.Valid)
	}
	for _, v := range s.RoleDefinitions {
		addW(v.Valid)
	}
	for _, v := range s.Assignments {
		addW(v.Valid)
		for _, w := range v.Activations {
			addW(w)
		}
	}
	for _, d := range s.Delegations {
		addW(d.Valid)
		for _, au := range d.Authorizations {
			addW(au.Valid)
		}
	}
	for _, l := range s.Links {
		addW(l.Valid)
	}
	for _, d := range s.Deployments {
		addW(timeline.Window{From: d.At, To: d.At})
	}
	for t := FloorDay(a) + Day; t < b; t += Day {
		pts[t] = true
	}
	var out []int64
	for t := range pts {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func anyContains(ws []timeline.Window, t int64) bool {
	for _, w := range ws {
		if w.Contains(t) {
			return true
		}
	}
	return false
}

func (x *ref) location(id string) (string, []timeline.Window, bool) {
	for _, o := range x.s.Organisations {
		for _, l := range o.Locations {
			if l.ID == id {
				return o.ID, l.Active, true
			}
		}
	}
	return "", nil, false
}

func (x *ref) subAt(sub string, t int64) (estate.Subscription, bool) {
	for _, v := range x.s.Subscriptions {
		if strings.EqualFold(v.ID, sub) && v.Valid.Contains(t) {
			return v, true
		}
	}
	return estate.Subscription{}, false
}

// roleAt is the eligibility and name of a role definition at t.
func (x *ref) roleAt(id string, t int64) (bool, string) {
	var name string
	var from int64 = timeline.Min
	ok := false
	for _, d := range x.s.RoleDefinitions {
		if !strings.EqualFold(RoleKey(d.ID), RoleKey(id)) {
			continue
		}
		if name == "" || d.Valid.From >= from {
			name, from = d.RoleName, d.Valid.From
		}
		if d.Valid.Contains(t) {
			if e, _ := Eligible(d, x.s.EligibilityOverrides); e {
				ok = true
			}
		}
	}
	return ok, name
}

// member reports whether x is (transitively) a member of group g in tenant at t.
func (x *ref) member(tenant, m, g string, t int64, seen map[string]bool) bool {
	if seen[m] {
		return false
	}
	seen[m] = true
	for _, e := range x.s.Memberships {
		if strings.EqualFold(e.TenantID, tenant) && strings.EqualFold(e.MemberID, m) && e.Valid.Contains(t) {
			if strings.EqualFold(e.GroupID, g) || x.member(tenant, e.GroupID, g, t, seen) {
				return true
			}
		}
	}
	return false
}

func (x *ref) is(tenant, p, principal string, t int64) bool {
	return strings.EqualFold(p, principal) || x.member(tenant, p, principal, t, map[string]bool{})
}

func (x *ref) covers(scopeID, tenant, sub, rk string, t int64) bool {
	sk := scope.Key(scopeID)
	kind, id := Classify(sk, tenant)
	switch kind {
	case ScopeRoot:
		return true
	case ScopeMG:
		sv, ok := x.subAt(sub, t)
		if !ok {
			return false
		}
		mg := strings.ToLower(sv.ManagementGroupID)
		for depth := 0; mg != "" && depth < 70; depth++ {
			if mg == id {
				return true
			}
			next := ""
			for _, m := range x.s.ManagementGroups {
				if strings.EqualFold(m.TenantID, tenant) && strings.EqualFold(m.ID, mg) && m.Valid.Contains(t) {
					next = strings.ToLower(m.ParentID)
				}
			}
			mg = next
		}
		return false
	case ScopeSub:
		return scope.PrefixCovers(sk, rk)
	}
	return false
}

// palRoles returns the names of the eligible roles through which location loc is PAL-linked
// to the resource at t (empty: not linked).
func (x *ref) palRoles(loc, tenant, sub, rk string, t int64) map[string]bool {
	out := map[string]bool{}
	for _, l := range x.s.Links {
		if l.LocationID != loc || !l.Valid.Contains(t) {
			continue
		}
		for _, a := range x.s.Assignments {
			if !strings.EqualFold(a.TenantID, tenant) || !strings.EqualFold(l.TenantID, tenant) {
				continue
			}
			if name, ok := x.holdsAt(a, l.ObjectID, tenant, sub, rk, t); ok {
				out[name] = true
			}
		}
		for _, d := range x.s.Delegations {
			if !strings.EqualFold(d.CustomerTenantID, tenant) || !strings.EqualFold(d.ManagingTenantID, l.TenantID) ||
				!d.Valid.Contains(t) || !x.covers(d.Scope, tenant, sub, rk, t) {
				continue
			}
			for _, au := range d.Authorizations {
				if !au.Valid.Contains(t) || !x.is(l.TenantID, l.ObjectID, au.PrincipalID, t) {
					continue
				}
				if ok, name := x.roleAt(au.RoleDefinitionID, t); ok {
					out[name] = true
				}
			}
		}
	}
	return out
}

func (x *ref) holdsAt(a access.RoleAssignment, p, tenant, sub, rk string, t int64) (string, bool) {
	if !a.Valid.Contains(t) || (a.Kind != access.Active && !anyContains(a.Activations, t)) {
		return "", false
	}
	if !x.is(tenant, p, a.PrincipalID, t) || !x.covers(a.Scope, tenant, sub, rk, t) {
		return "", false
	}
	ok, name := x.roleAt(a.RoleDefinitionID, t)
	return name, ok
}

func (x *ref) orgAccess(org, tenant, sub, rk string, t int64) bool {
	var tenants []string
	for _, o := range x.s.Organisations {
		if o.ID == org {
			tenants = o.TenantIDs
			for _, l := range o.Locations {
				if len(x.palRoles(l.ID, tenant, sub, rk, t)) > 0 {
					return true
				}
			}
		}
	}
	mine := func(tid string) bool {
		for _, m := range tenants {
			if strings.EqualFold(m, tid) {
				return true
			}
		}
		return false
	}
	for _, p := range x.s.Principals {
		if p.Type != estate.ForeignGroup || !strings.EqualFold(p.TenantID, tenant) || !mine(p.HomeTenantID) {
			continue
		}
		for _, a := range x.s.Assignments {
			if strings.EqualFold(a.TenantID, tenant) {
				if _, ok := x.holdsAt(a, p.ObjectID, tenant, sub, rk, t); ok {
					return true
				}
			}
		}
	}
	for _, d := range x.s.Delegations {
		if !strings.EqualFold(d.CustomerTenantID, tenant) || !mine(d.ManagingTenantID) || !d.Valid.Contains(t) || !x.covers(d.Scope, tenant, sub, rk, t) {
			continue
		}
		for _, au := range d.Authorizations {
			if au.Valid.Contains(t) {
				if ok, _ := x.roleAt(au.RoleDefinitionID, t); ok {
					return true
				}
			}
		}
	}
	return false
}

func (x *ref) record(r *usage.Record) ([]Row, []Incentive) {
	if r.ChargeCategory != usage.CategoryUsage || r.End <= r.Start {
		return nil, nil
	}
	v2rows, _ := x.version2(r)
	if !usage.IsMicrosoft(ProviderID(r)) {
		// PAL, CSP, DPOR, CUA and PEC/PAL apply to microsoft records only.
		return x.finish(r, v2rows, nil)
	}
	sub := strings.ToLower(r.SubscriptionID)
	var vs []estate.Subscription
	for _, v := range x.s.Subscriptions {
		if strings.EqualFold(v.ID, sub) {
			vs = append(vs, v)
		}
	}
	sort.SliceStable(vs, func(a, b int) bool { return vs[a].Valid.From < vs[b].Valid.From })
	if len(vs) == 0 {
		return x.finish(r, v2rows, nil) // unknown subscription: TAG and MARKETPLACE need no estate entry
	}
	sv := vs[SubscriptionVersion(vs, timeline.Window{From: r.Start, To: r.End})]
	tenant := strings.ToLower(sv.TenantID)
	rk := ResourceKey(r.ResourceID, sub)
	pts := x.boundaries(r.Start, r.End)
	type acc struct {
		covered int64
		roles   map[string]int64
	}
	res := map[[2]string]*acc{}
	credit := func(assoc, loc string, n int64, roles map[string]bool) {
		k := [2]string{assoc, loc}
		a := res[k]
		if a == nil {
			a = &acc{roles: map[string]int64{}}
			res[k] = a
		}
		a.covered += n
		for role := range roles {
			a.roles[role] += n
		}
	}
	var locs []string
	for _, o := range x.s.Organisations {
		for _, l := range o.Locations {
			locs = append(locs, l.ID)
		}
	}
	cspOrg := ""
	if sv.Offer == estate.OfferCSP && sv.CSPLocationID != "" {
		cspOrg, _, _ = x.location(sv.CSPLocationID)
	}
	for i := 0; i+1 < len(pts); i++ {
		t, n := pts[i], pts[i+1]-pts[i]
		for _, loc := range locs {
			org, active, _ := x.location(loc)
			if !anyContains(active, t) {
				continue
			}
			if loc == sv.CSPLocationID && sv.Offer == estate.OfferCSP {
				credit(AssocCSP, loc, n, nil)
			}
			for _, d := range x.s.DPOR {
				if strings.EqualFold(d.SubscriptionID, sub) && d.LocationID == loc && d.Valid.Contains(t) {
					credit(AssocDPOR, loc, n, nil)
					break
				}
			}
			cua := false
			for _, d := range x.s.Deployments {
				for _, g := range x.s.TrackingIDs {
					if strings.EqualFold(g.GUID, d.TrackingGUID) && g.LocationID == loc && d.At <= t && scope.PrefixCovers(scope.Key(d.ResourceID), rk) {
						cua = true
					}
				}
			}
			if cua {
				credit(AssocCUA, loc, n, nil)
			}
			if cspOrg != "" && org == cspOrg {
				continue
			}
			if roles := x.palRoles(loc, tenant, sub, rk, t); len(roles) > 0 {
				credit(AssocPAL, loc, n, roles)
			}
		}
	}
	var rows []Row
	length := r.End - r.Start
	for k, a := range res {
		if a.covered == 0 {
			continue
		}
		org, _, _ := x.location(k[1])
		role := ""
		if k[0] == AssocPAL {
			var best int64 = -1
			var names []string
			for n := range a.roles {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if a.roles[n] > best {
					role, best = n, a.roles[n]
				}
			}
		}
		rows = append(rows, Row{RecordKey: r.Key, LocationID: k[1], Association: k[0], OrgID: org, Start: r.Start, End: r.End,
			TenantID: tenant, SubscriptionID: sub, ResourceID: r.ResourceID, Service: r.Service, Currency: r.Currency,
			Cost: r.Cost, Coverage: money.Ratio(a.covered, length), Amount: money.MulDiv(r.Cost, a.covered, length), AdminRole: role})
	}
	// duplicate_at_org: lowest location ID per organisation and association.
	for i := range rows {
		for j := range rows {
			if i != j && rows[i].OrgID == rows[j].OrgID && rows[i].Association == rows[j].Association && LessLocation(rows[j].LocationID, rows[i].LocationID) {
				rows[i].DuplicateAtOrg = true
			}
		}
	}
	var incs []Incentive
	// PEC.
	if v := At(x.progs.PEC, r.Start); v != nil && v.Offers[string(sv.Offer)] && sv.CSPLocationID != "" && PECExclusion(r.PricingCategory, r.CommitmentDiscountID, r.Publisher, r.Provider) == "" {
		if org, active, ok := x.location(sv.CSPLocationID); ok {
			var q int64
			for d := FloorDay(r.Start); d < r.End; d += Day {
				dpts := x.boundaries(d, d+Day)
				full := true
				for i := 0; i+1 < len(dpts); i++ {
					if !x.orgAccess(org, tenant, sub, rk, dpts[i]) {
						full = false
						break
					}
				}
				if !full {
					continue
				}
				for i := 0; i+1 < len(pts); i++ {
					if pts[i] >= d && pts[i] < d+Day && anyContains(active, pts[i]) {
						q += pts[i+1] - pts[i]
					}
				}
			}
			if q > 0 {
				incs = append(incs, Incentive{RecordKey: r.Key, LocationID: sv.CSPLocationID, Program: ProgramPEC, OrgID: org,
					ProgramVersion: v.Version, Start: r.Start, Currency: r.Currency, Amount: money.MulDiv2(r.Cost, int64(v.Rate), money.Scale, q, length)})
			}
		}
	}
	if v := At(x.progs.PAL, r.Start); v != nil && v.Offers[string(sv.Offer)] {
		orgs := map[string]bool{}
		for _, row := range rows {
			if row.Association == AssocPAL {
				orgs[row.OrgID] = true
			}
		}
		rate := v.RateMulti
		if len(orgs) == 1 {
			rate = v.RateSingle
		}
		for _, row := range rows {
			if row.Association == AssocPAL && !row.DuplicateAtOrg {
				incs = append(incs, Incentive{RecordKey: r.Key, LocationID: row.LocationID, Program: ProgramPAL, OrgID: row.OrgID,
					ProgramVersion: v.Version, Start: r.Start, Currency: r.Currency, Amount: money.MulDiv(row.Amount, int64(rate), money.Scale)})
			}
		}
	}
	return x.finish(r, append(rows, v2rows...), incs)
}

// SortRows sorts rows by record key, location (LessLocation) and association.
func SortRows(rows []Row) {
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.RecordKey != b.RecordKey {
			return a.RecordKey < b.RecordKey
		}
		if a.LocationID != b.LocationID {
			return LessLocation(a.LocationID, b.LocationID)
		}
		return a.Association < b.Association
	})
}

// SortIncentives sorts incentive rows by record key, location and program.
func SortIncentives(incs []Incentive) {
	sort.Slice(incs, func(i, j int) bool {
		a, b := incs[i], incs[j]
		if a.RecordKey != b.RecordKey {
			return a.RecordKey < b.RecordKey
		}
		if a.LocationID != b.LocationID {
			return LessLocation(a.LocationID, b.LocationID)
		}
		return a.Program < b.Program
	})
}
