package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
)

// DefaultLimit is how many active webhooks a tenant may have unless the operator sets another
// limit (--webhook-limit): each one receives every event of the tenant, so the limit bounds
// the deliveries one link change costs.
const DefaultLimit = 10

// Webhook is a registered receiver of a tenant's link events.
type Webhook struct {
	ID       string
	TenantID string
	URL      string
	Active   bool
	Created  int64 // Unix nanoseconds
	// Secret signs deliveries. It is set only on the value Create returns: it is shown once.
	Secret string
}

// Store is the only code that reads or writes the webhooks and webhook_deliveries tables:
// the API, the dashboard and the worker go through it, so they apply one URL policy, one
// secret format and one meaning of "delete".
type Store struct {
	DB     *store.DB
	Policy Policy
	// Limit is the number of active webhooks per tenant; 0 means DefaultLimit.
	Limit int
	Now   func() time.Time // nil: time.Now
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Create registers a webhook for tenant after checking its URL against the policy (an
// invalid URL wraps store.ErrInvalid) and the tenant's limit (store.ErrConflict). The
// returned webhook carries its secret, which is never shown again.
func (s *Store) Create(ctx context.Context, tenant, rawURL string) (Webhook, error) {
	u, err := s.Policy.CheckURL(ctx, rawURL)
	if err != nil {
		return Webhook{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return Webhook{}, err
	}
	h := Webhook{ID: store.NewID(), TenantID: tenant, URL: u, Active: true, Created: s.now().UnixNano(), Secret: secret}
	limit := orDefault(s.Limit, DefaultLimit)
	err = s.DB.Tx(ctx, func(tx *sql.Tx) error {
		// The count and the insert are one serializable transaction: on PostgreSQL two
		// concurrent creates would otherwise both count one below the limit and both insert;
		// serializable, one of them fails and Tx runs it again, when it counts the other's
		// webhook. (SQLite runs one write transaction at a time already.)
		if s.DB.Engine() == store.Postgres {
			if _, err := tx.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhooks WHERE tenant_id = $1 AND active`, tenant).Scan(&n); err != nil {
			return err
		}
		if n >= limit {
			return store.NewError(store.ErrConflict, fmt.Sprintf("tenant %s already has %d active webhooks, the limit; delete one first (the operator sets the limit with --webhook-limit)", tenant, n), nil)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, tenant_id, url, secret, active, created_at) VALUES ($1, $2, $3, $4, TRUE, $5)`,
			h.ID, tenant, h.URL, secret, h.Created)
		return err
	})
	if err != nil {
		return Webhook{}, s.DB.Translate(err)
	}
	return h, nil
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + hex.EncodeToString(b), nil
}

// List returns a tenant's webhooks, active and deleted, oldest first (without secrets).
func (s *Store) List(ctx context.Context, tenant string) ([]Webhook, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, tenant_id, url, active, created_at FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, s.DB.Translate(err)
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		var h Webhook
		var active store.Bool
		if err := rows.Scan(&h.ID, &h.TenantID, &h.URL, &active, &h.Created); err != nil {
			return nil, s.DB.Translate(err)
		}
		h.Active = bool(active)
		out = append(out, h)
	}
	return out, s.DB.Translate(rows.Err())
}

// StatusCanceled marks a delivery that will not be sent because its webhook was deleted.
const StatusCanceled = "canceled"

// Delete deactivates a tenant's webhook and cancels its pending deliveries, in one
// transaction. Nothing is removed: the webhook and its delivery records stay as the audit of
// what was sent. A webhook the tenant does not have is store.ErrNotFound; deleting a deleted
// one again is not an error.
func (s *Store) Delete(ctx context.Context, tenant, id string) error {
	return s.DB.Translate(s.DB.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET active = FALSE WHERE id = $1 AND tenant_id = $2`, id, tenant)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = store.NewError(store.ErrNotFound, fmt.Sprintf("tenant %s has no webhook %s", tenant, id), nil)
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $1, last_error = 'webhook deleted' WHERE webhook_id = $2 AND status = 'pending'`,
			StatusCanceled, id)
		return err
	}))
}

// Delivery is one (webhook, event) pair as the worker sends it.
type Delivery struct {
	ID, EventID, URL, Secret, EventType, TenantID, Payload string
	OccurredAt, NextAt                                     int64
	Attempts                                               int
}

