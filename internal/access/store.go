package access

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/table"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Access's tables with windows, for the estate import's generic diff and bulk loads
// (internal/estatefile). Columns are in the order of table.Table.Columns.
var (
	RoleDefinitionsTable = &table.Table{Name: "role_definitions", Key: []string{"id"}, Values: []string{"role_name", "role_type", "permissions"}, Windowed: true}
	AssignmentsTable     = &table.Table{Name: "role_assignments", Key: []string{"id"}, Values: []string{"tenant_id", "principal_id", "role_definition_id", "scope", "scope_key", "kind"}, Windowed: true}
	ActivationsTable     = &table.Table{Name: "pim_activations", Key: []string{"assignment_id"}, Windowed: true}
	DelegationsTable     = &table.Table{Name: "delegations", Key: []string{"id"}, Values: []string{"customer_tenant_id", "scope", "scope_key", "managing_tenant_id"}, Windowed: true}
	AuthorizationsTable  = &table.Table{Name: "delegation_authorizations", Key: []string{"delegation_id"}, Values: []string{"principal_id", "role_definition_id"}, Windowed: true}
)

// Store is the only code that reads or writes access's tables (role_definitions,
// role_assignments, pim_activations, delegations, delegation_authorizations,
// assignment_closures; role_eligibility_overrides through Overrides), apart from the functions
// of this package that take a store.Querier or store.Loader for a caller's transaction and the
// table descriptors above.
type Store struct {
	DB *store.DB
}

// Facts is access's part of a facts.Snapshot.
type Facts struct {
	RoleDefinitions []RoleDefinition
	Assignments     []RoleAssignment // with Activations and ClosedBy
	Delegations     []Delegation     // with Authorizations
	// EligibilityOverrides are the operator's overrides by role name (Overrides).
	EligibilityOverrides map[string]bool
}

// LoadFacts reads every version whose window overlaps w (timeline.Always() for the whole
// history) in a deterministic order, and the eligibility overrides.
func LoadFacts(ctx context.Context, q store.Querier, w timeline.Window) (f Facts, err error) {
	windowed := func(query, order string, fn func(*sql.Rows) error) {
		if err == nil {
			err = store.Each(ctx, q, query+` WHERE valid_from < $1 AND valid_to > $2 ORDER BY `+order, []any{w.To, w.From}, fn)
		}
	}
	windowed(`SELECT id, role_name, role_type, permissions, valid_from, valid_to FROM role_definitions`, `id, valid_from`, func(r *sql.Rows) error {
		var d RoleDefinition
		var perms string
		if err := r.Scan(&d.ID, &d.RoleName, &d.RoleType, &perms, &d.Valid.From, &d.Valid.To); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(perms), &d.Permissions); err != nil {
			return fmt.Errorf("role definition %s: stored permissions are not JSON: %w", d.ID, err)
		}
		f.RoleDefinitions = append(f.RoleDefinitions, d)
		return nil
	})
	activations := map[string][]timeline.Window{}
	windowed(`SELECT assignment_id, valid_from, valid_to FROM pim_activations`, `assignment_id, valid_from`, func(r *sql.Rows) error {
		var id string
		var a timeline.Window
		err := r.Scan(&id, &a.From, &a.To)
		activations[id] = append(activations[id], a)
		return err
	})
	type versionEnd struct {
		id string
		to int64
	}
	closures := map[versionEnd]*Closure{}
	if err == nil {
		err = store.Each(ctx, q, `SELECT assignment_id, closed_at, import_id, source, file_name FROM assignment_closures`, nil, func(r *sql.Rows) error {
			var k versionEnd
			c := &Closure{}
			err := r.Scan(&k.id, &k.to, &c.ImportID, &c.Source, &c.File)
			closures[k] = c
			return err
		})
	}
	// Role assignments are read in the table's order and sorted here: their IDs are GUIDs, so
	// following the primary key's index visits the table at random (twice the time of the
	// scan at a hundred thousand assignments, even in C's SQLite).
	if err == nil {
		// Joined into one column (store.EachJoined): they are most of the facts' rows.
		err = store.EachJoined(ctx, q, []string{"id", "tenant_id", "principal_id", "role_definition_id", "scope", "kind", "valid_from", "valid_to"},
			`role_assignments WHERE valid_from < $1 AND valid_to > $2`, []any{w.To, w.From}, func(c []string) error {
				a := RoleAssignment{ID: c[0], TenantID: c[1], PrincipalID: c[2], RoleDefinitionID: c[3], Scope: c[4], Kind: Kind(c[5])}
				var err error
				if a.Valid.From, a.Valid.To, err = store.JoinedWindow(c[6], c[7]); err != nil {
					return fmt.Errorf("role assignment %s: %w", a.ID, err)
				}
				if a.Kind == Eligible {
					a.Activations = activations[a.ID]
				}
				a.ClosedBy = closures[versionEnd{a.ID, a.Valid.To}]
				f.Assignments = append(f.Assignments, a)
				return nil
			})
		slices.SortFunc(f.Assignments, func(a, b RoleAssignment) int {
			if c := strings.Compare(a.ID, b.ID); c != 0 {
				return c
			}
			return cmp.Compare(a.Valid.From, b.Valid.From)
		})
	}
	auths := map[string][]Authorization{}
	windowed(`SELECT delegation_id, principal_id, role_definition_id, valid_from, valid_to FROM delegation_authorizations`, `delegation_id, principal_id, role_definition_id, valid_from`, func(r *sql.Rows) error {
		var id string
		var a Authorization
		err := r.Scan(&id, &a.PrincipalID, &a.RoleDefinitionID, &a.Valid.From, &a.Valid.To)
		auths[id] = append(auths[id], a)
		return err
	})
	windowed(`SELECT id, customer_tenant_id, scope, managing_tenant_id, valid_from, valid_to FROM delegations`, `id, valid_from`, func(r *sql.Rows) error {
		var d Delegation
		err := r.Scan(&d.ID, &d.CustomerTenantID, &d.Scope, &d.ManagingTenantID, &d.Valid.From, &d.Valid.To)
		d.Authorizations = auths[d.ID]
		f.Delegations = append(f.Delegations, d)
		return err
	})
	if err != nil {
		return f, err
	}
	f.EligibilityOverrides, err = overrides(ctx, q)
	return f, err
}

