package facts

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Load reads every fact whose window overlaps w (timeline.Always() for the whole history),
// in a deterministic order. A location with no status windows is active at all times, and is
// returned with one window covering all time, so readers need no special case.
func Load(ctx context.Context, q store.Querier, w timeline.Window) (*Snapshot, error) {
	s := &Snapshot{EligibilityOverrides: map[string]bool{}}
	l := loader{ctx: ctx, q: q, from: w.From, to: w.To}
	l.organisations(s)
	l.each(`SELECT id, name FROM tenants ORDER BY id`, nil, func(r *sql.Rows) error {
		var t estate.Tenant
		err := r.Scan(&t.ID, &t.Name)
		s.Tenants = append(s.Tenants, t)
		return err
	})
	l.windowed(`SELECT tenant_id, id, parent_id, valid_from, valid_to FROM management_groups`, `tenant_id, id, valid_from`, func(r *sql.Rows) error {
		var m estate.ManagementGroup
		err := r.Scan(&m.TenantID, &m.ID, &m.ParentID, &m.Valid.From, &m.Valid.To)
		s.ManagementGroups = append(s.ManagementGroups, m)
		return err
	})
	l.windowed(`SELECT id, tenant_id, name, offer, management_group_id, csp_location_id, valid_from, valid_to FROM subscriptions`, `id, valid_from`, func(r *sql.Rows) error {
		var x estate.Subscription
		var offer string
		err := r.Scan(&x.ID, &x.TenantID, &x.Name, &offer, &x.ManagementGroupID, &x.CSPLocationID, &x.Valid.From, &x.Valid.To)
		x.Offer = estate.Offer(offer)
		s.Subscriptions = append(s.Subscriptions, x)
		return err
	})
	l.windowed(`SELECT subscription_id, location_id, valid_from, valid_to FROM subscription_dpor`, `subscription_id, valid_from`, func(r *sql.Rows) error {
		var d estate.DPOR
		err := r.Scan(&d.SubscriptionID, &d.LocationID, &d.Valid.From, &d.Valid.To)
		s.DPOR = append(s.DPOR, d)
		return err
	})
	l.windowed(`SELECT tenant_id, object_id, type, display_name, home_tenant_id, valid_from, valid_to FROM principals`, `tenant_id, object_id, valid_from`, func(r *sql.Rows) error {
		var p estate.Principal
		var typ string
		err := r.Scan(&p.TenantID, &p.ObjectID, &typ, &p.DisplayName, &p.HomeTenantID, &p.Valid.From, &p.Valid.To)
		p.Type = estate.PrincipalType(typ)
		s.Principals = append(s.Principals, p)
		return err
	})
	l.windowed(`SELECT tenant_id, member_id, group_id, valid_from, valid_to FROM group_memberships`, `tenant_id, member_id, group_id, valid_from`, func(r *sql.Rows) error {
		var m estate.Membership
		err := r.Scan(&m.TenantID, &m.MemberID, &m.GroupID, &m.Valid.From, &m.Valid.To)
		s.Memberships = append(s.Memberships, m)
		return err
	})
	l.windowed(`SELECT id, role_name, role_type, permissions, valid_from, valid_to FROM role_definitions`, `id, valid_from`, func(r *sql.Rows) error {
		var d access.RoleDefinition
		var perms string
		if err := r.Scan(&d.ID, &d.RoleName, &d.RoleType, &perms, &d.Valid.From, &d.Valid.To); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(perms), &d.Permissions); err != nil {
			return fmt.Errorf("role definition %s: stored permissions are not JSON: %w", d.ID, err)
		}
		s.RoleDefinitions = append(s.RoleDefinitions, d)
		return nil
	})
	activations := map[string][]timeline.Window{}
	l.windowed(`SELECT assignment_id, valid_from, valid_to FROM pim_activations`, `assignment_id, valid_from`, func(r *sql.Rows) error {
		var id string
		var a timeline.Window
		err := r.Scan(&id, &a.From, &a.To)
		activations[id] = append(activations[id], a)
		return err
	})
	type versionEnd struct {
		id string
		to int64
	}
	closures := map[versionEnd]*access.Closure{}
	l.each(`SELECT assignment_id, closed_at, import_id, source, file_name FROM assignment_closures`, nil, func(r *sql.Rows) error {
		var k versionEnd
		c := &access.Closure{}
		err := r.Scan(&k.id, &k.to, &c.ImportID, &c.Source, &c.File)
		closures[k] = c
		return err
	})
	l.windowed(`SELECT id, tenant_id, principal_id, role_definition_id, scope, kind, valid_from, valid_to FROM role_assignments`, `id, valid_from`, func(r *sql.Rows) error {
		var a access.RoleAssignment
		var kind string
		err := r.Scan(&a.ID, &a.TenantID, &a.PrincipalID, &a.RoleDefinitionID, &a.Scope, &kind, &a.Valid.From, &a.Valid.To)
		a.Kind = access.Kind(kind)
		if a.Kind == access.Eligible {
			a.Activations = activations[a.ID]
		}
		a.ClosedBy = closures[versionEnd{a.ID, a.Valid.To}]
		s.Assignments = append(s.Assignments, a)
		return err
	})
	auths := map[string][]access.Authorization{}
	l.windowed(`SELECT delegation_id, principal_id, role_definition_id, valid_from, valid_to FROM delegation_authorizations`, `delegation_id, principal_id, role_definition_id, valid_from`, func(r *sql.Rows) error {
		var id string
		var a access.Authorization
		err := r.Scan(&id, &a.PrincipalID, &a.RoleDefinitionID, &a.Valid.From, &a.Valid.To)
		auths[id] = append(auths[id], a)
		return err
	})
	l.windowed(`SELECT id, customer_tenant_id, scope, managing_tenant_id, valid_from, valid_to FROM delegations`, `id, valid_from`, func(r *sql.Rows) error {
		var d access.Delegation
		err := r.Scan(&d.ID, &d.CustomerTenantID, &d.Scope, &d.ManagingTenantID, &d.Valid.From, &d.Valid.To)
		d.Authorizations = auths[d.ID]
		s.Delegations = append(s.Delegations, d)
		return err
	})
	l.windowed(`SELECT tenant_id, object_id, location_id, valid_from, valid_to FROM link_spans`, `tenant_id, object_id, valid_from`, func(r *sql.Rows) error {
		var sp link.Span
		err := r.Scan(&sp.TenantID, &sp.ObjectID, &sp.LocationID, &sp.Valid.From, &sp.Valid.To)
		s.Links = append(s.Links, sp)
		return err
	})
	l.each(`SELECT guid, location_id FROM tracking_ids ORDER BY guid`, nil, func(r *sql.Rows) error {
		var t estate.TrackingID
		err := r.Scan(&t.GUID, &t.LocationID)
		s.TrackingIDs = append(s.TrackingIDs, t)
		return err
	})
	// Deployments before the period's end matter (CUA counts from the deployment on).
	l.each(`SELECT resource_id, tracking_guid, at FROM deployments WHERE at < $1 ORDER BY resource_key, at, tracking_guid`, []any{w.To}, func(r *sql.Rows) error {
		var d estate.Deployment
		err := r.Scan(&d.ResourceID, &d.TrackingGUID, &d.At)
		s.Deployments = append(s.Deployments, d)
		return err
	})
	l.each(`SELECT role_name, eligible FROM role_eligibility_overrides ORDER BY role_name`, nil, func(r *sql.Rows) error {
		var name string
		var ok store.Bool
		err := r.Scan(&name, &ok)
		s.EligibilityOverrides[name] = bool(ok)
		return err
	})
	if l.err != nil {
		return nil, fmt.Errorf("loading facts: %w", l.err)
	}
	return s, nil
}

