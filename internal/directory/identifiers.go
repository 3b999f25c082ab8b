package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/table"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Identifier schemes of attribution.md version 2. An operator may use schemes of its own
// (any name without spaces); the shipped tag rules resolve to these.
const (
	SchemeAWSProductCode        = "aws-product-code"
	SchemeAWSRevenueAttribution = "aws-revenue-attribution"
	SchemeGCPSolution           = "gcp-solution"
	SchemePublisher             = "publisher"
)

// Identifier is one version of what a location is known by in another program: an AWS
// product code or revenue attribution ID, a Google Cloud solution URN, a marketplace
// publisher's name. One (scheme, value) names at most one location at any time; values
// compare trimmed and case-insensitively (IdentifierKey).
type Identifier struct {
	Scheme     string
	Value      string // as given (trimmed)
	LocationID string
	Window     timeline.Window
}

// IdentifiersTable is partner_identifiers, for the estate import's generic diff: an entity is
// a (scheme, value_key); its versions name a location each.
var IdentifiersTable = &table.Table{Name: "partner_identifiers", Key: []string{"scheme", "value_key"}, Values: []string{"value", "location_id"}, Windowed: true}

// IdentifierKey is the form identifier values are compared in: trimmed, lower case.
func IdentifierKey(v string) string { return strings.ToLower(strings.TrimSpace(v)) }

// CheckScheme accepts a scheme: a non-empty name without white space.
func CheckScheme(s string) error {
	if s == "" || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return store.NewError(store.ErrInvalid, fmt.Sprintf("scheme %q must be a name without spaces, such as %s, %s, %s or %s",
			s, SchemeAWSProductCode, SchemeAWSRevenueAttribution, SchemeGCPSolution, SchemePublisher), nil)
	}
	return nil
}

// IdentifierFilter selects identifiers: of a location, of every location of an organisation,
// of a scheme, or (zero) every one.
type IdentifierFilter struct {
	LocationID, OrgID, Scheme string
}

