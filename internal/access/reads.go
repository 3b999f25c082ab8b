package access

import (
	"context"
	"database/sql"

	"github.com/partnerlink/partnerlink/internal/store"
)

// The reads of this file serve the reports (internal/report).

// HeldRole is a role a principal holds at an instant: the role's name (its definition's ID
// when the definition is not imported) and whether the assignment is active or eligible.
type HeldRole struct {
	PrincipalID, RoleName string
	Kind                  Kind
}

// RolesAt returns the roles tenant's principals hold at the instant at, ordered by principal
// and scope.
func RolesAt(ctx context.Context, q store.Querier, tenant string, at int64) ([]HeldRole, error) {
	var out []HeldRole
	err := store.Each(ctx, q, `SELECT a.principal_id, COALESCE(d.role_name, a.role_definition_id), a.kind FROM role_assignments a
LEFT JOIN role_definitions d ON d.id = a.role_definition_id AND d.valid_from <= $2 AND d.valid_to > $2
WHERE a.tenant_id = $1 AND a.valid_from <= $2 AND a.valid_to > $2 ORDER BY a.principal_id, a.scope_key`, []any{tenant, at},
		func(r *sql.Rows) error {
			var h HeldRole
			err := r.Scan(&h.PrincipalID, &h.RoleName, &h.Kind)
			out = append(out, h)
			return err
		})
	return out, err
}

// UnknownRole is an assignment naming a role definition that was never imported.
type UnknownRole struct {
	AssignmentID, TenantID, RoleDefinitionID string
}

// UnknownRoles returns up to limit assignments whose role definition is not imported, ordered
// by assignment ID.
func UnknownRoles(ctx context.Context, q store.Querier, limit int) ([]UnknownRole, error) {
	var out []UnknownRole
	err := store.Each(ctx, q, `SELECT a.id, a.tenant_id, a.role_definition_id FROM role_assignments a
WHERE NOT EXISTS (SELECT 1 FROM role_definitions d WHERE d.id = a.role_definition_id)
GROUP BY a.id, a.tenant_id, a.role_definition_id ORDER BY a.id LIMIT $1`, []any{limit}, func(r *sql.Rows) error {
		var u UnknownRole
		err := r.Scan(&u.AssignmentID, &u.TenantID, &u.RoleDefinitionID)
		out = append(out, u)
		return err
	})
	return out, err
}
