package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/report"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Customer is a customer tenant's view of its partners over a period: per attached partner
// organisation, what each of its locations is credited for, and through which identities
// (linked principals of the tenant, or of a partner tenant it delegated to): the credit each
// earns, and the part that rests on it alone, which the partner loses if the customer removes
// that identity's access. Amounts are exact decimal strings.
type Customer struct {
	TenantID   string            `json:"tenant_id"`
	TenantName string            `json:"tenant_name"`
	From       string            `json:"from"`
	To         string            `json:"to"`
	Partners   []CustomerPartner `json:"partners"`
}

// CustomerPartner is one partner organisation attached to the tenant.
type CustomerPartner struct {
	OrgID      string           `json:"org_id"`
	OrgName    string           `json:"org_name"`
	Presence   []string         `json:"presence"` // PAL, LIGHTHOUSE, CSP, DPOR, CUA
	Credits    []Credit         `json:"credits"`
	Identities []IdentityCredit `json:"identities"`
}

// Credit is what a location is credited for in one association and currency.
type Credit struct {
	LocationID  string `json:"location_id"`
	Association string `json:"association"`
	Currency    string `json:"currency"`
	Amount      string `json:"amount"`
}

// IdentityCredit is the PAL credit earned through one linked identity, in one currency.
type IdentityCredit struct {
	TenantID          string `json:"tenant_id"` // of the link: the customer's, or a managing tenant's (Lighthouse)
	PrincipalObjectID string `json:"principal_object_id"`
	DisplayName       string `json:"display_name"`
	LocationID        string `json:"location_id"`
	Currency          string `json:"currency"`
	Credited          string `json:"credited"` // the credit its access earns the location (others may earn the same)
	Alone             string `json:"alone"`    // the part no other identity of the organisation earns: lost without it
	LinkEnds          string `json:"link_ends,omitempty"`
}

// CustomerRun loads the facts and the stored usage of the period and builds the view.
func CustomerRun(ctx context.Context, db *store.DB, tenant string, period timeline.Window) (*Customer, error) {
	if period.Empty() {
		return nil, fmt.Errorf("period %s is empty: from must be before to", period)
	}
	s, err := LoadFacts(ctx, db, period)
	if err != nil {
		return nil, err
	}
	// Only the tenant's subscriptions' records are read: the view skips every other.
	subs := subscriptionsOf(Slice(s, set{lower(tenant): true}))
	return CustomerView(ctx, s, tenant, period, storedUsageOf(db, period, subs))
}

