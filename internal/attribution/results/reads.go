package results

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The typed reads of the results' tables, for the reports, the dashboard, the demo and
// what-if: nobody else names these tables. Day bounds are UTC midnights in Unix ns compared
// with each rollup's day (timeline.Min and timeline.Max for open ends).

// Partner selects the rollups of one location (Org false) or of one organisation's locations
// (Org true: amounts then count a row once per organisation, see DayRow.Amount).
type Partner struct {
	ID  string
	Org bool
}

func (p Partner) col() string {
	if p.Org {
		return "org_id"
	}
	return "location_id"
}

// DayRow is a day's sum of one association and currency. Amount is the location's own amount
// or, for an organisation, the amount of rows that are not duplicates at the organisation;
// All is every row's amount.
type DayRow struct {
	Day                   int64
	Association, Currency string
	Amount, All, Records  int64
}

// PartnerDays calls fn with the partner's sums per day, association and currency in
// [from, to).
func PartnerDays(ctx context.Context, q store.Querier, p Partner, from, to int64, fn func(DayRow) error) error {
	amount := "amount_nanos"
	if p.Org {
		amount = "org_amount_nanos"
	}
	return scan(ctx, q, `SELECT day, association, currency, CAST(SUM(`+amount+`) AS BIGINT), CAST(SUM(amount_nanos) AS BIGINT),
		CAST(SUM(records) AS BIGINT) FROM rollup_days WHERE `+p.col()+` = $1 AND day >= $2 AND day < $3 GROUP BY day, association, currency`,
		[]any{p.ID, from, to}, func(s func(...any) error) error {
			var r DayRow
			if err := s(&r.Day, &r.Association, &r.Currency, &r.Amount, &r.All, &r.Records); err != nil {
				return err
			}
			return fn(r)
		})
}

// GroupRow is a sum of one location, association, tenant, subscription, service, admin role
// and currency; Amount and All as in DayRow.
type GroupRow struct {
	LocationID, Association, TenantID, SubscriptionID, Service, AdminRole, Currency string
	Amount, All                                                                     int64
}

