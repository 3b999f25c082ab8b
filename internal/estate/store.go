package estate

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/table"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The estate's tables, for the estate import's generic diff and bulk loads
// (internal/estatefile). Columns are in the order of table.Table.Columns.
var (
	TenantsTable          = &table.Table{Name: "tenants", Key: []string{"id"}, Values: []string{"name"}}
	ManagementGroupsTable = &table.Table{Name: "management_groups", Key: []string{"tenant_id", "id"}, Values: []string{"parent_id"}, Windowed: true}
	SubscriptionsTable    = &table.Table{Name: "subscriptions", Key: []string{"id"}, Values: []string{"tenant_id", "name", "offer", "management_group_id", "csp_location_id"}, Windowed: true}
	DPORTable             = &table.Table{Name: "subscription_dpor", Key: []string{"subscription_id"}, Values: []string{"location_id"}, Windowed: true}
	PrincipalsTable       = &table.Table{Name: "principals", Key: []string{"tenant_id", "object_id"}, Values: []string{"type", "display_name", "home_tenant_id"}, Windowed: true}
	MembershipsTable      = &table.Table{Name: "group_memberships", Key: []string{"tenant_id", "member_id"}, Values: []string{"group_id"}, Windowed: true}
	TrackingIDsTable      = &table.Table{Name: "tracking_ids", Key: []string{"guid"}, Values: []string{"location_id"}}
	DeploymentsTable      = &table.Table{Name: "deployments", Key: []string{"resource_key", "tracking_guid", "at"}, Values: []string{"resource_id"}}
)

// Store is the only code that reads or writes the estate's tables (tenants, management_groups,
// subscriptions, subscription_dpor, principals, group_memberships, tracking_ids, deployments),
// apart from the functions of this package that take a store.Querier for a caller's
// transaction, the table descriptors above and PrincipalTypeSQL.
type Store struct {
	DB *store.DB
}

// PrincipalTypeSQL is an SQL expression for the type of the newest version of principal object
// in tenant (the empty string when there is none), for the link write, which refuses groups in the
// statement that locks the link (tenant and object are SQL expressions, e.g. $1 and $2).
func PrincipalTypeSQL(tenant, object string) string {
	return `COALESCE((SELECT type FROM principals WHERE tenant_id = ` + tenant + ` AND object_id = ` + object + ` ORDER BY valid_from DESC LIMIT 1), '')`
}

// Facts is the estate's part of a facts.Snapshot.
type Facts struct {
	Tenants          []Tenant
	ManagementGroups []ManagementGroup
	Subscriptions    []Subscription
	DPOR             []DPOR
	Principals       []Principal
	Memberships      []Membership
	TrackingIDs      []TrackingID
	Deployments      []Deployment
}

