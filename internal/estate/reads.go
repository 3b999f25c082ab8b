package estate

import (
	"context"
	"database/sql"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The reads of this file serve the reports (internal/report): a tenant's estate as its admin
// sees it, and the operator's data-quality checks.

// TenantName returns the name of tenant id ("" when the tenant is not imported).
func TenantName(ctx context.Context, q store.Querier, id string) (string, error) {
	var name string
	err := store.Each(ctx, q, `SELECT name FROM tenants WHERE id = $1`, []any{id}, func(r *sql.Rows) error {
		return r.Scan(&name)
	})
	return name, err
}

// PrincipalNames maps the object IDs of tenant's principals to their display names (the name
// of the latest version).
func PrincipalNames(ctx context.Context, q store.Querier, tenant string) (map[string]string, error) {
	out := map[string]string{}
	err := store.Each(ctx, q, `SELECT object_id, display_name FROM principals WHERE tenant_id = $1 ORDER BY valid_from`, []any{tenant},
		func(r *sql.Rows) error {
			var id, n string
			if err := r.Scan(&id, &n); err != nil {
				return err
			}
			out[id] = n
			return nil
		})
	return out, err
}

// SubscriptionNames maps every subscription ID to its name (the latest named version); for
// reports that show names with the IDs beside them.
func SubscriptionNames(ctx context.Context, q store.Querier) (map[string]string, error) {
	out := map[string]string{}
	err := store.Each(ctx, q, `SELECT id, name FROM subscriptions WHERE name <> '' ORDER BY valid_from`, nil, func(r *sql.Rows) error {
		var id, n string
		if err := r.Scan(&id, &n); err != nil {
			return err
		}
		out[id] = n
		return nil
	})
	return out, err
}

// SubscriptionIDs is the set of every subscription ID the estate has held.
func SubscriptionIDs(ctx context.Context, q store.Querier) (map[string]bool, error) {
	out := map[string]bool{}
	err := store.Each(ctx, q, `SELECT DISTINCT id FROM subscriptions`, nil, func(r *sql.Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		out[id] = true
		return nil
	})
	return out, err
}

// PartnerWindow is a window in which a subscription of a tenant named a partner location, as
// its CSP (Name is the subscription's name) or its DPOR (Name is empty).
type PartnerWindow struct {
	SubscriptionID, Name, LocationID string
	Valid                            timeline.Window
}

// CSPWindows returns the versions of tenant's subscriptions that name a CSP location, ordered
// by subscription and start.
func CSPWindows(ctx context.Context, q store.Querier, tenant string) ([]PartnerWindow, error) {
	var out []PartnerWindow
	err := store.Each(ctx, q, `SELECT id, name, csp_location_id, valid_from, valid_to FROM subscriptions
WHERE tenant_id = $1 AND csp_location_id <> '' ORDER BY id, valid_from`, []any{tenant}, func(r *sql.Rows) error {
		var w PartnerWindow
		err := r.Scan(&w.SubscriptionID, &w.Name, &w.LocationID, &w.Valid.From, &w.Valid.To)
		out = append(out, w)
		return err
	})
	return out, err
}

// DPORWindows returns the DPOR windows of tenant's subscriptions, ordered by subscription and
// start.
func DPORWindows(ctx context.Context, q store.Querier, tenant string) ([]PartnerWindow, error) {
	var out []PartnerWindow
	err := store.Each(ctx, q, `SELECT DISTINCT d.subscription_id, d.location_id, d.valid_from, d.valid_to FROM subscription_dpor d
JOIN subscriptions s ON s.id = d.subscription_id WHERE s.tenant_id = $1 ORDER BY d.subscription_id, d.valid_from`, []any{tenant},
		func(r *sql.Rows) error {
			var w PartnerWindow
			err := r.Scan(&w.SubscriptionID, &w.LocationID, &w.Valid.From, &w.Valid.To)
			out = append(out, w)
			return err
		})
	return out, err
}

// TaggedResource is a resource of a tenant deployed with a partner location's CUA tracking
// ID, and when it was first.
type TaggedResource struct {
	LocationID, ResourceID string
	First                  int64
}

// TaggedResources returns the resources of tenant's subscriptions (resource keys are lower-case
// ARM IDs starting with the subscription) deployed with a tracking ID, ordered by location and
// resource.
func TaggedResources(ctx context.Context, q store.Querier, tenant string) ([]TaggedResource, error) {
	var out []TaggedResource
	err := store.Each(ctx, q, `SELECT t.location_id, d.resource_id, MIN(d.at) FROM deployments d
JOIN tracking_ids t ON t.guid = d.tracking_guid
JOIN (SELECT DISTINCT id FROM subscriptions WHERE tenant_id = $1) s ON d.resource_key LIKE '/subscriptions/' || s.id || '/%'
GROUP BY t.location_id, d.resource_id ORDER BY t.location_id, d.resource_id`, []any{tenant}, func(r *sql.Rows) error {
		var x TaggedResource
		err := r.Scan(&x.LocationID, &x.ResourceID, &x.First)
		out = append(out, x)
		return err
	})
	return out, err
}

// PrincipalExistsSQL is an SQL condition: a version of principal (tenant, object) is valid at
// the instant at (three SQL expressions, such as column names or placeholders). Code that
// reads a table of its own composes it into its statement (see PrincipalTypeSQL).
func PrincipalExistsSQL(tenant, object, at string) string {
	return `EXISTS (SELECT 1 FROM principals pe WHERE pe.tenant_id = ` + tenant + ` AND pe.object_id = ` + object +
		` AND pe.valid_from <= ` + at + ` AND pe.valid_to > ` + at + `)`
}
