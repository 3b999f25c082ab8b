package attribution

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

const resVM = "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v1"

func one(t *testing.T, s *facts.Snapshot, r *usage.Record) ([]Row, []Incentive, *Stats) {
	t.Helper()
	return computeAll(t, s, nil, wide, []*usage.Record{r})
}

func find(rows []Row, loc, assoc string) *Row {
	for i := range rows {
		if rows[i].LocationID == loc && rows[i].Association == assoc {
			return &rows[i]
		}
	}
	return nil
}

func TestRulePALLinkedPrincipalWithEligibleRole(t *testing.T) {
	rows, _, _ := one(t, baseEstate(), dailyRecord("r", 0, resVM, 10_000_000_000))
	r := find(rows, "1", AssocPAL)
	if r == nil || r.Coverage != 1e9 || r.Amount != 10_000_000_000 || r.AdminRole != "Owner" || r.DuplicateAtOrg {
		t.Fatalf("rows %+v", rows)
	}
}

func TestRulePALCoverageIsUnionOfTimeNotSum(t *testing.T) {
	s := baseEstate()
	// u2 (Contributor on rg1) also linked to location 1 for the first 12 hours: overlaps u1.
	s.Links = append(s.Links, link.Span{TenantID: "t1", ObjectID: "u2", LocationID: "1", Valid: timeline.Window{From: h(0), To: h(12)}})
	s.Links[0].Valid = timeline.Since(h(6)) // u1 from 06:00
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 24_000_000_000))
	r := find(rows, "1", AssocPAL)
	if r == nil || r.Coverage != 1e9 || r.Amount != 24_000_000_000 {
		t.Fatalf("want full coverage from the union [0,12) ∪ [6,24), got %+v", rows)
	}
	if r.AdminRole != "Owner" { // Owner 18h > Contributor 12h
		t.Fatalf("admin role %q", r.AdminRole)
	}
}

func TestRuleAdminRoleTiesAlphabetical(t *testing.T) {
	s := baseEstate()
	s.Links = []link.Span{{TenantID: "t1", ObjectID: "u1", LocationID: "1", Valid: timeline.Window{From: h(0), To: h(12)}},
		{TenantID: "t1", ObjectID: "u2", LocationID: "1", Valid: timeline.Window{From: h(12), To: h(24)}}}
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 1))
	if r := find(rows, "1", AssocPAL); r == nil || r.AdminRole != "Contributor" {
		t.Fatalf("12h each: want Contributor (alphabetical), got %+v", rows)
	}
}

func TestRuleCoverageExactSecondsHalfEven(t *testing.T) {
	s := baseEstate()
	s.Links[0].Valid = timeline.Since(h(16)) // one third of the day
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 1_000_000_000))
	r := find(rows, "1", AssocPAL)
	if r == nil || r.Coverage != 333_333_333 || r.Amount != 333_333_333 {
		t.Fatalf("%+v", rows)
	}
	// 0.5 nano-unit exactly: 1 nano × 1/2 rounds half to even (0); 3 × 1/2 = 1.5 → 2.
	s.Links[0].Valid = timeline.Since(h(12))
	for cost, want := range map[int64]int64{1: 0, 3: 2, 5: 2} {
		rows, _, _ = one(t, s, dailyRecord("r", 0, resVM, cost))
		if r := find(rows, "1", AssocPAL); r == nil || int64(r.Amount) != want {
			t.Fatalf("cost %d: %+v want %d", cost, rows, want)
		}
	}
}

func TestRuleCSPCreditsResellerAndTakesPrecedenceOverPAL(t *testing.T) {
	s := baseEstate()
	s.Subscriptions[0].Offer, s.Subscriptions[0].CSPLocationID = estate.OfferCSP, "2"
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 8))
	if len(rows) != 1 || rows[0].Association != AssocCSP || rows[0].LocationID != "2" || rows[0].Amount != 8 {
		t.Fatalf("want only CSP for location 2 (PAL of location 1 is the same organisation): %+v", rows)
	}
}

