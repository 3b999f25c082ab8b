package whatif

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/audit"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// DeniedError is a change the caller may not simulate (the API answers 403).
type DeniedError struct{ Msg string }

func (e *DeniedError) Error() string { return e.Msg }

// Caller is who asks. A partner may simulate only changes to its own links and identities:
// links to its own locations, and principals linked to them (or linked by an earlier change
// of the same set). An operator may simulate anything.
type Caller struct {
	Operator   bool
	PartnerIDs []string // location or organisation IDs a partner speaks for
}

func lower(s string) string { return scope.Lower(s) }

// applier applies changes to a copy of the facts.
type applier struct {
	s       *facts.Snapshot
	caller  Caller
	own     map[string]bool // locations of the caller (partners)
	owned   map[string]bool // tenant/object of principals linked to them
	touched map[string]bool // tenants whose attribution the changes may change
	n       int
}

// Apply returns a copy of s with the changes applied in order, and the customer tenants whose
// usage they may change (the tenant of each change, and the tenants that delegate to it
// through Lighthouse). s is not changed. Errors name the change (changes[i], as in a
// change-set file) and the fix; a change the caller may not make is a *DeniedError.
func Apply(s *facts.Snapshot, changes []Change, caller Caller) (*facts.Snapshot, map[string]bool, error) {
	a := &applier{s: s.Clone(), caller: caller, own: map[string]bool{}, owned: map[string]bool{}, touched: map[string]bool{}}
	for _, o := range s.Organisations {
		for _, l := range o.Locations {
			if slices.Contains(caller.PartnerIDs, l.ID) || slices.Contains(caller.PartnerIDs, o.ID) {
				a.own[l.ID] = true
			}
		}
	}
	for _, l := range s.Links {
		if a.own[l.LocationID] {
			a.owned[lower(l.TenantID)+"/"+lower(l.ObjectID)] = true
		}
	}
	for i, c := range changes {
		if err := c.check(); err != nil {
			return nil, nil, fmt.Errorf("changes[%d] (%s): %v", i, c, err)
		}
		if err := a.apply(c); err != nil {
			var d *DeniedError
			if errors.As(err, &d) {
				return nil, nil, &DeniedError{fmt.Sprintf("changes[%d] (%s): %s", i, c, d.Msg)}
			}
			return nil, nil, store.NewError(store.ErrInvalid, fmt.Sprintf("changes[%d] (%s): %v", i, c, err), nil)
		}
	}
	return a.s, a.touched, nil
}

func (a *applier) apply(c Change) error {
	w, _ := c.window()
	t, o := lower(c.Tenant), lower(c.Object)
	who := t + "/" + o
	if !a.caller.Operator {
		switch {
		case c.Op == OpAddLink && !a.own[c.Location]:
			return &DeniedError{fmt.Sprintf("location %s is not one of yours; a partner may simulate links to its own locations only", c.Location)}
		case c.Op != OpAddLink && !a.owned[who]:
			return &DeniedError{fmt.Sprintf("principal %s is not linked to any of your locations; a partner may simulate changes to its own linked identities only", who)}
		}
	}
	p, err := a.principal(t, o)
	if err != nil {
		return err
	}
	a.touch(t)
	switch c.Op {
	case OpAddLink:
		if p.Type == estate.Group || p.Type == estate.ForeignGroup {
			return fmt.Errorf("%s is a group; groups cannot be linked: link the users or service principals that hold its roles", who)
		}
		if err := a.location(c.Location); err != nil {
			return err
		}
		a.s.Links = clipLinks(a.s.Links, t, o, w)
		a.s.Links = append(a.s.Links, link.Span{TenantID: p.TenantID, ObjectID: p.ObjectID, LocationID: c.Location, Valid: w})
		if a.own[c.Location] {
			a.owned[who] = true
		}
	case OpRemoveLink:
		if !a.linkedIn(t, o, w) {
			return fmt.Errorf("%s has no link in that time to remove", who)
		}
		a.s.Links = clipLinks(a.s.Links, t, o, w)
	case OpAddAssignment:
		role, err := a.role(c.Role)
		if err != nil {
			return err
		}
		sc, err := scope.Parse(c.Scope)
		if err != nil {
			return err
		}
		kind := access.Active
		if c.Eligible {
			kind = access.Eligible
		}
		a.n++
		a.s.Assignments = append(a.s.Assignments, access.RoleAssignment{ID: fmt.Sprintf("whatif-%d", a.n), TenantID: p.TenantID, PrincipalID: p.ObjectID,
			RoleDefinitionID: role.ID, Scope: sc.Raw, Kind: kind, Valid: w})
	case OpActivate:
		role, err := a.role(c.Role)
		if err != nil {
			return err
		}
		found := false
		for i := range a.s.Assignments {
			x := &a.s.Assignments[i]
			if lower(x.TenantID) == t && lower(x.PrincipalID) == o && x.Kind == access.Eligible && audit.RoleKey(x.RoleDefinitionID) == audit.RoleKey(role.ID) &&
				scope.Key(x.Scope) == scope.Key(c.Scope) && x.Valid.Overlaps(w) {
				x.Activations = append(slices.Clone(x.Activations), w)
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s has no eligible (PIM) assignment of %s at %s in that time; add one with --add-assignment %s:%s@%s:eligible",
				who, c.Role, c.Scope, who, c.Role, c.Scope)
		}
	case OpRemovePrincipal:
		a.s.Links = clipLinks(a.s.Links, t, o, w)
		var as []access.RoleAssignment
		for _, x := range a.s.Assignments {
			if lower(x.TenantID) != t || lower(x.PrincipalID) != o {
				as = append(as, x)
				continue
			}
			for _, part := range outside(x.Valid, w) {
				x.Valid = part
				as = append(as, x)
			}
		}
		a.s.Assignments = as
		var ms []estate.Membership
		for _, m := range a.s.Memberships {
			if lower(m.TenantID) != t || (lower(m.MemberID) != o && lower(m.GroupID) != o) {
				ms = append(ms, m)
				continue
			}
			for _, part := range outside(m.Valid, w) {
				m.Valid = part
				ms = append(ms, m)
			}
		}
		a.s.Memberships = ms
		for i := range a.s.Delegations {
			d := &a.s.Delegations[i]
			if lower(d.ManagingTenantID) != t {
				continue
			}
			var auths []access.Authorization
			for _, au := range d.Authorizations {
				if lower(au.PrincipalID) != o {
					auths = append(auths, au)
					continue
				}
				for _, part := range outside(au.Valid, w) {
					au.Valid = part
					auths = append(auths, au)
				}
			}
			d.Authorizations = auths
		}
	}
	return nil
}

