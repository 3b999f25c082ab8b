package link

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/table"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Backfilled is a principal whose link windows an import rewrote, with its window that has no
// end after the import, if any.
type Backfilled struct {
	TenantID, ObjectID string
	Open               string // location of the open window; "" when there is none
	OpenFrom           int64  // its start
}

// backfillPointReads is the most principals whose records Backfill reads one by one; for more
// it reads every record in one query (a first import backfills thousands).
const backfillPointReads = 64

// Backfill brings the current link records of principals in step with the windows an import
// wrote for them: an open window makes the principal's link Active at that location, none makes
// an active link Deleted. Each change adds one to the record's version and writes a history row
// by "import" and a link.backfilled event, at instant asOf, as an API change writes
// link.created and the others: a backfilled link reaches webhooks like any other. Backfill
// reads the records through read (the import's own transaction, or the pool while the import
// holds the link tables locked) and writes through ld, the import's transaction.
func Backfill(ctx context.Context, read store.Querier, ld store.Loader, asOf int64, ps []Backfilled) error {
	if len(ps) == 0 {
		return nil
	}
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Backfilled) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.ObjectID, b.ObjectID))
	})
	type key struct{ tenant, object string }
	type current struct {
		loc, state string
		version    int64
	}
	stored := map[key]current{}
	scan := func(r *sql.Rows) error {
		var k key
		var c current
		err := r.Scan(&k.tenant, &k.object, &c.loc, &c.state, &c.version)
		stored[k] = c
		return err
	}
	const sel = `SELECT tenant_id, object_id, location_id, state, version FROM links`
	if len(ps) > backfillPointReads {
		if err := store.Each(ctx, read, sel, nil, scan); err != nil {
			return err
		}
	} else {
		for _, p := range ps {
			if err := store.Each(ctx, read, sel+` WHERE tenant_id = $1 AND object_id = $2`, []any{p.TenantID, p.ObjectID}, scan); err != nil {
				return err
			}
		}
	}
	var links, history, events [][]any
	for _, p := range ps {
		c, exists := stored[key{p.TenantID, p.ObjectID}]
		var from, to, state string
		switch {
		case p.Open != "" && !exists:
			to, state = p.Open, StateActive
		case p.Open != "" && (c.state != StateActive || c.loc != p.Open):
			from, to, state = c.loc, p.Open, StateActive
		case p.Open == "" && exists && c.state == StateActive:
			from, state = c.loc, StateDeleted
		default:
			continue
		}
		version := c.version + 1
		if !exists {
			created := p.OpenFrom
			if created == timeline.Min || created == 0 {
				created = asOf
			}
			links = append(links, []any{p.TenantID, p.ObjectID, to, version, state, created, asOf})
		} else {
			target := to
			if target == "" {
				target = c.loc // a deleted record keeps the location it had
			}
			if _, err := ld.Exec(ctx, `UPDATE links SET location_id = $3, version = $4, state = $5, updated_at = $6 WHERE tenant_id = $1 AND object_id = $2`,
				p.TenantID, p.ObjectID, target, version, state, asOf); err != nil {
				return err
			}
		}
		history = append(history, []any{store.NewID(), p.TenantID, p.ObjectID, ActionBackfill, from, to, version, asOf, "import", ""})
		events = append(events, []any{store.NewID(), p.TenantID, EventType(ActionBackfill), asOf,
			eventPayload(p.TenantID, p.ObjectID, ActionBackfill, from, to, version, asOf, "")})
	}
	for _, w := range []struct {
		t    *table.Table
		rows [][]any
	}{{LinksTable, links}, {HistoryTable, history}, {eventsTable, events}} {
		if _, err := w.t.Insert(ctx, ld, w.rows, false); err != nil {
			return err
		}
	}
	return nil
}