func TestRuleDPORFractionOfPeriod(t *testing.T) {
	s := baseEstate()
	s.DPOR = []estate.DPOR{{SubscriptionID: strings.ToUpper(subA), LocationID: "2", Valid: timeline.Window{From: h(6), To: h(12)}}}
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if r := find(rows, "2", AssocDPOR); r == nil || r.Coverage != 250_000_000 || r.Amount != 25 {
		t.Fatalf("%+v", rows)
	}
}

func TestRuleCUAAfterDeployment(t *testing.T) {
	s := baseEstate()
	s.TrackingIDs = []estate.TrackingID{{GUID: "G1", LocationID: "2"}}
	s.Deployments = []estate.Deployment{{ResourceID: "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/V1", TrackingGUID: "g1", At: h(18)}}
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM+"/extensions/e", 100))
	if r := find(rows, "2", AssocCUA); r == nil || r.Coverage != 250_000_000 || r.Amount != 25 {
		t.Fatalf("child resource, deployed at 18:00: %+v", rows)
	}
}

func TestRuleInactiveLocationEarnsNothingWhileInactive(t *testing.T) {
	s := baseEstate()
	s.Organisations[0].Locations[0].Active = []timeline.Window{{From: timeline.Min, To: h(6)}}
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if r := find(rows, "1", AssocPAL); r == nil || r.Coverage != 250_000_000 {
		t.Fatalf("%+v", rows)
	}
}

func TestRuleOnlyUsageIsAttributed(t *testing.T) {
	r := dailyRecord("r", 0, resVM, 100)
	r.ChargeCategory = "Purchase"
	rows, _, st := one(t, baseEstate(), r)
	if len(rows) != 0 || st.NotConsumption != 1 {
		t.Fatalf("%+v %+v", rows, st)
	}
}

// TestRuleAzureRulesApplyToMicrosoftOnly: a record of another provider gets no PAL, CSP, DPOR
// or CUA rows and no unknown-subscription warning, even when its sub-account happens to spell a
// subscription of the estate; it is counted apart. Totals (ComputeSums) agree.
func TestRuleAzureRulesApplyToMicrosoftOnly(t *testing.T) {
	aws := dailyRecord("aws", 0, "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", 100)
	aws.Provider, aws.SubscriptionID = "Amazon Web Services, Inc.", "123456789012"
	lookalike := dailyRecord("lookalike", 0, resVM, 100) // the estate's subscription and resource
	lookalike.Provider = "Oracle"
	for _, r := range []*usage.Record{aws, lookalike} {
		rows, incs, st := one(t, baseEstate(), r)
		if len(rows) != 0 || len(incs) != 0 || st.OtherProviders != 1 || st.UnknownSubscription != 0 || len(st.UnknownSubscriptions) != 0 {
			t.Fatalf("%s: rows %+v, incentives %+v, stats %+v", r.Key, rows, incs, st)
		}
		st, sums, err := ComputeSums(context.Background(), baseEstate(), nil, wide, FromRecords([]*usage.Record{r}))
		if err != nil || len(sums) != 0 || st.OtherProviders != 1 || st.UnknownSubscription != 0 {
			t.Fatalf("%s: sums %+v, stats %+v, %v", r.Key, sums, st, err)
		}
	}
	// The same record as Microsoft's is attributed; after it (its resource's resolution is
	// cached by then), the look-alike still is not.
	azure := dailyRecord("azure", 0, resVM, 100)
	if rows, _, _ := one(t, baseEstate(), azure); len(rows) == 0 {
		t.Fatal("the Microsoft record got no rows")
	}
	_, want, _ := ComputeSums(context.Background(), baseEstate(), nil, wide, FromRecords([]*usage.Record{azure}))
	st, got, err := ComputeSums(context.Background(), baseEstate(), nil, wide, FromRecords([]*usage.Record{azure, lookalike, lookalike}))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) || st.OtherProviders != 2 {
		t.Fatalf("sums with the look-alike %+v (stats %+v, %v), want %+v", got, st, err, want)
	}
}

