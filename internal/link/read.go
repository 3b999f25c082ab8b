package link

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// LoadSpans reads every link window that overlaps w (timeline.Always() for the whole history),
// ordered by principal and start: links' part of a facts.Snapshot.
func LoadSpans(ctx context.Context, q store.Querier, w timeline.Window) ([]Span, error) {
	var out []Span
	err := store.Each(ctx, q, `SELECT tenant_id, object_id, location_id, valid_from, valid_to FROM link_spans
		WHERE valid_from < $1 AND valid_to > $2 ORDER BY tenant_id, object_id, valid_from`, []any{w.To, w.From}, func(r *sql.Rows) error {
		var sp Span
		err := r.Scan(&sp.TenantID, &sp.ObjectID, &sp.LocationID, &sp.Valid.From, &sp.Valid.To)
		out = append(out, sp)
		return err
	})
	return out, err
}

// List selects a page of current link records: those in State (any state when empty), after
// the key After, at most Limit. Records of principals that never had a link are left out.
type List struct {
	State string // StateActive, StateDeleted or "" for both
	After string
	Limit int
}

// listSelect reads records with the names of their location's organisation.
var listSelect = `SELECT tenant_id, object_id, location_id, ` + directory.OrgNameSQL("location_id") + `, version, state, created_at, updated_at FROM links `

func (s *Store) list(ctx context.Context, where string, args []any, limit int) ([]Link, error) {
	out := []Link{}
	err := store.Each(ctx, s.DB, listSelect+where+` LIMIT `+strconv.Itoa(limit), args, func(r *sql.Rows) error {
		var l Link
		var c, u int64
		err := r.Scan(&l.TenantID, &l.ObjectID, &l.PartnerID, &l.OrgName, &l.Version, &l.State, &c, &u)
		l.CreatedTime, l.UpdatedTime = timeline.Time(c), timeline.Time(u)
		out = append(out, l)
		return err
	})
	return out, s.DB.Translate(err)
}

// TenantLinks returns a page of the records of tenant's principals, ordered by object ID (After
// is an object ID).
func (s *Store) TenantLinks(ctx context.Context, tenant string, l List) ([]Link, error) {
	return s.list(ctx, `WHERE tenant_id = $1 AND version > 0 AND ($2 = '' OR state = $2) AND object_id > $3 ORDER BY object_id`,
		[]any{tenant, l.State, l.After}, l.Limit)
}

// PartnerLinks returns a page of the records linking principals to the partner p (a location,
// or every location of an organisation), ordered by "tenant/object" (After is one).
func (s *Store) PartnerLinks(ctx context.Context, p directory.Partner, l List) ([]Link, error) {
	where := `WHERE location_id = $1`
	if p.Kind == directory.KindOrganisation {
		where = `WHERE location_id IN (` + directory.LocationsOfOrgSQL("$1") + `)`
	}
	return s.list(ctx, where+` AND ($2 = '' OR state = $2) AND tenant_id || '/' || object_id > $3 ORDER BY tenant_id || '/' || object_id`,
		[]any{p.ID, l.State, l.After}, l.Limit)
}

// History returns the history of a principal's link, oldest first.
func (s *Store) History(ctx context.Context, tenant, object string) ([]HistoryEntry, error) {
	out := []HistoryEntry{}
	err := store.Each(ctx, s.DB, `SELECT id, tenant_id, object_id, action, from_partner_id, to_partner_id, version, at, by_object_id, request_id
		FROM link_history WHERE tenant_id = $1 AND object_id = $2 ORDER BY version, at, id`, []any{tenant, object}, func(r *sql.Rows) error {
		var h HistoryEntry
		var at int64
		err := r.Scan(&h.ID, &h.TenantID, &h.ObjectID, &h.Action, &h.FromPartnerID, &h.ToPartnerID, &h.Version, &at, &h.By, &h.RequestID)
		h.At = timeline.Time(at)
		out = append(out, h)
		return err
	})
	return out, s.DB.Translate(err)
}

// Events returns up to limit of tenant's events with IDs after after, oldest first.
func (s *Store) Events(ctx context.Context, tenant, after string, limit int) ([]Event, error) {
	out := []Event{}
	err := store.Each(ctx, s.DB, `SELECT id, type, tenant_id, occurred_at, payload FROM events
		WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT `+strconv.Itoa(limit), []any{tenant, after}, func(r *sql.Rows) error {
		var e Event
		err := r.Scan(&e.ID, &e.Type, &e.TenantID, &e.OccurredAt, &e.Payload)
		out = append(out, e)
		return err
	})
	return out, s.DB.Translate(err)
}