// CustomerView builds the view of tenant from the snapshot and usage.
func CustomerView(ctx context.Context, s *facts.Snapshot, tenant string, period timeline.Window, src attribution.Usage) (*Customer, error) {
	tenant = lower(tenant)
	c := &Customer{TenantID: tenant, From: timeline.Format(period.From), To: timeline.FormatBound(period.To), Partners: []CustomerPartner{}}
	known := false
	for _, t := range s.Tenants {
		if lower(t.ID) == tenant {
			c.TenantName, known = t.Name, true
		}
	}
	if !known {
		return nil, store.NewError(store.ErrNotFound, fmt.Sprintf("tenant %s is not in the estate", tenant), nil)
	}
	tenants := set{tenant: true}
	base := Slice(s, tenants)
	type identKey struct{ tenant, principal, location string }
	byKey := map[identKey]*ident{}
	var ids []*ident
	for _, l := range base.Links {
		k := identKey{lower(l.TenantID), lower(l.ObjectID), l.LocationID}
		id := byKey[k]
		if id == nil {
			id = &ident{kind: identLinked, tenant: k.tenant, principal: k.principal, location: l.LocationID}
			byKey[k] = id
			ids = append(ids, id)
		}
		id.spans = append(id.spans, l.Valid)
	}
	orgOf := map[string]string{}
	for _, o := range s.Organisations {
		for _, l := range o.Locations {
			orgOf[l.ID] = o.ID
		}
	}
	kept := ids[:0]
	for _, id := range ids {
		if orgOf[id.location] != "" { // a link to an unknown location earns nothing
			kept = append(kept, id)
		}
	}
	ids = kept
	type credKey struct{ loc, assoc, cur string }
	credits := map[credKey]money.Nanos{}
	type idCur struct {
		id  *ident
		cur string
	}
	earned, alone := map[idCur]money.Nanos{}, map[idCur]money.Nanos{}
	curs := map[string]string{}
	err := follow(ctx, base, period, tenants, ids, src, func(r *record) {
		cur, ok := curs[r.currency]
		if !ok {
			cur = strings.Clone(r.currency)
			curs[cur] = cur
		}
		for _, row := range r.rows {
			credits[credKey{row.location, row.assoc, cur}] += row.amount
		}
		// Per organisation, the one principal whose identities credit the record, if one.
		one := map[string]*ident{}
		many := map[string]bool{}
		for _, h := range r.hits {
			earned[idCur{h.id, cur}] += h.amount
			o := orgOf[h.id.location]
			if x := one[o]; x != nil && (x.tenant != h.id.tenant || x.principal != h.id.principal) {
				many[o] = true
			}
			one[o] = h.id
		}
		for _, h := range r.hits {
			if !many[orgOf[h.id.location]] {
				alone[idCur{h.id, cur}] += h.amount
			}
		}
	})
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, p := range base.Principals {
		names[lower(p.TenantID)+"/"+lower(p.ObjectID)] = p.DisplayName
	}
	for _, o := range s.Organisations {
		sc, _ := ResolveScope(s, o.ID)
		cp := CustomerPartner{OrgID: o.ID, OrgName: o.Name, Presence: presence(s, sc, period)[tenant], Credits: []Credit{}, Identities: []IdentityCredit{}}
		for k, n := range credits {
			if orgOf[k.loc] == o.ID {
				cp.Credits = append(cp.Credits, Credit{LocationID: k.loc, Association: k.assoc, Currency: k.cur, Amount: n.String()})
			}
		}
		slices.SortFunc(cp.Credits, func(a, b Credit) int {
			return cmp.Or(cmp.Compare(a.LocationID, b.LocationID), cmp.Compare(a.Association, b.Association), cmp.Compare(a.Currency, b.Currency))
		})
		for k, n := range earned {
			if orgOf[k.id.location] != o.ID {
				continue
			}
			ic := IdentityCredit{TenantID: k.id.tenant, PrincipalObjectID: k.id.principal, DisplayName: names[k.id.tenant+"/"+k.id.principal],
				LocationID: k.id.location, Currency: k.cur, Credited: n.String(), Alone: alone[k].String()}
			if last := timeline.Union(k.id.spans...); len(last) > 0 && last[len(last)-1].To != timeline.Max {
				ic.LinkEnds = timeline.Format(last[len(last)-1].To)
			}
			cp.Identities = append(cp.Identities, ic)
		}
		slices.SortFunc(cp.Identities, func(a, b IdentityCredit) int {
			x, _ := money.Parse(a.Alone)
			y, _ := money.Parse(b.Alone)
			return cmp.Or(cmp.Compare(y, x), cmp.Compare(a.PrincipalObjectID, b.PrincipalObjectID), cmp.Compare(a.LocationID, b.LocationID), cmp.Compare(a.Currency, b.Currency))
		})
		if len(cp.Presence) > 0 || len(cp.Credits) > 0 {
			if cp.Presence == nil {
				cp.Presence = []string{}
			}
			c.Partners = append(c.Partners, cp)
		}
	}
	return c, nil
}

// Tables renders the view for the text and CSV writers (report.Write) and the dashboard.
func (c *Customer) Tables() []report.Table {
	cr := report.Table{Name: "credits", Title: "What each partner is credited for", Header: []string{"organisation", "name", "location", "association", "currency", "amount"}}
	id := report.Table{Name: "identities", Title: "Through which identities (PAL): the credit each earns, and what rests on it alone", Header: []string{"organisation", "location", "tenant", "principal", "name", "currency", "credited", "alone", "link ends"}}
	for _, p := range c.Partners {
		for _, x := range p.Credits {
			cr.Rows = append(cr.Rows, []string{p.OrgID, p.OrgName, x.LocationID, x.Association, x.Currency, x.Amount})
		}
		for _, x := range p.Identities {
			id.Rows = append(id.Rows, []string{p.OrgID, x.LocationID, x.TenantID, x.PrincipalObjectID, x.DisplayName, x.Currency, x.Credited, x.Alone, x.LinkEnds})
		}
	}
	return []report.Table{cr, id}
}
