// Package factstest draws random estates and usage for property tests (pgregory.net/rapid):
// two customer tenants, two partner organisations with their own tenants, a few
// subscriptions, groups, assignments (some PIM), delegations, links and CUA deployments.
package factstest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

// T0 is the start of the generated world: 2026-03-01T00:00:00Z.
var T0 = timeline.Nanos(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))

// Hour is one Hour in nanoseconds.
const Hour = int64(3600) * 1_000_000_000

// H is T0 plus n hours.
func H(n int) int64 { return T0 + int64(n)*Hour }

// GenWindow draws a window inside four days of hours, sometimes open-ended.
func GenWindow(t *rapid.T, label string) timeline.Window {
	a := rapid.IntRange(-24, 96).Draw(t, label+".from")
	n := rapid.IntRange(1, 96).Draw(t, label+".len")
	w := timeline.Window{From: H(a), To: H(a + n)}
	if rapid.IntRange(0, 3).Draw(t, label+".open") == 0 {
		w.To = timeline.Max
	}
	if rapid.IntRange(0, 5).Draw(t, label+".min") == 0 {
		w.From = timeline.Min
	}
	return w
}

// The role definitions of the generated estate: an eligible built-in, a read-only built-in and
// a custom role decided by its actions.
var (
	RoleOwner  = access.RoleDefinition{ID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", RoleName: "Owner", RoleType: "BuiltInRole", Valid: timeline.Always()}
	RoleReader = access.RoleDefinition{ID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", RoleName: "Reader", RoleType: "BuiltInRole", Valid: timeline.Always()}
	RoleCustom = access.RoleDefinition{ID: "c0000000-0000-0000-0000-000000000001", RoleName: "Deployer", RoleType: "CustomRole",
		Permissions: []access.Permission{{Actions: []string{"Microsoft.Compute/*"}}}, Valid: timeline.Always()}
)

// GenSnapshot draws a small estate: two customer tenants, two partner organisations with
// partner tenants, a few subscriptions, groups, assignments, links and everything else.
func GenSnapshot(t *rapid.T) *facts.Snapshot {
	s := &facts.Snapshot{RoleDefinitions: []access.RoleDefinition{RoleOwner, RoleReader, RoleCustom}}
	locIDs := []string{"1", "2", "10", "x7"}
	for oi, org := range []string{"org-a", "org-b"} {
		o := directory.Organisation{ID: org, TenantIDs: []string{fmt.Sprintf("pt%d", oi)}}
		for li, id := range locIDs {
			if li%2 != oi {
				continue
			}
			l := directory.Location{ID: id, OrgID: org, Active: []timeline.Window{timeline.Always()}}
			if rapid.IntRange(0, 3).Draw(t, "inactive") == 0 {
				l.Active = []timeline.Window{GenWindow(t, "active")}
			}
			o.Locations = append(o.Locations, l)
		}
		s.Organisations = append(s.Organisations, o)
	}
	tenants := []string{"t1", "t2"}
	allTenants := []string{"t1", "t2", "pt0", "pt1"}
	s.ManagementGroups = []estate.ManagementGroup{
		{TenantID: "t1", ID: "mg1", ParentID: "", Valid: timeline.Always()},
		{TenantID: "t1", ID: "mg2", ParentID: "mg1", Valid: GenWindow(t, "mg2")},
	}
	subs := []string{"00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b", "00000000-0000-0000-0000-00000000000c"}
	offers := []estate.Offer{estate.OfferCSP, estate.OfferEA, estate.OfferMCA, estate.OfferPAYG}
	for i, id := range subs {
		sub := estate.Subscription{ID: id, TenantID: tenants[i%2], Offer: rapid.SampledFrom(offers).Draw(t, "offer"), Valid: timeline.Always()}
		if sub.TenantID == "t1" {
			sub.ManagementGroupID = rapid.SampledFrom([]string{"", "mg1", "mg2"}).Draw(t, "mg")
		}
		if sub.Offer == estate.OfferCSP {
			sub.CSPLocationID = rapid.SampledFrom(locIDs).Draw(t, "csploc")
		}
		if rapid.Bool().Draw(t, "subsplit") {
			// Moves to another management group mid-way.
			cut := H(rapid.IntRange(0, 72).Draw(t, "cut"))
			v2 := sub
			sub.Valid.To, v2.Valid.From = cut, cut
			if sub.TenantID == "t1" {
				v2.ManagementGroupID = rapid.SampledFrom([]string{"", "mg1", "mg2"}).Draw(t, "mg2")
			}
			s.Subscriptions = append(s.Subscriptions, v2)
		}
		s.Subscriptions = append(s.Subscriptions, sub)
		for n := rapid.IntRange(0, 2).Draw(t, "ndpor"); n > 0; n-- {
			s.DPOR = append(s.DPOR, estate.DPOR{SubscriptionID: id, LocationID: rapid.SampledFrom(locIDs).Draw(t, "dporloc"), Valid: GenWindow(t, "dpor")})
		}
	}
	principals := []string{"u1", "u2", "g1", "g2", "fg"}
	for _, tn := range allTenants {
		for _, p := range principals {
			typ := estate.User
			if p[0] == 'g' {
				typ = estate.Group
			}
			pr := estate.Principal{TenantID: tn, ObjectID: p, Type: typ, Valid: timeline.Always()}
			if p == "fg" {
				pr.Type, pr.HomeTenantID = estate.ForeignGroup, rapid.SampledFrom([]string{"pt0", "pt1", "zz"}).Draw(t, "home")
			}
			s.Principals = append(s.Principals, pr)
		}
	}
	for n := rapid.IntRange(0, 5).Draw(t, "nmem"); n > 0; n-- {
		s.Memberships = append(s.Memberships, estate.Membership{TenantID: rapid.SampledFrom(allTenants).Draw(t, "memt"),
			MemberID: rapid.SampledFrom(principals).Draw(t, "member"), GroupID: rapid.SampledFrom([]string{"g1", "g2"}).Draw(t, "group"), Valid: GenWindow(t, "mem")})
	}
	roles := []string{RoleOwner.ID, RoleReader.ID, "/providers/Microsoft.Authorization/roleDefinitions/" + RoleCustom.ID}
	scopes := func(i int) []string {
		sub := subs[i%len(subs)]
		return []string{"/", "/providers/Microsoft.Management/managementGroups/mg1", "/providers/Microsoft.Management/managementGroups/MG2",
			"/subscriptions/" + sub, "/subscriptions/" + sub + "/resourceGroups/RG1", "/subscriptions/" + sub + "/resourcegroups/rg1/providers/p/servers/a"}
	}
	for n := rapid.IntRange(2, 10).Draw(t, "nasg"); n > 0; n-- {
		a := access.RoleAssignment{ID: fmt.Sprintf("a%d", n), TenantID: rapid.SampledFrom(tenants).Draw(t, "asgt"),
			PrincipalID: rapid.SampledFrom(principals).Draw(t, "asgp"), RoleDefinitionID: rapid.SampledFrom(append(roles, RoleOwner.ID)).Draw(t, "role"),
			Scope: rapid.SampledFrom(scopes(n)).Draw(t, "scope"), Kind: access.Active, Valid: GenWindow(t, "asg")}
		if rapid.IntRange(0, 2).Draw(t, "eligible") == 0 {
			a.Kind = access.Eligible
			for k := rapid.IntRange(0, 2).Draw(t, "nact"); k > 0; k-- {
				a.Activations = append(a.Activations, GenWindow(t, "act"))
			}
		}
		s.Assignments = append(s.Assignments, a)
	}
	for n := rapid.IntRange(0, 2).Draw(t, "ndel"); n > 0; n-- {
		d := access.Delegation{ID: fmt.Sprintf("d%d", n), CustomerTenantID: rapid.SampledFrom(tenants).Draw(t, "delc"),
			Scope: rapid.SampledFrom(scopes(n)).Draw(t, "dels"), ManagingTenantID: rapid.SampledFrom([]string{"pt0", "pt1"}).Draw(t, "delm"), Valid: GenWindow(t, "del")}
		for k := rapid.IntRange(1, 2).Draw(t, "nauth"); k > 0; k-- {
			d.Authorizations = append(d.Authorizations, access.Authorization{PrincipalID: rapid.SampledFrom(principals).Draw(t, "authp"),
				RoleDefinitionID: rapid.SampledFrom(roles).Draw(t, "authr"), Valid: GenWindow(t, "auth")})
		}
		s.Delegations = append(s.Delegations, d)
	}
	for n := rapid.IntRange(2, 8).Draw(t, "nlink"); n > 0; n-- {
		s.Links = append(s.Links, link.Span{TenantID: rapid.SampledFrom(append(allTenants, "t1", "t2")).Draw(t, "linkt"), ObjectID: rapid.SampledFrom(principals).Draw(t, "linkp"),
			LocationID: rapid.SampledFrom(append(locIDs, "999")).Draw(t, "linkloc"), Valid: GenWindow(t, "link")})
	}
	s.TrackingIDs = []estate.TrackingID{{GUID: "guid-1", LocationID: "2"}, {GUID: "guid-2", LocationID: "x7"}}
	for n := rapid.IntRange(0, 2).Draw(t, "ndep"); n > 0; n-- {
		s.Deployments = append(s.Deployments, estate.Deployment{ResourceID: rapid.SampledFrom(scopes(n)[4:]).Draw(t, "depres"),
			TrackingGUID: rapid.SampledFrom([]string{"guid-1", "GUID-2", "guid-3"}).Draw(t, "depguid"), At: H(rapid.IntRange(-10, 90).Draw(t, "depat"))})
	}
	return s
}

// GenRecords draws up to twelve usage records of the generated subscriptions (and of one
// the estate does not know), some not consumption.
func GenRecords(t *rapid.T) []*usage.Record {
	var recs []*usage.Record
	subs := []string{"00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b", "00000000-0000-0000-0000-00000000000c", "00000000-0000-0000-0000-0000000000ff"}
	for i := rapid.IntRange(1, 12).Draw(t, "nrec"); i > 0; i-- {
		sub := rapid.SampledFrom(subs).Draw(t, "rsub")
		start := H(rapid.IntRange(0, 72).Draw(t, "rstart"))
		length := rapid.SampledFrom([]int64{Hour, 24 * Hour, 24 * Hour, 48 * Hour, 90 * 60 * 1e9}).Draw(t, "rlen")
		if rapid.Bool().Draw(t, "aligned") {
			start = floorDay(start)
		}
		res := rapid.SampledFrom([]string{"", "/subscriptions/" + sub + "/resourceGroups/rg1/providers/p/servers/a/databases/b",
			"/subscriptions/" + sub + "/resourceGroups/RG1/providers/p/servers/a", "/subscriptions/" + sub + "/resourceGroups/rg2/providers/p/vm/v"}).Draw(t, "rres")
		r := &usage.Record{Key: fmt.Sprintf("r%02d", i), Start: start, End: start + length, SubscriptionID: sub, ResourceID: res,
			Service: "svc", ChargeCategory: rapid.SampledFrom([]string{usage.CategoryUsage, usage.CategoryUsage, usage.CategoryUsage, "Purchase"}).Draw(t, "cat"),
			PricingCategory: rapid.SampledFrom([]string{"Standard", "Standard", "Dynamic"}).Draw(t, "pc"),
			Currency:        "USD", Cost: money.Nanos(rapid.Int64Range(0, 5_000_000_000_000).Draw(t, "cost"))}
		recs = append(recs, r)
	}
	return recs
}

// floorDay is the UTC midnight at or before t.
func floorDay(t int64) int64 {
	const day = 24 * Hour
	d := t - t%day
	if t%day < 0 {
		d -= day
	}
	return d
}

// Version 2: identifiers, accounts and multi-provider usage.

// LocIDs are the location IDs GenSnapshot draws from (org-a: 1 and 10, org-b: 2 and x7).
var LocIDs = []string{"1", "2", "10", "x7"}

// GenVersion2 adds partner identifiers and other providers' accounts with resale windows to
// s: values that move between locations mid-way, several locations reselling one account on
// its sub-account and billing account, windows that start and end inside the records.
func GenVersion2(t *rapid.T, s *facts.Snapshot) {
	type idv struct{ scheme, value string }
	ids := []idv{{"aws-product-code", "code1"}, {"aws-product-code", "code2"}, {"aws-revenue-attribution", "ra-abcdefghij123"},
		{"gcp-solution", "isol_1"}, {"publisher", "Red Hat Inc."}, {"publisher", "Contoso Ltd"}}
	for _, id := range ids {
		if rapid.IntRange(0, 3).Draw(t, "id absent") == 0 {
			continue
		}
		loc := rapid.SampledFrom(LocIDs).Draw(t, "id loc")
		if rapid.Bool().Draw(t, "id moves") {
			cut := H(rapid.IntRange(0, 72).Draw(t, "id cut"))
			s.Identifiers = append(s.Identifiers,
				directory.Identifier{Scheme: id.scheme, Value: id.value, LocationID: loc, Window: timeline.Window{From: timeline.Min, To: cut}},
				directory.Identifier{Scheme: id.scheme, Value: strings.ToUpper(id.value), LocationID: rapid.SampledFrom(LocIDs).Draw(t, "id loc2"), Window: timeline.Window{From: cut, To: timeline.Max}})
		} else {
			s.Identifiers = append(s.Identifiers, directory.Identifier{Scheme: id.scheme, Value: id.value, LocationID: loc, Window: GenWindow(t, "id")})
		}
	}
	for _, a := range []account.Account{{Provider: "aws", ID: "111111111111", Kind: account.KindSub}, {Provider: "aws", ID: "999999999999", Kind: account.KindBilling},
		{Provider: "google", ID: "proj-1", Kind: account.KindSub}, {Provider: "google", ID: "BILL-1", Kind: account.KindBilling}} {
		byLoc := map[string]bool{}
		for n := rapid.IntRange(0, 3).Draw(t, "nresale"); n > 0; n-- {
			loc := rapid.SampledFrom(LocIDs).Draw(t, "resale loc")
			if byLoc[loc] {
				continue // one location's windows do not overlap: one window each here
			}
			byLoc[loc] = true
			a.Resale = append(a.Resale, account.Resale{LocationID: loc, Window: GenWindow(t, "resale")})
		}
		s.Accounts = append(s.Accounts, a)
	}
}

// GenRecordsV2 draws usage of several providers: AWS and Google records with tags (user
// prefixes, suffixed and plain keys, unknown and malformed values, organisation and location
// IDs), accounts with and without resale, marketplace sellers, and Azure records with tags.
func GenRecordsV2(t *rapid.T) []*usage.Record {
	var recs []*usage.Record
	tagKeys := []string{"aws-apn-id", "user:aws-apn-id", "resourceTags/user:aws-apn-id-123456789012", "AWS-APN-ID-000000000001", "aws-apn-id-12345",
		"goog-partner-solution", "partnerlink-partner-id", "env"}
	tagValues := []string{"pc:code1", "pc:CODE2", "pc:unknown", "ra-abcdefghij123", "ra-short", "isol_1", "1", "x7", "org-a", "nobody", "pc:"}
	for i := rapid.IntRange(1, 12).Draw(t, "nrec2"); i > 0; i-- {
		prov := rapid.SampledFrom([]string{"AWS", "Amazon Web Services, Inc.", "Google Cloud", "Microsoft"}).Draw(t, "provider")
		start := H(rapid.IntRange(0, 72).Draw(t, "rstart2"))
		length := rapid.SampledFrom([]int64{Hour, 24 * Hour, 48 * Hour, 90 * 60 * 1e9}).Draw(t, "rlen2")
		r := &usage.Record{Key: fmt.Sprintf("v%02d", i), Start: start, End: start + length, Service: "svc", Currency: "USD",
			ChargeCategory: rapid.SampledFrom([]string{usage.CategoryUsage, usage.CategoryUsage, usage.CategoryUsage, "Purchase"}).Draw(t, "cat2"),
			Provider:       prov, Cost: money.Nanos(rapid.Int64Range(0, 5_000_000_000_000).Draw(t, "cost2"))}
		r.ProviderID = usage.NormalizeProvider(prov)
		switch r.ProviderID {
		case usage.ProviderAWS:
			r.SubscriptionID = rapid.SampledFrom([]string{"111111111111", "222222222222"}).Draw(t, "aws sub")
			r.BillingAccountID = rapid.SampledFrom([]string{"", "999999999999", "888888888888"}).Draw(t, "aws bill")
			r.ResourceID = "arn:aws:ec2:eu-west-1:" + r.SubscriptionID + ":instance/i-1"
		case usage.ProviderGoogle:
			r.SubscriptionID = rapid.SampledFrom([]string{"PROJ-1", "proj-2"}).Draw(t, "gcp sub")
			r.BillingAccountID = rapid.SampledFrom([]string{"", "bill-1"}).Draw(t, "gcp bill")
		default:
			r.SubscriptionID = rapid.SampledFrom([]string{"00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-0000000000ff"}).Draw(t, "az sub")
		}
		r.Publisher = rapid.SampledFrom([]string{"", prov, "Amazon Web Services EMEA SARL", "Red Hat Inc.", " red hat inc. ", "Unknown Seller"}).Draw(t, "publisher")
		if rapid.IntRange(0, 4).Draw(t, "focus13") == 0 {
			r.HostProvider = "Microsoft"
			r.Provider = "Contoso Ltd"
			r.ProviderID = usage.NormalizeProvider(r.Provider)
		}
		tags := map[string]string{}
		for n := rapid.IntRange(0, 3).Draw(t, "ntags"); n > 0; n-- {
			tags[rapid.SampledFrom(tagKeys).Draw(t, "tag key")] = rapid.SampledFrom(tagValues).Draw(t, "tag value")
		}
		if len(tags) > 0 {
			b, _ := json.Marshal(tags) // sorted keys: the canonical form
			r.Tags = string(b)
		}
		recs = append(recs, r)
	}
	return recs
}
