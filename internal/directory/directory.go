// Package directory holds partner organisations and their locations: who can be credited, and
// why an ID cannot be linked.
package directory

import "github.com/partnerlink/partnerlink/internal/timeline"

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