// DeliveryCounts counts a webhook's deliveries by status.
func (s *Store) DeliveryCounts(ctx context.Context, webhookID string) (map[string]int, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT status, COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1 GROUP BY status`, webhookID)
	if err != nil {
		return nil, s.DB.Translate(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, s.DB.Translate(err)
		}
		out[st] = n
	}
	return out, s.DB.Translate(rows.Err())
}

// fanout creates a pending delivery for every event of a tenant and every active webhook of
// that tenant registered at or before the event occurred (a new webhook does not replay old
// history). Idempotent: (webhook_id, event_id) is unique. It returns how many it created.
func (s *Store) fanout(ctx context.Context, now int64) (int, error) {
	var n int
	err := s.DB.Tx(ctx, func(tx *sql.Tx) error {
		n = 0
		events, err := link.EventsWhere(ctx, tx, `EXISTS (SELECT 1 FROM webhooks wh
WHERE wh.tenant_id = e.tenant_id AND wh.active AND wh.created_at <= e.occurred_at
AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = wh.id AND d.event_id = e.id))`, nil, 1000)
		if err != nil || len(events) == 0 {
			return err
		}
		type hook struct {
			id      string
			created int64
		}
		hooks := map[string][]hook{} // by tenant, in the order of their ID
		err = store.Each(ctx, tx, `SELECT id, tenant_id, created_at FROM webhooks WHERE active ORDER BY id`, nil, func(r *sql.Rows) error {
			var h hook
			var tenant string
			if err := r.Scan(&h.id, &tenant, &h.created); err != nil {
				return err
			}
			hooks[tenant] = append(hooks[tenant], h)
			return nil
		})
		if err != nil {
			return err
		}
		var pairs [][2]string
		for _, e := range events {
			for _, h := range hooks[e.TenantID] {
				if h.created <= e.OccurredAt {
					pairs = append(pairs, [2]string{h.id, e.ID})
				}
			}
		}
		for _, p := range pairs {
			res, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, event_id, status, attempts, next_attempt_at)
VALUES ($1, $2, $3, 'pending', 0, $4) ON CONFLICT (webhook_id, event_id) DO NOTHING`, store.NewID(), p[0], p[1], now)
			if err != nil {
				return err
			}
			if c, _ := res.RowsAffected(); c > 0 {
				n++
			}
		}
		return nil
	})
	return n, s.DB.Translate(err)
}

// due returns up to limit pending deliveries of active webhooks whose next attempt time has
// come, oldest first, at most perTenant of each tenant and none of the tenants in skip (those
// already sending as much as they may), so a tenant with a backlog cannot fill the batch.
func (s *Store) due(ctx context.Context, now int64, perTenant, limit int, skip []string) ([]Delivery, error) {
	args := []any{now, perTenant, limit}
	exclude := ""
	for i, t := range skip {
		if i == 0 {
			exclude = " AND wh.tenant_id NOT IN ("
		} else {
			exclude += ", "
		}
		args = append(args, t)
		exclude += fmt.Sprintf("$%d", len(args))
	}
	if exclude != "" {
		exclude += ")"
	}
	rows, err := s.DB.QueryContext(ctx, `
SELECT id, event_id, url, secret, tenant_id, next_attempt_at, attempts FROM (
  SELECT d.id, d.event_id, wh.url, wh.secret, wh.tenant_id, d.next_attempt_at, d.attempts,
    ROW_NUMBER() OVER (PARTITION BY wh.tenant_id ORDER BY d.next_attempt_at, d.id) AS turn
  FROM webhook_deliveries d
  JOIN webhooks wh ON wh.id = d.webhook_id AND wh.active
  WHERE d.status = 'pending' AND d.next_attempt_at <= $1`+exclude+`
) due WHERE turn <= $2
ORDER BY next_attempt_at, id LIMIT $3`, args...)
	if err != nil {
		return nil, s.DB.Translate(err)
	}
	defer rows.Close()
	var list []Delivery
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.ID, &d.EventID, &d.URL, &d.Secret, &d.TenantID, &d.NextAt, &d.Attempts); err != nil {
			return nil, s.DB.Translate(err)
		}
		list = append(list, d)
	}
	if err := rows.Err(); err != nil || len(list) == 0 {
		return list, s.DB.Translate(err)
	}
	rows.Close()
	// The events' type and payload come from their owner.
	ids := make([]any, len(list))
	ph := make([]string, len(list))
	for i, d := range list {
		ids[i], ph[i] = d.EventID, fmt.Sprintf("$%d", i+1)
	}
	events, err := link.EventsWhere(ctx, s.DB, `e.id IN (`+strings.Join(ph, ", ")+`)`, ids, len(ids))
	if err != nil {
		return nil, s.DB.Translate(err)
	}
	byID := make(map[string]link.Event, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	out := list[:0]
	for _, d := range list {
		e, ok := byID[d.EventID]
		if !ok {
			continue // no longer stored: nothing to send
		}
		d.EventType, d.Payload, d.OccurredAt = e.Type, e.Payload, e.OccurredAt
		out = append(out, d)
	}
	return out, nil
}

// claim moves a delivery's next attempt time forward by lease, conditional on it being
// unchanged, so two workers never send the same attempt.
func (s *Store) claim(ctx context.Context, d Delivery, until int64) (bool, error) {
	r, err := s.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $1
WHERE id = $2 AND status = 'pending' AND next_attempt_at = $3`, until, d.ID, d.NextAt)
	if err != nil {
		return false, s.DB.Translate(err)
	}
	n, err := r.RowsAffected()
	return n == 1, s.DB.Translate(err)
}

// record stores an attempt's outcome. Only a still-pending delivery changes: one canceled
// while it was being sent stays canceled.
func (s *Store) record(ctx context.Context, id, status string, attempts int, lastErr string, at int64) error {
	var err error
	switch status {
	case "delivered":
		_, err = s.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'delivered', attempts = $1, delivered_at = $2, last_error = '' WHERE id = $3 AND status = 'pending'`,
			attempts, at, id)
	case "failed":
		_, err = s.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'failed', attempts = $1, last_error = $2 WHERE id = $3 AND status = 'pending'`,
			attempts, lastErr, id)
	default:
		_, err = s.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4 AND status = 'pending'`,
			attempts, at, lastErr, id)
	}
	return s.DB.Translate(err)
}
