package link

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Event is one row of the events outbox: a link change of a tenant, which GET
// /v1/tenants/{tenantId}/events lists and the webhook worker delivers. Only this package writes
// events, in the transaction of the change they report.
type Event struct {
	ID         string // time-ordered: the order of the changes
	Type       string // EventType of the change's action
	TenantID   string
	OccurredAt int64  // Unix ns
	Payload    string // JSON: see eventPayload
}

// EventType is the type of the event a change with action emits: link.created, link.updated,
// link.deleted, link.backfilled.
func EventType(action string) string {
	if action == ActionBackfill {
		return "link.backfilled"
	}
	return "link." + action + "d"
}

// eventPayload is an event's data: tenant, object, action, from and to partner IDs ("" for
// none), version, time (RFC 3339) and request ID ("" for an import).
func eventPayload(tenantID, objectID, action, from, to string, version, at int64, requestID string) string {
	b, _ := json.Marshal(map[string]any{"tenantId": tenantID, "objectId": objectID, "action": action,
		"fromPartnerId": from, "toPartnerId": to, "version": version, "at": timeline.Format(at), "requestId": requestID})
	return string(b)
}

// EventsWhere returns up to limit events, oldest first, for which cond holds: an SQL condition
// the caller composes over the event's columns, named e.id, e.tenant_id, e.type and
// e.occurred_at, with args for its $N parameters. The webhook worker reads the events it has
// not fanned out, and those of its due deliveries, this way: the condition names its own
// tables, this package names events.
func EventsWhere(ctx context.Context, q store.Querier, cond string, args []any, limit int) ([]Event, error) {
	var out []Event
	err := store.Each(ctx, q, `SELECT e.id, e.type, e.tenant_id, e.occurred_at, e.payload FROM events e WHERE `+cond+
		` ORDER BY e.id LIMIT `+strconv.Itoa(limit), args, func(r *sql.Rows) error {
		var ev Event
		err := r.Scan(&ev.ID, &ev.Type, &ev.TenantID, &ev.OccurredAt, &ev.Payload)
		out = append(out, ev)
		return err
	})
	return out, err
}