// LoadFacts reads every version whose window overlaps w (timeline.Always() for the whole
// history), the tenants and tracking IDs, and the deployments before w ends (CUA counts from
// the deployment on), in a deterministic order.
func LoadFacts(ctx context.Context, q store.Querier, w timeline.Window) (f Facts, err error) {
	if f.Tenants, err = Tenants(ctx, q); err != nil {
		return f, err
	}
	windowed := func(query, order string, fn func(*sql.Rows) error) {
		if err == nil {
			err = store.Each(ctx, q, query+` WHERE valid_from < $1 AND valid_to > $2 ORDER BY `+order, []any{w.To, w.From}, fn)
		}
	}
	windowed(`SELECT tenant_id, id, parent_id, valid_from, valid_to FROM management_groups`, `tenant_id, id, valid_from`, func(r *sql.Rows) error {
		var m ManagementGroup
		err := r.Scan(&m.TenantID, &m.ID, &m.ParentID, &m.Valid.From, &m.Valid.To)
		f.ManagementGroups = append(f.ManagementGroups, m)
		return err
	})
	windowed(`SELECT id, tenant_id, name, offer, management_group_id, csp_location_id, valid_from, valid_to FROM subscriptions`, `id, valid_from`, func(r *sql.Rows) error {
		var x Subscription
		err := r.Scan(&x.ID, &x.TenantID, &x.Name, &x.Offer, &x.ManagementGroupID, &x.CSPLocationID, &x.Valid.From, &x.Valid.To)
		f.Subscriptions = append(f.Subscriptions, x)
		return err
	})
	windowed(`SELECT subscription_id, location_id, valid_from, valid_to FROM subscription_dpor`, `subscription_id, valid_from`, func(r *sql.Rows) error {
		var d DPOR
		err := r.Scan(&d.SubscriptionID, &d.LocationID, &d.Valid.From, &d.Valid.To)
		f.DPOR = append(f.DPOR, d)
		return err
	})
	// The largest parts are read joined into one column (store.EachJoined).
	windowedJoined := func(cols []string, table, order string, fn func(c []string) error) {
		if err == nil {
			err = store.EachJoined(ctx, q, cols, table+` WHERE valid_from < $1 AND valid_to > $2 ORDER BY `+order, []any{w.To, w.From}, fn)
		}
	}
	windowedJoined([]string{"tenant_id", "object_id", "type", "display_name", "home_tenant_id", "valid_from", "valid_to"}, "principals",
		"tenant_id, object_id, valid_from", func(c []string) error {
			p := Principal{TenantID: c[0], ObjectID: c[1], Type: PrincipalType(c[2]), DisplayName: c[3], HomeTenantID: c[4]}
			var err error
			if p.Valid.From, p.Valid.To, err = store.JoinedWindow(c[5], c[6]); err != nil {
				return fmt.Errorf("principal %s of tenant %s: %w", p.ObjectID, p.TenantID, err)
			}
			f.Principals = append(f.Principals, p)
			return nil
		})
	windowedJoined([]string{"tenant_id", "member_id", "group_id", "valid_from", "valid_to"}, "group_memberships",
		"tenant_id, member_id, group_id, valid_from", func(c []string) error {
			m := Membership{TenantID: c[0], MemberID: c[1], GroupID: c[2]}
			var err error
			if m.Valid.From, m.Valid.To, err = store.JoinedWindow(c[3], c[4]); err != nil {
				return fmt.Errorf("membership of %s in group %s of tenant %s: %w", m.MemberID, m.GroupID, m.TenantID, err)
			}
			f.Memberships = append(f.Memberships, m)
			return nil
		})
	if err != nil {
		return f, err
	}
	if f.TrackingIDs, err = TrackingIDs(ctx, q); err != nil {
		return f, err
	}
	f.Deployments, err = Deployments(ctx, q, w.To)
	return f, err
}

// Tenants returns every tenant, ordered by ID.
func Tenants(ctx context.Context, q store.Querier) ([]Tenant, error) {
	var out []Tenant
	err := store.Each(ctx, q, `SELECT id, name FROM tenants ORDER BY id`, nil, func(r *sql.Rows) error {
		var t Tenant
		err := r.Scan(&t.ID, &t.Name)
		out = append(out, t)
		return err
	})
	return out, err
}

// TrackingIDs returns every CUA tracking ID, ordered by GUID.
func TrackingIDs(ctx context.Context, q store.Querier) ([]TrackingID, error) {
	var out []TrackingID
	err := store.Each(ctx, q, `SELECT guid, location_id FROM tracking_ids ORDER BY guid`, nil, func(r *sql.Rows) error {
		var t TrackingID
		err := r.Scan(&t.GUID, &t.LocationID)
		out = append(out, t)
		return err
	})
	return out, err
}

// Deployments returns the deployments before the instant before, ordered by resource (its
// canonical key), time and tracking GUID.
func Deployments(ctx context.Context, q store.Querier, before int64) ([]Deployment, error) {
	var out []Deployment
	err := store.Each(ctx, q, `SELECT resource_id, tracking_guid, at FROM deployments WHERE at < $1 ORDER BY resource_key, at, tracking_guid`, []any{before}, func(r *sql.Rows) error {
		var d Deployment
		err := r.Scan(&d.ResourceID, &d.TrackingGUID, &d.At)
		out = append(out, d)
		return err
	})
	return out, err
}

