package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/link"
)

func audit(t *testing.T, s *facts.Snapshot, partner string) *Report {
	t.Helper()
	rep, err := Compute(context.Background(), s, Query{Partner: partner, Period: period}, attribution.FromRecords(usageOf()))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func csvOf(t *testing.T, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.Write(&b, "csv"); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func totalsOf(rep *Report) map[string]string {
	out := map[string]string{}
	for _, x := range rep.Totals {
		out[x.Total+" "+x.Currency] = x.Amount
	}
	return out
}

// Every gap, risk and hygiene class of the hand-written world (world_test.go), with exact sums,
// in the order of money at stake.
func TestAuditOfTheOrganisation(t *testing.T) {
	rep := audit(t, world(), org)
	want := `kind,tenant_id,subscription_id,reason,currency,amount,principal_object_id
gap,` + t2 + `,` + s(8) + `,no_linked_principal,EUR,160,
gap,` + t2 + `,` + s(7) + `,no_linked_principal,EUR,140,
gap,` + t1 + `,` + s(4) + `,no_assignment,USD,80,
gap,` + t1 + `,` + s(3) + `,never_activated,EUR,60,
gap,` + t1 + `,` + s(2) + `,not_eligible,EUR,40,
gap,` + t1 + `,` + s(12) + `,csp_precedence,EUR,7,
gap,` + t1 + `,` + s(5) + `,csp_precedence,EUR,100,
risk,` + t1 + `,` + s(1) + `,single_principal,EUR,201,` + u1 + `
risk,` + t3 + `,` + s(9) + `,single_principal,EUR,90,` + a1 + `
risk,` + t1 + `,` + s(10) + `,single_principal,EUR,22.222222222,` + u4 + `
risk,` + t1 + `,` + s(11) + `,single_principal,EUR,5,` + u2 + `
hygiene,` + t2 + `,,unlinked_guest,EUR,160,` + guest + `
hygiene,` + pt + `,,inactive_location,EUR,90,` + a1 + `
hygiene,` + t1 + `,,no_eligible_role,,,` + u5 + `
hygiene,` + t1 + `,,no_eligible_role,,,` + guest + `
`
	if got := csvOf(t, rep); got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
	wantTotals := map[string]string{
		"consumption EUR": "1040.222222222", "consumption USD": "80",
		"pal_credited EUR": "533.222222222", "csp_precedence EUR": "100", "gap EUR": "407", "gap USD": "80",
		"risk EUR": "318.222222222", "hygiene EUR": "250",
	}
	if got := totalsOf(rep); !equalMaps(got, wantTotals) {
		t.Errorf("totals %v, want %v", got, wantTotals)
	}
	if len(rep.Tenants) != 3 || strings.Join(rep.Tenants[0].Presence, ",") != "PAL,CSP" || strings.Join(rep.Tenants[1].Presence, ",") != "DPOR" ||
		strings.Join(rep.Tenants[2].Presence, ",") != "LIGHTHOUSE" {
		t.Errorf("tenants %+v, want t1 (PAL, CSP), t2 (DPOR), t3 (LIGHTHOUSE)", rep.Tenants)
	}
	byKey := map[string]*Finding{}
	for _, f := range rep.Findings {
		byKey[f.Kind+" "+f.SubscriptionID+" "+f.Reason+" "+f.PrincipalObjectID] = f
	}
	// The risks name how the identity holds its roles and when its link ends.
	if f := byKey["risk "+s(1)+" single_principal "+u1]; f.LinkEnds != "2026-03-05T04:00:00Z" || len(f.Routes) != 1 || f.Routes[0] != (Route{Assignment: "as1", Role: "Owner"}) {
		t.Errorf("u1's risk: link ends %q, routes %+v", f.LinkEnds, f.Routes)
	}
	if f := byKey["risk "+s(10)+" single_principal "+u4]; f.LinkEnds != "" || len(f.Routes) != 1 || f.Routes[0].Group != group {
		t.Errorf("u4's risk: link ends %q, routes %+v; want open, through group %s", f.LinkEnds, f.Routes, group)
	}
	if f := byKey["risk "+s(11)+" single_principal "+u2]; len(f.Routes) != 1 || !f.Routes[0].PIM {
		t.Errorf("u2's risk: routes %+v, want one PIM route", f.Routes)
	}
	if f := byKey["risk "+s(9)+" single_principal "+a1]; len(f.Routes) != 1 || f.Routes[0].Assignment != "del9" || f.LocationID != loc2 {
		t.Errorf("a1's risk: %+v, want the Lighthouse delegation del9 through 4100002", f)
	}
	// Gaps say what explain says.
	if f := byKey["gap "+s(2)+" not_eligible "]; !strings.Contains(f.Detail, "Reader") {
		t.Errorf("S2's gap detail %q does not name the Reader role", f.Detail)
	}
	if f := byKey["gap "+s(3)+" never_activated "]; !strings.Contains(f.Detail, "as3") || f.PrincipalObjectID != "" {
		t.Errorf("S3's gap: %+v", f)
	}
	// Over the period explain sees CSP precedence on S12; its usage met neither PAL nor CSP.
	if f := byKey["gap "+s(12)+" csp_precedence "]; !strings.Contains(f.Detail, "its costliest record, 2026-03-02T00:00:00Z") || !strings.Contains(f.Detail, "no CSP credit either") {
		t.Errorf("S12's gap: %+v", f)
	}
}

// An audit of one location sees only that location's links: 4100002 is present in t3 alone,
// and 4100001's tenants are none of its business.
func TestAuditOfOneLocation(t *testing.T) {
	rep := audit(t, world(), loc2)
	want := `kind,tenant_id,subscription_id,reason,currency,amount,principal_object_id
risk,` + t3 + `,` + s(9) + `,single_principal,EUR,90,` + a1 + `
hygiene,` + pt + `,,inactive_location,EUR,90,` + a1 + `
`
	if got := csvOf(t, rep); got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
	if got := totalsOf(rep); !equalMaps(got, map[string]string{"consumption EUR": "180", "pal_credited EUR": "180", "risk EUR": "90", "hygiene EUR": "90"}) {
		t.Errorf("totals %v", got)
	}
}

// A second linked identity removes the risk; an identity whose only location closes keeps
// it; unknown IDs are a not-found error naming the ID.
func TestAuditChanges(t *testing.T) {
	w := world()
	w.Assignments = append(w.Assignments, w.Assignments[0])
	w.Assignments[len(w.Assignments)-1].ID, w.Assignments[len(w.Assignments)-1].PrincipalID = "as1b", u3
	for _, f := range audit(t, w, org).Findings {
		if f.SubscriptionID == s(1) {
			t.Errorf("S1 is covered by u1 and u3, yet %+v", f)
		}
	}
	if _, err := Compute(context.Background(), world(), Query{Partner: "999", Period: period}, attribution.FromRecords(nil)); err == nil || !strings.Contains(err.Error(), `"999"`) {
		t.Errorf("unknown partner: %v", err)
	}
}

func TestFormats(t *testing.T) {
	rep := audit(t, world(), org)
	var text, js bytes.Buffer
	if err := rep.Write(&text, "text"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1,040.22 EUR", "22.22 EUR", "2026-03-05T04:00:00Z", "no_linked_principal", "explain: no_link_in_tenant: ", "Hygiene"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if err := rep.Write(&js, "json"); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Findings) != len(rep.Findings) || back.Findings[9].Amount != "22.222222222" || len(back.Totals) != 8 {
		t.Errorf("json: %v %+v", err, back)
	}
	if err := rep.Write(&text, "xml"); err == nil || !strings.Contains(err.Error(), "text, csv, json") {
		t.Errorf("unknown format: %v", err)
	}
	for in, want := range map[string]string{"": "", "0": "0.00 EUR", "1234567.125": "1,234,567.12 EUR", "-0.005": "0.00 EUR", "-12.345": "-12.34 EUR", "999.995": "1,000.00 EUR"} {
		if got := Display(in, "EUR"); got != want {
			t.Errorf("Display(%q) = %q, want %q", in, got, want)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Refused attempts to link the organisation ID are a hygiene finding per principal, naming
// the locations, unless the principal linked one of them after its last attempt; another
// organisation's refusals and attempts outside the audited tenants are not the audit's.
func TestAuditRefusedOrganisationIDs(t *testing.T) {
	u6 := "00000000-0000-0000-0000-0000000000u6"
	q := Query{Partner: org, Period: period, Refusals: []link.Refusal{
		{TenantID: t2, ObjectID: u6, PartnerID: org, Action: link.ActionCreate, At: factstest.H(2)},
		{TenantID: t2, ObjectID: u6, PartnerID: org, Action: link.ActionCreate, At: factstest.H(3)},
		{TenantID: t1, ObjectID: u1, PartnerID: org, Action: link.ActionUpdate, At: factstest.H(4)}, // u1 stays linked to 4100001
		{TenantID: t2, ObjectID: u5, PartnerID: "5200000", Action: link.ActionCreate, At: factstest.H(4)},
	}}
	rep, err := Compute(context.Background(), world(), q, attribution.FromRecords(usageOf()))
	if err != nil {
		t.Fatal(err)
	}
	var got []*Finding
	for _, f := range rep.Findings {
		if f.Reason == ReasonOrganisationID {
			got = append(got, f)
		}
	}
	if len(got) != 1 || got[0].Kind != KindHygiene || got[0].TenantID != t2 || got[0].PrincipalObjectID != u6 || got[0].Amount != "" ||
		!strings.Contains(got[0].Detail, "2 attempt(s), the last at 2026-03-01T03:00:00Z") || !strings.Contains(got[0].Detail, "4100001") || !strings.Contains(got[0].Detail, "4100003") {
		t.Fatalf("refusal findings %+v", got)
	}
	if !strings.Contains(csvOf(t, rep), "hygiene,"+t2+",,organisation_id,,,"+u6+"\n") {
		t.Errorf("csv:\n%s", csvOf(t, rep))
	}
	// The totals are those without the refusals: they carry no amount.
	if got, want := totalsOf(rep), totalsOf(audit(t, world(), org)); !equalMaps(got, want) {
		t.Errorf("totals %v, want %v", got, want)
	}
}

// The CSV, the JSON, the text and the dashboard's tables give every finding the same stable
// reason code, and only the codes (and the audit's documented additions).
func TestReasonCodesAgreeAcrossFormats(t *testing.T) {
	w := world()
	q := Query{Partner: org, Period: period, Refusals: []link.Refusal{{TenantID: t2, ObjectID: u3, PartnerID: org, At: factstest.H(1)}}}
	rep, err := Compute(context.Background(), w, q, attribution.FromRecords(usageOf()))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{ReasonNoLinkedPrincipal: true, ReasonNoAssignment: true, ReasonNotEligible: true, ReasonNeverActivated: true,
		ReasonCSPPrecedence: true, ReasonSinglePrincipal: true, ReasonUnlinkedGuest: true, ReasonInactiveLocation: true, ReasonNoOverlap: true,
		ReasonNoEligibleRole: true, ReasonOrganisationID: true}
	var csvReasons []string
	for _, line := range strings.Split(strings.TrimSpace(csvOf(t, rep)), "\n")[1:] {
		csvReasons = append(csvReasons, strings.Split(line, ",")[3])
	}
	var js bytes.Buffer
	if err := rep.Write(&js, "json"); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	var tableReasons []string
	for _, tb := range rep.Tables() {
		col := map[string]int{"gaps": 3, "hygiene": 2}[tb.Name]
		for _, row := range tb.Rows {
			switch tb.Name {
			case "gaps", "hygiene":
				tableReasons = append(tableReasons, row[col])
			case "risks":
				tableReasons = append(tableReasons, ReasonSinglePrincipal) // the risks table is one reason's
			}
		}
	}
	var text bytes.Buffer
	if err := rep.Write(&text, "text"); err != nil {
		t.Fatal(err)
	}
	if len(csvReasons) != len(rep.Findings) || len(back.Findings) != len(rep.Findings) || len(tableReasons) != len(rep.Findings) {
		t.Fatalf("%d findings; csv %d, json %d, tables %d", len(rep.Findings), len(csvReasons), len(back.Findings), len(tableReasons))
	}
	for i, f := range rep.Findings {
		if !known[f.Reason] || csvReasons[i] != f.Reason || back.Findings[i].Reason != f.Reason || tableReasons[i] != f.Reason ||
			!strings.Contains(text.String(), f.Reason) {
			t.Errorf("finding %d: reason %q, csv %q, json %q, table %q", i, f.Reason, csvReasons[i], back.Findings[i].Reason, tableReasons[i])
		}
		if f.Kind == KindGap && (f.ExplainReason == "" || GapReason(f.ExplainReason) != f.Reason || back.Findings[i].ExplainReason != f.ExplainReason) {
			t.Errorf("gap %d: reason %q from explain's %q (json %q)", i, f.Reason, f.ExplainReason, back.Findings[i].ExplainReason)
		}
	}
	for _, code := range []string{ReasonNoLinkedPrincipal, ReasonNoAssignment, ReasonNotEligible, ReasonNeverActivated, ReasonCSPPrecedence,
		ReasonSinglePrincipal, ReasonUnlinkedGuest, ReasonOrganisationID} {
		if !slices.Contains(csvReasons, code) {
			t.Errorf("the world has no %s finding", code)
		}
	}
}
