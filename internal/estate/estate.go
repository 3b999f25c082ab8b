// Package estate holds the customer side: tenants, management groups, subscriptions (offer,
// CSP reseller, DPOR history), principals and group memberships, and CUA tracking facts. Every
// fact that can change carries a validity window. It owns the tables tenants, management_groups,
// subscriptions, subscription_dpor, principals, group_memberships, tracking_ids and
// deployments: Store is the way in.
package estate

import "github.com/partnerlink/partnerlink/internal/timeline"

type Tenant struct {
	ID   string
	Name string
}

// ManagementGroup is one version of a management group's place in its tenant's tree.
type ManagementGroup struct {
	TenantID string
	ID       string
	ParentID string // "" for a top-level group
	Valid    timeline.Window
}

type Offer string

const (
	OfferCSP  Offer = "csp"
	OfferEA   Offer = "ea"
	OfferMCA  Offer = "mca"
	OfferPAYG Offer = "payg"
)

// Valid reports whether o is one of the known offers.
func (o Offer) Valid() bool {
	switch o {
	case OfferCSP, OfferEA, OfferMCA, OfferPAYG:
		return true
	}
	return false
}

// Subscription is one version of a subscription.
type Subscription struct {
	ID                string
	TenantID          string
	Name              string
	Offer             Offer
	ManagementGroupID string // "" when directly under the tenant root
	CSPLocationID     string // reseller location, csp only
	Valid             timeline.Window
}

// DPOR is one window in which a location was the subscription's partner of record.
type DPOR struct {
	SubscriptionID string
	LocationID     string
	Valid          timeline.Window
}

type PrincipalType string

const (
	User             PrincipalType = "User"
	ServicePrincipal PrincipalType = "ServicePrincipal"
	Group            PrincipalType = "Group"
	ForeignGroup     PrincipalType = "ForeignGroup"
)

func (p PrincipalType) Valid() bool {
	switch p {
	case User, ServicePrincipal, Group, ForeignGroup:
		return true
	}
	return false
}

// IsGroup reports whether principals of this type have members (and cannot be linked).
func (p PrincipalType) IsGroup() bool { return p == Group || p == ForeignGroup }

// Principal is one version of an identity in a tenant.
type Principal struct {
	TenantID     string
	ObjectID     string
	Type         PrincipalType
	DisplayName  string
	HomeTenantID string // guests and foreign principals
	Valid        timeline.Window
}

// Membership says member (a principal or a group) belongs to group in a window.
type Membership struct {
	TenantID string
	MemberID string
	GroupID  string
	Valid    timeline.Window
}

// TrackingID is a CUA deployment tracking GUID registered to a partner location.
type TrackingID struct {
	GUID       string
	LocationID string
}

// Deployment records that a resource was deployed carrying a tracking GUID at an instant.
type Deployment struct {
	ResourceID   string
	TrackingGUID string
	At           int64 // Unix ns
}
