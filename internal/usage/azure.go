package usage

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// azureMapper reads Azure Cost Management cost details (EA and MCA, actual and amortized).
// Each row is one day: Date becomes [day, day+1) UTC.
type azureMapper struct {
	date, cost, currency, sub, chargeType                        int
	resource, service, serviceCat, pricing, benefit, reservation int
	publisherType, publisher                                     int
	billingAccount, region, unit, quantity, tags, listCost       int
	costName                                                     string
	measure                                                      string
	keyer                                                        *keyer
	tagCache                                                     tagCache
}

func newAzureMapper(header []string, measure string) (*azureMapper, error) {
	c := indexHeader(header)
	// Actual and amortized files use the same cost columns; which one the file holds is the
	// choice made when exporting, so the measure does not change the column here: it says
	// whether the cost is the billed or the effective one.
	m := &azureMapper{
		measure:        measure,
		billingAccount: c.find("BillingAccountId"), region: c.find("ResourceLocation"), unit: c.find("UnitOfMeasure"),
		quantity: c.find("Quantity"), tags: c.find("Tags"), listCost: c.find("PaygCostInBillingCurrency"),
		date: c.find("Date", "UsageDate"), cost: c.find("CostInBillingCurrency", "Cost", "PreTaxCost"),
		currency: c.find("BillingCurrency", "BillingCurrencyCode", "Currency"),
		sub:      c.find("SubscriptionId", "SubscriptionGuid"), chargeType: c.find("ChargeType"),
		resource: c.find("ResourceId", "InstanceId"), service: c.find("MeterCategory"),
		serviceCat: c.find("ServiceFamily"), pricing: c.find("PricingModel"),
		benefit: c.find("benefitId"), reservation: c.find("ReservationId"),
		publisherType: c.find("PublisherType"), publisher: c.find("PublisherName"),
	}
	if m.cost >= 0 {
		m.costName = header[m.cost]
	}
	var miss []string
	for name, i := range map[string]int{"Date": m.date, "CostInBillingCurrency (or Cost)": m.cost,
		"BillingCurrency": m.currency, "SubscriptionId": m.sub, "ChargeType": m.chargeType} {
		if i < 0 {
			miss = append(miss, name)
		}
	}
	if len(miss) > 0 {
		sort.Strings(miss)
		return nil, missing("Azure cost-details", miss)
	}
	mapped := map[int]bool{}
	for _, i := range []int{m.date, m.cost, m.currency, m.sub, m.chargeType, m.resource, m.service,
		m.serviceCat, m.pricing, m.benefit, m.reservation, m.publisherType, m.publisher} {
		if i >= 0 {
			mapped[i] = true
		}
	}
	m.keyer = newKeyer(header, -1, mapped)
	return m, nil
}

// chargeTypes maps Azure's ChargeType onto FOCUS charge categories. Unused reservation and
// savings plan hours are usage of the commitment (FOCUS does the same); they carry a commitment
// discount ID, which keeps them out of PEC.
var chargeTypes = map[string]string{
	"usage": CategoryUsage, "unusedreservation": CategoryUsage, "unusedsavingsplan": CategoryUsage,
	"purchase": CategoryPurchase, "refund": CategoryCredit, "credit": CategoryCredit,
	"tax": CategoryTax, "roundingadjustment": CategoryAdjustment, "adjustment": CategoryAdjustment,
}

var pricingModels = map[string]string{
	"": "Standard", "ondemand": "Standard", "reservation": "Committed", "savingsplan": "Committed",
	"spot": "Dynamic",
}

func (m *azureMapper) mapRow(f []string, _ []int64, r *Record) (string, string) {
	day, ok := parseAzureDate(f[m.date])
	if !ok {
		return "Date", fmt.Sprintf("%q is not a date; Azure writes MM/DD/YYYY (EA) or YYYY-MM-DD (MCA)", f[m.date])
	}
	var reason string
	if r.Start, reason = instantOf(field(f, m.date), day); reason != "" {
		return "Date", reason
	}
	if r.End, reason = instantOf(field(f, m.date), day.AddDate(0, 0, 1)); reason != "" {
		return "Date", reason
	}
	ct := field(f, m.chargeType)
	cat, known := chargeTypes[lower(ct)]
	if !known {
		return "ChargeType", fmt.Sprintf("%q is not a known Azure charge type; expected Usage, Purchase, Refund, Tax, RoundingAdjustment, UnusedReservation or UnusedSavingsPlan", ct)
	}
	r.ChargeCategory = cat
	if col, reason := mapCost(f, m.cost, m.currency, m.costName, "BillingCurrency", r); reason != "" {
		return col, reason
	}
	if reason := mapSubscription(field(f, m.sub), r); reason != "" {
		return "SubscriptionId", reason
	}
	pm := field(f, m.pricing)
	if r.PricingCategory, known = pricingModels[lower(pm)]; !known {
		return "PricingModel", fmt.Sprintf("%q is not a known pricing model; expected OnDemand, Reservation, SavingsPlan or Spot", pm)
	}
	r.CommitmentDiscountID = field(f, m.benefit)
	if r.CommitmentDiscountID == "" {
		r.CommitmentDiscountID = field(f, m.reservation)
	}
	r.ResourceID = field(f, m.resource)
	r.Service = field(f, m.service)
	r.ServiceCategory = field(f, m.serviceCat)
	r.Provider = "Microsoft"
	// Marketplace: PublisherType Marketplace, or a publisher other than Microsoft. First-party
	// rows keep Publisher equal to Provider so that PEC's marketplace exclusion does not apply.
	pub := field(f, m.publisher)
	switch {
	case strings.EqualFold(field(f, m.publisherType), "Marketplace"):
		if pub == "" {
			pub = "Marketplace"
		}
		if strings.EqualFold(pub, "Microsoft") {
			pub = "Microsoft (Marketplace)"
		}
		r.Publisher = pub
	case pub == "" || strings.EqualFold(pub, "Microsoft") || strings.EqualFold(pub, "Microsoft Corporation"):
		r.Publisher = "Microsoft"
	default:
		r.Publisher = pub
	}
	r.ProviderID = ProviderMicrosoft
	r.BillingAccountID = field(f, m.billingAccount)
	r.Region = field(f, m.region)
	r.Unit = field(f, m.unit)
	if r.Quantity = field(f, m.quantity); r.Quantity != "" && !isDecimal(r.Quantity) {
		return "Quantity", fmt.Sprintf("%q is not a number", r.Quantity)
	}
	if m.measure == MeasureEffective {
		r.EffectiveCost = Some(r.Cost)
	} else {
		r.BilledCost = Some(r.Cost)
	}
	if s := field(f, m.listCost); s != "" {
		n, reason := parseCost(s)
		if reason != "" {
			return "PaygCostInBillingCurrency", reason
		}
		r.ListCost = Some(n)
	}
	var err error
	if r.Tags, err = m.tagCache.canonical(field(f, m.tags)); err != nil {
		return "Tags", err.Error()
	}
	r.Key = m.keyer.key(f, r, keyOf(r))
	return "", ""
}

func parseAzureDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range []string{"01/02/2006", "1/2/2006", "2006-01-02", "2006-01-02T15:04:05Z", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(l, s); err == nil {
			t = t.UTC()
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true
		}
	}
	return time.Time{}, false
}

func lower(s string) string { return strings.ToLower(s) }

func (m *azureMapper) clone() mapper {
	c := *m
	c.keyer = m.keyer.clone()
	c.tagCache = tagCache{}
	return &c
}
