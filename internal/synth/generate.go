package synth

import (
	"fmt"
	"math/rand/v2"
	"time"

	ef "github.com/partnerlink/partnerlink/internal/estatefile"
)

// PeriodStart is the first instant of the generated usage month (UTC midnight).
var PeriodStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// Dataset is a generated estate plus what is needed to stream its usage.
type Dataset struct {
	Seed   int64
	Scale  Scale
	Estate ef.File
	// From and To bound the usage charge periods (To = PeriodStart + Days).
	From, To time.Time
	// Resources are the resource IDs usage is generated for, with their subscription and the
	// tenant's billing currency.
	Resources []Resource
	// UnknownSubscriptions receive some usage but are not in the estate (data-quality warnings).
	UnknownSubscriptions []string
	// Cases names the deliberate demo cases.
	Cases Cases
	// LocationNames maps location ID to "Org – Location" for summaries.
	LocationNames map[string]string
	// Story names what a multi-month dataset (Scale.Months > 1) shows over its months.
	Story Story
	// MultiCloud names the multi-provider slice (Scale.MultiCloud).
	MultiCloud MultiCloud
	// Rows is the number of usage rows the last WriteUsage wrote.
	Rows int64

	commitment string
}

// Story is what happens over the months of a multi-month dataset: customers who join (growth),
// customers who leave (churn), and a CSP customer that moves to another reseller.
type Story struct {
	// Joined: tenant ID -> the month its usage starts (YYYY-MM).
	Joined map[string]string
	// Churned: tenant ID -> the month from which it has no usage (YYYY-MM).
	Churned map[string]string
	// Transfer: a CSP customer lost by one partner to another at At.
	Transfer struct {
		TenantID, TenantName, SubscriptionID string
		FromLocation, ToLocation             string
		At                                   time.Time
	}
}

// Resource is one resource usage is generated for.
type Resource struct {
	ID, SubscriptionID, Currency, Service, ServiceCategory string
	// UsageID is how usage spells the ID (sometimes lower-cased, as real exports do).
	UsageID string
	// Start and End bound the charge starts the resource has usage for (zero = unbounded):
	// customers join and leave in multi-month datasets.
	Start, End time.Time
	// Other providers' resources (Scale.MultiCloud): FOCUS ProviderName and PublisherName
	// (empty = Microsoft), BillingAccountId, SubAccountType and Tags (a JSON object).
	Provider, Publisher, BillingAccount, SubAccountType, Tags string
}

// Cases are the hand-placed situations the demo and tests explain.
type Cases struct {
	// OrgIDAttempt: a partner whose user tried to link the organisation ID (which the link API
	// rejects), so the user holds Contributor on the subscription but nothing is recognised.
	OrgIDAttempt struct{ OrgID, TenantID, SubscriptionID, PrincipalID string }
	// UnactivatedPIM: a linked user whose only role on the subscription is an eligible (PIM)
	// Owner assignment that was never activated.
	UnactivatedPIM struct{ LocationID, TenantID, SubscriptionID, PrincipalID string }
	// GroupChain: a linked user who gets Contributor on a subscription through two nested groups.
	GroupChain struct{ LocationID, TenantID, SubscriptionID, ResourceID, PrincipalID string }
}

type org struct {
	id, name  string
	tenants   []string
	locations []string
	users     []string // principals in the partner tenant (tenants[0])
	group     string
}

type customer struct {
	id, name string
	reseller *org
	csp      bool
}

type gen struct {
	r    *rand.Rand
	d    *Dataset
	orgs []*org
	// customers are the customer tenants in order, with their CSP reseller organisation.
	customers []customer
	hrs       int // hours in the period
	// shift moves the estate's fixed dates back for multi-month datasets (0 months for one
	// period), so that what exists before the period still exists before it.
	shift int
}