// RecordClosures remembers that the import importID (of kind source, from file) closed the
// role assignments ids at instant at, as a snapshot that no longer listed them (explain names
// it). A closure belongs to the version end it set: closures whose version has since been
// rewritten with another end are dropped first. It writes through ld, in the import's
// transaction.
func RecordClosures(ctx context.Context, ld store.Loader, importID, source, file string, at int64, ids []string) error {
	if _, err := ld.Exec(ctx, `DELETE FROM assignment_closures WHERE NOT EXISTS (SELECT 1 FROM role_assignments r
		WHERE r.id = assignment_closures.assignment_id AND r.valid_to = assignment_closures.closed_at)`); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := ld.Exec(ctx, `INSERT INTO assignment_closures (assignment_id, closed_at, import_id, source, file_name) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (assignment_id, closed_at) DO UPDATE SET import_id = excluded.import_id, source = excluded.source, file_name = excluded.file_name`,
			id, at, importID, source, file); err != nil {
			return err
		}
	}
	return nil
}

// EligibleVersion is one version of an eligible role assignment, as PIM imports match
// activations to it.
type EligibleVersion struct {
	ID, PrincipalID, RoleDefinitionID, ScopeKey string
	Valid                                       timeline.Window
}

// EligibleVersions returns every version of tenant's eligible assignments, ordered by end and
// ID (so the open one of an assignment comes last).
func EligibleVersions(ctx context.Context, q store.Querier, tenant string) ([]EligibleVersion, error) {
	var out []EligibleVersion
	err := store.Each(ctx, q, `SELECT id, principal_id, role_definition_id, scope_key, valid_from, valid_to FROM role_assignments
		WHERE tenant_id = $1 AND kind = 'eligible' ORDER BY valid_to, id`, []any{tenant}, func(r *sql.Rows) error {
		var v EligibleVersion
		err := r.Scan(&v.ID, &v.PrincipalID, &v.RoleDefinitionID, &v.ScopeKey, &v.Valid.From, &v.Valid.To)
		out = append(out, v)
		return err
	})
	return out, err
}

// Activations returns the stored PIM activations of assignment id.
func Activations(ctx context.Context, q store.Querier, id string) ([]timeline.Window, error) {
	var out []timeline.Window
	err := store.Each(ctx, q, `SELECT valid_from, valid_to FROM pim_activations WHERE assignment_id = $1`, []any{id}, func(r *sql.Rows) error {
		var w timeline.Window
		err := r.Scan(&w.From, &w.To)
		out = append(out, w)
		return err
	})
	return out, err
}

