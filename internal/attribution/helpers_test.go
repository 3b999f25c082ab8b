package attribution

import (
	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

func mustMoney(n int64) money.Nanos { return money.Nanos(n) }

// ref is the rules (internal/rules.Reference) the engine must equal.
type ref struct {
	s     *facts.Snapshot
	progs *Programs
}

func (x *ref) record(r *usage.Record) ([]Row, []Incentive) {
	return (&rules.Reference{Snapshot: x.s, Programs: x.progs}).Record(r)
}

func sortRows(rows []Row)       { rules.SortRows(rows) }
func sortIncs(incs []Incentive) { rules.SortIncentives(incs) }

// totaller adds amounts up per location, association (or program) and currency.
type totaller map[string]map[string]map[string]money.Nanos

func (t totaller) add(loc, assoc, cur string, n money.Nanos) {
	if t[loc] == nil {
		t[loc] = map[string]map[string]money.Nanos{}
	}
	if t[loc][assoc] == nil {
		t[loc][assoc] = map[string]money.Nanos{}
	}
	t[loc][assoc][cur] += n
}

func (t totaller) strings() map[string]map[string]map[string]string {
	out := map[string]map[string]map[string]string{}
	for loc, a := range t {
		out[loc] = map[string]map[string]string{}
		for assoc, c := range a {
			out[loc][assoc] = map[string]string{}
			for cur, n := range c {
				out[loc][assoc][cur] = n.String()
			}
		}
	}
	return out
}

const subA = "00000000-0000-0000-0000-00000000000a"

// baseEstate: organisation org-a with locations 1 and 2 in partner tenant pt0; customer tenant
// t1 with an EA subscription; u1 (linked to location 1) is Owner on the subscription and u2
// (not linked yet) is Contributor on a resource group.
func baseEstate() *facts.Snapshot {
	contributor := access.RoleDefinition{ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", RoleName: "Contributor", RoleType: "BuiltInRole", Valid: timeline.Always()}
	return &facts.Snapshot{
		Organisations: []directory.Organisation{{ID: "org-a", TenantIDs: []string{"pt0"}, Locations: []directory.Location{
			{ID: "1", OrgID: "org-a", Active: []timeline.Window{timeline.Always()}},
			{ID: "2", OrgID: "org-a", Active: []timeline.Window{timeline.Always()}},
		}}},
		Tenants:         []estate.Tenant{{ID: "t1"}},
		Subscriptions:   []estate.Subscription{{ID: subA, TenantID: "t1", Offer: estate.OfferEA, Valid: timeline.Always()}},
		RoleDefinitions: []access.RoleDefinition{roleOwner, contributor},
		Assignments: []access.RoleAssignment{
			{ID: "a1", TenantID: "t1", PrincipalID: "u1", RoleDefinitionID: roleOwner.ID, Scope: "/subscriptions/" + subA, Kind: access.Active, Valid: timeline.Always()},
			{ID: "a2", TenantID: "t1", PrincipalID: "u2", RoleDefinitionID: contributor.ID, Scope: "/subscriptions/" + subA + "/resourceGroups/rg1", Kind: access.Active, Valid: timeline.Always()},
		},
		Links: []link.Span{{TenantID: "t1", ObjectID: "u1", LocationID: "1", Valid: timeline.Since(h(0))}},
	}
}

func dailyRecord(k string, dayN int, res string, cost int64) *usage.Record {
	return &usage.Record{Key: k, Start: h(24 * dayN), End: h(24 * (dayN + 1)), SubscriptionID: subA, ResourceID: res,
		Service: "vm", ChargeCategory: usage.CategoryUsage, PricingCategory: "Standard", Currency: "USD", Cost: mustMoney(cost)}
}
