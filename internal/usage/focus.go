package usage

import (
	"fmt"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// focusMapper reads FinOps FOCUS 1.0 to 1.3, as exports really write it: NULL (unquoted) and
// empty fields are null, timestamps with or without an offset, any provider.
type focusMapper struct {
	start, end, cost, currency, sub, category          int
	resource, service, serviceCat, pricing, commitment int
	provider, publisher                                int
	// keyProvider is the provider column record keys hash: ProviderName, else
	// ServiceProviderName (what every earlier version read, so that keys stay the same).
	keyProvider                           int
	host, issuer, billingAccount, subType int
	region, unit, quantity, tags          int
	attributed                            int // x_AttributedCost (partnerlink's own exports)
	amount                                [numAmounts]int
	costName                              string
	keyer                                 *keyer
	tagCache                              tagCache
	slot                                  []int // see useTyped; nil: every column is read as text
}

func (m *focusMapper) typedColumns() (instants, amounts []int) {
	return []int{m.start, m.end}, append([]int{m.cost, m.attributed}, m.amount[:]...)
}

func (m *focusMapper) useTyped(slot []int) { m.slot = slot }

// num is column i's typed value in nums, or noNum (read the text).
func (m *focusMapper) num(nums []int64, i int) int64 {
	if nums == nil || i < 0 || m.slot[i] == 0 {
		return noNum
	}
	return nums[m.slot[i]-1]
}

// instant reads a charge time column: a TIMESTAMP's value, else the text (focusTime).
func (m *focusMapper) instant(f []string, nums []int64, i int) (int64, string) {
	if v := m.num(nums, i); v != noNum {
		return v, ""
	}
	return focusTime(f[i])
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
		provider: c.find("ServiceProviderName", "ProviderName"), keyProvider: c.find("ProviderName", "ServiceProviderName"),
		publisher: c.find("PublisherName"), host: c.find("HostProviderName"), issuer: c.find("InvoiceIssuerName"),
		billingAccount: c.find("BillingAccountId"), subType: c.find("SubAccountType"), region: c.find("RegionId", "Region"),
		unit: c.find("ConsumedUnit"), quantity: c.find("ConsumedQuantity"), tags: c.find("Tags"),
		attributed: c.find("x_AttributedCost"),
		amount:     [numAmounts]int{c.find("ListCost"), c.find("BilledCost"), c.find("EffectiveCost")},
		costName:   costName,
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
	// The columns record keys take in normalised form; every other column is hashed as
	// written. This set is frozen: a column added to the record later stays among the others,
	// so that keys do not change.
	mapped := map[int]bool{}
	for _, i := range []int{m.start, m.end, m.cost, m.currency, m.sub, m.category, m.resource, m.service,
		m.serviceCat, m.pricing, m.commitment, m.keyProvider, m.publisher} {
		if i >= 0 {
			mapped[i] = true
		}
	}
	m.keyer = newKeyer(header, c.find("x_RecordId"), mapped)
	return m, nil
}

// focusNull is what a FOCUS field is when it is null: empty, or the unquoted token NULL.
func focusNull(s string) bool { return s == "" || s == "NULL" }

// nullable is the trimmed field, "" when it is null.
func nullable(fields []string, i int) string {
	s := field(fields, i)
	if s == "NULL" {
		return ""
	}
	return s
}

func (m *focusMapper) mapRow(f []string, nums []int64, r *Record) (string, string) {
	var reason string
	if r.Start, reason = m.instant(f, nums, m.start); reason != "" {
		return "ChargePeriodStart", reason
	}
	if r.End, reason = m.instant(f, nums, m.end); reason != "" {
		return "ChargePeriodEnd", reason
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
	r.Provider = nullable(f, m.provider)
	r.ProviderID = NormalizeProvider(r.Provider)
	// The cost attributed: the measure's column, unless the row says which cost it was
	// attributed (x_AttributedCost, as partnerlink exports it).
	cost, costName := m.cost, m.costName
	if m.attributed >= 0 && !focusNull(field(f, m.attributed)) {
		cost, costName = m.attributed, "x_AttributedCost"
	}
	if focusNull(field(f, cost)) {
		return costName, "is null; every row needs its cost (write 0 for a free row)"
	}
	if n := m.num(nums, cost); n != noNum {
		// A DECIMAL: its text is rendered too (it is the cost as written), not parsed.
		r.Cost, r.CostRaw = money.Nanos(n), field(f, cost)
		if r.Currency, reason = normCurrency(f[m.currency]); reason != "" {
			return "BillingCurrency", reason
		}
	} else if col, reason := mapCost(f, cost, m.currency, costName, "BillingCurrency", r); reason != "" {
		return col, reason
	}
	if r.ProviderID == ProviderMicrosoft {
		sub := field(f, m.sub)
		if sub == "NULL" && cat != CategoryUsage {
			sub = "" // a charge of the billing account
		}
		if reason := mapSubscription(sub, r); reason != "" {
			return "SubAccountId", reason
		}
	} else {
		r.SubscriptionID = nullable(f, m.sub) // opaque within its provider
	}
	pc, known := lookupFold(pricingCategories, nullable(f, m.pricing))
	if !known {
		return "PricingCategory", fmt.Sprintf("%q is not a FOCUS pricing category; use Standard, Dynamic or Committed", f[m.pricing])
	}
	r.PricingCategory = pc
	r.ResourceID = nullable(f, m.resource)
	r.Service = nullable(f, m.service)
	r.ServiceCategory = nullable(f, m.serviceCat)
	r.CommitmentDiscountID = nullable(f, m.commitment)
	r.Publisher = nullable(f, m.publisher)
	r.HostProvider = nullable(f, m.host)
	r.InvoiceIssuer = nullable(f, m.issuer)
	r.BillingAccountID = nullable(f, m.billingAccount)
	r.SubAccountType = nullable(f, m.subType)
	r.Region = nullable(f, m.region)
	r.Unit = nullable(f, m.unit)
	if r.Quantity = nullable(f, m.quantity); r.Quantity != "" && !isDecimal(r.Quantity) {
		return "ConsumedQuantity", fmt.Sprintf("%q is not a number", r.Quantity)
	}
	for k, i := range m.amount {
		var a Amount
		var reason string
		switch n := m.num(nums, i); {
		case i == cost:
			a = Some(r.Cost) // the column of the cost, already read
		case n != noNum:
			a = Some(money.Nanos(n))
		default:
			a, reason = nullableAmount(f, i)
		}
		if reason != "" {
			return [...]string{"ListCost", "BilledCost", "EffectiveCost"}[k], reason
		}
		r.setAmount(k, a)
	}
	var err error
	if r.Tags, err = m.tagCache.canonical(field(f, m.tags)); err != nil {
		return "Tags", err.Error()
	}
	// Keys hash the columns as every earlier version read them (NULL as written).
	r.Key = m.keyer.key(f, r, keyFields{sub: r.SubscriptionID, service: field(f, m.service), serviceCat: field(f, m.serviceCat),
		category: r.ChargeCategory, pricing: r.PricingCategory, commitment: field(f, m.commitment),
		provider: field(f, m.keyProvider), publisher: field(f, m.publisher), currency: r.Currency, resource: field(f, m.resource)})
	return "", ""
}

func (r *Record) setAmount(k int, a Amount) {
	switch k {
	case AmountList:
		r.ListCost = a
	case AmountBilled:
		r.BilledCost = a
	case AmountEffective:
		r.EffectiveCost = a
	}
}

// focusTime reads a FOCUS timestamp: null is an error, the rest is parseTime's.
func focusTime(s string) (int64, string) {
	if focusNull(trimSpace(s)) {
		return 0, "is null; every row needs its charge period"
	}
	return parseTime(s)
}

// nullableAmount reads an optional amount column.
func nullableAmount(f []string, i int) (Amount, string) {
	s := nullable(f, i)
	if s == "" {
		return Amount{}, ""
	}
	n, reason := parseCost(s)
	if reason != "" {
		return Amount{}, reason
	}
	return Some(n), ""
}

// isDecimal reports whether s is a decimal number (sign, digits, fraction, exponent).
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// tagCache remembers the canonical form of the last few Tags values: a file repeats each
// resource's tags on every row of it, and reading JSON costs far more than comparing text.
type tagCache struct {
	raw   [4]string
	canon [4]string
	next  int
}

func (c *tagCache) canonical(raw string) (string, error) {
	if focusNull(raw) {
		return "", nil
	}
	for k := range c.raw {
		if c.raw[k] == raw && raw != "" {
			return c.canon[k], nil
		}
	}
	canon, err := CanonicalTags(raw)
	if err != nil {
		return "", err
	}
	if canon == raw {
		canon = strings.Clone(raw) // raw may be a view of a whole chunk of the file
	}
	c.raw[c.next], c.canon[c.next] = canon, canon
	if canon != raw {
		c.raw[c.next] = strings.Clone(raw)
	}
	c.next = (c.next + 1) % len(c.raw)
	return canon, nil
}

func (m *focusMapper) clone() mapper {
	c := *m
	c.keyer = m.keyer.clone()
	c.tagCache = tagCache{}
	return &c
}
