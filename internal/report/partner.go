package report

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// PartnerKind says whether a partner ID names one location or a whole organisation.
const (
	KindLocation     = "location"
	KindOrganisation = "organisation"
)

// Partner is the partner report of one location or one whole organisation.
//
// For a location every amount is the location's own (amount_nanos). For an organisation every
// amount counts a consumption row once even when several of its locations were credited for it
// (org_amount_nanos, i.e. rows with duplicate_at_org=false), so the organisation's totals are
// not inflated; SumOfLocations then shows the undeduplicated sum for comparison.
type Partner struct {
	PartnerID string `json:"partnerId"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	OrgID     string `json:"orgId"`
	// From and To bound the report (RFC 3339, empty = open).
	From string `json:"from"`
	To   string `json:"to"`

	Totals         []Amount    `json:"totals"`
	SumOfLocations []Amount    `json:"sumOfLocations,omitempty"`
	Months         []MonthRow  `json:"months"`
	Change         []ChangeRow `json:"monthOverMonth"`
	Customers      []GroupRow  `json:"customers"`
	Subscriptions  []GroupRow  `json:"subscriptions"`
	Services       []GroupRow  `json:"services"`
	AdminRoles     []GroupRow  `json:"palAdminRoles"`
	Incentives     []GroupRow  `json:"incentives"`
	Locations      []GroupRow  `json:"locations,omitempty"`
	// Providers (version 2): consumption per provider and association type.
	Providers []ProviderRow   `json:"providers"`
	Records   int64           `json:"records"`
	monthly   map[string]sums // month -> (association, currency) -> nanos
}

// MonthRow is the consumption of one month, association and currency.
type MonthRow struct {
	Month       string `json:"month"`
	Association string `json:"association"`
	Currency    string `json:"currency"`
	Amount      string `json:"amount"`
	Nanos       int64  `json:"-"`
}

// ChangeRow is one month's total against the previous month of the report, per currency.
type ChangeRow struct {
	Month    string `json:"month"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	Previous string `json:"previous"`
	Change   string `json:"change"`
	// Percent is the change in per cent rounded to two decimals (trailing zeros trimmed),
	// empty for the first month of a currency and when the previous month is 0.
	Percent string `json:"percent"`
}