func TestRuleUnknownSubscriptionWarns(t *testing.T) {
	r := dailyRecord("r", 0, resVM, 100)
	r.SubscriptionID = "99999999-0000-0000-0000-000000000000"
	rows, _, st := one(t, baseEstate(), r)
	if len(rows) != 0 || st.UnknownSubscription != 1 || len(st.UnknownSubscriptions) != 1 {
		t.Fatalf("%+v %+v", rows, st)
	}
}

func TestRuleDuplicateAtOrgLowestNumericLocation(t *testing.T) {
	s := baseEstate()
	s.Organisations[0].Locations = append(s.Organisations[0].Locations, directory.Location{ID: "10", OrgID: "org-a", Active: []timeline.Window{timeline.Always()}},
		directory.Location{ID: "9", OrgID: "org-a", Active: []timeline.Window{timeline.Always()}})
	s.Links = []link.Span{{TenantID: "t1", ObjectID: "u1", LocationID: "10", Valid: timeline.Always()}, {TenantID: "t1", ObjectID: "u1", LocationID: "9", Valid: timeline.Always()}}
	rows, incs, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if r := find(rows, "9", AssocPAL); r == nil || r.DuplicateAtOrg {
		t.Fatalf("9 < 10 numerically: %+v", rows)
	}
	if r := find(rows, "10", AssocPAL); r == nil || !r.DuplicateAtOrg {
		t.Fatalf("%+v", rows)
	}
	// PAL incentive: one organisation, so the single rate, on the non-duplicate row only.
	if len(incs) != 1 || incs[0].LocationID != "9" || incs[0].Amount != 6 {
		t.Fatalf("incentives %+v", incs)
	}
}

func TestRulePALIncentiveMultiOrganisationRate(t *testing.T) {
	s := baseEstate()
	s.Organisations = append(s.Organisations, directory.Organisation{ID: "org-b", Locations: []directory.Location{{ID: "5", OrgID: "org-b", Active: []timeline.Window{timeline.Always()}}}})
	s.Links = append(s.Links, link.Span{TenantID: "t1", ObjectID: "u1", LocationID: "5", Valid: timeline.Always()})
	_, incs, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if len(incs) != 2 || incs[0].Amount != 2 || incs[1].Amount != 2 {
		t.Fatalf("two organisations: 2%% each: %+v", incs)
	}
}

func TestRuleEligibleAssignmentNeedsActivation(t *testing.T) {
	s := baseEstate()
	s.Assignments[0].Kind = access.Eligible
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if find(rows, "1", AssocPAL) != nil {
		t.Fatalf("never activated: %+v", rows)
	}
	s.Assignments[0].Activations = []timeline.Window{{From: h(0), To: h(6)}}
	rows, _, _ = one(t, s, dailyRecord("r", 0, resVM, 100))
	if r := find(rows, "1", AssocPAL); r == nil || r.Amount != 25 {
		t.Fatalf("activated 6h: %+v", rows)
	}
}

func TestRuleReadOnlyRoleIsNotEligible(t *testing.T) {
	s := baseEstate()
	s.RoleDefinitions = append(s.RoleDefinitions, roleReader)
	s.Assignments[0].RoleDefinitionID = roleReader.ID
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if find(rows, "1", AssocPAL) != nil {
		t.Fatalf("Reader: %+v", rows)
	}
}

func TestRuleGroupMembershipTransitiveWithWindows(t *testing.T) {
	s := baseEstate()
	s.Assignments[0].PrincipalID = "g-outer"
	s.Memberships = []estate.Membership{{TenantID: "t1", MemberID: "u1", GroupID: "g-inner", Valid: timeline.Window{From: h(0), To: h(12)}},
		{TenantID: "t1", MemberID: "g-inner", GroupID: "g-outer", Valid: timeline.Window{From: h(6), To: h(24)}}}
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if r := find(rows, "1", AssocPAL); r == nil || r.Amount != 25 {
		t.Fatalf("member of g-outer via g-inner during [6,12): %+v", rows)
	}
}

