package attribution

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// StoredRun is what a what-if compares with: the latest successful stored run of a period.
type StoredRun struct {
	ID         string
	FinishedAt int64  // Unix ns
	Programs   string // programs version@hash[:12]
	Totals     Totals
}

// LatestRun reads the latest successful run of exactly period p (table attribution_runs), or
// nil when there is none. It is the one read of that table outside the run's own code; it
// moves with the table's owner.
func LatestRun(ctx context.Context, q store.Querier, p timeline.Window) (*StoredRun, error) {
	r := &StoredRun{}
	var tj string
	err := q.QueryRowContext(ctx, `SELECT id, finished_at, programs_version, totals FROM attribution_runs
		WHERE period_from = $1 AND period_to = $2 AND status = 'ok' ORDER BY finished_at DESC, id DESC LIMIT 1`, p.From, p.To).
		Scan(&r.ID, &r.FinishedAt, &r.Programs, &tj)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tj), &r.Totals); err != nil {
		return nil, fmt.Errorf("run %s has unreadable totals: %w", r.ID, err)
	}
	return r, nil
}
