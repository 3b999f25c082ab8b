package whatif

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// small: organisation A (locations 1, 2; own tenant pt) and B (location 9); customer tenant
// t1 with u1 (linked to 1, PIM-eligible Owner), u2 (not linked) and group g (u2 a member);
// t2 delegates to pt, whose admin is linked to 1.
func small() *facts.Snapshot {
	always := timeline.Always()
	s := &facts.Snapshot{
		Organisations: []directory.Organisation{
			{ID: "A", Name: "Contoso", Locations: []directory.Location{{ID: "1", OrgID: "A", Active: []timeline.Window{always}}, {ID: "2", OrgID: "A", Active: []timeline.Window{always}}}},
			{ID: "B", Name: "Northwind", Locations: []directory.Location{{ID: "9", OrgID: "B", Active: []timeline.Window{always}}}},
		},
		RoleDefinitions: []access.RoleDefinition{factstest.RoleOwner},
		Principals: []estate.Principal{{TenantID: "t1", ObjectID: "u1", Type: estate.User, Valid: always}, {TenantID: "t1", ObjectID: "u2", Type: estate.User, Valid: always},
			{TenantID: "t1", ObjectID: "g", Type: estate.Group, Valid: always}, {TenantID: "pt", ObjectID: "admin", Type: estate.User, Valid: always}},
		Memberships: []estate.Membership{{TenantID: "t1", MemberID: "u2", GroupID: "g", Valid: always}},
		Assignments: []access.RoleAssignment{{ID: "a1", TenantID: "t1", PrincipalID: "u1", RoleDefinitionID: factstest.RoleOwner.ID, Scope: "/", Kind: access.Eligible, Valid: always},
			{ID: "a2", TenantID: "t1", PrincipalID: "u2", RoleDefinitionID: factstest.RoleOwner.ID, Scope: "/", Kind: access.Active, Valid: always}},
		Delegations: []access.Delegation{{ID: "d", CustomerTenantID: "t2", ManagingTenantID: "pt", Scope: "/", Valid: always,
			Authorizations: []access.Authorization{{PrincipalID: "admin", RoleDefinitionID: factstest.RoleOwner.ID, Valid: always}}}},
		Links: []link.Span{{TenantID: "t1", ObjectID: "u1", LocationID: "1", Valid: always}, {TenantID: "pt", ObjectID: "admin", LocationID: "1", Valid: always}},
	}
	return s
}

var operator = Caller{Operator: true}

func change(t *testing.T, flag string) Change {
	t.Helper()
	op, v, _ := strings.Cut(flag, " ")
	c, err := ParseFlag(op, v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestApply(t *testing.T) {
	s := small()
	before, _ := json.Marshal(s)
	got, touched, err := Apply(s, []Change{
		change(t, "add-link t1/u1=2@2026-03-10.."),
		change(t, "add-link t1/u2=1"),
		change(t, "activate t1/u1:Owner@/=2026-03-11..2026-03-12"),
		change(t, "add-assignment t1/u2:8e3af657-a8ff-443c-a75c-2fe8c4bcb635@/subscriptions/00000000-0000-0000-0000-000000000001:eligible"),
		change(t, "remove-principal pt/admin@2026-03-20.."),
	}, operator)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(s); string(after) != string(before) {
		t.Fatal("Apply changed the facts it was given")
	}
	d := func(s string) int64 { v, _ := timeline.ParseDateOrTime(s); return v }
	wantLinks := []link.Span{
		{TenantID: "t1", ObjectID: "u1", LocationID: "1", Valid: timeline.Window{From: timeline.Min, To: d("2026-03-10")}},
		{TenantID: "pt", ObjectID: "admin", LocationID: "1", Valid: timeline.Window{From: timeline.Min, To: d("2026-03-20")}},
		{TenantID: "t1", ObjectID: "u1", LocationID: "2", Valid: timeline.Since(d("2026-03-10"))},
		{TenantID: "t1", ObjectID: "u2", LocationID: "1", Valid: timeline.Always()},
	}
	if !equalJSON(got.Links, wantLinks) {
		t.Errorf("links %+v, want %+v", got.Links, wantLinks)
	}
	if a := got.Assignments[0]; len(a.Activations) != 1 || a.Activations[0] != (timeline.Window{From: d("2026-03-11"), To: d("2026-03-12")}) {
		t.Errorf("u1's activations %+v", a.Activations)
	}
	if a := got.Assignments[2]; a.ID != "whatif-1" || a.Kind != access.Eligible || a.Scope != "/subscriptions/00000000-0000-0000-0000-000000000001" {
		t.Errorf("added assignment %+v", a)
	}
	if au := got.Delegations[0].Authorizations; len(au) != 1 || au[0].Valid.To != d("2026-03-20") {
		t.Errorf("admin's authorisation %+v, want it to end when admin leaves", au)
	}
	if !touched["t1"] || !touched["pt"] || !touched["t2"] || len(touched) != 3 {
		t.Errorf("touched %v, want t1, pt and t2 (which delegates to pt)", touched)
	}
}

func TestApplyErrors(t *testing.T) {
	for flag, want := range map[string]string{
		"add-link t1/u2=A":                              "A is the organisation ID of Contoso; links take a location ID: 1, 2",
		"add-link t1/u2=77":                             "no partner location has the ID 77",
		"add-link t1/g=1":                               "g is a group",
		"add-link t1/nobody=1":                          "principal t1/nobody is not in the estate",
		"remove-link t1/u2":                             "t1/u2 has no link",
		"activate t1/u2:Owner@/=2026-03-01..2026-03-02": "no eligible (PIM) assignment of Owner at /",
		"add-assignment t1/u2:Janitor@/":                `role "Janitor" is not a role definition`,
		"add-assignment t1/u2:Owner@/bad":               "scope",
	} {
		_, _, err := Apply(small(), []Change{change(t, flag)}, operator)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "changes[0]") {
			t.Errorf("%s: %v, want %q", flag, err, want)
		}
	}
}

// A partner simulates changes to its own links and linked identities only.
func TestApplyPermissions(t *testing.T) {
	partnerA := Caller{PartnerIDs: []string{"A"}}
	for _, c := range []struct {
		flags  []string
		caller Caller
		denied string
	}{
		{[]string{"add-link t1/u2=9"}, partnerA, "location 9 is not one of yours"},
		{[]string{"remove-principal t1/u2"}, partnerA, "principal t1/u2 is not linked to any of your locations"},
		{[]string{"activate t1/u1:Owner@/=2026-03-01..2026-03-02"}, Caller{PartnerIDs: []string{"9"}}, "t1/u1 is not linked"},
		{[]string{"add-link t1/u2=2", "add-assignment t1/u2:Owner@/"}, Caller{PartnerIDs: []string{"2"}}, ""},
		{[]string{"activate t1/u1:Owner@/=2026-03-01..2026-03-02", "remove-link t1/u1"}, Caller{PartnerIDs: []string{"1"}}, ""},
		{[]string{"add-link t1/u2=9"}, operator, ""},
	} {
		var cs []Change
		for _, f := range c.flags {
			cs = append(cs, change(t, f))
		}
		_, _, err := Apply(small(), cs, c.caller)
		var d *DeniedError
		switch {
		case c.denied == "" && err != nil:
			t.Errorf("%v as %+v: %v", c.flags, c.caller, err)
		case c.denied != "" && (!errors.As(err, &d) || !strings.Contains(err.Error(), c.denied)):
			t.Errorf("%v as %+v: %v, want a denial saying %q", c.flags, c.caller, err, c.denied)
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