// TenantPage returns up to limit tenants with IDs after after, ordered by ID; with only set,
// just that tenant (if it is after after).
func (s Store) TenantPage(ctx context.Context, after, only string, limit int) ([]Tenant, error) {
	q := `SELECT id, name FROM tenants WHERE id > $1`
	args := []any{after}
	if only != "" {
		q += ` AND id = $2`
		args = append(args, only)
	}
	var out []Tenant
	err := store.Each(ctx, s.DB, q+` ORDER BY id LIMIT `+strconv.Itoa(limit), args, func(r *sql.Rows) error {
		var t Tenant
		err := r.Scan(&t.ID, &t.Name)
		out = append(out, t)
		return err
	})
	return out, s.DB.Translate(err)
}

// Page selects a page of one tenant's versions in force at instant At: up to Limit, in the
// order of their ID, after the ID After.
type Page struct {
	TenantID string
	At       int64
	After    string
	Limit    int
}

// where is the SQL condition of p on a table keyed by col, and its arguments; filters are added
// with filter.
type where struct {
	sql  string
	args []any
}

func (p Page) where(col string) *where {
	return &where{sql: ` WHERE tenant_id = $1 AND valid_from <= $2 AND valid_to > $2 AND ` + col + ` > $3`, args: []any{p.TenantID, p.At, p.After}}
}

// filter adds "col = v" when v is set.
func (w *where) filter(col, v string) {
	if v != "" {
		w.args = append(w.args, v)
		w.sql += ` AND ` + col + ` = $` + strconv.Itoa(len(w.args))
	}
}

// SubscriptionFilter narrows a page of subscriptions; empty fields match everything.
type SubscriptionFilter struct {
	Offer             Offer
	ManagementGroupID string
}

// SubscriptionPage returns a page of the tenant's subscriptions.
func (s Store) SubscriptionPage(ctx context.Context, p Page, f SubscriptionFilter) ([]Subscription, error) {
	w := p.where("id")
	w.filter("offer", string(f.Offer))
	w.filter("management_group_id", f.ManagementGroupID)
	var out []Subscription
	err := store.Each(ctx, s.DB, `SELECT id, tenant_id, name, offer, management_group_id, csp_location_id, valid_from, valid_to FROM subscriptions`+w.sql+
		` ORDER BY id LIMIT `+strconv.Itoa(p.Limit), w.args, func(r *sql.Rows) error {
		var x Subscription
		err := r.Scan(&x.ID, &x.TenantID, &x.Name, &x.Offer, &x.ManagementGroupID, &x.CSPLocationID, &x.Valid.From, &x.Valid.To)
		out = append(out, x)
		return err
	})
	return out, s.DB.Translate(err)
}

// PrincipalPage returns a page of the tenant's principals (by object ID), of type typ if set.
func (s Store) PrincipalPage(ctx context.Context, p Page, typ PrincipalType) ([]Principal, error) {
	w := p.where("object_id")
	w.filter("type", string(typ))
	var out []Principal
	err := store.Each(ctx, s.DB, `SELECT tenant_id, object_id, type, display_name, home_tenant_id, valid_from, valid_to FROM principals`+w.sql+
		` ORDER BY object_id LIMIT `+strconv.Itoa(p.Limit), w.args, func(r *sql.Rows) error {
		var x Principal
		err := r.Scan(&x.TenantID, &x.ObjectID, &x.Type, &x.DisplayName, &x.HomeTenantID, &x.Valid.From, &x.Valid.To)
		out = append(out, x)
		return err
	})
	return out, s.DB.Translate(err)
}

// SubscriptionInTenant reports whether subscription sub has ever been recorded in tenant
// (IDs compared case-insensitively).
func (s Store) SubscriptionInTenant(ctx context.Context, sub, tenant string) (bool, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE LOWER(id) = LOWER($1) AND LOWER(tenant_id) = LOWER($2)`, sub, tenant).Scan(&n)
	return n > 0, s.DB.Translate(err)
}