var roles = []ef.RoleDefinition{
	{ID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", RoleName: "Owner", Type: "BuiltInRole", Permissions: []ef.Permission{{Actions: []string{"*"}, NotActions: []string{}}}},
	{ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", RoleName: "Contributor", Type: "BuiltInRole", Permissions: []ef.Permission{{Actions: []string{"*"},
		NotActions: []string{"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action"}}}},
	{ID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", RoleName: "Reader", Type: "BuiltInRole", Permissions: []ef.Permission{{Actions: []string{"*/read"}, NotActions: []string{}}}},
	{ID: "9980e02c-c2be-4d73-94e8-173b1dc7cf3c", RoleName: "Virtual Machine Contributor", Type: "BuiltInRole", Permissions: []ef.Permission{{Actions: []string{
		"Microsoft.Authorization/*/read", "Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/disks/write"}, NotActions: []string{}}}},
	{ID: "cfd33db0-3dd1-45e3-aa9d-cdbdf3b6f24e", RoleName: "Support Request Contributor", Type: "BuiltInRole", Permissions: []ef.Permission{{Actions: []string{
		"Microsoft.Authorization/*/read", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*"}, NotActions: []string{}}}},
	{ID: "43d0d8ad-25c7-4714-9337-8ba259a9fe05", RoleName: "Monitoring Reader", Type: "BuiltInRole", Permissions: []ef.Permission{{Actions: []string{
		"*/read", "Microsoft.OperationalInsights/workspaces/search/action", "Microsoft.Support/*"}, NotActions: []string{}}}},
	// Custom roles: decided by the write-action rule.
	{ID: "5f1c6a0e-0000-4000-8000-00000000c001", RoleName: "Partner Operations", Type: "CustomRole", Permissions: []ef.Permission{{Actions: []string{
		"Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/restart/action"}, NotActions: []string{}}}},
	{ID: "5f1c6a0e-0000-4000-8000-00000000c002", RoleName: "Cost Viewer", Type: "CustomRole", Permissions: []ef.Permission{{Actions: []string{
		"Microsoft.Consumption/*/read", "Microsoft.CostManagement/*/read"}, NotActions: []string{}}}},
}

const (
	roleOwner, roleContributor, roleReader, roleVM, roleSupport, roleMonitoring, roleOps, roleCost = 0, 1, 2, 3, 4, 5, 6, 7
)

// rolePick weights assignments the way real estates look: mostly Contributor/Owner/Reader.
var rolePick = []int{roleContributor, roleContributor, roleContributor, roleOwner, roleOwner, roleReader, roleReader, roleVM, roleSupport, roleMonitoring, roleOps, roleCost}

var orgNames = []string{"Contoso Cloud", "Fabrikam Partners", "Northwind IT", "Adatum Consulting", "Litware Systems",
	"Tailspin Managed Services", "Woodgrove Digital", "Proseware Cloud", "Wingtip Solutions", "Lamna Data",
	"Trey Research", "Alpine Ski IT", "Coho Cloud Works", "Fourth Coffee Tech", "Margie's Consulting", "Relecloud Partners"}
var countries = []string{"DE", "US", "GB", "FR", "NL", "SE", "IN", "JP"}
var customerNames = []string{"Fabrikam Retail", "Wide World Importers", "Blue Yonder Airlines", "Humongous Insurance",
	"Graphic Design Institute", "School of Fine Art", "City Power & Light", "Bellows College", "VanArsdel", "Datum Health"}

// Generate builds the dataset for a seed and scale. It is deterministic: the same arguments
// give the same dataset and the same bytes from WriteEstate and WriteUsage.
func Generate(seed int64, scale Scale) *Dataset {
	if scale.Days < 1 {
		scale.Days = 1
	}
	scale.Tenants = max(scale.Tenants, 4)
	scale.Subscriptions = max(scale.Subscriptions, scale.Tenants)
	scale.Resources = max(scale.Resources, scale.Subscriptions)
	from, to := PeriodStart, PeriodStart.Add(time.Duration(scale.Days)*24*time.Hour)
	if scale.Months > 1 {
		// Whole calendar months ending with the month of PeriodStart.
		from, to = PeriodStart.AddDate(0, 1-scale.Months, 0), PeriodStart.AddDate(0, 1, 0)
		scale.Days = int(to.Sub(from) / (24 * time.Hour))
	}
	d := &Dataset{Seed: seed, Scale: scale, From: from, To: to, LocationNames: map[string]string{}}
	g := &gen{r: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)), d: d, hrs: scale.Days * 24, shift: max(0, scale.Months-1)}
	d.Estate.RoleDefinitions = roles
	d.commitment = "/providers/Microsoft.Capacity/reservationOrders/" + g.guid() + "/reservations/" + g.guid()
	g.partners()
	for ti := 0; ti < scale.Tenants; ti++ {
		g.tenant(ti)
	}
	g.demoCases()
	if scale.Months > 1 {
		g.story()
	}
	if scale.MultiCloud {
		g.multiCloud()
	}
	for i := 0; i < 3; i++ {
		d.UnknownSubscriptions = append(d.UnknownSubscriptions, g.guid())
	}
	return d
}

func (g *gen) guid() string {
	a, b := g.r.Uint64(), g.r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}

// at is the RFC 3339 text of the period's start + h hours.
func (g *gen) at(h int) *string {
	s := g.d.From.Add(time.Duration(h) * time.Hour).Format(time.RFC3339)
	return &s
}

// fixed is one of the estate's fixed dates (RFC 3339), moved back by the months a
// multi-month dataset adds before PeriodStart.
func (g *gen) fixed(s string) *string {
	if g.shift == 0 {
		return &s
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err) // a constant of this file
	}
	s = t.AddDate(0, -g.shift, 0).Format(time.RFC3339)
	return &s
}

// mid is a random whole hour strictly inside the period (or its first hour for one-day periods).
func (g *gen) mid() int {
	if g.hrs <= 2 {
		return 1
	}
	return 1 + g.r.IntN(g.hrs-1)
}

func (g *gen) partners() {
	n := max(4, g.d.Scale.Tenants/4)
	for k := 0; k < n; k++ {
		o := &org{id: fmt.Sprint(4100000 + k*100)}
		o.name = orgNames[k%len(orgNames)]
		if k >= len(orgNames) {
			o.name = fmt.Sprintf("%s %d", o.name, k/len(orgNames)+1)
		}
		nt := 1 + k%2
		for i := 0; i < nt; i++ {
			o.tenants = append(o.tenants, g.guid())
		}
		p := ef.Partner{ID: o.id, Name: o.name, TenantIDs: o.tenants}
		nl := 1 + k%3
		for j := 0; j < nl; j++ {
			c := countries[(k+j)%len(countries)]
			loc := ef.Location{ID: fmt.Sprint(4100000 + k*100 + j + 1), Name: o.name + " " + c, Country: c}
			// Every fifth organisation's last location closes part-way through the month.
			if k%5 == 4 && j == nl-1 {
				loc.Active = []ef.Window{{From: g.fixed("2024-01-01T00:00:00Z"), To: g.at(g.hrs * 2 / 3)}}
			}
			o.locations = append(o.locations, loc.ID)
			p.Locations = append(p.Locations, loc)
			g.d.LocationNames[loc.ID] = loc.Name
		}
		g.d.Estate.Partners = append(g.d.Estate.Partners, p)
		// The partner's own tenant: staff users and an admin-agents style group, used by
		// Lighthouse authorisations and linked to the organisation's first location.
		g.d.Estate.Tenants = append(g.d.Estate.Tenants, ef.Tenant{ID: o.tenants[0], Name: o.name + " (partner tenant)"})
		o.group = g.guid()
		g.d.Estate.Principals = append(g.d.Estate.Principals, ef.Principal{TenantID: o.tenants[0], ObjectID: o.group, Type: "Group", DisplayName: "Lighthouse Admins"})
		for u := 0; u < 3; u++ {
			id := g.guid()
			o.users = append(o.users, id)
			pr := ef.Principal{TenantID: o.tenants[0], ObjectID: id, Type: "User", DisplayName: fmt.Sprintf("admin%d@%s", u, slug(o.name))}
			if u > 0 {
				pr.MemberOf = []ef.Membership{{GroupID: o.group}}
			}
			g.d.Estate.Principals = append(g.d.Estate.Principals, pr)
			g.d.Estate.Links = append(g.d.Estate.Links, ef.Link{TenantID: o.tenants[0], ObjectID: id, PartnerID: o.locations[u%len(o.locations)], From: g.fixed("2025-06-01T00:00:00Z")})
		}
		for i := 1; i < len(o.tenants); i++ {
			g.d.Estate.Tenants = append(g.d.Estate.Tenants, ef.Tenant{ID: o.tenants[i], Name: o.name + " (second partner tenant)"})
		}
		for _, l := range o.locations {
			g.d.Estate.TrackingIDs = append(g.d.Estate.TrackingIDs, ef.TrackingID{GUID: g.guid(), PartnerID: l})
		}
		g.orgs = append(g.orgs, o)
	}
}

func slug(s string) string {
	b := []byte{}
	for _, c := range []byte(s) {
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+32)
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b = append(b, c)
		}
	}
	return string(b) + ".example"
}

