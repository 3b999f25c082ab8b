package directory

import (
	"context"
	"database/sql"
	"sort"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// LoadFacts returns every organisation, ordered by ID, with its tenants and locations, each
// location with its active windows that overlap w: the directory's part of a facts.Snapshot. A
// location with no windows stored is active at all times and gets one window covering all time,
// so readers need no special case.
func LoadFacts(ctx context.Context, q store.Querier, w timeline.Window) ([]Organisation, error) {
	orgs := map[string]*Organisation{}
	var order []string
	err := store.Each(ctx, q, `SELECT id, name FROM partner_orgs ORDER BY id`, nil, func(r *sql.Rows) error {
		o := &Organisation{}
		err := r.Scan(&o.ID, &o.Name)
		orgs[o.ID] = o
		order = append(order, o.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = store.Each(ctx, q, `SELECT org_id, tenant_id FROM partner_org_tenants ORDER BY org_id, tenant_id`, nil, func(r *sql.Rows) error {
		var org, tenant string
		if err := r.Scan(&org, &tenant); err != nil {
			return err
		}
		if o := orgs[org]; o != nil {
			o.TenantIDs = append(o.TenantIDs, tenant)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	active := map[string][]timeline.Window{}
	seen := map[string]bool{}
	err = store.Each(ctx, q, `SELECT location_id, valid_from, valid_to FROM partner_location_active ORDER BY location_id, valid_from`, nil, func(r *sql.Rows) error {
		var id string
		var a timeline.Window
		if err := r.Scan(&id, &a.From, &a.To); err != nil {
			return err
		}
		seen[id] = true
		if a.Overlaps(w) {
			active[id] = append(active[id], a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = store.Each(ctx, q, `SELECT id, org_id, name, country FROM partner_locations ORDER BY id`, nil, func(r *sql.Rows) error {
		var loc Location
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
	if err != nil {
		return nil, err
	}
	var out []Organisation
	for _, id := range order {
		o := orgs[id]
		sort.Slice(o.Locations, func(i, j int) bool { return o.Locations[i].ID < o.Locations[j].ID })
		out = append(out, *o)
	}
	return out, nil
}
