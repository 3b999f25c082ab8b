package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
)

// UpgradeLegacy moves the rows of the attributions and incentives tables that databases
// created before schema 410 hold into result segments, one UTC day at a time, fills the
// incentive rollups from them, and empties both tables, in one transaction. It does nothing
// when both are empty. `partnerlink migrate` (engines.Migrate) calls it on a database of an older
// schema, after the migrations before 0600 and before 0600 drops both tables.
func UpgradeLegacy(ctx context.Context, db *store.DB) error {
	var one int
	err := db.QueryRowContext(ctx, `SELECT 1 FROM attributions UNION ALL SELECT 1 FROM incentives LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return db.Translate(err)
	}
	return db.Load(ctx, func(l store.Loader) error {
		var days []int64
		err := l.Query(ctx, `SELECT DISTINCT charge_start - (charge_start % 86400000000000) FROM attributions
			UNION SELECT DISTINCT charge_start - (charge_start % 86400000000000) FROM incentives`, nil,
			func(scan func(...any) error) error {
				var d int64
				if err := scan(&d); err != nil {
					return err
				}
				days = append(days, d)
				return nil
			})
		if err != nil {
			return err
		}
		for _, d := range days {
			if err := upgradeDay(ctx, l, d); err != nil {
				return fmt.Errorf("moving the attribution rows of %d into segments: %w", d, err)
			}
		}
		if _, err := l.Exec(ctx, `INSERT INTO rollup_incentives_daily (day, location_id, org_id, program, currency, amount_nanos, records)
			SELECT charge_start - (charge_start % 86400000000000), location_id, MIN(org_id), program, currency, SUM(amount_nanos), COUNT(*)
			FROM incentives GROUP BY charge_start - (charge_start % 86400000000000), location_id, program, currency`); err != nil {
			return err
		}
		for _, t := range []string{"attributions", "incentives"} {
			if _, err := l.Exec(ctx, "DELETE FROM "+t); err != nil {
				return err
			}
		}
		return nil
	})
}

// upgradeDay writes one day's legacy rows as result segments of their runs.
func upgradeDay(ctx context.Context, l store.Loader, d int64) error {
	var c recordResults
	err := l.Query(ctx, `SELECT run_id, record_key, location_id, association, org_id, charge_start, charge_end, tenant_id, subscription_id,
		resource_id, service, currency, cost_nanos, coverage_nanos, amount_nanos, admin_role, duplicate_at_org FROM attributions
		WHERE charge_start >= $1 AND charge_start < $2 ORDER BY run_id, charge_start, record_key, location_id, association`, []any{d, d + day},
		func(scan func(...any) error) error {
			var r Row
			var run string
			var cost, amount int64
			var dup store.Bool
			if err := scan(&run, &r.RecordKey, &r.LocationID, &r.Association, &r.OrgID, &r.Start, &r.End, &r.TenantID, &r.SubscriptionID,
				&r.ResourceID, &r.Service, &r.Currency, &cost, &r.Coverage, &amount, &r.AdminRole, &dup); err != nil {
				return err
			}
			r.Cost, r.Amount, r.DuplicateAtOrg = money.Nanos(cost), money.Nanos(amount), bool(dup)
			c.row(run, &r)
			return nil
		})
	if err != nil {
		return err
	}
	err = l.Query(ctx, `SELECT run_id, record_key, location_id, program, org_id, program_version, charge_start, currency, amount_nanos
		FROM incentives WHERE charge_start >= $1 AND charge_start < $2 ORDER BY run_id, charge_start, record_key, location_id, program`,
		[]any{d, d + day}, func(scan func(...any) error) error {
			var x Incentive
			var run string
			var amount int64
			if err := scan(&run, &x.RecordKey, &x.LocationID, &x.Program, &x.OrgID, &x.ProgramVersion, &x.Start, &x.Currency, &amount); err != nil {
				return err
			}
			x.Amount = money.Nanos(amount)
			c.incentive(run, &x)
			return nil
		})
	if err != nil {
		return err
	}
	return writeResultSegments(ctx, l, c.segments())
}

// UpgradeRollups moves the rows of rollup_daily, where runs before schema 620 wrote their
// rollups a row per (day, location, association, tenant, subscription, service, role,
// currency), into the rollups of today's layout, and empties it, in one transaction.
// `partnerlink migrate` (engines.Migrate) calls it after the migrations.
func UpgradeRollups(ctx context.Context, db *store.DB) error {
	var one int
	err := db.QueryRowContext(ctx, `SELECT 1 FROM rollup_daily LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return db.Translate(err)
	}
	return db.Load(ctx, func(l store.Loader) error {
		// Rollups written before schema 0670 are all microsoft's (version 1 attributed nothing
		// else) and have no provider rows yet; later ones have theirs, which stay.
		provider := "microsoft"
		err := l.Query(ctx, `SELECT 1 FROM rollup_provider_daily LIMIT 1`, nil, func(func(...any) error) error {
			provider = ""
			return nil
		})
		if err != nil {
			return err
		}
		ru := newRollups(interner{})
		err = l.Query(ctx, `SELECT day, location_id, org_id, association, tenant_id, subscription_id, service, admin_role, currency,
			amount_nanos, org_amount_nanos, records FROM rollup_daily`, nil, func(scan func(...any) error) error {
			var r RollupRow
			if err := scan(&r.Day, &r.LocationID, &r.OrgID, &r.Association, &r.TenantID, &r.SubscriptionID, &r.Service, &r.AdminRole,
				&r.Currency, &r.Amount, &r.OrgAmount, &r.Records); err != nil {
				return err
			}
			r.Provider = provider
			ru.add(&r)
			return nil
		})
		if err != nil {
			return err
		}
		// Days that hold rollups of today's layout too keep them: they are added in and
		// written again (rollup_groups holds them at the finest grain). Only the attribution
		// rollups move: rollup_incentives_daily keeps its layout.
		days := map[int64]bool{}
		for k := range ru.recs {
			days[k.day] = true
		}
		for d := range days {
			type seg struct {
				loc, org string
				data     []byte
			}
			var segs []seg
			err := l.Query(ctx, `SELECT location_id, org_id, data FROM rollup_groups WHERE day = $1`, []any{d}, func(scan func(...any) error) error {
				var x seg
				if err := scan(&x.loc, &x.org, &x.data); err != nil {
					return err
				}
				segs = append(segs, x)
				return nil
			})
			if err != nil {
				return err
			}
			for _, x := range segs {
				err := decodeRollup("rollup segment of location "+x.loc, x.data, 6, 3, func(s []string, n []int64) {
					ru.add(&RollupRow{Day: d, LocationID: x.loc, OrgID: x.org, Association: s[0], TenantID: s[1], SubscriptionID: s[2],
						Service: s[3], AdminRole: s[4], Currency: s[5], Amount: n[0], OrgAmount: n[1], Records: n[2]})
				})
				if err != nil {
					return err
				}
			}
			for _, t := range []string{"rollup_days", "rollup_groups", "rollup_tenants"} {
				if _, err := l.Exec(ctx, "DELETE FROM "+t+" WHERE day = $1", d); err != nil {
					return err
				}
			}
		}
		if err := ru.write(ctx, l, nil); err != nil {
			return err
		}
		_, err = l.Exec(ctx, `DELETE FROM rollup_daily`)
		return err
	})
}
