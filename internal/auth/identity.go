// Package auth verifies bearer tokens (Entra-style JWT claims) and decides who may see what.
package auth

import (
	"context"
	"errors"
)

// ErrForbidden marks a refusal of an authenticated caller (403 on every surface); Deny makes
// one with a message naming what was refused.
var ErrForbidden = errors.New("forbidden")

// Deny returns an error that is ErrForbidden and reads msg.
func Deny(msg string) error { return denied(msg) }

type denied string

func (d denied) Error() string { return string(d) }
func (d denied) Unwrap() error { return ErrForbidden }

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

// Kind names the caller for the access log and metrics: its strongest role.
func (id *Identity) Kind() string {
	switch {
	case id == nil:
		return "anonymous"
	case id.IsOperator():
		return string(RoleOperator)
	case id.Has(RolePartner):
		return string(RolePartner)
	case id.Has(RoleCustomerAdmin):
		return string(RoleCustomerAdmin)
	}
	return string(RolePrincipal)
}

// CanReadTenant: operators, and customer admins of that tenant.
func (id *Identity) CanReadTenant(tenantID string) bool {
	if id.IsOperator() {
		return true
	}
	return id.Has(RoleCustomerAdmin) && equalFold(id.TenantID, tenantID)
}

// CanReadPartner: operators, and partners speaking for that location or its organisation.
// Empty IDs never match: neither an empty entry of the token's partner IDs nor an empty
// location or organisation asked about (verified tokens carry no empty entry; this holds even
// for an identity built by hand).
func (id *Identity) CanReadPartner(locationID, orgID string) bool {
	if id.IsOperator() {
		return true
	}
	if !id.Has(RolePartner) {
		return false
	}
	for _, p := range id.PartnerIDs {
		if p == "" {
			continue
		}
		if p == locationID || p == orgID {
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
