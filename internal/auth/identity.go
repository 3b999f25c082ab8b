// Package auth verifies bearer tokens (Entra-style JWT claims) and decides who may see what.
package auth

import "context"

// Role is what a caller may do. Every endpoint states the role it needs.
type Role string

const (
	// RolePrincipal is any identity in a tenant: it manages its own link only.
	RolePrincipal Role = "principal"
	// RoleCustomerAdmin reads the links, events and attribution of its own tenant.
	RoleCustomerAdmin Role = "customer-admin"
	// RolePartner reads the data of its own partner IDs (locations, or a whole organisation).
	RolePartner Role = "partner"
	// RoleOperator may do everything.
	RoleOperator Role = "operator"
)

// Identity is the verified caller.
type Identity struct {
	TenantID string // tid
	ObjectID string // oid
	Type     string // idtyp: "user" or "app"
	Roles    []Role
	// PartnerIDs are the location or organisation IDs a partner caller speaks for.
	PartnerIDs []string
}

// Has reports whether the identity holds role (operators hold every role).
func (id *Identity) Has(r Role) bool {
	if id == nil {
		return false
	}
	for _, x := range id.Roles {
		if x == r || x == RoleOperator {
			return true
		}
	}
	return false
}

// IsOperator reports whether the identity is an operator.
func (id *Identity) IsOperator() bool {
	if id == nil {
		return false
	}
	for _, x := range id.Roles {
		if x == RoleOperator {
			return true
		}
	}
	return false
}

// CanReadTenant: operators, and customer admins of that tenant.
func (id *Identity) CanReadTenant(tenantID string) bool {
	if id.IsOperator() {
		return true
	}
	return id.Has(RoleCustomerAdmin) && equalFold(id.TenantID, tenantID)
}

// CanReadPartner: operators, and partners speaking for that location or its organisation.
func (id *Identity) CanReadPartner(locationID, orgID string) bool {
	if id.IsOperator() {
		return true
	}
	if !id.Has(RolePartner) {
		return false
	}
	for _, p := range id.PartnerIDs {
		if p == locationID || (orgID != "" && p == orgID) {
			return true
		}
	}
	return false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the verified caller, if any.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*Identity)
	return id, ok && id != nil
}
