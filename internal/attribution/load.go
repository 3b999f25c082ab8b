package attribution

import (
	"context"

	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// loadFacts reads the estate a period needs. Records starting in the period may end after
// it, and PEC looks at whole UTC days, so every version from the period's first UTC midnight
// onwards is loaded (still bounded by the estate, never by usage).
func loadFacts(ctx context.Context, q store.Querier, w timeline.Window) (*facts.Snapshot, error) {
	if w.From != timeline.Min {
		w = timeline.Window{From: floorDay(w.From), To: timeline.Max}
	}
	return facts.Load(ctx, q, w)
}
