package report

import (
	"context"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
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
	_ = db.QueryRowContext(ctx, `SELECT name FROM tenants WHERE id = $1`, tenantID).Scan(&c.TenantName)

	// PAL: current link rows, with the principal's name and current roles.
	type pal struct{ obj, loc, state string }
	var pals []pal
	sinceOf := map[string]int64{}
	err := scanRows(ctx, db, "customer links", `SELECT object_id, location_id, state, created_at FROM links WHERE tenant_id = $1 ORDER BY object_id`, []any{tenantID},
		func(scan func(...any) error) error {
			var p pal
			var at int64
			if err := scan(&p.obj, &p.loc, &p.state, &at); err != nil {
				return err
			}
			pals = append(pals, p)
			sinceOf[p.obj] = at
			return nil
		})
	if err != nil {
		return nil, err
	}
	// The link's "since" is the start of its current open span when there is one (the estate
	// backfill records when the link really began; created_at is when we first saw it).
	err = scanRows(ctx, db, "customer link spans", `SELECT object_id, location_id, valid_from FROM link_spans WHERE tenant_id = $1 AND valid_to > $2`, []any{tenantID, now},
		func(scan func(...any) error) error {
			var obj, loc string
			var from int64
			if err := scan(&obj, &loc, &from); err != nil {
				return err
			}
			sinceOf[obj] = from
			return nil
		})
	if err != nil {
		return nil, err
	}
	principalNames := map[string]string{}
	err = scanRows(ctx, db, "customer principals", `SELECT object_id, display_name FROM principals WHERE tenant_id = $1 ORDER BY valid_from`, []any{tenantID},
		func(scan func(...any) error) error {
			var id, n string
			if err := scan(&id, &n); err != nil {
				return err
			}
			principalNames[id] = n
			return nil
		})
	if err != nil {
		return nil, err
	}
	roles := map[string][]string{}
	err = scanRows(ctx, db, "customer roles", `SELECT a.principal_id, COALESCE(d.role_name, a.role_definition_id), a.kind FROM role_assignments a
LEFT JOIN role_definitions d ON d.id = a.role_definition_id AND d.valid_from <= $2 AND d.valid_to > $2
WHERE a.tenant_id = $1 AND a.valid_from <= $2 AND a.valid_to > $2 ORDER BY a.principal_id, a.scope_key`, []any{tenantID, now},
		func(scan func(...any) error) error {
			var id, n, kind string
			if err := scan(&id, &n, &kind); err != nil {
				return err
			}
			if kind == "eligible" {
				n += " (eligible)"
			}
			roles[id] = append(roles[id], n)
			return nil
		})
	if err != nil {
		return nil, err
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
	var spans []*span
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
		spans = append(spans, x)
	}
	err = scanRows(ctx, db, "customer csp", `SELECT id, name, csp_location_id, valid_from, valid_to FROM subscriptions WHERE tenant_id = $1 AND csp_location_id <> '' ORDER BY id, valid_from`, []any{tenantID},
		func(scan func(...any) error) error {
			var id, n, loc string
			var from, to int64
			if err := scan(&id, &n, &loc, &from, &to); err != nil {
				return err
			}
			addSpan("CSP", id, n, loc, from, to)
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = scanRows(ctx, db, "customer dpor", `SELECT DISTINCT d.subscription_id, d.location_id, d.valid_from, d.valid_to FROM subscription_dpor d
JOIN subscriptions s ON s.id = d.subscription_id WHERE s.tenant_id = $1 ORDER BY d.subscription_id, d.valid_from`, []any{tenantID},
		func(scan func(...any) error) error {
			var id, loc string
			var from, to int64
			if err := scan(&id, &loc, &from, &to); err != nil {
				return err
			}
			addSpan("DPOR", id, "", loc, from, to)
			return nil
		})
	if err != nil {
		return nil, err
	}
	for _, x := range spans {
		c.Attachments = append(c.Attachments, Attachment{LocationID: x.loc, Association: x.assoc, Via: x.sub, ViaName: x.name, Since: when(x.from), State: state(x.to, now)})
	}
	// CUA: deployments carrying a partner's tracking GUID on resources of the tenant's
	// subscriptions (resource keys are lower-case ARM IDs starting with the subscription).
	err = scanRows(ctx, db, "customer cua", `SELECT t.location_id, d.resource_id, MIN(d.at) FROM deployments d
JOIN tracking_ids t ON t.guid = d.tracking_guid
JOIN (SELECT DISTINCT id FROM subscriptions WHERE tenant_id = $1) s ON d.resource_key LIKE '/subscriptions/' || s.id || '/%'
GROUP BY t.location_id, d.resource_id ORDER BY t.location_id, d.resource_id`, []any{tenantID},
		func(scan func(...any) error) error {
			var loc, res string
			var at int64
			if err := scan(&loc, &res, &at); err != nil {
				return err
			}
			c.Attachments = append(c.Attachments, Attachment{LocationID: loc, Association: "CUA", Via: res, Since: when(at), State: "Active"})
			return nil
		})
	if err != nil {
		return nil, err
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
	err = scanRows(ctx, db, "customer link history", `SELECT at, object_id, action, from_partner_id, to_partner_id, version, by_object_id FROM link_history
WHERE tenant_id = $1 ORDER BY at, id`, []any{tenantID},
		func(scan func(...any) error) error {
			var e LinkEvent
			var at int64
			if err := scan(&at, &e.ObjectID, &e.Action, &e.From, &e.To, &e.Version, &e.By); err != nil {
				return err
			}
			e.At = when(at)
			c.LinkEvents = append(c.LinkEvents, e)
			return nil
		})
	if err != nil {
		return nil, err
	}
	locs := map[string]PartnerName{}
	err = scanRows(ctx, db, "customer partner names", `SELECT id, name, org_id FROM partner_locations`, nil, func(scan func(...any) error) error {
		var p PartnerName
		if err := scan(&p.LocationID, &p.Name, &p.OrgID); err != nil {
			return err
		}
		locs[p.LocationID] = p
		return nil
	})
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
	r := Table{Name: "consumption", Title: "Consumption recognised", Header: []string{"location", "association", "admin role", "currency", "amount", "first day", "last day"}}
	for _, x := range c.Consumption {
		r.Rows = append(r.Rows, []string{x.LocationID, x.Association, x.AdminRole, x.Currency, x.Amount, x.FirstDay, x.LastDay})
	}
	e := Table{Name: "link-events", Title: "Link events", Header: []string{"at", "object", "action", "from", "to", "version", "by"}}
	for _, x := range c.LinkEvents {
		e.Rows = append(e.Rows, []string{x.At, x.ObjectID, x.Action, x.From, x.To, itoa(x.Version), x.By})
	}
	return []Table{a, r, e}
}