func strp(s string) *string { return &s }

func share(total, n, i int) int {
	q := total / n
	if i < total%n {
		q++
	}
	return q
}

var mgs = []struct{ id, parent string }{{"mg-root", ""}, {"mg-prod", "mg-root"}, {"mg-dev", "mg-root"}, {"mg-prod-eu", "mg-prod"}}

var resourceTypes = []struct{ path, service, category string }{
	{"Microsoft.Compute/virtualMachines/vm-%d", "Virtual Machines", "Compute"},
	{"Microsoft.Storage/storageAccounts/st%d", "Storage", "Storage"},
	{"Microsoft.Sql/servers/sql-%[3]d/databases/db-%[3]d", "SQL Database", "Databases"},
	{"Microsoft.Web/sites/app-%d", "Azure App Service", "Compute"},
	{"Microsoft.Network/virtualNetworks/vnet-%d", "Virtual Network", "Networking"},
	{"Microsoft.ContainerService/managedClusters/aks-%d", "Azure Kubernetes Service", "Compute"},
}
var rgs = []string{"rg-web", "rg-data", "rg-net", "rg-ml"}

type tenantState struct {
	id        string
	subs      []string
	rgScopes  []string
	resources []string
	linkable  []string // users, guests and service principals
	groups    []string
	all       []string
}

