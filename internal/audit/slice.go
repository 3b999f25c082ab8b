package audit

import (
	"cmp"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// lower is the canonical form of an ID: trimmed, lower case (scope.Lower).
func lower(s string) string { return scope.Lower(s) }

// set is a set of lower-case IDs.
type set map[string]bool

// Slice returns the facts that attributing the usage of the given customer tenants reads:
// their subscriptions, management groups, principals, memberships, assignments, links and
// CUA deployments; the delegations into them, with the principals, memberships and links of
// the managing tenants; and everything that is not per tenant (organisations, role
// definitions, tracking IDs, eligibility overrides). The engine, explain and the audit give the
// same answers for those tenants' usage on the slice as on the whole estate, on far smaller
// indexes (tested). Slices share the snapshot's nested slices: callers that change a slice
// clone it first.
func Slice(s *facts.Snapshot, tenants map[string]bool) *facts.Snapshot {
	return newTenantIndex(s).slice(tenants)
}

// tenantIndex holds a snapshot's facts by tenant (lower case), to cut many slices.
type tenantIndex struct {
	s           *facts.Snapshot
	tenants     map[string][]estate.Tenant
	delegations map[string][]access.Delegation // by customer tenant
	subs        map[string][]estate.Subscription
	mgs         map[string][]estate.ManagementGroup
	principals  map[string][]estate.Principal
	memberships map[string][]estate.Membership
	assignments map[string][]access.RoleAssignment
	links       map[string][]link.Span
	dpor        map[string][]estate.DPOR       // by subscription
	deployments map[string][]estate.Deployment // by subscription
}

func newTenantIndex(s *facts.Snapshot) *tenantIndex {
	ix := &tenantIndex{s: s, tenants: map[string][]estate.Tenant{}, delegations: map[string][]access.Delegation{},
		subs: map[string][]estate.Subscription{}, mgs: map[string][]estate.ManagementGroup{}, principals: map[string][]estate.Principal{},
		memberships: map[string][]estate.Membership{}, assignments: map[string][]access.RoleAssignment{}, links: map[string][]link.Span{},
		dpor: map[string][]estate.DPOR{}, deployments: map[string][]estate.Deployment{}}
	for _, x := range s.Tenants {
		ix.tenants[lower(x.ID)] = append(ix.tenants[lower(x.ID)], x)
	}
	for _, x := range s.Delegations {
		ix.delegations[lower(x.CustomerTenantID)] = append(ix.delegations[lower(x.CustomerTenantID)], x)
	}
	for _, x := range s.Subscriptions {
		ix.subs[lower(x.TenantID)] = append(ix.subs[lower(x.TenantID)], x)
	}
	for _, x := range s.ManagementGroups {
		ix.mgs[lower(x.TenantID)] = append(ix.mgs[lower(x.TenantID)], x)
	}
	for _, x := range s.Principals {
		ix.principals[lower(x.TenantID)] = append(ix.principals[lower(x.TenantID)], x)
	}
	for _, x := range s.Memberships {
		ix.memberships[lower(x.TenantID)] = append(ix.memberships[lower(x.TenantID)], x)
	}
	for _, x := range s.Assignments {
		ix.assignments[lower(x.TenantID)] = append(ix.assignments[lower(x.TenantID)], x)
	}
	for _, x := range s.Links {
		ix.links[lower(x.TenantID)] = append(ix.links[lower(x.TenantID)], x)
	}
	for _, x := range s.DPOR {
		ix.dpor[lower(x.SubscriptionID)] = append(ix.dpor[lower(x.SubscriptionID)], x)
	}
	for _, x := range s.Deployments {
		if sub, ok := strings.CutPrefix(lower(x.ResourceID), "/subscriptions/"); ok {
			sub, _, _ = strings.Cut(sub, "/")
			ix.deployments[sub] = append(ix.deployments[sub], x)
		}
	}
	return ix
}

// slice is Slice over the index; facts keep the snapshot's order within each tenant.
func (ix *tenantIndex) slice(tenants map[string]bool) *facts.Snapshot {
	s := ix.s
	out := &facts.Snapshot{Organisations: s.Organisations, RoleDefinitions: s.RoleDefinitions, TrackingIDs: s.TrackingIDs,
		EligibilityOverrides: s.EligibilityOverrides}
	customers := sortedKeys(tenants)
	reach := set{}
	for _, t := range customers {
		reach[t] = true
		for _, d := range ix.delegations[t] {
			out.Delegations = append(out.Delegations, d)
			reach[lower(d.ManagingTenantID)] = true
		}
		out.ManagementGroups = append(out.ManagementGroups, ix.mgs[t]...)
		out.Assignments = append(out.Assignments, ix.assignments[t]...)
		out.Subscriptions = append(out.Subscriptions, ix.subs[t]...)
	}
	subs := set{}
	for _, x := range out.Subscriptions {
		id := lower(x.ID)
		if !subs[id] {
			subs[id] = true
			out.DPOR = append(out.DPOR, ix.dpor[id]...)
			out.Deployments = append(out.Deployments, ix.deployments[id]...)
		}
	}
	for _, t := range sortedKeys(reach) {
		out.Tenants = append(out.Tenants, ix.tenants[t]...)
		out.Principals = append(out.Principals, ix.principals[t]...)
		out.Memberships = append(out.Memberships, ix.memberships[t]...)
		out.Links = append(out.Links, ix.links[t]...)
	}
	return out
}

// subTenants holds, per lower-case subscription ID, its versions' tenants: the engine
// attributes a record under the version holding its start (else the first overlapping it, else
// the last), and so does the audit.
type subTenants map[string][]subVersion

type subVersion struct {
	tenant string
	valid  timeline.Window
}

func newSubTenants(s *facts.Snapshot) subTenants {
	out := subTenants{}
	for _, x := range s.Subscriptions {
		id := lower(x.ID)
		out[id] = append(out[id], subVersion{lower(x.TenantID), x.Valid})
	}
	for _, vs := range out {
		slices.SortStableFunc(vs, func(a, b subVersion) int { return cmp.Compare(a.valid.From, b.valid.From) })
	}
	return out
}

// at is the tenant of the subscription for a record over w ("" if unknown).
func (st subTenants) at(sub string, w timeline.Window) string {
	vs := st[sub]
	for _, v := range vs {
		if v.valid.Contains(w.From) {
			return v.tenant
		}
	}
	for _, v := range vs {
		if v.valid.Overlaps(w) {
			return v.tenant
		}
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1].tenant
}
