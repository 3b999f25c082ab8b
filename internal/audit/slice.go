package audit

import (
	"cmp"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// set is a set of lower-case IDs.
type set map[string]bool

// Slice returns the facts that attributing the usage of the given customer tenants reads:
// their subscriptions, management groups, principals, memberships, assignments and links;
// the delegations into them, with the principals, memberships and links of the managing
// tenants; and everything that is not per tenant (organisations, role definitions, CUA,
// eligibility overrides). The engine, explain and the audit give the same answers for those
// tenants' usage on the slice as on the whole estate, on far smaller indexes (tested).
// Slices share the snapshot's nested slices: callers that change a slice clone it first.
func Slice(s *facts.Snapshot, tenants map[string]bool) *facts.Snapshot {
	reach := set{}
	for t := range tenants {
		reach[t] = true
	}
	out := &facts.Snapshot{Organisations: s.Organisations, RoleDefinitions: s.RoleDefinitions, TrackingIDs: s.TrackingIDs,
		Deployments: s.Deployments, EligibilityOverrides: s.EligibilityOverrides}
	for _, d := range s.Delegations {
		if tenants[lower(d.CustomerTenantID)] {
			out.Delegations = append(out.Delegations, d)
			reach[lower(d.ManagingTenantID)] = true
		}
	}
	subs := set{}
	for _, x := range s.Subscriptions {
		if tenants[lower(x.TenantID)] {
			out.Subscriptions = append(out.Subscriptions, x)
			subs[lower(x.ID)] = true
		}
	}
	for _, d := range s.DPOR {
		if subs[lower(d.SubscriptionID)] {
			out.DPOR = append(out.DPOR, d)
		}
	}
	for _, t := range s.Tenants {
		if reach[lower(t.ID)] {
			out.Tenants = append(out.Tenants, t)
		}
	}
	for _, m := range s.ManagementGroups {
		if tenants[lower(m.TenantID)] {
			out.ManagementGroups = append(out.ManagementGroups, m)
		}
	}
	for _, p := range s.Principals {
		if reach[lower(p.TenantID)] {
			out.Principals = append(out.Principals, p)
		}
	}
	for _, m := range s.Memberships {
		if reach[lower(m.TenantID)] {
			out.Memberships = append(out.Memberships, m)
		}
	}
	for _, a := range s.Assignments {
		if tenants[lower(a.TenantID)] {
			out.Assignments = append(out.Assignments, a)
		}
	}
	for _, l := range s.Links {
		if reach[lower(l.TenantID)] {
			out.Links = append(out.Links, l)
		}
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