// ReplaceActivations makes ws the PIM activations of assignment id, through ld.
func ReplaceActivations(ctx context.Context, ld store.Loader, id string, ws []timeline.Window) error {
	if err := ActivationsTable.Delete(ctx, ld, []string{id}); err != nil {
		return err
	}
	rows := make([][]any, len(ws))
	for i, w := range ws {
		rows[i] = []any{id, w.From, w.To}
	}
	_, err := ActivationsTable.Insert(ctx, ld, rows, false)
	return err
}

// RoleByName returns the newest version of the role definition named name (compared
// case-insensitively), or store.ErrNotFound.
func (s Store) RoleByName(ctx context.Context, name string) (*RoleDefinition, error) {
	d := &RoleDefinition{}
	var perms string
	err := s.DB.QueryRowContext(ctx, `SELECT id, role_name, role_type, permissions, valid_from, valid_to FROM role_definitions
		WHERE LOWER(role_name) = LOWER($1) ORDER BY valid_from DESC LIMIT 1`, name).Scan(&d.ID, &d.RoleName, &d.RoleType, &perms, &d.Valid.From, &d.Valid.To)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NewError(store.ErrNotFound, fmt.Sprintf("no role definition named %q is imported", name), nil)
	}
	if err != nil {
		return nil, s.DB.Translate(err)
	}
	if err := json.Unmarshal([]byte(perms), &d.Permissions); err != nil {
		return nil, fmt.Errorf("role definition %s: stored permissions are not JSON: %w", d.ID, err)
	}
	return d, nil
}

// AssignmentQuery selects a page of one tenant's role assignments in force at instant At: up
// to Limit, ordered by ID, after the ID After; the other fields, when set, must match.
type AssignmentQuery struct {
	TenantID string
	At       int64
	After    string
	Limit    int

	PrincipalID, RoleDefinitionID string
	Kind                          Kind
	ScopeKey                      string // the scope's canonical key (scope.Key)
}

// AssignmentPage returns the page q selects.
func (s Store) AssignmentPage(ctx context.Context, q AssignmentQuery) ([]RoleAssignment, error) {
	where := ` WHERE tenant_id = $1 AND valid_from <= $2 AND valid_to > $2 AND id > $3`
	args := []any{q.TenantID, q.At, q.After}
	for _, f := range []struct{ col, v string }{{"principal_id", q.PrincipalID}, {"role_definition_id", q.RoleDefinitionID}, {"kind", string(q.Kind)}, {"scope_key", q.ScopeKey}} {
		if f.v != "" {
			args = append(args, f.v)
			where += ` AND ` + f.col + ` = $` + strconv.Itoa(len(args))
		}
	}
	var out []RoleAssignment
	err := store.Each(ctx, s.DB, `SELECT id, tenant_id, principal_id, role_definition_id, scope, kind, valid_from, valid_to FROM role_assignments`+where+
		` ORDER BY id LIMIT `+strconv.Itoa(q.Limit), args, func(r *sql.Rows) error {
		var a RoleAssignment
		err := r.Scan(&a.ID, &a.TenantID, &a.PrincipalID, &a.RoleDefinitionID, &a.Scope, &a.Kind, &a.Valid.From, &a.Valid.To)
		out = append(out, a)
		return err
	})
	return out, s.DB.Translate(err)
}

// Overrides are the operator's overrides of role eligibility by role name
// (role_eligibility_overrides): `partnerlink roles eligibility set` writes them, the engine
// and `roles explain` read them. This is the only code that touches that table.
type Overrides struct {
	DB *store.DB
}

// Set records that the role named name is (or is not) eligible, by whom and when.
func (o Overrides) Set(ctx context.Context, name string, eligible bool, by string, at int64) error {
	_, err := o.DB.ExecContext(ctx, `INSERT INTO role_eligibility_overrides (role_name, eligible, set_by, set_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (role_name) DO UPDATE SET eligible = excluded.eligible, set_by = excluded.set_by, set_at = excluded.set_at`,
		name, eligible, by, at)
	return o.DB.Translate(err)
}

// All returns every override by role name.
func (o Overrides) All(ctx context.Context) (map[string]bool, error) {
	m, err := overrides(ctx, o.DB)
	return m, o.DB.Translate(err)
}

func overrides(ctx context.Context, q store.Querier) (map[string]bool, error) {
	out := map[string]bool{}
	err := store.Each(ctx, q, `SELECT role_name, eligible FROM role_eligibility_overrides ORDER BY role_name`, nil, func(r *sql.Rows) error {
		var name string
		var ok store.Bool
		err := r.Scan(&name, &ok)
		out[name] = bool(ok)
		return err
	})
	return out, err
}
