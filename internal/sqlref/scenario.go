package sqlref

import (
	"fmt"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The hand-checked scenario: a few rows written straight into the core tables, with the rows
// the rules give worked out by hand (ScenarioAttributions, ScenarioIncentives). Exported so
// that the benchmark module can check the DuckDB dialect on it too.

var (
	scenarioH0 = timeline.Nanos(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	// ScenarioPeriod is the period the scenario is attributed for.
	ScenarioPeriod = timeline.Window{From: scenarioH0, To: scenarioH0 + 24*hour}
	// ScenarioEligible are the eligible roles of the scenario (Owner, Contributor; not Reader).
	ScenarioEligible = []string{owner, contr}
)

const (
	owner  = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	contr  = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
)

// SeedScenario writes the scenario with exec (INSERT statements with $n placeholders).
func SeedScenario(exec func(query string, args ...any) error) error {
	var err error
	ins := func(table string, vals ...any) {
		if err != nil {
			return
		}
		ph := make([]string, len(vals))
		for i := range vals {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		if e := exec("INSERT INTO "+table+" VALUES ("+strings.Join(ph, ", ")+")", vals...); e != nil {
			err = fmt.Errorf("%s: %w", table, e)
		}
	}
	h0, hr, minT, maxT := scenarioH0, hour, timeline.Min, timeline.Max
	use := func(key, sub, res, cat string, start, end, cost int64) {
		ins("sqlref_usage", key, start, end, sub, res, strings.ToLower(res), "svc", "", cat, "Standard", "", "Microsoft", "Microsoft",
			"USD", cost, "x", "billed", "imp", "microsoft", "microsoft", "", "", "")
	}

	for _, o := range [][2]string{{"4100000", "One"}, {"4200000", "Two"}, {"4300000", "Reseller"}} {
		ins("partner_orgs", o[0], o[1])
	}
	ins("partner_org_tenants", "4300000", "pt3")
	for _, l := range [][2]string{{"4100001", "4100000"}, {"4200001", "4200000"}, {"4200002", "4200000"}, {"4300001", "4300000"}} {
		ins("partner_locations", l[0], l[1], "L"+l[0], "DE")
	}
	ins("tenants", "t", "T")
	ins("management_groups", "t", "mg-root", "", minT, maxT)
	ins("management_groups", "t", "mg-a", "mg-root", minT, maxT)
	ins("subscriptions", "s1", "t", "payg", "payg", "mg-a", "", minT, maxT)
	ins("subscriptions", "s2", "t", "csp", "csp", "mg-a", "4300001", minT, maxT)
	ins("subscription_dpor", "s1", "4300001", h0+3*hr, maxT)
	for _, p := range [][3]string{{"u1", "User", ""}, {"u2", "User", ""}, {"u3", "User", ""}, {"g1", "Group", ""}, {"g2", "Group", ""}, {"fg", "ForeignGroup", "pt3"}} {
		ins("principals", "t", p[0], p[1], p[0], p[2], minT, maxT)
	}
	ins("group_memberships", "t", "u2", "g1", minT, maxT)
	ins("group_memberships", "t", "g1", "g2", minT, maxT)
	for _, r := range [][2]string{{owner, "Owner"}, {contr, "Contributor"}, {reader, "Reader"}} {
		ins("role_definitions", r[0], r[1], "BuiltInRole", "[]", minT, maxT)
	}
	ra := func(id, p, role, scope, kind string, from int64) {
		ins("role_assignments", id, "t", p, role, scope, strings.ToLower(scope), kind, from, maxT)
	}
	ra("a1", "u1", contr, "/subscriptions/s1", "active", minT)
	ra("a2", "g1", reader, "/subscriptions/s1", "active", minT)
	ra("a3", "g2", owner, "/providers/Microsoft.Management/managementGroups/mg-root", "active", h0+2*hr)
	ra("a4", "u3", owner, "/subscriptions/s1/resourceGroups/rg", "eligible", minT)
	ins("pim_activations", "a4", h0, h0+hr)
	ra("a5", "fg", owner, "/subscriptions/s2", "active", minT)
	ins("link_spans", "t", "u1", "4100001", h0+hr, maxT)
	ins("link_spans", "t", "u2", "4200001", minT, maxT)
	ins("link_spans", "t", "u3", "4200002", minT, maxT)
	res := "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
	use("r1", "s1", res, "Usage", h0, h0+4*hr, 10_000_000_001)
	use("r2", "s2", "/subscriptions/s2/resourceGroups/x/providers/Microsoft.Web/sites/a", "Usage", h0, h0+24*hr, 3_000_000_000)
	use("r3", "s1", res, "Purchase", h0, h0+4*hr, 5_000_000_000)
	use("r4", "s9", "/subscriptions/s9/x", "Usage", h0, h0+4*hr, 5_000_000_000)
	return err
}

// ScenarioAttributions are the scenario's attribution rows, worked out by hand.
var ScenarioAttributions = []Attribution{
	// u1 linked from hour 1 of 4, Contributor on the subscription: 0.75 × 10.000000001.
	{"r1", "4100001", "PAL", "4100000", 750_000_000, 7_500_000_001, "Contributor", false},
	// u2 through nested groups g1 -> g2, Owner on the root MG from hour 2: 0.5, half-even.
	{"r1", "4200001", "PAL", "4200000", 500_000_000, 5_000_000_000, "Owner", false},
	// u3: eligible Owner activated for the first hour only; duplicate within Two.
	{"r1", "4200002", "PAL", "4200000", 250_000_000, 2_500_000_000, "Owner", true},
	// DPOR from hour 3.
	{"r1", "4300001", "DPOR", "4300000", 250_000_000, 2_500_000_000, "", false},
	// u2's Owner on the root MG covers the CSP subscription too, from hour 2 of 24.
	{"r2", "4200001", "PAL", "4200000", 916_666_667, 2_750_000_000, "Owner", false},
	{"r2", "4300001", "CSP", "4300000", 1_000_000_000, 3_000_000_000, "", false},
}

// ScenarioIncentives are the scenario's incentive rows, worked out by hand.
var ScenarioIncentives = []Incentive{
	{"r1", "4100001", "PAL", "4100000", "PAL-1", 150_000_000}, // two organisations: 2%
	{"r1", "4200001", "PAL", "4200000", "PAL-1", 100_000_000},
	{"r2", "4300001", "PEC", "4300000", "PEC-1", 450_000_000}, // AOBO all day: 15%
}
