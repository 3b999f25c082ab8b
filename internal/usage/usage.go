// Package usage holds consumption records: FOCUS (CSV and Parquet) and Azure cost CSV readers,
// normalisation, record keys for de-duplication, and the usage store.
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

// Record is one normalised usage record of any provider. docs/usage.md maps every input column
// onto it.
type Record struct {
	Key        string // x_RecordId, or a hash of the normalised row
	Start, End int64  // charge period [Start, End), Unix ns
	// SubscriptionID is the sub-account (FOCUS SubAccountId): for microsoft records the
	// lower-case subscription GUID, for other providers the ID as written (opaque).
	SubscriptionID       string
	ResourceID           string // original spelling (opaque); microsoft records compare with scope.Key
	Service              string
	ServiceCategory      string
	ChargeCategory       string
	PricingCategory      string // Standard, Dynamic (spot), Committed
	CommitmentDiscountID string
	// Provider is the provider's name as the file writes it (FOCUS 1.3 ServiceProviderName,
	// else ProviderName; "Microsoft" for Azure cost details). ProviderID is the provider the
	// rules go by (NormalizeProvider).
	Provider  string
	Publisher string
	Currency  string
	Cost      money.Nanos // the chosen measure (billed or effective)
	CostRaw   string      // the input text of Cost, kept for audit

	// Kept since segment format version 2. Records stored before read them as empty (and
	// ProviderID as NormalizeProvider(Provider)).
	ProviderID       string
	HostProvider     string // FOCUS 1.3 HostProviderName
	InvoiceIssuer    string // InvoiceIssuerName
	BillingAccountID string
	SubAccountType   string
	Region           string // RegionId (Azure: ResourceLocation)
	Unit             string // ConsumedUnit (Azure: UnitOfMeasure)
	Quantity         string // ConsumedQuantity, an exact decimal as written; "" is null
	ListCost         Amount
	BilledCost       Amount
	EffectiveCost    Amount
	// Tags in canonical form (see CanonicalTags): a JSON object of string values with its
	// keys sorted, or "" when the record has none.
	Tags string
}

// Amount is an exact amount that may be null (a FOCUS NULL, or a column the file lacks).
type Amount struct {
	Nanos money.Nanos
	Valid bool
}

// Some is a non-null Amount.
func Some(n money.Nanos) Amount { return Amount{n, true} }

// String is the amount's decimal text, or "" when it is null.
func (a Amount) String() string {
	if !a.Valid {
		return ""
	}
	return a.Nanos.String()
}

// IsMicrosoft reports whether a record of this provider ID is subject to the rules that apply
// to Azure only (PAL, CSP, DPOR, CUA). Records built without an ID (programs, tests) are
// Microsoft's, as files without a provider column are.
func IsMicrosoft(providerID string) bool { return providerID == "" || providerID == ProviderMicrosoft }
