package report

import (
	"context"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Customer is what a tenant admin sees: every partner attached to the tenant, how, since when,
// the consumption recognised for it, and the link events.
type Customer struct {
	TenantID    string        `json:"tenantId"`
	TenantName  string        `json:"tenantName"`
	Attachments []Attachment  `json:"attachments"`
	Consumption []Recognised  `json:"consumption"`
	LinkEvents  []LinkEvent   `json:"linkEvents"`
	Partners    []PartnerName `json:"partners"`
}

// Attachment is one way a partner location is attached to the tenant.
type Attachment struct {
	LocationID   string `json:"locationId"`
	LocationName string `json:"locationName"`
	OrgID        string `json:"orgId"`
	Association  string `json:"association"` // PAL | CSP | DPOR | CUA
	// Via is the identity (PAL: principal object ID), subscription (CSP, DPOR) or resource (CUA).
	Via     string `json:"via"`
	ViaName string `json:"viaName,omitempty"`
	// Roles are the principal's current role names in the tenant (PAL only).
	Roles string `json:"roles,omitempty"`
	Since string `json:"since"`
	State string `json:"state"` // Active | Deleted | Ended
}

// Recognised is consumption recognised for one partner location in the tenant.
type Recognised struct {
	LocationID  string `json:"locationId"`
	Association string `json:"association"`
	AdminRole   string `json:"adminRole,omitempty"`
	Currency    string `json:"currency"`
	Amount      string `json:"amount"`
	FirstDay    string `json:"firstDay"`
	LastDay     string `json:"lastDay"`
}

// LinkEvent is one entry of the tenant's link history.
type LinkEvent struct {
	At       string `json:"at"`
	ObjectID string `json:"objectId"`
	Action   string `json:"action"`
	From     string `json:"fromPartnerId"`
	To       string `json:"toPartnerId"`
	Version  int64  `json:"version"`
	By       string `json:"byObjectId"`
}

// PartnerName is one location mentioned by the report.
type PartnerName struct {
	LocationID string `json:"locationId"`
	Name       string `json:"name"`
	OrgID      string `json:"orgId"`
}

// CustomerReport builds the customer report of tenantID as of now (Unix ns: current roles and
// states are those valid at now).
func CustomerReport(ctx context.Context, db *store.DB, tenantID string, now int64) (*Customer, error) {
	tenantID = strings.ToLower(strings.TrimSpace(tenantID))
	c := &Customer{TenantID: tenantID, Attachments: []Attachment{}, Consumption: []Recognised{}, LinkEvents: []LinkEvent{}}
	c.TenantName, _ = estate.TenantName(ctx, db, tenantID)

	// PAL: current link rows, with the principal's name and current roles.
	type pal struct{ obj, loc, state string }
	var pals []pal
	sinceOf := map[string]int64{}
	links, err := link.OfTenant(ctx, db, tenantID)
	if err != nil {
		return nil, queryErr(db, "customer links", err)
	}
	for _, l := range links {
		pals = append(pals, pal{l.ObjectID, l.PartnerID, l.State})
		sinceOf[l.ObjectID] = l.CreatedTime.UnixNano()
	}
	// The link's "since" is the start of its current open span when there is one (the estate
	// backfill records when the link really began; created_at is when we first saw it).
	spans, err := link.OpenSpansOfTenant(ctx, db, tenantID, now)
	if err != nil {
		return nil, queryErr(db, "customer link spans", err)
	}
	for _, sp := range spans {
		sinceOf[sp.ObjectID] = sp.Valid.From
	}
	principalNames, err := estate.PrincipalNames(ctx, db, tenantID)
	if err != nil {
		return nil, queryErr(db, "customer principals", err)
	}
	held, err := access.RolesAt(ctx, db, tenantID, now)
	if err != nil {
		return nil, queryErr(db, "customer roles", err)
	}
	roles := map[string][]string{}
	for _, h := range held {
		n := h.RoleName
		if h.Kind == access.Eligible {
			n += " (eligible)"
		}
		roles[h.PrincipalID] = append(roles[h.PrincipalID], n)
	}
	for _, p := range pals {
		c.Attachments = append(c.Attachments, Attachment{LocationID: p.loc, Association: "PAL", Via: p.obj, ViaName: principalNames[p.obj],
			Roles: strings.Join(uniq(roles[p.obj]), ", "), Since: when(sinceOf[p.obj]), State: p.state})
	}
	// CSP and DPOR: subscription versions of this tenant naming a partner. Versions that only
	// changed something else (a rename, a move) are one attachment: earliest start, latest end.
	type span struct {
		assoc, sub, name, loc string
		from, to              int64
	}
	var windows []*span
	byKey := map[[3]string]*span{}
	addSpan := func(assoc, sub, name, loc string, from, to int64) {
		k := [3]string{assoc, sub, loc}
		if x, ok := byKey[k]; ok {
			x.from, x.to = min(x.from, from), max(x.to, to)
			if name != "" {
				x.name = name
			}
			return
		}
		x := &span{assoc, sub, name, loc, from, to}
		byKey[k] = x
		windows = append(windows, x)
	}
	csp, err := estate.CSPWindows(ctx, db, tenantID)
	if err != nil {
		return nil, queryErr(db, "customer csp", err)
	}
	for _, w := range csp {
		addSpan("CSP", w.SubscriptionID, w.Name, w.LocationID, w.Valid.From, w.Valid.To)
	}
	dpor, err := estate.DPORWindows(ctx, db, tenantID)
	if err != nil {
		return nil, queryErr(db, "customer dpor", err)
	}
	for _, w := range dpor {
		addSpan("DPOR", w.SubscriptionID, "", w.LocationID, w.Valid.From, w.Valid.To)
	}
	for _, x := range windows {
		c.Attachments = append(c.Attachments, Attachment{LocationID: x.loc, Association: x.assoc, Via: x.sub, ViaName: x.name, Since: when(x.from), State: state(x.to, now)})
	}
	// CUA: deployments carrying a partner's tracking GUID on resources of the tenant's
	// subscriptions.
	tagged, err := estate.TaggedResources(ctx, db, tenantID)
	if err != nil {
		return nil, queryErr(db, "customer cua", err)
	}
	for _, x := range tagged {
		c.Attachments = append(c.Attachments, Attachment{LocationID: x.LocationID, Association: "CUA", Via: x.ResourceID, Since: when(x.First), State: "Active"})
	}
	cons, err := results.TenantConsumption(ctx, db, tenantID)
	if err != nil {
		return nil, queryErr(db, "customer consumption", err)
	}
	for _, x := range cons {
		c.Consumption = append(c.Consumption, Recognised{LocationID: x.LocationID, Association: x.Association, AdminRole: x.AdminRole,
			Currency: x.Currency, Amount: nanos(x.Amount), FirstDay: day(x.FirstDay), LastDay: day(x.LastDay)})
	}
	sort.Slice(c.Consumption, func(i, j int) bool {
		a, b := c.Consumption[i], c.Consumption[j]
		if a.LocationID != b.LocationID {
			return a.LocationID < b.LocationID
		}
		if a.Association != b.Association {
			return assocOrder(a.Association) < assocOrder(b.Association)
		}
		if a.AdminRole != b.AdminRole {
			return a.AdminRole < b.AdminRole
		}
		return a.Currency < b.Currency
	})
	history, err := link.TenantHistory(ctx, db, tenantID)
	if err != nil {
		return nil, queryErr(db, "customer link history", err)
	}
	for _, h := range history {
		c.LinkEvents = append(c.LinkEvents, LinkEvent{At: when(h.At.UnixNano()), ObjectID: h.ObjectID, Action: h.Action,
			From: h.FromPartnerID, To: h.ToPartnerID, Version: h.Version, By: h.By})
	}
	locs, err := locationNames(ctx, db)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := range c.Attachments {
		a := &c.Attachments[i]
		a.LocationName, a.OrgID = locs[a.LocationID].Name, locs[a.LocationID].OrgID
		seen[a.LocationID] = true
	}
	for _, r := range c.Consumption {
		seen[r.LocationID] = true
	}
	for id := range seen {
		p := locs[id]
		p.LocationID = id
		c.Partners = append(c.Partners, p)
	}
	sort.Slice(c.Partners, func(i, j int) bool { return c.Partners[i].LocationID < c.Partners[j].LocationID })
	return c, nil
}

func state(validTo, now int64) string {
	if validTo == timeline.Max || validTo > now {
		return "Active"
	}
	return "Ended"
}

func uniq(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Tables renders the report as tables.
func (c *Customer) Tables() []Table {
	a := Table{Name: "attachments", Title: "Attached partners", Header: []string{"location", "name", "association", "via", "via name", "roles", "since", "state"}}
	for _, x := range c.Attachments {
		a.Rows = append(a.Rows, []string{x.LocationID, x.LocationName, x.Association, x.Via, x.ViaName, x.Roles, x.Since, x.State})
	}
	names := map[string]string{}
	for _, p := range c.Partners {
		names[p.LocationID] = p.Name
	}
	r := Table{Name: "consumption", Title: "Consumption recognised", Header: []string{"location", "name", "association", "admin role", "currency", "amount", "first day", "last day"}}
	for _, x := range c.Consumption {
		r.Rows = append(r.Rows, []string{x.LocationID, names[x.LocationID], x.Association, x.AdminRole, x.Currency, x.Amount, x.FirstDay, x.LastDay})
	}
	e := Table{Name: "link-events", Title: "Link events", Header: []string{"at", "object", "action", "from", "to", "version", "by"}}
	for _, x := range c.LinkEvents {
		e.Rows = append(e.Rows, []string{x.At, x.ObjectID, x.Action, x.From, x.To, itoa(x.Version), x.By})
	}
	return []Table{a, r, e}
}

// locationNames is every location of the directory by ID.
func locationNames(ctx context.Context, db *store.DB) (map[string]PartnerName, error) {
	list, err := directory.LocationNames(ctx, db)
	if err != nil {
		return nil, queryErr(db, "partner names", err)
	}
	out := make(map[string]PartnerName, len(list))
	for _, l := range list {
		out[l.ID] = PartnerName{LocationID: l.ID, Name: l.Name, OrgID: l.OrgID}
	}
	return out, nil
}
