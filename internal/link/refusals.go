package link

import (
	"context"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Refusal is a link attempt the link API refused because it named an organisation ID instead
// of a location ID (table link_refusals). Only those refusals are kept: they are a partner's
// mistake that costs it credit until the principal links one of the organisation's locations.
type Refusal struct {
	ID        string
	TenantID  string
	ObjectID  string
	PartnerID string // the refused ID: an organisation's
	Action    string // ActionCreate or ActionUpdate
	At        int64  // Unix ns
	RequestID string
}

// recordRefusal stores the caller's refused attempt to link organisation ID org.
func (s *Store) recordRefusal(ctx context.Context, c Caller, action, org string) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO link_refusals (id, tenant_id, object_id, partner_id, action, at, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, store.NewID(), c.TenantID, c.ObjectID, org, action, s.now().UnixNano(), c.RequestID)
	return s.DB.Translate(err)
}

// Refusals lists the refused attempts to link organisation ID org made in w, oldest first.
func Refusals(ctx context.Context, q store.Querier, org string, w timeline.Window) ([]Refusal, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, tenant_id, object_id, partner_id, action, at, request_id FROM link_refusals
		WHERE partner_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id`, org, w.From, w.To)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Refusal
	for rows.Next() {
		var r Refusal
		if err := rows.Scan(&r.ID, &r.TenantID, &r.ObjectID, &r.PartnerID, &r.Action, &r.At, &r.RequestID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ChangesAfter counts the link changes (history rows) made after instant t: what-if warns that a
// stored run older than them may not reflect the current links.
func ChangesAfter(ctx context.Context, q store.Querier, t int64) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM link_history WHERE at > $1`, t).Scan(&n)
	return n, err
}
