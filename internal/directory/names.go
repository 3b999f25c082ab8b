package directory

import (
	"context"
	"database/sql"

	"github.com/partnerlink/partnerlink/internal/store"
)

// LocationNames returns every location with its organisation and name (no country, no
// windows), ordered by organisation and ID: what reports show next to a location ID.
func LocationNames(ctx context.Context, q store.Querier) ([]Location, error) {
	var out []Location
	err := store.Each(ctx, q, `SELECT id, org_id, name FROM partner_locations ORDER BY org_id, id`, nil, func(r *sql.Rows) error {
		var l Location
		err := r.Scan(&l.ID, &l.OrgID, &l.Name)
		out = append(out, l)
		return err
	})
	return out, err
}

// OrgNames maps every organisation's ID to its name.
func OrgNames(ctx context.Context, q store.Querier) (map[string]string, error) {
	out := map[string]string{}
	err := store.Each(ctx, q, `SELECT id, name FROM partner_orgs`, nil, func(r *sql.Rows) error {
		var id, n string
		if err := r.Scan(&id, &n); err != nil {
			return err
		}
		out[id] = n
		return nil
	})
	return out, err
}
