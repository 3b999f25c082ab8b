package sqlref

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

var usageCols = []string{"record_key", "charge_start", "charge_end", "subscription_id", "resource_id", "resource_key",
	"service", "service_category", "charge_category", "pricing_category", "commitment_discount_id", "provider", "publisher",
	"currency", "cost_nanos", "cost_raw", "measure", "import_id",
	"provider_id", "publisher_id", "host_provider", "host_provider_id", "billing_account_id"}

var tagCols = []string{"record_key", "charge_start", "tag_key", "tag_value"}

// optionalProvider is usage.NormalizeProvider of a name that may be absent ("" stays "").
func optionalProvider(name string) string {
	if strings.TrimSpace(name) == "" {
		return ""
	}
	return usage.NormalizeProvider(name)
}

// LoadUsage replaces the contents of sqlref_usage, the table the formulation reads, with the
// stored usage records whose charge starts in w, and returns how many it wrote.
func LoadUsage(ctx context.Context, db *store.DB, w timeline.Window) (int64, error) {
	var n int64
	err := db.Load(ctx, func(l store.Loader) error {
		if _, err := l.Exec(ctx, `DELETE FROM sqlref_usage`); err != nil {
			return err
		}
		if _, err := l.Exec(ctx, `DELETE FROM sqlref_usage_tags`); err != nil {
			return err
		}
		return usage.Stream(ctx, db, w, func(b *usage.Batch) error {
			rows := make([][]any, 0, b.Len())
			var tags [][]any
			var r usage.Record
			for i := 0; i < b.Len(); i++ {
				b.Record(i, &r)
				rows = append(rows, []any{r.Key, r.Start, r.End, r.SubscriptionID, r.ResourceID, usage.ResourceKey(r.ResourceID),
					r.Service, r.ServiceCategory, r.ChargeCategory, r.PricingCategory, r.CommitmentDiscountID, r.Provider, r.Publisher,
					r.Currency, int64(r.Cost), r.CostRaw, "", "",
					r.ProviderID, optionalProvider(r.Publisher), r.HostProvider, optionalProvider(r.HostProvider), r.BillingAccountID})
				if r.Tags != "" {
					var m map[string]string
					if json.Unmarshal([]byte(r.Tags), &m) == nil {
						for k, v := range m {
							tags = append(tags, []any{r.Key, r.Start, k, v})
						}
					}
				}
			}
			k, err := l.Insert(ctx, "sqlref_usage", usageCols, rows, false)
			n += k
			if err == nil && len(tags) > 0 {
				_, err = l.Insert(ctx, "sqlref_usage_tags", tagCols, tags, false)
			}
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("sqlref: copying usage into sqlref_usage: %w", err)
	}
	return n, nil
}
