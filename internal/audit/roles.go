package audit

import (
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// RoleKey is the lower-case GUID of a role definition ID (bare or a full ARM ID).
func RoleKey(id string) string {
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	return strings.ToLower(id)
}

// roleBook answers whether a principal holds any role that counts for recognition: the
// hygiene check for linked identities that can never earn anything. It asks attribution's
// eligibility rule and ignores scope, PIM activation and group-membership times on purpose:
// a principal with any eligible assignment in the period can earn, and explain says where
// and when it does not.
type roleBook struct {
	eligible    map[string]bool                     // role key -> counts for recognition
	groups      map[string][]string                 // tenant/member -> groups
	assignments map[string][]*access.RoleAssignment // tenant/principal -> its assignments
	delegations map[string][]*access.Delegation     // managing tenant -> delegations
}

func newRoleBook(s *facts.Snapshot) *roleBook {
	rb := &roleBook{eligible: map[string]bool{}, groups: map[string][]string{}, assignments: map[string][]*access.RoleAssignment{},
		delegations: map[string][]*access.Delegation{}}
	for i := range s.Assignments {
		a := &s.Assignments[i]
		k := lower(a.TenantID) + "/" + lower(a.PrincipalID)
		rb.assignments[k] = append(rb.assignments[k], a)
	}
	for i := range s.Delegations {
		d := &s.Delegations[i]
		rb.delegations[lower(d.ManagingTenantID)] = append(rb.delegations[lower(d.ManagingTenantID)], d)
	}
	for _, d := range s.RoleDefinitions {
		if ok, _ := attribution.Eligible(d, s.EligibilityOverrides); ok {
			rb.eligible[RoleKey(d.ID)] = true
		}
	}
	for _, m := range s.Memberships {
		k := lower(m.TenantID) + "/" + lower(m.MemberID)
		rb.groups[k] = append(rb.groups[k], lower(m.GroupID))
	}
	return rb
}

// who is the principal and every group it is a member of, directly or through groups.
func (rb *roleBook) who(tenant, principal string) set {
	out := set{principal: true}
	queue := []string{principal}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, g := range rb.groups[tenant+"/"+x] {
			if !out[g] {
				out[g] = true
				queue = append(queue, g)
			}
		}
	}
	return out
}

// holdsEligible reports whether the principal of tenant (lower case) has, in w, an assignment
// in its tenant, or a Lighthouse authorisation of a delegation its tenant manages, whose role
// counts for recognition.
func (rb *roleBook) holdsEligible(tenant, principal string, w timeline.Window) bool {
	who := rb.who(tenant, principal)
	for x := range who {
		for _, a := range rb.assignments[tenant+"/"+x] {
			if a.Valid.Overlaps(w) && rb.eligible[RoleKey(a.RoleDefinitionID)] {
				return true
			}
		}
	}
	for _, d := range rb.delegations[tenant] {
		if !d.Valid.Overlaps(w) {
			continue
		}
		for _, au := range d.Authorizations {
			if who[lower(au.PrincipalID)] && au.Valid.Overlaps(w) && rb.eligible[RoleKey(au.RoleDefinitionID)] {
				return true
			}
		}
	}
	return false
}

// assignment finds an assignment or delegation by ID (the chains of explain name either).
func assignmentByID(s *facts.Snapshot, id string) (*access.RoleAssignment, *access.Delegation) {
	for i := range s.Assignments {
		if s.Assignments[i].ID == id {
			return &s.Assignments[i], nil
		}
	}
	for i := range s.Delegations {
		if s.Delegations[i].ID == id {
			return nil, &s.Delegations[i]
		}
	}
	return nil, nil
}
