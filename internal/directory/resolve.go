package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/partnerlink/partnerlink/internal/store"
)

// What a partner ID names. One namespace holds both: an ID is an organisation or a location,
// never both (Put refuses a clash).
const (
	KindLocation     = "location"
	KindOrganisation = "organisation"
)

// Partner is what a partner ID resolves to.
type Partner struct {
	ID    string
	Kind  string // KindLocation or KindOrganisation
	OrgID string // the organisation: ID itself for an organisation
	Name  string // the location's or the organisation's name
}

// Resolve says what a partner ID names. It is the one resolver the API, the dashboard and the
// CLI use to decide whose data an ID reaches. An unknown ID is store.ErrNotFound; a database
// failure is returned as such (never mistaken for "unknown", which callers answer with 403).
func (s Store) Resolve(ctx context.Context, id string) (Partner, error) {
	db := s.DB
	p := Partner{ID: id}
	if err := CheckID(id); err != nil {
		return p, err
	}
	err := db.QueryRowContext(ctx, `SELECT org_id, name FROM partner_locations WHERE id = $1`, id).Scan(&p.OrgID, &p.Name)
	if err == nil {
		p.Kind = KindLocation
		return p, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return p, db.Translate(err)
	}
	err = db.QueryRowContext(ctx, `SELECT name FROM partner_orgs WHERE id = $1`, id).Scan(&p.Name)
	if err == nil {
		p.Kind, p.OrgID = KindOrganisation, id
		return p, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return p, store.NewError(store.ErrNotFound, fmt.Sprintf("partner ID %q is neither a location nor an organisation in the directory", id), nil)
	}
	return p, db.Translate(err)
}

// maxIDLen bounds a partner ID (real ones have 7 digits; no length is enforced below this).
const maxIDLen = 64

// CheckID accepts a partner ID: 1 to 64 letters, digits, '-', '_' or '.'. Real IDs are digits;
// the wider set keeps test and synthetic IDs working, and the narrow one keeps IDs safe in
// paths, flags (comma lists) and tokens. An empty ID is never valid: it would match nothing in
// the directory, and an empty entry in a token must never match anything either.
func CheckID(id string) error {
	if id == "" {
		return store.NewError(store.ErrInvalid, "the partner ID is empty; give a location or organisation ID such as 4100001", nil)
	}
	if len(id) > maxIDLen {
		return store.NewError(store.ErrInvalid, fmt.Sprintf("partner ID %.20q... is %d characters long; IDs have at most %d", id, len(id), maxIDLen), nil)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return store.NewError(store.ErrInvalid, fmt.Sprintf("partner ID %q has the character %q; IDs hold letters, digits, '-', '_' and '.' only", id, c), nil)
		}
	}
	return nil
}
