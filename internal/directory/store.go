package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Store is the only code that reads or writes the directory's tables (partner_orgs,
// partner_locations, partner_location_active, partner_org_tenants), apart from the functions of
// this package that take a store.Querier or store.Loader for a caller's transaction (Linkable,
// LoadFacts, the tables the estate import loads) and the SQL expressions of sql.go.
type Store struct {
	DB *store.DB
}

// Put creates or replaces an organisation with its tenants, locations and their active windows,
// in one transaction. A location without windows is stored with none, which readers treat as
// "active at all times" (the estate-file convention). Locations of the organisation that are not
// in org.Locations are kept: link history refers to them, so they are never deleted here.
func (s Store) Put(ctx context.Context, org Organisation) error {
	if err := validate(org); err != nil {
		return err
	}
	db := s.DB
	return db.Translate(db.Tx(ctx, func(tx *sql.Tx) error {
		if err := oneNamespace(ctx, tx, org); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO partner_orgs (id, name) VALUES ($1, $2)
ON CONFLICT (id) DO UPDATE SET name = excluded.name`, org.ID, org.Name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM partner_org_tenants WHERE org_id = $1`, org.ID); err != nil {
			return err
		}
		for _, t := range org.TenantIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO partner_org_tenants (org_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, org.ID, strings.ToLower(t)); err != nil {
				return err
			}
		}
		for _, l := range org.Locations {
			var owner string
			err := tx.QueryRowContext(ctx, `SELECT org_id FROM partner_locations WHERE id = $1`, l.ID).Scan(&owner)
			if err == nil && owner != org.ID {
				return store.NewError(store.ErrConflict, fmt.Sprintf("location %s belongs to organisation %s; a location cannot move between organisations", l.ID, owner), nil)
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO partner_locations (id, org_id, name, country) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET name = excluded.name, country = excluded.country`, l.ID, org.ID, l.Name, l.Country); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM partner_location_active WHERE location_id = $1`, l.ID); err != nil {
				return err
			}
			for _, w := range l.Active {
				if _, err := tx.ExecContext(ctx, `INSERT INTO partner_location_active (location_id, valid_from, valid_to) VALUES ($1, $2, $3)`, l.ID, w.From, w.To); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

// oneNamespace refuses an organisation ID that is already a location's, and a location ID that
// is already an organisation's: links and tokens name partners by ID alone, so an ID that named
// both would send one partner's links and reports to the other.
func oneNamespace(ctx context.Context, tx *sql.Tx, org Organisation) error {
	var owner, name string
	err := tx.QueryRowContext(ctx, `SELECT l.org_id, COALESCE(o.name, '') FROM partner_locations l LEFT JOIN partner_orgs o ON o.id = l.org_id WHERE l.id = $1`, org.ID).Scan(&owner, &name)
	if err == nil {
		return store.NewError(store.ErrConflict, fmt.Sprintf("organisation ID %s is already a location of organisation %s (%s); an ID names an organisation or a location, never both: give the organisation another ID", org.ID, owner, name), nil)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	for _, l := range org.Locations {
		err := tx.QueryRowContext(ctx, `SELECT name FROM partner_orgs WHERE id = $1`, l.ID).Scan(&name)
		if err == nil {
			return store.NewError(store.ErrConflict, fmt.Sprintf("location ID %s of organisation %s is already the ID of organisation %s (%s); an ID names an organisation or a location, never both: give the location another ID", l.ID, org.ID, l.ID, name), nil)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	return nil
}

func validate(org Organisation) error {
	if strings.TrimSpace(org.ID) == "" {
		return store.NewError(store.ErrInvalid, "organisation id is empty; give the partner's organisation (PGA) ID", nil)
	}
	if err := CheckID(org.ID); err != nil {
		return err
	}
	if strings.TrimSpace(org.Name) == "" {
		return store.NewError(store.ErrInvalid, fmt.Sprintf("organisation %s has no name", org.ID), nil)
	}
	if !printable(org.Name) {
		return store.NewError(store.ErrInvalid, fmt.Sprintf("organisation %s: name %q holds a control character or invalid UTF-8", org.ID, org.Name), nil)
	}
	seen := map[string]bool{}
	for i, l := range org.Locations {
		if strings.TrimSpace(l.ID) == "" {
			return store.NewError(store.ErrInvalid, fmt.Sprintf("organisation %s: locations[%d].id is empty", org.ID, i), nil)
		}
		if err := CheckID(l.ID); err != nil {
			return store.NewError(store.ErrInvalid, fmt.Sprintf("organisation %s: locations[%d]: %s", org.ID, i, err), nil)
		}
		if !printable(l.Name) || !printable(l.Country) {
			return store.NewError(store.ErrInvalid, fmt.Sprintf("organisation %s: locations[%d] name %q or country %q holds a control character or invalid UTF-8", org.ID, i, l.Name, l.Country), nil)
		}
		if l.ID == org.ID {
			return store.NewError(store.ErrInvalid, fmt.Sprintf("organisation %s: locations[%d].id equals the organisation ID; locations need their own IDs", org.ID, i), nil)
		}
		if seen[l.ID] {
			return store.NewError(store.ErrInvalid, fmt.Sprintf("organisation %s: location %s is listed twice", org.ID, l.ID), nil)
		}
		seen[l.ID] = true
		for j, w := range l.Active {
			if w.Empty() {
				return store.NewError(store.ErrInvalid, fmt.Sprintf("organisation %s: locations[%d].active[%d] is empty (from %s is not before to %s)",
					org.ID, i, j, timeline.FormatBound(w.From), timeline.FormatBound(w.To)), nil)
			}
		}
	}
	return nil
}

// List returns every organisation with its tenants and locations (each with the windows stored
// for it: none means active at all times), ordered by ID.
func (s Store) List(ctx context.Context) ([]Organisation, error) {
	orgs, err := load(ctx, s.DB, "")
	return orgs, s.DB.Translate(err)
}

// Get returns one organisation, or store.ErrNotFound.
func (s Store) Get(ctx context.Context, orgID string) (*Organisation, error) {
	orgs, err := load(ctx, s.DB, orgID)
	if err != nil {
		return nil, s.DB.Translate(err)
	}
	if len(orgs) == 0 {
		return nil, store.NewError(store.ErrNotFound, fmt.Sprintf("no partner organisation has the ID %s", orgID), nil)
	}
	return &orgs[0], nil
}

func load(ctx context.Context, q store.Querier, only string) ([]Organisation, error) {
	filter, args := "", []any{}
	if only != "" {
		filter, args = " WHERE id = $1", []any{only}
	}
	var orgs []Organisation
	index := map[string]int{}
	err := store.Each(ctx, q, `SELECT id, name FROM partner_orgs`+filter+` ORDER BY id`, args, func(r *sql.Rows) error {
		var o Organisation
		if err := r.Scan(&o.ID, &o.Name); err != nil {
			return err
		}
		index[o.ID] = len(orgs)
		orgs = append(orgs, o)
		return nil
	})
	if err != nil || len(orgs) == 0 {
		return orgs, err
	}
	orgFilter := strings.Replace(filter, "id", "org_id", 1)
	err = store.Each(ctx, q, `SELECT org_id, tenant_id FROM partner_org_tenants`+orgFilter+` ORDER BY org_id, tenant_id`, args, func(r *sql.Rows) error {
		var org, t string
		if err := r.Scan(&org, &t); err != nil {
			return err
		}
		if i, ok := index[org]; ok {
			orgs[i].TenantIDs = append(orgs[i].TenantIDs, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var locs []Location
	err = store.Each(ctx, q, `SELECT id, org_id, name, country FROM partner_locations`+orgFilter+` ORDER BY id`, args, func(r *sql.Rows) error {
		var l Location
		if err := r.Scan(&l.ID, &l.OrgID, &l.Name, &l.Country); err != nil {
			return err
		}
		locs = append(locs, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	windows, err := activeWindows(ctx, q, orgFilter, args)
	if err != nil {
		return nil, err
	}
	for _, l := range locs {
		l.Active = windows[l.ID]
		if i, ok := index[l.OrgID]; ok {
			orgs[i].Locations = append(orgs[i].Locations, l)
		}
	}
	return orgs, nil
}

func activeWindows(ctx context.Context, q store.Querier, orgFilter string, args []any) (map[string][]timeline.Window, error) {
	query := `SELECT a.location_id, a.valid_from, a.valid_to FROM partner_location_active a`
	if orgFilter != "" {
		query += ` JOIN partner_locations l ON l.id = a.location_id WHERE l.org_id = $1`
	}
	out := map[string][]timeline.Window{}
	err := store.Each(ctx, q, query+` ORDER BY a.location_id, a.valid_from`, args, func(r *sql.Rows) error {
		var id string
		var w timeline.Window
		if err := r.Scan(&id, &w.From, &w.To); err != nil {
			return err
		}
		out[id] = append(out[id], w)
		return nil
	})
	return out, err
}

// printable reports text fit for names: valid UTF-8 without control characters (a NUL is
// refused by PostgreSQL and would be stored by SQLite: the engines must not differ).
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f })
}