// principal finds tenant/object in the estate: a change needs a principal the estate knows.
func (a *applier) principal(t, o string) (*estate.Principal, error) {
	for i := range a.s.Principals {
		p := &a.s.Principals[i]
		if lower(p.TenantID) == t && lower(p.ObjectID) == o {
			return p, nil
		}
	}
	return nil, fmt.Errorf("principal %s/%s is not in the estate; import it first (import estate)", t, o)
}

func (a *applier) location(id string) error {
	for _, o := range a.s.Organisations {
		if o.ID == id {
			var ids []string
			for _, l := range o.Locations {
				ids = append(ids, l.ID)
			}
			return fmt.Errorf("%s is the organisation ID of %s; links take a location ID: %s", id, o.Name, strings.Join(ids, ", "))
		}
		for _, l := range o.Locations {
			if l.ID == id {
				return nil
			}
		}
	}
	return fmt.Errorf("no partner location has the ID %s", id)
}

func (a *applier) role(name string) (access.RoleDefinition, error) {
	for _, d := range a.s.RoleDefinitions {
		if audit.RoleKey(d.ID) == audit.RoleKey(name) || strings.EqualFold(d.RoleName, strings.TrimSpace(name)) {
			return d, nil
		}
	}
	return access.RoleDefinition{}, fmt.Errorf("role %q is not a role definition of the estate; give its name (e.g. Contributor) or definition ID", name)
}

func (a *applier) linkedIn(t, o string, w timeline.Window) bool {
	for _, l := range a.s.Links {
		if lower(l.TenantID) == t && lower(l.ObjectID) == o && l.Valid.Overlaps(w) {
			return true
		}
	}
	return false
}

// touch marks tenant t and the tenants delegating to it (its linked principals count there).
func (a *applier) touch(t string) {
	a.touched[t] = true
	for _, d := range a.s.Delegations {
		if lower(d.ManagingTenantID) == t {
			a.touched[lower(d.CustomerTenantID)] = true
		}
	}
}

// clipLinks removes window w from the link spans of tenant/object (one link per principal and
// tenant: a new link replaces the old one while it holds).
func clipLinks(spans []link.Span, t, o string, w timeline.Window) []link.Span {
	var out []link.Span
	for _, l := range spans {
		if lower(l.TenantID) != t || lower(l.ObjectID) != o {
			out = append(out, l)
			continue
		}
		for _, part := range outside(l.Valid, w) {
			l.Valid = part
			out = append(out, l)
		}
	}
	return out
}

// outside is the part of v outside cut: none, one or two windows.
func outside(v, cut timeline.Window) []timeline.Window {
	if !v.Overlaps(cut) {
		return []timeline.Window{v}
	}
	var out []timeline.Window
	if v.From < cut.From {
		out = append(out, timeline.Window{From: v.From, To: cut.From})
	}
	if cut.To < v.To {
		out = append(out, timeline.Window{From: cut.To, To: v.To})
	}
	return out
}
