// Package facts is everything the attribution engine, explain and the estate export read: every
// versioned fact of the directory, the estate, access and links, as one in-memory Snapshot.
package facts

import (
	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/link"
)

// Snapshot holds facts with their windows. Loaded for a period it holds every version whose
// window overlaps the period; loaded whole it holds the complete history.
type Snapshot struct {
	Organisations    []directory.Organisation // with their Locations
	Tenants          []estate.Tenant
	ManagementGroups []estate.ManagementGroup
	Subscriptions    []estate.Subscription
	DPOR             []estate.DPOR
	Principals       []estate.Principal
	Memberships      []estate.Membership
	RoleDefinitions  []access.RoleDefinition
	Assignments      []access.RoleAssignment // with Activations
	Delegations      []access.Delegation     // with Authorizations
	Links            []link.Span
	TrackingIDs      []estate.TrackingID
	Deployments      []estate.Deployment
	// Identifiers (version 2): what locations are known by in other programs (TAG, MARKETPLACE).
	Identifiers []directory.Identifier `json:",omitempty"`
	// Accounts (version 2): other providers' accounts with their resale windows (RESALE).
	Accounts []account.Account `json:",omitempty"`
	// EligibilityOverrides are the operator's per-role-name overrides of the eligibility table.
	EligibilityOverrides map[string]bool
}
