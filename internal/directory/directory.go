// Package directory holds partner organisations and their locations: who can be credited, and
// why an ID cannot be linked. It owns the tables partner_orgs, partner_locations,
// partner_location_active and partner_org_tenants: Store is the way in.
package directory

import (
	"github.com/partnerlink/partnerlink/internal/store/table"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Organisation is a partner company (PGA). Its ID is never linked or paid; its locations are.
type Organisation struct {
	ID        string
	Name      string
	TenantIDs []string // the partner's own Entra tenants (AOBO home tenants, Lighthouse managing tenants)
	Locations []Location
}

// Location is a partner location (PLA): the ID that gets linked and paid.
type Location struct {
	ID      string
	OrgID   string
	Name    string
	Country string
	// Active lists the windows in which the location is active. A location loaded without any
	// window is active at all times (stored as one unbounded window).
	Active []timeline.Window
}

// The directory's tables, for the estate import's generic diff and bulk loads
// (internal/estatefile). Columns are in the order of table.Table.Columns.
var (
	OrgsTable           = &table.Table{Name: "partner_orgs", Key: []string{"id"}, Values: []string{"name"}}
	OrgTenantsTable     = &table.Table{Name: "partner_org_tenants", Key: []string{"org_id", "tenant_id"}}
	LocationsTable      = &table.Table{Name: "partner_locations", Key: []string{"id"}, Values: []string{"org_id", "name", "country"}}
	LocationActiveTable = &table.Table{Name: "partner_location_active", Key: []string{"location_id"}, Windowed: true}
)