func (g *gen) tenant(ti int) {
	sc := g.d.Scale
	ts := &tenantState{id: g.guid()}
	t := ef.Tenant{ID: ts.id, Name: fmt.Sprintf("%s %03d", customerNames[ti%len(customerNames)], ti)}
	for _, m := range mgs {
		mg := ef.ManagementGroup{ID: m.id}
		if m.parent != "" {
			mg.Parent = strp(m.parent)
		}
		t.ManagementGroups = append(t.ManagementGroups, mg)
	}
	g.d.Estate.Tenants = append(g.d.Estate.Tenants, t)
	g.customers = append(g.customers, customer{id: ts.id, name: t.Name, reseller: g.orgs[ti%len(g.orgs)]})
	currency := "USD"
	if ti%9 == 8 {
		currency = "EUR"
	}
	var offer string
	switch ti % 10 {
	case 0, 1, 2, 3:
		offer = "csp"
	case 4, 5:
		offer = "ea"
	case 6, 7:
		offer = "mca"
	default:
		offer = "payg"
	}
	reseller := g.orgs[ti%len(g.orgs)]
	g.customers[len(g.customers)-1].csp = offer == "csp"
	resLoc := reseller.locations[ti%len(reseller.locations)]

	// Subscriptions and resources.
	nsub := share(sc.Subscriptions, sc.Tenants, ti)
	resBase := 0
	for si := 0; si < ti; si++ {
		resBase += share(sc.Subscriptions, sc.Tenants, si)
	}
	for s := 0; s < nsub; s++ {
		id := g.guid()
		ts.subs = append(ts.subs, id)
		sub := ef.Subscription{ID: id, TenantID: ts.id, Name: fmt.Sprintf("sub-%d-%d", ti, s), Offer: offer,
			ManagementGroup: mgs[1+s%3].id}
		if offer == "csp" {
			sub.CSPPartnerID = resLoc
		}
		switch s % 6 {
		case 0: // DPOR all month
			o := g.orgs[g.r.IntN(len(g.orgs))]
			sub.DPOR = []ef.DPOR{{PartnerID: o.locations[0], From: g.fixed("2025-01-01T00:00:00Z")}}
		case 3: // DPOR changes mid-month
			a, b := g.orgs[g.r.IntN(len(g.orgs))], g.orgs[g.r.IntN(len(g.orgs))]
			h := g.mid()
			sub.DPOR = []ef.DPOR{{PartnerID: a.locations[0], From: g.fixed("2025-01-01T00:00:00Z"), To: g.at(h)},
				{PartnerID: b.locations[len(b.locations)-1], From: g.at(h)}}
		}
		g.d.Estate.Subscriptions = append(g.d.Estate.Subscriptions, sub)
		nres := share(sc.Resources, sc.Subscriptions, resBase+s)
		for k := 0; k < nres; k++ {
			rt := resourceTypes[k%len(resourceTypes)]
			rg := rgs[k%len(rgs)]
			rid := fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/"+rt.path, id, rg, k)
			uid := rid
			if k%7 == 3 {
				uid = lowerASCII(rid) // exports do not keep the case
			}
			ts.resources = append(ts.resources, rid)
			g.d.Resources = append(g.d.Resources, Resource{ID: rid, UsageID: uid, SubscriptionID: id, Currency: currency, Service: rt.service, ServiceCategory: rt.category})
			if k%25 == 1 {
				// CUA: deployed with a tracking GUID, some during the month.
				tid := g.d.Estate.TrackingIDs[g.r.IntN(len(g.d.Estate.TrackingIDs))].GUID
				at := *g.fixed("2026-01-15T10:00:00Z")
				if k%2 == 1 {
					at = *g.at(g.mid())
				}
				g.d.Estate.Deployments = append(g.d.Estate.Deployments, ef.Deployment{ResourceID: rid, TrackingID: tid, At: at})
			}
		}
		for _, rg := range rgs {
			ts.rgScopes = append(ts.rgScopes, "/subscriptions/"+id+"/resourceGroups/"+rg)
		}
	}

	// Principals: groups (nested), users, guests from partner tenants, service principals, and
	// for CSP the reseller's AOBO foreign group.
	nra := share(sc.RoleAssignments, sc.Tenants, ti)
	np := max(8, nra/2)
	ng := max(2, np/10)
	for i := 0; i < ng; i++ {
		id := g.guid()
		p := ef.Principal{TenantID: ts.id, ObjectID: id, Type: "Group", DisplayName: fmt.Sprintf("grp-%d", i)}
		if i > 0 && i%3 != 0 {
			// Nested: every group but each third one is a member of the previous group.
			p.MemberOf = []ef.Membership{{GroupID: ts.groups[i-1]}}
		}
		ts.groups = append(ts.groups, id)
		ts.all = append(ts.all, id)
		g.d.Estate.Principals = append(g.d.Estate.Principals, p)
	}
	for i := 0; i < np-ng; i++ {
		id := g.guid()
		p := ef.Principal{TenantID: ts.id, ObjectID: id}
		switch i % 5 {
		case 0, 1:
			p.Type, p.DisplayName = "User", fmt.Sprintf("user%d@customer%d.example", i, ti)
		case 2, 3:
			o := g.orgs[g.r.IntN(len(g.orgs))]
			p.Type, p.DisplayName, p.HomeTenantID = "User", fmt.Sprintf("guest%d_%s#EXT#", i, slug(o.name)), o.tenants[len(o.tenants)-1]
		default:
			p.Type, p.DisplayName = "ServicePrincipal", fmt.Sprintf("automation-%d", i)
		}
		if i%3 == 0 {
			m := ef.Membership{GroupID: ts.groups[g.r.IntN(len(ts.groups))]}
			if i%9 == 0 {
				m.From = g.at(g.mid()) // joined during the month
			}
			p.MemberOf = []ef.Membership{m}
		}
		ts.linkable = append(ts.linkable, id)
		ts.all = append(ts.all, id)
		g.d.Estate.Principals = append(g.d.Estate.Principals, p)
	}
	if offer == "csp" {
		fg := g.guid()
		g.d.Estate.Principals = append(g.d.Estate.Principals, ef.Principal{TenantID: ts.id, ObjectID: fg, Type: "ForeignGroup",
			DisplayName: "AdminAgents (" + reseller.name + ")", HomeTenantID: reseller.tenants[0]})
		for _, s := range ts.subs {
			if nra == 0 {
				break
			}
			nra--
			g.assign(ts.id, fg, roleOwner, "/subscriptions/"+s, "active", nil, nil, nil)
		}
	}

	// Role assignments.
	for i := 0; i < nra; i++ {
		var pr string
		if i%4 == 0 {
			pr = ts.groups[g.r.IntN(len(ts.groups))]
		} else {
			pr = ts.linkable[g.r.IntN(len(ts.linkable))]
		}
		var scope string
		switch x := g.r.IntN(20); {
		case x == 0:
			scope = "/"
		case x <= 2:
			scope = "/providers/Microsoft.Management/managementGroups/" + mgs[g.r.IntN(len(mgs))].id
		case x <= 10:
			scope = "/subscriptions/" + ts.subs[g.r.IntN(len(ts.subs))]
		case x <= 15:
			scope = ts.rgScopes[g.r.IntN(len(ts.rgScopes))]
		default:
			scope = ts.resources[g.r.IntN(len(ts.resources))]
		}
		from, to := g.fixed("2025-09-01T00:00:00Z"), (*string)(nil)
		switch i % 10 {
		case 1:
			from = g.at(g.mid())
		case 2:
			to = g.at(g.mid())
		}
		kind := "active"
		var acts []ef.Window
		if i%8 == 5 {
			kind = "eligible"
			switch {
			case i%16 == 13: // some eligible assignments are never activated
			case g.shift > 0:
				// Over several months: an activation or two a month, a working day long.
				for a := 0; a < 2*g.d.Scale.Months; a++ {
					h := g.r.IntN(max(1, g.hrs-10))
					acts = append(acts, ef.Window{From: g.at(h), To: g.at(h + 2 + g.r.IntN(8))})
				}
				acts = disjoint(acts)
			default:
				for a := 0; a < 1+g.r.IntN(3); a++ {
					h := g.r.IntN(max(1, g.hrs-8))
					acts = append(acts, ef.Window{From: g.at(h), To: g.at(h + 1 + g.r.IntN(8))})
				}
				acts = disjoint(acts)
			}
		}
		g.assign(ts.id, pr, rolePick[g.r.IntN(len(rolePick))], scope, kind, from, to, acts)
	}

	// Links: principals of this tenant linked to locations; some created or moved mid-month.
	nl := min(share(sc.Links, sc.Tenants, ti), len(ts.linkable))
	for i := 0; i < nl; i++ {
		pr := ts.linkable[i]
		o := g.orgs[g.r.IntN(len(g.orgs))]
		loc := o.locations[g.r.IntN(len(o.locations))]
		switch i % 8 {
		case 1: // created mid-month
			g.link(ts.id, pr, loc, g.at(g.mid()), nil)
		case 2: // moved mid-month to another partner
			o2 := g.orgs[g.r.IntN(len(g.orgs))]
			h := g.mid()
			g.link(ts.id, pr, loc, g.fixed("2025-11-01T00:00:00Z"), g.at(h))
			g.link(ts.id, pr, o2.locations[0], g.at(h), nil)
		case 3: // removed mid-month
			g.link(ts.id, pr, loc, g.fixed("2025-11-01T00:00:00Z"), g.at(g.mid()))
		default:
			g.link(ts.id, pr, loc, g.fixed("2025-11-01T00:00:00Z"), nil)
		}
	}

	// Lighthouse: every third tenant delegates a subscription to a partner's tenant.
	if ti%3 == 1 {
		o := g.orgs[(ti+1)%len(g.orgs)]
		del := ef.Delegation{ID: g.guid(), CustomerTenantID: ts.id, Scope: "/subscriptions/" + ts.subs[0], ManagingTenantID: o.tenants[0],
			Authorizations: []ef.Authorization{
				{PrincipalID: o.group, RoleDefinitionID: roles[roleContributor].ID},
				{PrincipalID: o.users[0], RoleDefinitionID: roles[roleReader].ID},
			}}
		if ti%2 == 0 {
			del.Authorizations[0].From = g.at(g.mid())
		}
		g.d.Estate.Delegations = append(g.d.Estate.Delegations, del)
	}
}