func TestRuleManagementGroupAncestryOverTime(t *testing.T) {
	s := baseEstate()
	s.ManagementGroups = []estate.ManagementGroup{{TenantID: "t1", ID: "parent", Valid: timeline.Always()},
		{TenantID: "t1", ID: "child", ParentID: "parent", Valid: timeline.Window{From: timeline.Min, To: h(12)}},
		{TenantID: "t1", ID: "child", ParentID: "", Valid: timeline.Since(h(12))}}
	s.Subscriptions[0].ManagementGroupID = "child"
	s.Assignments[0].Scope = "/providers/Microsoft.Management/managementGroups/Parent"
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if r := find(rows, "1", AssocPAL); r == nil || r.Amount != 50 {
		t.Fatalf("parent is an ancestor for 12h: %+v", rows)
	}
	s.Assignments[0].Scope = "/"
	rows, _, _ = one(t, s, dailyRecord("r", 0, resVM, 100))
	if r := find(rows, "1", AssocPAL); r == nil || r.Amount != 100 {
		t.Fatalf("root covers the tenant: %+v", rows)
	}
}

func TestRuleLighthouseAuthorisationOfLinkedPrincipal(t *testing.T) {
	s := baseEstate()
	s.Assignments = nil
	s.Links = []link.Span{{TenantID: "pt0", ObjectID: "m1", LocationID: "2", Valid: timeline.Always()}}
	s.Delegations = []access.Delegation{{ID: "d1", CustomerTenantID: "t1", Scope: "/subscriptions/" + subA, ManagingTenantID: "pt0", Valid: timeline.Always(),
		Authorizations: []access.Authorization{{PrincipalID: "m1", RoleDefinitionID: roleOwner.ID, Valid: timeline.Always()}}}}
	rows, _, _ := one(t, s, dailyRecord("r", 0, resVM, 100))
	if r := find(rows, "2", AssocPAL); r == nil || r.Amount != 100 {
		t.Fatalf("%+v", rows)
	}
}

func pecEstate() *facts.Snapshot {
	s := baseEstate()
	s.Subscriptions[0].Offer, s.Subscriptions[0].CSPLocationID = estate.OfferCSP, "2"
	s.Links = nil
	s.Assignments = []access.RoleAssignment{{ID: "aobo", TenantID: "t1", PrincipalID: "fg", RoleDefinitionID: roleOwner.ID, Scope: "/subscriptions/" + subA,
		Kind: access.Active, Valid: timeline.Since(h(12))}}
	s.Principals = []estate.Principal{{TenantID: "t1", ObjectID: "fg", Type: estate.ForeignGroup, HomeTenantID: "pt0", Valid: timeline.Always()}}
	return s
}

func TestRulePECWholeDayAccessAOBO(t *testing.T) {
	s := pecEstate()
	// Two daily records: access starts at noon on day 0, so day 0 earns nothing, day 1 all.
	rows, incs, _ := computeAll(t, s, nil, wide, []*usage.Record{dailyRecord("d0", 0, resVM, 100_000_000_000), dailyRecord("d1", 1, resVM, 100_000_000_000)})
	if len(rows) != 2 {
		t.Fatalf("CSP rows: %+v", rows)
	}
	if len(incs) != 1 || incs[0].RecordKey != "d1" || incs[0].Program != ProgramPEC || incs[0].Amount != 15_000_000_000 || incs[0].LocationID != "2" {
		t.Fatalf("%+v", incs)
	}
}

