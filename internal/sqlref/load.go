package sqlref

import (
	"context"
	"fmt"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

var usageCols = []string{"record_key", "charge_start", "charge_end", "subscription_id", "resource_id", "resource_key",
	"service", "service_category", "charge_category", "pricing_category", "commitment_discount_id", "provider", "publisher",
	"currency", "cost_nanos", "cost_raw", "measure", "import_id"}

// LoadUsage replaces the contents of sqlref_usage, the table the formulation reads, with the
// stored usage records whose charge starts in w, and returns how many it wrote.
func LoadUsage(ctx context.Context, db *store.DB, w timeline.Window) (int64, error) {
	var n int64
	err := db.Load(ctx, func(l store.Loader) error {
		if _, err := l.Exec(ctx, `DELETE FROM sqlref_usage`); err != nil {
			return err
		}
		return usage.Stream(ctx, db, w, func(b *usage.Batch) error {
			rows := make([][]any, 0, b.Len())
			var r usage.Record
			for i := 0; i < b.Len(); i++ {
				b.Record(i, &r)
				rows = append(rows, []any{r.Key, r.Start, r.End, r.SubscriptionID, r.ResourceID, usage.ResourceKey(r.ResourceID),
					r.Service, r.ServiceCategory, r.ChargeCategory, r.PricingCategory, r.CommitmentDiscountID, r.Provider, r.Publisher,
					r.Currency, int64(r.Cost), r.CostRaw, "", ""})
			}
			k, err := l.Insert(ctx, "sqlref_usage", usageCols, rows, false)
			n += k
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("sqlref: copying usage into sqlref_usage: %w", err)
	}
	return n, nil
}