func (g *gen) assign(tenant, principal string, role int, scope, kind string, from, to *string, acts []ef.Window) {
	g.d.Estate.RoleAssignments = append(g.d.Estate.RoleAssignments, ef.RoleAssignment{ID: g.guid(), TenantID: tenant, PrincipalID: principal,
		RoleDefinitionID: roles[role].ID, Scope: scope, Kind: kind, From: from, To: to, Activations: acts})
}

func (g *gen) link(tenant, principal, loc string, from, to *string) {
	g.d.Estate.Links = append(g.d.Estate.Links, ef.Link{TenantID: tenant, ObjectID: principal, PartnerID: loc, From: from, To: to})
}

// disjoint sorts windows and merges overlapping or touching ones (activations never overlap).
func disjoint(ws []ef.Window) []ef.Window {
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && *ws[j].From < *ws[j-1].From; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
	out := ws[:1]
	for _, w := range ws[1:] {
		last := &out[len(out)-1]
		if *w.From <= *last.To {
			if *w.To > *last.To {
				last.To = w.To
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// demoCases adds three hand-placed situations to the first customer tenants (fresh principals,
// so nothing else interferes with what they show).
func (g *gen) demoCases() {
	e := &g.d.Estate
	tenantOf := func(i int) (string, string, string) {
		if g.shift > 0 {
			// Over many months random links and assignments reach every subscription of the
			// random tenants sooner or later: each case gets a tenant of its own.
			return g.caseTenant(i)
		}
		// Customer tenants follow the partner tenants in e.Tenants; find the i-th customer's
		// first subscription and first resource.
		sub := g.firstSubOfCustomer(i)
		for _, r := range g.d.Resources {
			if r.SubscriptionID == sub.ID {
				return sub.TenantID, sub.ID, r.ID
			}
		}
		return sub.TenantID, sub.ID, ""
	}
	// 1. Organisation ID attempt: Contoso's engineer holds Contributor in a payg tenant, but
	// tried to link the organisation ID 4100000, which the link API refuses, so no link.
	{
		ten, sub, _ := tenantOf(9)
		o := g.orgs[0]
		id := g.guid()
		e.Principals = append(e.Principals, ef.Principal{TenantID: ten, ObjectID: id, Type: "User", DisplayName: "engineer_" + slug(o.name) + "#EXT#", HomeTenantID: o.tenants[0]})
		g.assign(ten, id, roleContributor, "/subscriptions/"+sub, "active", g.fixed("2025-12-01T00:00:00Z"), nil, nil)
		c := &g.d.Cases.OrgIDAttempt
		c.OrgID, c.TenantID, c.SubscriptionID, c.PrincipalID = o.id, ten, sub, id
	}
	// 2. PIM eligible Owner never activated, linked to Fabrikam's first location.
	{
		ten, sub, _ := tenantOf(5)
		o := g.orgs[1]
		id := g.guid()
		e.Principals = append(e.Principals, ef.Principal{TenantID: ten, ObjectID: id, Type: "User", DisplayName: "oncall_" + slug(o.name) + "#EXT#", HomeTenantID: o.tenants[0]})
		g.assign(ten, id, roleOwner, "/subscriptions/"+sub, "eligible", g.fixed("2025-12-01T00:00:00Z"), nil, nil)
		g.link(ten, id, o.locations[0], g.fixed("2025-12-01T00:00:00Z"), nil)
		c := &g.d.Cases.UnactivatedPIM
		c.LocationID, c.TenantID, c.SubscriptionID, c.PrincipalID = o.locations[0], ten, sub, id
	}
	// 3. Recognised through nested groups: user -> group A -> group B -> Contributor.
	{
		ten, sub, res := tenantOf(6)
		o := g.orgs[2]
		ga, gb, id := g.guid(), g.guid(), g.guid()
		e.Principals = append(e.Principals,
			ef.Principal{TenantID: ten, ObjectID: gb, Type: "Group", DisplayName: "Platform Operators"},
			ef.Principal{TenantID: ten, ObjectID: ga, Type: "Group", DisplayName: "Managed Service Engineers", MemberOf: []ef.Membership{{GroupID: gb}}},
			ef.Principal{TenantID: ten, ObjectID: id, Type: "User", DisplayName: "msp_" + slug(o.name) + "#EXT#", HomeTenantID: o.tenants[0],
				MemberOf: []ef.Membership{{GroupID: ga, From: g.fixed("2025-12-01T00:00:00Z")}}})
		g.assign(ten, gb, roleContributor, "/subscriptions/"+sub, "active", g.fixed("2025-12-01T00:00:00Z"), nil, nil)
		g.link(ten, id, o.locations[0], g.fixed("2025-12-01T00:00:00Z"), nil)
		c := &g.d.Cases.GroupChain
		c.LocationID, c.TenantID, c.SubscriptionID, c.ResourceID, c.PrincipalID = o.locations[0], ten, sub, res, id
	}
}

// firstSubOfCustomer returns the first subscription of customer tenant i (modulo the count).
func (g *gen) firstSubOfCustomer(i int) ef.Subscription {
	i %= g.d.Scale.Tenants
	seen, last := -1, ""
	for _, s := range g.d.Estate.Subscriptions {
		if s.TenantID != last {
			seen++
			last = s.TenantID
		}
		if seen == i {
			return s
		}
	}
	return g.d.Estate.Subscriptions[0]
}

// caseTenant adds a customer tenant with one pay-as-you-go subscription and one virtual
// machine, and nothing else, for a hand-placed case of a multi-month dataset.
func (g *gen) caseTenant(i int) (tenant, sub, resource string) {
	tenant, sub = g.guid(), g.guid()
	name := customerNames[i%len(customerNames)] + " (case)"
	g.d.Estate.Tenants = append(g.d.Estate.Tenants, ef.Tenant{ID: tenant, Name: name})
	g.d.Estate.Subscriptions = append(g.d.Estate.Subscriptions, ef.Subscription{ID: sub, TenantID: tenant, Name: "production", Offer: "payg"})
	resource = "/subscriptions/" + sub + "/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app"
	g.d.Resources = append(g.d.Resources, Resource{ID: resource, UsageID: resource, SubscriptionID: sub, Currency: "USD",
		Service: "Virtual Machines", ServiceCategory: "Compute"})
	return tenant, sub, resource
}