type loader struct {
	ctx      context.Context
	q        store.Querier
	from, to int64
	err      error
}

func (l *loader) each(query string, args []any, fn func(*sql.Rows) error) {
	if l.err != nil {
		return
	}
	rows, err := l.q.QueryContext(l.ctx, query, args...)
	if err != nil {
		l.err = err
		return
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			l.err = err
			return
		}
	}
	l.err = rows.Err()
}

// windowed reads the rows of query whose window overlaps the loader's, ordered by order.
func (l *loader) windowed(query, order string, fn func(*sql.Rows) error) {
	l.each(query+` WHERE valid_from < $1 AND valid_to > $2 ORDER BY `+order, []any{l.to, l.from}, fn)
}

func (l *loader) organisations(s *Snapshot) {
	orgs := map[string]*directory.Organisation{}
	var order []string
	l.each(`SELECT id, name FROM partner_orgs ORDER BY id`, nil, func(r *sql.Rows) error {
		o := &directory.Organisation{}
		err := r.Scan(&o.ID, &o.Name)
		orgs[o.ID] = o
		order = append(order, o.ID)
		return err
	})
	l.each(`SELECT org_id, tenant_id FROM partner_org_tenants ORDER BY org_id, tenant_id`, nil, func(r *sql.Rows) error {
		var org, tenant string
		if err := r.Scan(&org, &tenant); err != nil {
			return err
		}
		if o := orgs[org]; o != nil {
			o.TenantIDs = append(o.TenantIDs, tenant)
		}
		return nil
	})
	active := map[string][]timeline.Window{}
	seen := map[string]bool{}
	l.each(`SELECT location_id, valid_from, valid_to FROM partner_location_active ORDER BY location_id, valid_from`, nil, func(r *sql.Rows) error {
		var id string
		var w timeline.Window
		if err := r.Scan(&id, &w.From, &w.To); err != nil {
			return err
		}
		seen[id] = true
		if w.Overlaps(timeline.Window{From: l.from, To: l.to}) {
			active[id] = append(active[id], w)
		}
		return nil
	})
	l.each(`SELECT id, org_id, name, country FROM partner_locations ORDER BY id`, nil, func(r *sql.Rows) error {
		var loc directory.Location
		if err := r.Scan(&loc.ID, &loc.OrgID, &loc.Name, &loc.Country); err != nil {
			return err
		}
		loc.Active = active[loc.ID]
		if !seen[loc.ID] {
			loc.Active = []timeline.Window{timeline.Always()}
		}
		if o := orgs[loc.OrgID]; o != nil {
			o.Locations = append(o.Locations, loc)
		}
		return nil
	})
	for _, id := range order {
		o := orgs[id]
		sort.Slice(o.Locations, func(i, j int) bool { return o.Locations[i].ID < o.Locations[j].ID })
		s.Organisations = append(s.Organisations, *o)
	}
}
