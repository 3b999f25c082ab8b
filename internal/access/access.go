// Package access holds who may administer what: role definitions and their eligibility, role
// assignments (active, or eligible with PIM activations) and Lighthouse delegations. It owns the
// tables role_definitions, role_assignments, pim_activations, delegations,
// delegation_authorizations, assignment_closures and role_eligibility_overrides: Store and
// Overrides are the way in.
package access

import "github.com/partnerlink/partnerlink/internal/timeline"

// Permission is one permissions block of a role definition.
type Permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions,omitempty"`
	NotDataActions []string `json:"notDataActions,omitempty"`
}

// RoleDefinition is one version of a role definition.
type RoleDefinition struct {
	ID          string // GUID
	RoleName    string
	RoleType    string // BuiltInRole or CustomRole
	Permissions []Permission
	Valid       timeline.Window
}

type Kind string

const (
	Active   Kind = "active"
	Eligible Kind = "eligible" // PIM: grants nothing until activated
)

// RoleAssignment is one version of principal + role + scope.
type RoleAssignment struct {
	ID               string
	TenantID         string
	PrincipalID      string
	RoleDefinitionID string
	Scope            string // ARM scope as given (original spelling kept)
	Kind             Kind
	Valid            timeline.Window
	Activations      []timeline.Window // PIM activations, eligible only
	ClosedBy         *Closure          // the snapshot import that set Valid.To, if one did
}

// Closure names the snapshot import that ended a version of an assignment: an import of a
// listing (az role assignment list, PIM eligibility instances, an estate file) that no longer
// showed it, so that explain can say where an end came from.
type Closure struct {
	ImportID string
	Source   string // the import's kind: estate, azure-role-assignments, azure-pim
	File     string
}

// Delegation is a Lighthouse delegation of a customer scope to a managing tenant.
type Delegation struct {
	ID               string
	CustomerTenantID string
	Scope            string
	ManagingTenantID string
	Valid            timeline.Window
	Authorizations   []Authorization
}

// Authorization names a managing-tenant principal (user, service principal or group) and role.
type Authorization struct {
	PrincipalID      string
	RoleDefinitionID string
	Valid            timeline.Window
}