// PartnerGroups calls fn with the partner's sums per location, association, tenant,
// subscription, service, admin role and currency in [from, to), each day's separately (the
// caller adds them up).
func PartnerGroups(ctx context.Context, q store.Querier, p Partner, from, to int64, fn func(*GroupRow) error) error {
	type seg struct {
		loc  string
		day  int64
		data []byte
	}
	var segs []seg
	err := scan(ctx, q, `SELECT location_id, day, data FROM rollup_groups WHERE `+p.col()+` = $1 AND day >= $2 AND day < $3`,
		[]any{p.ID, from, to}, func(s func(...any) error) error {
			var x seg
			if err := s(&x.loc, &x.day, &x.data); err != nil {
				return err
			}
			segs = append(segs, x)
			return nil
		})
	if err != nil {
		return err
	}
	var r GroupRow
	var ferr error
	for _, x := range segs {
		err := decodeRollup(fmt.Sprintf("rollup segment of location %s on %s", x.loc, timeline.Format(x.day)), x.data, 6, 3,
			func(strs []string, nums []int64) {
				if ferr != nil {
					return
				}
				r = GroupRow{LocationID: x.loc, Association: strs[0], TenantID: strs[1], SubscriptionID: strs[2], Service: strs[3],
					AdminRole: strs[4], Currency: strs[5], Amount: nums[0], All: nums[0]}
				if p.Org {
					r.Amount = nums[1]
				}
				ferr = fn(&r)
			})
		if err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// KeyAmount is an amount of one key (program, association, location, ...) and currency.
type KeyAmount struct {
	Key, Currency string
	Amount        int64
}

// PartnerIncentives returns the partner's incentives per program and currency in [from, to).
func PartnerIncentives(ctx context.Context, q store.Querier, p Partner, from, to int64) ([]KeyAmount, error) {
	return keyAmounts(ctx, q, `SELECT program, currency, CAST(SUM(amount_nanos) AS BIGINT) FROM rollup_incentives_daily
		WHERE `+p.col()+` = $1 AND day >= $2 AND day < $3 GROUP BY program, currency`, p.ID, from, to)
}

// TenantRow is a customer tenant's consumption recognised for one location, association,
// admin role and currency, with its first and last day.
type TenantRow struct {
	LocationID, Association, AdminRole, Currency string
	Amount                                       int64
	FirstDay, LastDay                            int64
}

// TenantConsumption returns a customer tenant's consumption per location, association, admin
// role and currency, over every stored day.
func TenantConsumption(ctx context.Context, q store.Querier, tenantID string) ([]TenantRow, error) {
	type k struct{ loc, assoc, role, cur string }
	at := map[k]int{}
	var out []TenantRow
	type seg struct {
		day  int64
		data []byte
	}
	var segs []seg
	err := scan(ctx, q, `SELECT day, data FROM rollup_tenants WHERE tenant_id = $1`, []any{tenantID}, func(s func(...any) error) error {
		var x seg
		if err := s(&x.day, &x.data); err != nil {
			return err
		}
		segs = append(segs, x)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, x := range segs {
		err := decodeRollup(fmt.Sprintf("rollup segment of tenant %s on %s", tenantID, timeline.Format(x.day)), x.data, 4, 2,
			func(strs []string, nums []int64) {
				key := k{strs[0], strs[1], strs[2], strs[3]}
				i, ok := at[key]
				if !ok {
					i = len(out)
					at[key] = i
					out = append(out, TenantRow{LocationID: key.loc, Association: key.assoc, AdminRole: key.role, Currency: key.cur,
						FirstDay: x.day, LastDay: x.day})
				}
				r := &out[i]
				r.Amount += nums[0]
				r.FirstDay, r.LastDay = min(r.FirstDay, x.day), max(r.LastDay, x.day)
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OperatorTotals are the sums the operator report shows over a period.
type OperatorTotals struct {
	Programs, Associations, Locations []KeyAmount
}

// Operator returns the totals per incentive program, association and location in [from, to).
func Operator(ctx context.Context, q store.Querier, from, to int64) (*OperatorTotals, error) {
	var o OperatorTotals
	var err error
	if o.Programs, err = keyAmounts(ctx, q, `SELECT program, currency, CAST(SUM(amount_nanos) AS BIGINT) FROM rollup_incentives_daily
		WHERE day >= $1 AND day < $2 GROUP BY program, currency`, from, to); err != nil {
		return nil, err
	}
	if o.Associations, err = keyAmounts(ctx, q, `SELECT association, currency, CAST(SUM(amount_nanos) AS BIGINT) FROM rollup_days
		WHERE day >= $1 AND day < $2 GROUP BY association, currency`, from, to); err != nil {
		return nil, err
	}
	if o.Locations, err = keyAmounts(ctx, q, `SELECT location_id, currency, CAST(SUM(amount_nanos) AS BIGINT) FROM rollup_days
		WHERE day >= $1 AND day < $2 GROUP BY location_id, currency`, from, to); err != nil {
		return nil, err
	}
	return &o, nil
}

// Total is the sum of one location, association and currency, with its rows.
type Total struct {
	LocationID, Association, Currency string
	Amount, Records                   int64
}

// StoredTotals returns the sums per location, association and currency in [from, to), sorted.
func StoredTotals(ctx context.Context, q store.Querier, from, to int64) ([]Total, error) {
	var out []Total
	err := scan(ctx, q, `SELECT location_id, association, currency, CAST(SUM(amount_nanos) AS BIGINT), CAST(SUM(records) AS BIGINT)
		FROM rollup_days WHERE day >= $1 AND day < $2 GROUP BY location_id, association, currency ORDER BY location_id, association, currency`,
		[]any{from, to}, func(s func(...any) error) error {
			var t Total
			if err := s(&t.LocationID, &t.Association, &t.Currency, &t.Amount, &t.Records); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	return out, err
}

// OrgTotal is an organisation's amount of one association and currency, each row counted
// once per organisation.
type OrgTotal struct {
	Association, OrgID, Currency string
	Amount                       int64
}

// OrgTotals returns the organisations' amounts per association and currency in [from, to).
func OrgTotals(ctx context.Context, q store.Querier, from, to int64) ([]OrgTotal, error) {
	var out []OrgTotal
	err := scan(ctx, q, `SELECT association, org_id, currency, CAST(SUM(org_amount_nanos) AS BIGINT) FROM rollup_days
		WHERE day >= $1 AND day < $2 GROUP BY association, org_id, currency`, []any{from, to}, func(s func(...any) error) error {
		var t OrgTotal
		if err := s(&t.Association, &t.OrgID, &t.Currency, &t.Amount); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// RowCounts returns the attribution and incentive rows of the stored runs in [from, to).
func RowCounts(ctx context.Context, q store.Querier, from, to int64) (attributions, incentives int64, err error) {
	if err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(records), 0) FROM rollup_days WHERE day >= $1 AND day < $2`, from, to).Scan(&attributions); err != nil {
		return 0, 0, err
	}
	err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(records), 0) FROM rollup_incentives_daily WHERE day >= $1 AND day < $2`, from, to).Scan(&incentives)
	return attributions, incentives, err
}

// RunRecord is a stored run as the operator report lists it.
type RunRecord struct {
	ID                                          string
	PeriodFrom, PeriodTo, StartedAt, FinishedAt int64
	RequestedBy, ProgramsVersion, Status        string
	AttributionRows, IncentiveRows              int64
	Diff                                        string // JSON
}

// Runs returns the latest limit runs, newest first.
func Runs(ctx context.Context, q store.Querier, limit int) ([]RunRecord, error) {
	var out []RunRecord
	err := scan(ctx, q, `SELECT id, period_from, period_to, started_at, finished_at, requested_by, programs_version, attribution_rows,
		incentive_rows, status, diff FROM attribution_runs ORDER BY started_at DESC, id DESC LIMIT $1`, []any{limit},
		func(s func(...any) error) error {
			var x RunRecord
			if err := s(&x.ID, &x.PeriodFrom, &x.PeriodTo, &x.StartedAt, &x.FinishedAt, &x.RequestedBy, &x.ProgramsVersion,
				&x.AttributionRows, &x.IncentiveRows, &x.Status, &x.Diff); err != nil {
				return err
			}
			out = append(out, x)
			return nil
		})
	return out, err
}

// LatestRun is the latest successful run of exactly a period, with its totals.
type LatestRun struct {
	ID              string
	FinishedAt      int64
	ProgramsVersion string
	Totals          map[[3]string]money.Nanos // (location, association, currency)
}

// Latest returns the latest successful run of exactly p, or store.ErrNotFound.
func Latest(ctx context.Context, q store.Querier, p timeline.Window) (*LatestRun, error) {
	r := &LatestRun{Totals: map[[3]string]money.Nanos{}}
	var tj string
	err := q.QueryRowContext(ctx, `SELECT id, finished_at, programs_version, totals FROM attribution_runs
		WHERE period_from = $1 AND period_to = $2 AND status = 'ok' ORDER BY finished_at DESC, id DESC LIMIT 1`, p.From, p.To).
		Scan(&r.ID, &r.FinishedAt, &r.ProgramsVersion, &tj)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var t Totals
	if err := json.Unmarshal([]byte(tj), &t); err != nil {
		return nil, fmt.Errorf("run %s has unreadable totals: %w", r.ID, err)
	}
	for loc, as := range t {
		for assoc, cs := range as {
			for cur, amount := range cs {
				n, err := money.Parse(amount)
				if err != nil {
					return nil, fmt.Errorf("run %s: total %q of %s %s %s: %w", r.ID, amount, loc, assoc, cur, err)
				}
				r.Totals[[3]string{loc, assoc, cur}] = n
			}
		}
	}
	return r, nil
}

func keyAmounts(ctx context.Context, q store.Querier, query string, args ...any) ([]KeyAmount, error) {
	var out []KeyAmount
	err := scan(ctx, q, query, args, func(s func(...any) error) error {
		var k KeyAmount
		if err := s(&k.Key, &k.Currency, &k.Amount); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	return out, err
}

func scan(ctx context.Context, q store.Querier, query string, args []any, fn func(scan func(...any) error) error) error {
	return querierReader{q}.query(ctx, query, args, fn)
}

// ProviderRow is a sum of one provider, association and currency (version 2's reports by
// provider).
type ProviderRow struct {
	Provider, Association, Currency string
	Amount                          int64
}

// Providers calls fn with the sums per provider, association and currency in [from, to): of
// partner p, or of every partner when p is nil.
func Providers(ctx context.Context, q store.Querier, p *Partner, from, to int64, fn func(ProviderRow) error) error {
	where, amount, args := "", "amount_nanos", []any{from, to}
	if p != nil {
		where = " AND " + p.col() + " = $3"
		if p.Org {
			amount = "org_amount_nanos"
		}
		args = append(args, p.ID)
	}
	return scan(ctx, q, `SELECT provider, association, currency, CAST(SUM(`+amount+`) AS BIGINT) FROM rollup_provider_daily
		WHERE day >= $1 AND day < $2`+where+` GROUP BY provider, association, currency`, args, func(s func(...any) error) error {
		var r ProviderRow
		if err := s(&r.Provider, &r.Association, &r.Currency, &r.Amount); err != nil {
			return err
		}
		return fn(r)
	})
}

// RunWarnings calls fn with the data-quality warnings (JSON, as the run recorded them) of each
// successful run whose period overlaps [from, to), newest first.
func RunWarnings(ctx context.Context, q store.Querier, from, to int64, fn func(periodFrom, periodTo int64, warnings string) error) error {
	return scan(ctx, q, `SELECT period_from, period_to, warnings FROM attribution_runs
		WHERE status = 'ok' AND period_from < $2 AND period_to > $1 ORDER BY started_at DESC, id DESC`, []any{from, to},
		func(s func(...any) error) error {
			var pf, pt int64
			var raw string
			if err := s(&pf, &pt, &raw); err != nil {
				return err
			}
			return fn(pf, pt, raw)
		})
}
