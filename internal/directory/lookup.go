package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// NotLinkableError says why an ID cannot be linked, in words a partner can act on.
type NotLinkableError struct {
	ID     string
	Reason string
	// Organisation is set when ID is an organisation's (links take one of its locations).
	Organisation bool
}

func (e *NotLinkableError) Error() string { return e.Reason }

// Linkable returns the location with id if a principal may link to it at instant at: it must be
// a location (not an organisation) and active then.
func Linkable(ctx context.Context, q store.Querier, id string, at int64) (*Location, error) {
	// One query for the location and its status windows: a link write calls this on every
	// request, and on PostgreSQL each query is a round trip.
	rows, err := q.QueryContext(ctx, `SELECT l.id, l.org_id, l.name, l.country, a.valid_from, a.valid_to
		FROM partner_locations l LEFT JOIN partner_location_active a ON a.location_id = l.id
		WHERE l.id = $1 ORDER BY a.valid_from`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var loc Location
	found, seen := false, false
	var last timeline.Window
	for rows.Next() {
		var from, to sql.NullInt64
		if err := rows.Scan(&loc.ID, &loc.OrgID, &loc.Name, &loc.Country, &from, &to); err != nil {
			return nil, err
		}
		found = true
		if !from.Valid {
			continue // no status windows
		}
		w := timeline.Window{From: from.Int64, To: to.Int64}
		seen = true
		loc.Active = append(loc.Active, w)
		if w.Contains(at) {
			return &loc, nil
		}
		if w.To <= at {
			last = w
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		rows.Close()
		return nil, notLocation(ctx, q, id)
	}
	if !seen {
		return &loc, nil // no status windows: always active
	}
	if last.To != 0 {
		return nil, &NotLinkableError{ID: id, Reason: fmt.Sprintf("partner location %s (%s) has been inactive since %s; link an active location of your organisation", id, loc.Name, timeline.Format(last.To))}
	}
	return nil, &NotLinkableError{ID: id, Reason: fmt.Sprintf("partner location %s (%s) is not active yet", id, loc.Name)}
}

func notLocation(ctx context.Context, q store.Querier, id string) error {
	var name string
	err := q.QueryRowContext(ctx, `SELECT name FROM partner_orgs WHERE id = $1`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return &NotLinkableError{ID: id, Reason: fmt.Sprintf("no partner location has the ID %s; use the location ID (not the organisation ID) shown for your location in the partner directory or Partner Center's legal info", id)}
	}
	if err != nil {
		return err
	}
	rows, err := q.QueryContext(ctx, `SELECT id, name FROM partner_locations WHERE org_id = $1 ORDER BY id`, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	var locs []string
	for rows.Next() {
		var lid, lname string
		if err := rows.Scan(&lid, &lname); err != nil {
			return err
		}
		locs = append(locs, lid+" ("+lname+")")
	}
	return &NotLinkableError{ID: id, Reason: fmt.Sprintf("%s is the organisation ID of %s; links take a location ID: %s", id, name, strings.Join(locs, ", ")), Organisation: true}
}
