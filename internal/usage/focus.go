package usage

import (
	"fmt"
	"sort"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// focusMapper reads FinOps FOCUS 1.0 and later.
type focusMapper struct {
	start, end, cost, currency, sub, category          int
	resource, service, serviceCat, pricing, commitment int
	provider, publisher                                int
	costName                                           string
	keyer                                              *keyer
}

func newFOCUSMapper(header []string, measure string) (*focusMapper, error) {
	c := indexHeader(header)
	costName := "BilledCost"
	if measure == MeasureEffective {
		costName = "EffectiveCost"
	}
	m := &focusMapper{
		start: c.find("ChargePeriodStart"), end: c.find("ChargePeriodEnd"), cost: c.find(costName),
		currency: c.find("BillingCurrency"), sub: c.find("SubAccountId"), category: c.find("ChargeCategory"),
		resource: c.find("ResourceId"), service: c.find("ServiceName"), serviceCat: c.find("ServiceCategory"),
		pricing: c.find("PricingCategory"), commitment: c.find("CommitmentDiscountId"),
		provider: c.find("ProviderName", "ServiceProviderName"), publisher: c.find("PublisherName"),
		costName: costName,
	}
	var miss []string
	for name, i := range map[string]int{"ChargePeriodStart": m.start, "ChargePeriodEnd": m.end, costName: m.cost,
		"BillingCurrency": m.currency, "SubAccountId": m.sub, "ChargeCategory": m.category} {
		if i < 0 {
			miss = append(miss, name)
		}
	}
	if len(miss) > 0 {
		sort.Strings(miss)
		return nil, missing("FOCUS", miss)
	}
	mapped := map[int]bool{}
	for _, i := range []int{m.start, m.end, m.cost, m.currency, m.sub, m.category, m.resource, m.service,
		m.serviceCat, m.pricing, m.commitment, m.provider, m.publisher} {
		if i >= 0 {
			mapped[i] = true
		}
	}
	m.keyer = newKeyer(header, c.find("x_RecordId"), mapped)
	return m, nil
}

func (m *focusMapper) mapRow(f []string, r *Record) (string, string) {
	var ok bool
	if r.Start, ok = parseTime(f[m.start]); !ok {
		return "ChargePeriodStart", fmt.Sprintf("%q is not a time; use RFC 3339 such as 2026-03-01T00:00:00Z", f[m.start])
	}
	if r.End, ok = parseTime(f[m.end]); !ok {
		return "ChargePeriodEnd", fmt.Sprintf("%q is not a time; use RFC 3339 such as 2026-03-02T00:00:00Z", f[m.end])
	}
	if r.End <= r.Start {
		return "ChargePeriodEnd", fmt.Sprintf("%s is not after ChargePeriodStart %s; a charge period must have a positive length",
			timeline.Format(r.End), timeline.Format(r.Start))
	}
	cat, known := lookupFold(categories, field(f, m.category))
	if !known {
		return "ChargeCategory", fmt.Sprintf("%q is not a FOCUS charge category; use Usage, Purchase, Tax, Credit or Adjustment", f[m.category])
	}
	r.ChargeCategory = cat
	if col, reason := mapAmounts(f, m.cost, m.currency, m.sub, m.costName, "BillingCurrency", "SubAccountId", r); reason != "" {
		return col, reason
	}
	pc, known := lookupFold(pricingCategories, field(f, m.pricing))
	if !known {
		return "PricingCategory", fmt.Sprintf("%q is not a FOCUS pricing category; use Standard, Dynamic or Committed", f[m.pricing])
	}
	r.PricingCategory = pc
	r.ResourceID = field(f, m.resource)
	r.Service = field(f, m.service)
	r.ServiceCategory = field(f, m.serviceCat)
	r.CommitmentDiscountID = field(f, m.commitment)
	r.Provider = field(f, m.provider)
	r.Publisher = field(f, m.publisher)
	r.Key = m.keyer.key(f, r)
	return "", ""
}

func (m *focusMapper) clone() mapper {
	c := *m
	c.keyer = m.keyer.clone()
	return &c
}