// Identifiers lists identifier versions, ordered by scheme, value and start.
func (s Store) Identifiers(ctx context.Context, f IdentifierFilter) ([]Identifier, error) {
	q := `SELECT i.scheme, i.value, i.location_id, i.valid_from, i.valid_to FROM partner_identifiers i`
	var where []string
	var args []any
	if f.OrgID != "" {
		q += ` JOIN partner_locations l ON l.id = i.location_id`
		args = append(args, f.OrgID)
		where = append(where, fmt.Sprintf("l.org_id = $%d", len(args)))
	}
	if f.LocationID != "" {
		args = append(args, f.LocationID)
		where = append(where, fmt.Sprintf("i.location_id = $%d", len(args)))
	}
	if f.Scheme != "" {
		args = append(args, strings.ToLower(f.Scheme))
		where = append(where, fmt.Sprintf("i.scheme = $%d", len(args)))
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY i.scheme, i.value_key, i.valid_from`
	out, err := scanIdentifiers(ctx, s.DB, q, args)
	return out, s.DB.Translate(err)
}

func scanIdentifiers(ctx context.Context, q store.Querier, query string, args []any) ([]Identifier, error) {
	var out []Identifier
	err := store.Each(ctx, q, query, args, func(r *sql.Rows) error {
		var id Identifier
		if err := r.Scan(&id.Scheme, &id.Value, &id.LocationID, &id.Window.From, &id.Window.To); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	return out, err
}

// LoadIdentifierFacts returns every identifier version overlapping w, ordered by scheme,
// value and start: the directory's version 2 part of a facts.Snapshot.
func LoadIdentifierFacts(ctx context.Context, q store.Querier, w timeline.Window) ([]Identifier, error) {
	all, err := scanIdentifiers(ctx, q, `SELECT scheme, value, location_id, valid_from, valid_to FROM partner_identifiers ORDER BY scheme, value_key, valid_from`, nil)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, id := range all {
		if id.Window.Overlaps(w) {
			out = append(out, id)
		}
	}
	return out, nil
}

// PutIdentifier stores one identifier version: it names location id.LocationID over
// id.Window. A version of the same (scheme, value) starting at the same instant is replaced
// (that is how a window is closed or extended); any other version of it that overlaps the
// window is refused, naming the location it belongs to, so (scheme, value) never names two
// locations at once. An organisation ID is refused with its locations listed.
func (s Store) PutIdentifier(ctx context.Context, id Identifier) error {
	id.Scheme = strings.ToLower(strings.TrimSpace(id.Scheme))
	id.Value = strings.TrimSpace(id.Value)
	if err := CheckScheme(id.Scheme); err != nil {
		return err
	}
	if id.Value == "" {
		return store.NewError(store.ErrInvalid, "the identifier's value is empty", nil)
	}
	if id.Window.Empty() {
		return store.NewError(store.ErrInvalid, fmt.Sprintf("identifier %s %q: the window is empty (from %s is not before to %s)",
			id.Scheme, id.Value, timeline.FormatBound(id.Window.From), timeline.FormatBound(id.Window.To)), nil)
	}
	if err := CheckID(id.LocationID); err != nil {
		return err
	}
	db := s.DB
	key := IdentifierKey(id.Value)
	return db.Translate(db.Tx(ctx, func(tx *sql.Tx) error {
		if err := mustBeLocation(ctx, tx, id.LocationID, "an identifier"); err != nil {
			return err
		}
		others, err := scanIdentifiers(ctx, tx, `SELECT scheme, value, location_id, valid_from, valid_to FROM partner_identifiers WHERE scheme = $1 AND value_key = $2 AND valid_from <> $3 ORDER BY valid_from`,
			[]any{id.Scheme, key, id.Window.From})
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.Window.Overlaps(id.Window) {
				return store.NewError(store.ErrConflict, fmt.Sprintf("identifier %s %q already names location %s from %s to %s; one (scheme, value) names one location at a time: close that window first (or start this one at its end)",
					id.Scheme, id.Value, o.LocationID, timeline.FormatBound(o.Window.From), timeline.FormatBound(o.Window.To)), nil)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM partner_identifiers WHERE scheme = $1 AND value_key = $2 AND valid_from = $3`, id.Scheme, key, id.Window.From); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO partner_identifiers (scheme, value_key, value, location_id, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6)`,
			id.Scheme, key, id.Value, id.LocationID, id.Window.From, id.Window.To)
		return err
	}))
}

// CloseIdentifier ends the version of (scheme, value) in force at `at`: history is kept, the
// window ends at `at`. A version that would become empty (it starts at `at` or later) is
// deleted. Nothing in force at `at` is store.ErrNotFound.
func (s Store) CloseIdentifier(ctx context.Context, scheme, value string, at int64) (Identifier, error) {
	scheme, key := strings.ToLower(strings.TrimSpace(scheme)), IdentifierKey(value)
	db := s.DB
	var cur Identifier
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		vs, err := scanIdentifiers(ctx, tx, `SELECT scheme, value, location_id, valid_from, valid_to FROM partner_identifiers WHERE scheme = $1 AND value_key = $2 AND valid_from <= $3 AND valid_to > $3`,
			[]any{scheme, key, at})
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return store.NewError(store.ErrNotFound, fmt.Sprintf("no identifier %s %q is in force at %s", scheme, value, timeline.Format(at)), nil)
		}
		cur = vs[0]
		cur.Window.To = at
		if _, err := tx.ExecContext(ctx, `UPDATE partner_identifiers SET valid_to = $1 WHERE scheme = $2 AND value_key = $3 AND valid_from = $4`, at, scheme, key, cur.Window.From); err != nil {
			return err
		}
		return nil
	})
	return cur, db.Translate(err)
}

// mustBeLocation refuses an ID that is not a location: an organisation's with its locations
// listed, an unknown one as not found.
func mustBeLocation(ctx context.Context, q store.Querier, id, what string) error {
	var org string
	err := q.QueryRowContext(ctx, `SELECT org_id FROM partner_locations WHERE id = $1`, id).Scan(&org)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var name string
	err = q.QueryRowContext(ctx, `SELECT name FROM partner_orgs WHERE id = $1`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return store.NewError(store.ErrNotFound, fmt.Sprintf("no partner location has the ID %s; %s names a location of the directory", id, what), nil)
	}
	if err != nil {
		return err
	}
	locs, err := locationsOf(ctx, q, id)
	if err != nil {
		return err
	}
	return store.NewError(store.ErrInvalid, fmt.Sprintf("%s is the organisation ID of %s; %s names a location: %s", id, name, what, strings.Join(locs, ", ")), nil)
}

// locationsOf lists an organisation's locations as "ID (name)", ordered by ID.
func locationsOf(ctx context.Context, q store.Querier, org string) ([]string, error) {
	var locs []string
	err := store.Each(ctx, q, `SELECT id, name FROM partner_locations WHERE org_id = $1 ORDER BY id`, []any{org}, func(r *sql.Rows) error {
		var id, name string
		if err := r.Scan(&id, &name); err != nil {
			return err
		}
		locs = append(locs, id+" ("+name+")")
		return nil
	})
	sort.Strings(locs)
	return locs, err
}

// MustBeLocation is mustBeLocation for other owners that take a location ID in their own
// transaction (the account store's resale windows).
func MustBeLocation(ctx context.Context, q store.Querier, id, what string) error {
	return mustBeLocation(ctx, q, id, what)
}
