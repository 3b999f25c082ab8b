package link

import (
	"context"
	"database/sql"

	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The reads of this file serve the reports (internal/report): a tenant's links as its admin
// sees them, and the operator's data-quality checks.

// OfTenant returns the records of tenant's principals (every state), ordered by object ID.
// PartnerName and OrgName are left empty.
func OfTenant(ctx context.Context, q store.Querier, tenant string) ([]Link, error) {
	var out []Link
	err := store.Each(ctx, q, `SELECT object_id, location_id, state, created_at FROM links WHERE tenant_id = $1 ORDER BY object_id`, []any{tenant},
		func(r *sql.Rows) error {
			l := Link{TenantID: tenant}
			var c int64
			err := r.Scan(&l.ObjectID, &l.PartnerID, &l.State, &c)
			l.CreatedTime = timeline.Time(c)
			out = append(out, l)
			return err
		})
	return out, err
}

// OpenSpansOfTenant returns the windows of tenant's links that are still open at the instant
// at.
func OpenSpansOfTenant(ctx context.Context, q store.Querier, tenant string, at int64) ([]Span, error) {
	var out []Span
	err := store.Each(ctx, q, `SELECT object_id, location_id, valid_from, valid_to FROM link_spans WHERE tenant_id = $1 AND valid_to > $2`, []any{tenant, at},
		func(r *sql.Rows) error {
			sp := Span{TenantID: tenant}
			err := r.Scan(&sp.ObjectID, &sp.LocationID, &sp.Valid.From, &sp.Valid.To)
			out = append(out, sp)
			return err
		})
	return out, err
}

// TenantHistory returns the history rows of every link of tenant, oldest first.
func TenantHistory(ctx context.Context, q store.Querier, tenant string) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := store.Each(ctx, q, `SELECT id, at, object_id, action, from_partner_id, to_partner_id, version, by_object_id, request_id FROM link_history
WHERE tenant_id = $1 ORDER BY at, id`, []any{tenant}, func(r *sql.Rows) error {
		h := HistoryEntry{TenantID: tenant}
		var at int64
		err := r.Scan(&h.ID, &at, &h.ObjectID, &h.Action, &h.FromPartnerID, &h.ToPartnerID, &h.Version, &h.By, &h.RequestID)
		h.At = timeline.Time(at)
		out = append(out, h)
		return err
	})
	return out, err
}

// OfMissingPrincipals returns up to limit active links whose principal has no version valid at
// the instant at (deleted, or never imported), ordered by tenant and object. PartnerName and
// OrgName are left empty.
func OfMissingPrincipals(ctx context.Context, q store.Querier, at int64, limit int) ([]Link, error) {
	var out []Link
	err := store.Each(ctx, q, `SELECT l.tenant_id, l.object_id, l.location_id FROM links l
WHERE l.state = 'Active' AND NOT `+estate.PrincipalExistsSQL("l.tenant_id", "l.object_id", "$1")+`
ORDER BY l.tenant_id, l.object_id LIMIT $2`, []any{at, limit}, func(r *sql.Rows) error {
		l := Link{State: StateActive}
		err := r.Scan(&l.TenantID, &l.ObjectID, &l.PartnerID)
		out = append(out, l)
		return err
	})
	return out, err
}
