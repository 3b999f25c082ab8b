package facts

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of s: changing the copy (a what-if) never changes s. Strings are
// shared, being immutable.
func (s *Snapshot) Clone() *Snapshot {
	c := &Snapshot{
		Tenants:              slices.Clone(s.Tenants),
		ManagementGroups:     slices.Clone(s.ManagementGroups),
		Subscriptions:        slices.Clone(s.Subscriptions),
		DPOR:                 slices.Clone(s.DPOR),
		Principals:           slices.Clone(s.Principals),
		Memberships:          slices.Clone(s.Memberships),
		Links:                slices.Clone(s.Links),
		TrackingIDs:          slices.Clone(s.TrackingIDs),
		Deployments:          slices.Clone(s.Deployments),
		EligibilityOverrides: maps.Clone(s.EligibilityOverrides),
		Identifiers:          slices.Clone(s.Identifiers),
	}
	for _, a := range s.Accounts {
		a.Resale = slices.Clone(a.Resale)
		c.Accounts = append(c.Accounts, a)
	}
	for _, o := range s.Organisations {
		o.TenantIDs = slices.Clone(o.TenantIDs)
		o.Locations = slices.Clone(o.Locations)
		for i := range o.Locations {
			o.Locations[i].Active = slices.Clone(o.Locations[i].Active)
		}
		c.Organisations = append(c.Organisations, o)
	}
	for _, d := range s.RoleDefinitions {
		d.Permissions = slices.Clone(d.Permissions)
		for i := range d.Permissions {
			p := &d.Permissions[i]
			p.Actions, p.NotActions = slices.Clone(p.Actions), slices.Clone(p.NotActions)
			p.DataActions, p.NotDataActions = slices.Clone(p.DataActions), slices.Clone(p.NotDataActions)
		}
		c.RoleDefinitions = append(c.RoleDefinitions, d)
	}
	for _, a := range s.Assignments {
		a.Activations = slices.Clone(a.Activations)
		c.Assignments = append(c.Assignments, a)
	}
	for _, d := range s.Delegations {
		d.Authorizations = slices.Clone(d.Authorizations)
		c.Delegations = append(c.Delegations, d)
	}
	return c
}
