// Package usage holds consumption records: FOCUS and Azure cost CSV readers, normalisation,
// record keys for de-duplication, and the usage store.
package usage

import "github.com/partnerlink/partnerlink/internal/money"

// Charge categories (FOCUS). Only Usage is attributed.
const (
	CategoryUsage      = "Usage"
	CategoryPurchase   = "Purchase"
	CategoryTax        = "Tax"
	CategoryCredit     = "Credit"
	CategoryAdjustment = "Adjustment"
)

// Record is one normalised usage record.
type Record struct {
	Key                  string // x_RecordId, or a hash of the normalised row
	Start, End           int64  // charge period [Start, End), Unix ns
	SubscriptionID       string // lower-case GUID
	ResourceID           string // original spelling; compare with scope.Key
	Service              string
	ServiceCategory      string
	ChargeCategory       string
	PricingCategory      string // Standard, Dynamic (spot), Committed
	CommitmentDiscountID string
	Provider             string
	Publisher            string
	Currency             string
	Cost                 money.Nanos // the chosen measure (billed or effective)
	CostRaw              string      // the input text of Cost, kept for audit
}