// GroupRow is one amount of a breakdown (customer, subscription, service, role, program).
type GroupRow struct {
	Key      string `json:"key"`
	Name     string `json:"name,omitempty"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

// PartnerQuery selects a partner report.
type PartnerQuery struct {
	// PartnerID is a location ID or an organisation ID.
	PartnerID string
	// Period bounds the consumption by charge start (zero value = everything).
	Period timeline.Window
}

// ResolvePartner says whether id is a location or an organisation and returns its org ID and
// name; store.ErrNotFound when it is neither. It is directory.Resolve's answer: a database
// failure stays one (store.ErrUnavailable is a 503, never mistaken for an unknown ID).
func ResolvePartner(ctx context.Context, db *store.DB, id string) (kind, orgID, name string, err error) {
	p, err := directory.Store{DB: db}.Resolve(ctx, id)
	switch {
	case err == nil:
		return p.Kind, p.OrgID, p.Name, nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
		return "", "", "", store.NewError(store.ErrNotFound, "partner ID "+quote(id)+" is neither a location nor an organisation in the directory; check it against the partner directory (`partnerlink report operator` lists it)", nil)
	}
	return "", "", "", fmt.Errorf("report: partner lookup: %w", err)
}

func quote(s string) string { return `"` + s + `"` }

// PartnerReport builds the partner report from the stored rollups (results.PartnerDays,
// PartnerGroups, PartnerIncentives: indexed by location or organisation and day).
func PartnerReport(ctx context.Context, db *store.DB, q PartnerQuery) (*Partner, error) {
	kind, orgID, name, err := ResolvePartner(ctx, db, q.PartnerID)
	if err != nil {
		return nil, err
	}
	from, to := bound(q.Period)
	p := &Partner{PartnerID: q.PartnerID, Kind: kind, Name: name, OrgID: orgID, From: when(from), To: when(to), monthly: map[string]sums{}}

	who := results.Partner{ID: q.PartnerID, Org: kind == KindOrganisation}
	total, sumLoc := sums{}, sums{}
	customers, subs, services, roles, locs := sums{}, sums{}, sums{}, sums{}, sums{}
	// The rollups the runs keep at the grains this report reads (internal/attribution/results):
	// sums per day, association and currency, and per day and location the breakdown by
	// tenant, subscription, service and role, which keeps a year of a busy location well
	// under the 200 ms budget.
	err = results.PartnerDays(ctx, db, who, from, to, func(r results.DayRow) error {
		m := month(r.Day)
		if p.monthly[m] == nil {
			p.monthly[m] = sums{}
		}
		p.monthly[m].add(r.Association, r.Currency, r.Amount)
		total.add("", r.Currency, r.Amount)
		sumLoc.add("", r.Currency, r.All)
		p.Records += r.Records
		return nil
	})
	if err != nil {
		return nil, queryErr(db, "partner rollup by day", err)
	}
	err = results.PartnerGroups(ctx, db, who, from, to, func(r *results.GroupRow) error {
		customers.add(r.TenantID, r.Currency, r.Amount)
		subs.add(r.SubscriptionID, r.Currency, r.Amount)
		services.add(r.Service, r.Currency, r.Amount)
		locs.add(r.LocationID, r.Currency, r.All)
		if r.Association == "PAL" {
			role := r.AdminRole
			if role == "" {
				role = "(unknown)"
			}
			roles.add(role, r.Currency, r.Amount)
		}
		return nil
	})
	if err != nil {
		return nil, queryErr(db, "partner rollup by group", err)
	}
	byProv := sums{}
	err = results.Providers(ctx, db, &who, from, to, func(r results.ProviderRow) error {
		byProv.add(r.Provider+"\x00"+r.Association, r.Currency, r.Amount)
		return nil
	})
	if err != nil {
		return nil, queryErr(db, "partner rollup by provider", err)
	}
	p.Providers = []ProviderRow{}
	for _, g := range groups(byProv, nil) {
		pr, as, _ := strings.Cut(g.Key, "\x00")
		p.Providers = append(p.Providers, ProviderRow{Provider: pr, Association: as, Currency: g.Currency, Amount: g.Amount})
	}
	incentives := sums{}
	progs, err := results.PartnerIncentives(ctx, db, who, from, to)
	if err != nil {
		return nil, queryErr(db, "partner incentives", err)
	}
	for _, x := range progs {
		incentives.add(x.Key, x.Currency, x.Amount)
	}
	tenants, err := estate.Tenants(ctx, db)
	if err != nil {
		return nil, queryErr(db, "tenant names", err)
	}
	tenantNames := make(map[string]string, len(tenants))
	for _, t := range tenants {
		tenantNames[t.ID] = t.Name
	}
	locNames := map[string]string{}
	if kind == KindOrganisation {
		locs, err := directory.LocationNames(ctx, db)
		if err != nil {
			return nil, queryErr(db, "partner names", err)
		}
		for _, l := range locs {
			locNames[l.ID] = l.Name
		}
	}
	// A subscription's latest name (names change rarely; the ID is shown beside it).
	subNames, err := estate.SubscriptionNames(ctx, db)
	if err != nil {
		return nil, queryErr(db, "subscription names", err)
	}
	p.Totals = amounts(total)
	if kind == KindOrganisation {
		p.SumOfLocations = amounts(sumLoc)
		p.Locations = groups(locs, locNames)
	}
	p.Customers = groups(customers, tenantNames)
	p.Subscriptions = groups(subs, subNames)
	p.Services = groups(services, nil)
	p.AdminRoles = groups(roles, nil)
	p.Incentives = groups(incentives, nil)
	p.Months, p.Change = p.monthRows()
	return p, nil
}

// monthRows flattens the monthly sums in calendar and association order and computes the
// month-over-month change of each currency's total. A month without consumption between two
// months that have some is not invented: change compares adjacent months present in the data.
func (p *Partner) monthRows() ([]MonthRow, []ChangeRow) {
	months := make([]string, 0, len(p.monthly))
	for m := range p.monthly {
		months = append(months, m)
	}
	sort.Strings(months)
	var rows []MonthRow
	var change []ChangeRow
	prev := map[string]int64{}
	seen := map[string]bool{}
	for _, m := range months {
		s := p.monthly[m]
		keys := make([]key2, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].cur != keys[j].cur {
				return keys[i].cur < keys[j].cur
			}
			return assocOrder(keys[i].k) < assocOrder(keys[j].k)
		})
		tot := map[string]int64{}
		for _, k := range keys {
			rows = append(rows, MonthRow{Month: m, Association: k.k, Currency: k.cur, Amount: nanos(s[k]), Nanos: s[k]})
			tot[k.cur] += s[k]
		}
		curs := make([]string, 0, len(tot))
		for c := range tot {
			curs = append(curs, c)
		}
		sort.Strings(curs)
		for _, c := range curs {
			cr := ChangeRow{Month: m, Currency: c, Amount: nanos(tot[c]), Previous: nanos(prev[c]), Change: nanos(tot[c] - prev[c])}
			if seen[c] && prev[c] != 0 {
				cr.Percent = percent(tot[c]-prev[c], prev[c])
			}
			change = append(change, cr)
			prev[c], seen[c] = tot[c], true
		}
		// currencies absent this month fall back to zero for the next comparison.
		for c := range prev {
			if _, ok := tot[c]; !ok {
				prev[c] = 0
			}
		}
	}
	return rows, change
}

// percent returns 100·delta/prev exactly rounded to two decimals (halves away from zero,
// big.Rat: no float), with trailing zeros trimmed like money amounts.
func percent(delta, prev int64) string {
	r := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(delta), big.NewInt(100)), big.NewInt(prev))
	s := r.FloatString(2)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

func assocOrder(a string) int {
	for i, x := range Associations {
		if x == a {
			return i
		}
	}
	return len(Associations)
}

func amounts(s sums) []Amount {
	out := []Amount{}
	for _, k := range s.sorted() {
		out = append(out, Amount{Currency: k.cur, Amount: nanos(s[k])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

func groups(s sums, nm map[string]string) []GroupRow {
	out := []GroupRow{}
	for _, k := range s.sorted() {
		out = append(out, GroupRow{Key: k.k, Name: nm[k.k], Currency: k.cur, Amount: nanos(s[k])})
	}
	return out
}

// MonthSeries returns the chart series: the sorted months and, per association, one amount
// string per month (empty when none) for the given currency.
func (p *Partner) MonthSeries(currency string) (months []string, series map[string][]string) {
	seen := map[string]bool{}
	for _, r := range p.Months {
		if r.Currency == currency && !seen[r.Month] {
			seen[r.Month] = true
			months = append(months, r.Month)
		}
	}
	idx := map[string]int{}
	for i, m := range months {
		idx[m] = i
	}
	series = map[string][]string{}
	for _, r := range p.Months {
		if r.Currency != currency {
			continue
		}
		if series[r.Association] == nil {
			series[r.Association] = make([]string, len(months))
		}
		series[r.Association][idx[r.Month]] = r.Amount
	}
	return months, series
}

// Currencies lists the report's currencies in order.
func (p *Partner) Currencies() []string {
	var out []string
	for _, a := range p.Totals {
		out = append(out, a.Currency)
	}
	return out
}

// Tables renders the report as tables.
func (p *Partner) Tables() []Table {
	ts := []Table{{Name: "totals", Title: "Totals", Header: []string{"currency", "amount"}}}
	for _, a := range p.Totals {
		ts[0].Rows = append(ts[0].Rows, []string{a.Currency, a.Amount})
	}
	if p.Kind == KindOrganisation {
		t := Table{Name: "sum-of-locations", Title: "Sum of locations (duplicates counted per location)", Header: []string{"currency", "amount"}}
		for _, a := range p.SumOfLocations {
			t.Rows = append(t.Rows, []string{a.Currency, a.Amount})
		}
		ts = append(ts, t)
	}
	m := Table{Name: "months", Title: "Consumption by month and association", Header: []string{"month", "association", "currency", "amount"}}
	for _, r := range p.Months {
		m.Rows = append(m.Rows, []string{r.Month, r.Association, r.Currency, r.Amount})
	}
	c := Table{Name: "month-over-month", Title: "Month-over-month change", Header: []string{"month", "currency", "amount", "previous", "change", "percent"}}
	for _, r := range p.Change {
		c.Rows = append(c.Rows, []string{r.Month, r.Currency, r.Amount, r.Previous, r.Change, r.Percent})
	}
	// The order a partner manager asks in: totals, the trend, by location, by customer, then
	// the details.
	ts = append(ts, m, c)
	if p.Kind == KindOrganisation {
		ts = append(ts, groupTable("locations", "By location (undeduplicated)", "location", p.Locations, true))
	}
	ts = append(ts,
		groupTable("customers", "By customer tenant", "tenant", p.Customers, true),
		groupTable("subscriptions", "By subscription", "subscription", p.Subscriptions, true),
		groupTable("services", "By service", "service", p.Services, false),
		groupTable("pal-admin-roles", "PAL consumption by admin role", "role", p.AdminRoles, false),
		groupTable("incentives", "Incentives by program", "program", p.Incentives, false))
	if otherProviders(p.Providers) {
		pt := Table{Name: "providers", Title: "By provider and association", Header: []string{"provider", "association", "currency", "amount"}}
		for _, r := range p.Providers {
			pt.Rows = append(pt.Rows, []string{r.Provider, r.Association, r.Currency, r.Amount})
		}
		ts = append(ts, pt)
	}
	return ts
}

func groupTable(name, title, key string, rows []GroupRow, withName bool) Table {
	t := Table{Name: name, Title: title, Header: []string{key, "currency", "amount"}}
	if withName {
		t.Header = []string{key, "name", "currency", "amount"}
	}
	for _, r := range rows {
		if withName {
			t.Rows = append(t.Rows, []string{r.Key, r.Name, r.Currency, r.Amount})
		} else {
			t.Rows = append(t.Rows, []string{r.Key, r.Currency, r.Amount})
		}
	}
	return t
}

// otherProviders reports whether rows name a provider other than microsoft: the tables by
// provider are shown then (version 1's reports are unchanged).
func otherProviders(rows []ProviderRow) bool {
	for _, r := range rows {
		if r.Provider != "microsoft" {
			return true
		}
	}
	return false
}
