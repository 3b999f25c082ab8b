package synth

import (
	"time"

	ef "github.com/partnerlink/partnerlink/internal/estatefile"
)

// story gives a multi-month dataset its months: customers who join during the year (growth),
// customers who leave (churn) and a CSP customer who moves to another reseller. Consumption
// also grows a few per cent a month (EachRow).
func (g *gen) story() {
	st := &g.d.Story
	st.Joined, st.Churned = map[string]string{}, map[string]string{}
	months := g.d.Scale.Months
	month := func(m int) time.Time { return g.d.From.AddDate(0, m, 0) }
	start, end := map[string]time.Time{}, map[string]time.Time{}
	// The hand-placed demo cases (customers 5, 6 and 9) keep their usage all year.
	for ti, c := range g.customers {
		if ti == 5 || ti == 6 || ti == 9 {
			continue
		}
		if ti%8 == 3 { // joins in month 2..8
			m := min(months-1, 2+(ti*5)%7)
			start[c.id] = month(m)
			st.Joined[c.id] = month(m).Format("2006-01")
		}
		if ti%10 == 7 { // leaves in month 6..9
			m := min(months-1, 6+(ti/10)%4)
			end[c.id] = month(m)
			st.Churned[c.id] = month(m).Format("2006-01")
		}
	}
	tenantOf := map[string]string{}
	for _, s := range g.d.Estate.Subscriptions {
		tenantOf[s.ID] = s.TenantID
	}
	for i := range g.d.Resources {
		r := &g.d.Resources[i]
		t := tenantOf[r.SubscriptionID]
		r.Start, r.End = start[t], end[t]
	}

	// A CSP customer moves to another partner's reseller location in month 7: each of its
	// subscriptions gets a second history entry with the new reseller, the old reseller's
	// admin agents lose their Owner assignments and the new one's gain them.
	var c *customer
	for i := range g.customers {
		if g.customers[i].csp && i != 5 && i != 6 && i != 9 {
			c = &g.customers[i]
			break
		}
	}
	if c == nil {
		return
	}
	var newOrg *org
	for k, o := range g.orgs {
		if o == c.reseller {
			newOrg = g.orgs[(k+3)%len(g.orgs)]
		}
	}
	at := month(min(months-1, 7))
	atS := at.Format(time.RFC3339)
	e := &g.d.Estate
	var oldLoc string
	var moved []ef.Subscription
	for i := range e.Subscriptions {
		s := &e.Subscriptions[i]
		if s.TenantID != c.id || s.Offer != "csp" {
			continue
		}
		oldLoc = s.CSPPartnerID
		n := *s
		n.CSPPartnerID, n.From, n.DPOR = newOrg.locations[0], strp(atS), nil
		s.To = strp(atS)
		moved = append(moved, n)
		if st.Transfer.SubscriptionID == "" {
			st.Transfer.SubscriptionID = s.ID
		}
	}
	if len(moved) == 0 {
		return
	}
	e.Subscriptions = append(e.Subscriptions, moved...)
	for i := range e.RoleAssignments {
		a := &e.RoleAssignments[i]
		if a.TenantID == c.id && g.isForeignGroup(c.id, a.PrincipalID) {
			a.To = strp(atS)
		}
	}
	fg := g.guid()
	e.Principals = append(e.Principals, ef.Principal{TenantID: c.id, ObjectID: fg, Type: "ForeignGroup",
		DisplayName: "AdminAgents (" + newOrg.name + ")", HomeTenantID: newOrg.tenants[0]})
	for _, s := range moved {
		g.assign(c.id, fg, roleOwner, "/subscriptions/"+s.ID, "active", strp(atS), nil, nil)
	}
	tr := &st.Transfer
	tr.TenantID, tr.TenantName, tr.FromLocation, tr.ToLocation, tr.At = c.id, c.name, oldLoc, newOrg.locations[0], at
}

func (g *gen) isForeignGroup(tenant, id string) bool {
	for _, p := range g.d.Estate.Principals {
		if p.TenantID == tenant && p.ObjectID == id {
			return p.Type == "ForeignGroup"
		}
	}
	return false
}
