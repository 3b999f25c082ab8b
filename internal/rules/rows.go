package rules

import (
	"strconv"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Association types (attribution.md "Associations"). CSP, DPOR, CUA and PAL apply to
// microsoft records only; TAG, RESALE and MARKETPLACE (version 2) to records of every provider.
const (
	AssocCSP         = "CSP"
	AssocDPOR        = "DPOR"
	AssocCUA         = "CUA"
	AssocPAL         = "PAL"
	AssocTag         = "TAG"
	AssocResale      = "RESALE"
	AssocMarketplace = "MARKETPLACE"
)

// Associations lists every association type, version 1's first.
var Associations = []string{AssocCSP, AssocDPOR, AssocCUA, AssocPAL, AssocTag, AssocResale, AssocMarketplace}

// Row is one attribution row (formats.md). Coverage is ×1e9, half-even.
type Row struct {
	RecordKey      string
	LocationID     string
	Association    string
	OrgID          string
	Start, End     int64
	TenantID       string
	SubscriptionID string
	ResourceID     string
	Service        string
	Currency       string
	Cost           money.Nanos
	Coverage       int64
	Amount         money.Nanos
	AdminRole      string
	DuplicateAtOrg bool
	// Provider is the record's provider ID (microsoft, aws, google, ...): formats.md version
	// 2's last column.
	Provider string
}

// Incentive is one incentive row.
type Incentive struct {
	RecordKey      string
	LocationID     string
	Program        string
	OrgID          string
	ProgramVersion string
	Start          int64
	Currency       string
	Amount         money.Nanos
}

// RowHeader is the CSV header of attribution rows (formats.md; provider is version 2's last
// column).
var RowHeader = []string{"record_key", "charge_start", "charge_end", "tenant_id", "subscription_id", "resource_id", "service",
	"currency", "cost", "partner_id", "org_id", "association", "coverage", "amount", "admin_role", "duplicate_at_org", "provider"}

// IncentiveHeader is the CSV header of incentive rows (formats.md).
var IncentiveHeader = []string{"record_key", "partner_id", "org_id", "program", "program_version", "currency", "amount"}

// ProviderOf is a row's provider: rows stored before version 2 carry none, and were all
// microsoft's (version 1 attributed nothing else).
func (r *Row) ProviderOf() string {
	if r.Provider == "" {
		return "microsoft"
	}
	return r.Provider
}

// Fields returns the row in RowHeader order.
func (r *Row) Fields() []string {
	return []string{r.RecordKey, timeline.Format(r.Start), timeline.Format(r.End), r.TenantID, r.SubscriptionID, r.ResourceID,
		r.Service, r.Currency, r.Cost.String(), r.LocationID, r.OrgID, r.Association, money.FixedString(r.Coverage),
		r.Amount.String(), r.AdminRole, strconv.FormatBool(r.DuplicateAtOrg), r.ProviderOf()}
}

// Fields returns the incentive in IncentiveHeader order.
func (i *Incentive) Fields() []string {
	return []string{i.RecordKey, i.LocationID, i.OrgID, i.Program, i.ProgramVersion, i.Currency, i.Amount.String()}
}