func TestRulePECExclusions(t *testing.T) {
	s := pecEstate()
	s.Assignments[0].Valid = timeline.Always()
	for name, mod := range map[string]func(*usage.Record){
		"spot":        func(r *usage.Record) { r.PricingCategory = "Dynamic" },
		"commitment":  func(r *usage.Record) { r.CommitmentDiscountID = "/providers/reservation/1" },
		"marketplace": func(r *usage.Record) { r.Provider, r.Publisher = "Microsoft", "Contoso" },
	} {
		r := dailyRecord("r", 0, resVM, 100)
		mod(r)
		if _, incs, _ := one(t, s, r); len(incs) != 0 {
			t.Errorf("%s: %+v", name, incs)
		}
	}
	r := dailyRecord("r", 0, resVM, 100)
	r.Provider, r.Publisher = "Microsoft", "microsoft"
	if _, incs, _ := one(t, s, r); len(incs) != 1 || incs[0].Amount != 15 {
		t.Errorf("same publisher: %+v", incs)
	}
}

func TestRulePECLighthouseFromOrganisationTenant(t *testing.T) {
	s := pecEstate()
	s.Assignments = nil
	s.Delegations = []access.Delegation{{ID: "d1", CustomerTenantID: "t1", Scope: "/", ManagingTenantID: "PT0", Valid: timeline.Always(),
		Authorizations: []access.Authorization{{PrincipalID: "anyone", RoleDefinitionID: roleOwner.ID, Valid: timeline.Always()}}}}
	if _, incs, _ := one(t, s, dailyRecord("r", 0, resVM, 100)); len(incs) != 1 || incs[0].Amount != 15 {
		t.Fatalf("%+v", incs)
	}
}

func TestRuleProgramsVersionByChargeStart(t *testing.T) {
	progs, err := ParsePrograms([]byte(`{"version":"t","programs":[{"name":"PAL","versions":[
		{"version":"v1","from":"2026-03-01","to":"2026-03-02","offers":["ea"],"rate_single":"0.10","rate_multi":"0.01"},
		{"version":"v2","from":"2026-03-02","offers":["ea"],"rate_single":"0.50","rate_multi":"0.01"}]}]}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	_, incs, _ := computeAll(t, baseEstate(), progs, wide, []*usage.Record{dailyRecord("a", 0, resVM, 100), dailyRecord("b", 1, resVM, 100)})
	if len(incs) != 2 || incs[0].ProgramVersion != "v1" || incs[0].Amount != 10 || incs[1].ProgramVersion != "v2" || incs[1].Amount != 50 {
		t.Fatalf("%+v", incs)
	}
	if _, err := ParsePrograms([]byte(`{"version":"t","programs":[{"name":"PAL","versions":[{"version":"v1","rate_single":"1.5"}]}]}`), "bad.json"); err == nil ||
		!strings.Contains(err.Error(), "rate_single") {
		t.Fatalf("bad rate error: %v", err)
	}
}

func TestDefaultProgramsParse(t *testing.T) {
	p := DefaultPrograms()
	if len(p.PEC) != 1 || p.PEC[0].Rate != money.Nanos(150_000_000) || len(p.PAL) != 1 || p.PAL[0].RateSingle != 60_000_000 || p.PAL[0].RateMulti != 20_000_000 {
		t.Fatalf("%+v", p)
	}
}

func TestComputeKeepsInputOrderAndFiltersPeriod(t *testing.T) {
	var recs []*usage.Record
	for i := 0; i < 3000; i++ {
		recs = append(recs, dailyRecord(fmt.Sprintf("r%05d", i), i%5, resVM, int64(i)))
	}
	var seen []string
	st, err := Compute(context.Background(), baseEstate(), nil, timeline.Window{From: h(0), To: h(72)}, FromRecords(recs), func(b *usage.Batch, i int, _ []Row, _ []Incentive) error {
		seen = append(seen, b.Key(i))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.OutsidePeriod != 1200 || len(seen) != 1800 || st.Records != 1800 {
		t.Fatalf("stats %+v, seen %d", st, len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("out of order at %d: %s after %s", i, seen[i], seen[i-1])
		}
	}
	// A failing sink stops the run with its error.
	_, err = Compute(context.Background(), baseEstate(), nil, wide, FromRecords(recs), func(*usage.Batch, int, []Row, []Incentive) error { return errSink })
	if err != errSink {
		t.Fatalf("err %v", err)
	}
}

var errSink = fmt.Errorf("sink full")
