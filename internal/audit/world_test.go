package audit

import (
	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// The hand-written world of the audit's scenarios: organisation 4100000 (locations 4100001,
// and 4100002 and 4100003, which close after the first day) with its own tenant pt, another organisation
// 5200000, and three customer tenants. The period is two days; every subscription has one
// record per day.
const (
	org, loc1, loc2, loc3, other = "4100000", "4100001", "4100002", "4100003", "5200001"
	t1, t2, t3, pt               = "aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002", "aaaaaaaa-0000-0000-0000-000000000003", "bbbbbbbb-0000-0000-0000-000000000001"
	home                         = "cccccccc-0000-0000-0000-000000000001" // the guest's home tenant
	// Principals.
	u1, u2, u3, u4, u5 = "00000000-0000-0000-0000-0000000000u1", "00000000-0000-0000-0000-0000000000u2", "00000000-0000-0000-0000-0000000000u3", "00000000-0000-0000-0000-0000000000u4", "00000000-0000-0000-0000-0000000000u5"
	guest, group, a1   = "00000000-0000-0000-0000-00000000gues", "00000000-0000-0000-0000-00000000grou", "00000000-0000-0000-0000-0000000000a1"
)

// Subscriptions: s(n) is subscription n. In tenant t1: 1 Owner of u1 (link ends on day 5);
// 2 Reader of u1; 3 never-activated PIM Contributor of u2; 4 (USD) nobody; 5 resold by 4100001
// (CSP) with u1 Owner; 6 u1 and u3; 10 u4 through a group; 11 u2's PIM activated on day one;
// 12 resold by 4100003 (closed after day one), with u1 Owner and usage on day two only: neither
// PAL nor CSP credit.
// In t2 (DPOR of 4100001, no link): 7 nobody; 8 a guest linked in t1 holds Contributor. In t3:
// 9 delegated to the partner tenant, whose a1 is linked to 4100002.
func s(n int) string {
	return "00000000-0000-0000-0000-0000000000" + string(rune('0'+n/10)) + string(rune('0'+n%10))
}

var (
	period      = timeline.Window{From: factstest.H(0), To: factstest.H(48)}
	contributor = access.RoleDefinition{ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", RoleName: "Contributor", RoleType: "BuiltInRole", Valid: timeline.Always()}
	// Daily cost of each subscription (S4's in USD).
	daily = map[int]string{1: "100.5", 2: "20", 3: "30", 4: "40", 5: "50", 6: "60", 7: "70", 8: "80", 9: "90", 10: "11.111111111", 11: "5", 12: "7"}
)

func world() *facts.Snapshot {
	always := timeline.Always()
	w := &facts.Snapshot{
		Organisations: []directory.Organisation{
			{ID: org, Name: "Contoso", TenantIDs: []string{pt}, Locations: []directory.Location{
				{ID: loc1, OrgID: org, Active: []timeline.Window{always}},
				{ID: loc2, OrgID: org, Active: []timeline.Window{{From: timeline.Min, To: factstest.H(24)}}},
				{ID: loc3, OrgID: org, Active: []timeline.Window{{From: timeline.Min, To: factstest.H(24)}}}}},
			{ID: "5200000", Name: "Northwind", Locations: []directory.Location{{ID: other, OrgID: "5200000", Active: []timeline.Window{always}}}},
		},
		Tenants:         []estate.Tenant{{ID: t1, Name: "Fabrikam"}, {ID: t2, Name: "Adatum"}, {ID: t3, Name: "Litware"}, {ID: pt, Name: "Contoso (partner)"}},
		RoleDefinitions: []access.RoleDefinition{factstest.RoleOwner, factstest.RoleReader, contributor},
	}
	sub := func(n int, tenant string, offer estate.Offer, csp string) {
		w.Subscriptions = append(w.Subscriptions, estate.Subscription{ID: s(n), TenantID: tenant, Offer: offer, CSPLocationID: csp, Valid: always})
	}
	for _, n := range []int{1, 2, 3, 4, 6, 10, 11} {
		sub(n, t1, estate.OfferEA, "")
	}
	sub(5, t1, estate.OfferCSP, loc1)
	sub(12, t1, estate.OfferCSP, loc3) // resold by 4100003, which closes after day one
	sub(7, t2, estate.OfferEA, "")
	sub(8, t2, estate.OfferPAYG, "")
	sub(9, t3, estate.OfferEA, "")
	w.DPOR = []estate.DPOR{{SubscriptionID: s(7), LocationID: loc1, Valid: always}}
	principal := func(tenant, id string, typ estate.PrincipalType, homeTenant string) {
		w.Principals = append(w.Principals, estate.Principal{TenantID: tenant, ObjectID: id, Type: typ, HomeTenantID: homeTenant, Valid: always})
	}
	for _, p := range []string{u1, u2, u3, u4, u5} {
		principal(t1, p, estate.User, "")
	}
	principal(t1, group, estate.Group, "")
	principal(t1, guest, estate.User, home)
	principal(t2, guest, estate.User, home)
	principal(pt, a1, estate.User, "")
	w.Memberships = []estate.Membership{{TenantID: t1, MemberID: u4, GroupID: group, Valid: always}}
	assign := func(id, tenant, principal string, role access.RoleDefinition, n int, kind access.Kind) {
		w.Assignments = append(w.Assignments, access.RoleAssignment{ID: id, TenantID: tenant, PrincipalID: principal, RoleDefinitionID: role.ID,
			Scope: "/subscriptions/" + s(n), Kind: kind, Valid: always})
	}
	assign("as1", t1, u1, factstest.RoleOwner, 1, access.Active)
	assign("as2", t1, u1, factstest.RoleReader, 2, access.Active)
	assign("as3", t1, u2, contributor, 3, access.Eligible) // PIM, never activated
	assign("as5", t1, u1, factstest.RoleOwner, 5, access.Active)
	assign("as12", t1, u1, factstest.RoleOwner, 12, access.Active)
	assign("as6a", t1, u1, factstest.RoleOwner, 6, access.Active)
	assign("as6b", t1, u3, contributor, 6, access.Active)
	assign("as8", t2, guest, contributor, 8, access.Active)
	assign("as10", t1, group, contributor, 10, access.Active)
	assign("as11", t1, u2, contributor, 11, access.Eligible) // PIM, activated on the first day
	w.Assignments[len(w.Assignments)-1].Activations = []timeline.Window{{From: factstest.H(0), To: factstest.H(24)}}
	w.Delegations = []access.Delegation{{ID: "del9", CustomerTenantID: t3, Scope: "/subscriptions/" + s(9), ManagingTenantID: pt, Valid: always,
		Authorizations: []access.Authorization{{PrincipalID: a1, RoleDefinitionID: contributor.ID, Valid: always}}}}
	ln := func(tenant, p, loc string, valid timeline.Window) {
		w.Links = append(w.Links, link.Span{TenantID: tenant, ObjectID: p, LocationID: loc, Valid: valid})
	}
	ln(t1, u1, loc1, timeline.Window{From: timeline.Min, To: factstest.H(100)})
	for _, p := range []string{u2, u3, u4, u5, guest} {
		ln(t1, p, loc1, always)
	}
	ln(pt, a1, loc2, always)
	ln(t1, "00000000-0000-0000-0000-0000000000zz", other, always) // another partner's link: not audited
	return w
}

// usageOf is one record per subscription and day, at the daily costs.
func usageOf() []*usage.Record {
	var recs []*usage.Record
	for n := 1; n <= 12; n++ {
		cost, _ := money.Parse(daily[n])
		cur := "EUR"
		if n == 4 {
			cur = "USD"
		}
		for d := 0; d < 2; d++ {
			if n == 12 && d == 0 {
				continue // S12's usage runs on day two only, when its reseller location is closed
			}
			recs = append(recs, &usage.Record{Key: s(n) + string(rune('a'+d)), Start: factstest.H(24 * d), End: factstest.H(24*d + 24),
				SubscriptionID: s(n), ResourceID: "/subscriptions/" + s(n) + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
				Service: "Virtual Machines", ChargeCategory: usage.CategoryUsage, Currency: cur, Cost: cost})
		}
	}
	return recs
}
