package attribution

import (
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

func explainAt(t *testing.T, s *facts.Snapshot, partner string, rec *usage.Record) *Explanation {
	t.Helper()
	ex, err := ExplainSnapshot(s, ExplainQuery{Partner: partner, Resource: resVM, Period: timeline.Window{From: h(0), To: h(24)}}, rec)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func wantReason(t *testing.T, ex *Explanation, code, text string) {
	t.Helper()
	for _, r := range ex.Reasons {
		if r.Code == code && strings.Contains(r.Text, text) {
			return
		}
	}
	t.Fatalf("want reason %s containing %q; got %s", code, text, ex.Text())
}

func TestExplainChainOfFoundAssociation(t *testing.T) {
	ex := explainAt(t, baseEstate(), "1", nil)
	if len(ex.Found) != 1 || ex.Found[0].Association != AssocPAL || len(ex.Found[0].Chains) != 1 {
		t.Fatalf("%s", ex.Text())
	}
	txt := ex.Text()
	for _, want := range []string{"link 1", "principal u1", "assignment a1", "role Owner", "scope /subscriptions/" + subA} {
		if !strings.Contains(txt, want) {
			t.Fatalf("chain lacks %q:\n%s", want, txt)
		}
	}
}

func TestExplainReasonOrganisationID(t *testing.T) {
	wantReason(t, explainAt(t, baseEstate(), "org-a", nil), ReasonOrganisationID, "1, 2")
}

func TestExplainReasonUnknownID(t *testing.T) {
	wantReason(t, explainAt(t, baseEstate(), "nope", nil), ReasonUnknownID, `"nope"`)
}

func TestExplainReasonInactiveLocation(t *testing.T) {
	s := baseEstate()
	s.Organisations[0].Locations[0].Active = []timeline.Window{{From: timeline.Min, To: h(-5)}}
	wantReason(t, explainAt(t, s, "1", nil), ReasonInactiveLocation, "inactive")
}

func TestExplainReasonNoLinkInTenant(t *testing.T) {
	wantReason(t, explainAt(t, baseEstate(), "2", nil), ReasonNoLink, "t1")
}

func TestExplainReasonLinkStartedAfter(t *testing.T) {
	s := baseEstate()
	s.Links[0].Valid = timeline.Since(h(48))
	wantReason(t, explainAt(t, s, "1", nil), ReasonLinkOutsidePeriod, "after the period")
}

func TestExplainReasonLinkEndedBefore(t *testing.T) {
	s := baseEstate()
	s.Links[0].Valid = timeline.Window{From: h(-48), To: h(-24)}
	wantReason(t, explainAt(t, s, "1", nil), ReasonLinkOutsidePeriod, "before the period")
}

func TestExplainReasonNoCoveringAssignment(t *testing.T) {
	s := baseEstate()
	s.Assignments[0].Scope = "/subscriptions/" + subA + "/resourceGroups/other"
	wantReason(t, explainAt(t, s, "1", nil), ReasonNoCoveringAssign, "covers")
}

func TestExplainReasonRolesNotEligibleNamesThem(t *testing.T) {
	s := baseEstate()
	s.RoleDefinitions = append(s.RoleDefinitions, roleReader)
	s.Assignments[0].RoleDefinitionID = roleReader.ID
	wantReason(t, explainAt(t, s, "1", nil), ReasonRolesNotEligible, "Reader")
}

func TestExplainReasonEligibleNeverActivated(t *testing.T) {
	s := baseEstate()
	s.Assignments[0].Kind = access.Eligible
	wantReason(t, explainAt(t, s, "1", nil), ReasonNeverActivated, "never activated")
}

func TestExplainReasonAssignmentStartedAfterEndedBefore(t *testing.T) {
	s := baseEstate()
	s.Assignments[0].Valid = timeline.Since(h(30))
	wantReason(t, explainAt(t, s, "1", nil), ReasonAssignOutside, "after the period")
	s.Assignments[0].Valid = timeline.Window{From: timeline.Min, To: h(-1)}
	wantReason(t, explainAt(t, s, "1", nil), ReasonAssignOutside, "before the period")
}

func TestExplainReasonNotConsumption(t *testing.T) {
	r := dailyRecord("r", 0, resVM, 1)
	r.ChargeCategory = "Tax"
	wantReason(t, explainAt(t, baseEstate(), "1", r), ReasonNotConsumption, "Tax")
}

func TestExplainReasonCSPPrecedence(t *testing.T) {
	s := baseEstate()
	s.Subscriptions[0].Offer, s.Subscriptions[0].CSPLocationID = estate.OfferCSP, "2"
	ex := explainAt(t, s, "1", nil)
	wantReason(t, ex, ReasonCSPPrecedence, "CSP")
	ex = explainAt(t, s, "2", nil)
	if len(ex.Found) != 1 || ex.Found[0].Association != AssocCSP {
		t.Fatalf("%s", ex.Text())
	}
}

func TestExplainLighthouseLinkCountsAsInTenant(t *testing.T) {
	s := baseEstate()
	s.Links = []link.Span{{TenantID: "pt0", ObjectID: "m1", LocationID: "2", Valid: timeline.Always()}}
	s.Delegations = []access.Delegation{{ID: "d1", CustomerTenantID: "t1", Scope: "/", ManagingTenantID: "pt0", Valid: timeline.Always()}}
	wantReason(t, explainAt(t, s, "2", nil), ReasonNoCoveringAssign, "covers")
}

func TestExplainNamesTheSnapshotThatClosedAnAssignment(t *testing.T) {
	s := baseEstate()
	closure := &access.Closure{ImportID: "imp-1", Source: "azure-role-assignments", File: "ra.json"}
	s.Assignments[0].Valid = timeline.Window{From: timeline.Min, To: h(-1)}
	s.Assignments[0].ClosedBy = closure
	wantReason(t, explainAt(t, s, "1", nil), ReasonAssignOutside, "closed at "+timeline.Format(h(-1))+" by snapshot import imp-1 (azure-role-assignments, file ra.json)")
	// Closed within the period: the chain of what was found says where its end came from.
	s.Assignments[0].Valid = timeline.Window{From: timeline.Min, To: h(12)}
	ex := explainAt(t, s, "1", nil)
	if len(ex.Found) != 1 || len(ex.Found[0].Chains) != 1 || !strings.Contains(ex.Text(), "by snapshot import imp-1") {
		t.Fatalf("%s", ex.Text())
	}
	// An end no import set names none.
	s.Assignments[0].ClosedBy = nil
	if ex := explainAt(t, s, "1", nil); strings.Contains(ex.Text(), "snapshot import") {
		t.Fatalf("%s", ex.Text())
	}
}
