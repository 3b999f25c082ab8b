// Package v1 serves the native API under /v1 (problem+json errors, OpenAPI at /v1/openapi.json).
package v1

import (
	"github.com/partnerlink/partnerlink/internal/api"
)

// Register adds the /v1 routes to mux. Each area registers its routes from its own file, on
// the *api.Mux it is given (which records every pattern for the authorization matrix test).
func Register(mux *api.Mux, d api.Deps) {
	registerDirectoryAndLinks(mux, d) // links.go: directory, links, events, webhooks
	registerEstate(mux, d)            // estate.go: tenants, subscriptions, principals, assignments
	registerUsage(mux, d)             // usage.go: POST /v1/usage
	registerAttribution(mux, d)       // attribution.go: explain, attribution rows
	registerReports(mux, d)           // reports.go: partner, customer, operator reports
	registerVersion2(mux, d)          // identifiers.go: partner identifiers, other providers' accounts
	registerAudit(mux, d)             // audit.go: coverage audit, what-if, a tenant's partners
}
