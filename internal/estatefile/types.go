// Package estatefile reads, validates and writes the estate file (docs/formats: "Estate file"),
// and maps it onto facts.Snapshot.
package estatefile

// File is the estate file. Every top-level key is optional. Times are RFC 3339 strings so
// that errors can quote exactly what the user wrote; nil means null / absent.
type File struct {
	Partners        []Partner        `json:"partners,omitempty"`
	Tenants         []Tenant         `json:"tenants,omitempty"`
	Subscriptions   []Subscription   `json:"subscriptions,omitempty"`
	Principals      []Principal      `json:"principals,omitempty"`
	RoleDefinitions []RoleDefinition `json:"roleDefinitions,omitempty"`
	RoleAssignments []RoleAssignment `json:"roleAssignments,omitempty"`
	Delegations     []Delegation     `json:"delegations,omitempty"`
	Links           []Link           `json:"links,omitempty"`
	TrackingIDs     []TrackingID     `json:"trackingIds,omitempty"`
	Deployments     []Deployment     `json:"deployments,omitempty"`
	// Version 2 keys: stored through directory (identifiers) and account (accounts).
	Identifiers []Identifier `json:"identifiers,omitempty"`
	Accounts    []Account    `json:"accounts,omitempty"`
}

// Window is a JSON validity window; a nil From means "since always", a nil To "still valid".
type Window struct {
	From *string `json:"from"`
	To   *string `json:"to"`
}

type Partner struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	TenantIDs []string   `json:"tenantIds,omitempty"`
	Locations []Location `json:"locations,omitempty"`
}

type Location struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Country string   `json:"country,omitempty"`
	Active  []Window `json:"active,omitempty"`
}

type Tenant struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	ManagementGroups []ManagementGroup `json:"managementGroups,omitempty"`
}

type ManagementGroup struct {
	ID     string  `json:"id"`
	Parent *string `json:"parent"`
	From   *string `json:"from,omitempty"`
	To     *string `json:"to,omitempty"`
}

type Subscription struct {
	ID              string  `json:"id"`
	TenantID        string  `json:"tenantId"`
	Name            string  `json:"name,omitempty"`
	Offer           string  `json:"offer"`
	ManagementGroup string  `json:"managementGroup,omitempty"`
	CSPPartnerID    string  `json:"cspPartnerId,omitempty"`
	DPOR            []DPOR  `json:"dpor,omitempty"`
	From            *string `json:"from,omitempty"`
	To              *string `json:"to,omitempty"`
}

type DPOR struct {
	PartnerID string  `json:"partnerId"`
	From      *string `json:"from"`
	To        *string `json:"to"`
}

type Principal struct {
	TenantID     string       `json:"tenantId"`
	ObjectID     string       `json:"objectId"`
	Type         string       `json:"type"`
	DisplayName  string       `json:"displayName,omitempty"`
	HomeTenantID string       `json:"homeTenantId,omitempty"`
	MemberOf     []Membership `json:"memberOf,omitempty"`
	From         *string      `json:"from,omitempty"`
	To           *string      `json:"to,omitempty"`
}

type Membership struct {
	GroupID string  `json:"groupId"`
	From    *string `json:"from"`
	To      *string `json:"to"`
}

type RoleDefinition struct {
	ID          string       `json:"id"`
	RoleName    string       `json:"roleName"`
	Type        string       `json:"type,omitempty"`
	Permissions []Permission `json:"permissions"`
	// From and To are optional: the window of this version of the definition (export writes them).
	From *string `json:"from,omitempty"`
	To   *string `json:"to,omitempty"`
}

type Permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions,omitempty"`
	NotDataActions []string `json:"notDataActions,omitempty"`
}

type RoleAssignment struct {
	ID               string   `json:"id"`
	TenantID         string   `json:"tenantId"`
	PrincipalID      string   `json:"principalId"`
	RoleDefinitionID string   `json:"roleDefinitionId"`
	Scope            string   `json:"scope"`
	Kind             string   `json:"kind"`
	From             *string  `json:"from"`
	To               *string  `json:"to"`
	Activations      []Window `json:"activations,omitempty"`
}

type Delegation struct {
	ID               string          `json:"id"`
	CustomerTenantID string          `json:"customerTenantId"`
	Scope            string          `json:"scope"`
	ManagingTenantID string          `json:"managingTenantId"`
	Authorizations   []Authorization `json:"authorizations"`
	From             *string         `json:"from,omitempty"`
	To               *string         `json:"to,omitempty"`
}

type Authorization struct {
	PrincipalID      string  `json:"principalId"`
	RoleDefinitionID string  `json:"roleDefinitionId"`
	From             *string `json:"from"`
	To               *string `json:"to"`
}

type Link struct {
	TenantID  string  `json:"tenantId"`
	ObjectID  string  `json:"objectId"`
	PartnerID string  `json:"partnerId"`
	From      *string `json:"from"`
	To        *string `json:"to"`
}

type TrackingID struct {
	GUID      string `json:"guid"`
	PartnerID string `json:"partnerId"`
}

type Deployment struct {
	ResourceID string `json:"resourceId"`
	TrackingID string `json:"trackingId"`
	At         string `json:"at"`
}

// Identifier is what a location is known by in another program (version 2).
type Identifier struct {
	PartnerID string  `json:"partnerId"`
	Scheme    string  `json:"scheme"`
	Value     string  `json:"value"`
	From      *string `json:"from"`
	To        *string `json:"to"`
}

// Account is an account of a provider other than Azure, with its resale history (version 2).
type Account struct {
	Provider         string   `json:"provider"`
	ID               string   `json:"id"`
	Kind             string   `json:"kind"`
	Name             string   `json:"name,omitempty"`
	BillingAccountID string   `json:"billingAccountId,omitempty"`
	Resale           []Resale `json:"resale,omitempty"`
}

// Resale is a window in which a location resold an account.
type Resale struct {
	PartnerID string  `json:"partnerId"`
	From      *string `json:"from"`
	To        *string `json:"to"`
}
