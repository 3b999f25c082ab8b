package attribution

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// RowFilter selects stored rows: charge start in Period; Partner, when set, is a location ID
// or an organisation ID; Tenant, when set, limits rows to one customer tenant.
type RowFilter struct {
	Period  timeline.Window
	Partner string
	Tenant  string
}

func (f RowFilter) where() (string, []any) {
	w := " WHERE charge_start >= $1 AND charge_start < $2"
	args := []any{f.Period.From, f.Period.To}
	if f.Partner != "" {
		args = append(args, f.Partner)
		w += fmt.Sprintf(" AND (location_id = $%d OR org_id = $%d)", len(args), len(args))
	}
	return w, args
}

// StoredRows calls fn for each stored attribution row, sorted by record key, location and
// association (the order of formats.md).
func StoredRows(ctx context.Context, q store.Querier, f RowFilter, fn func(*Row) error) error {
	w, args := f.where()
	if f.Tenant != "" {
		args = append(args, f.Tenant)
		w += fmt.Sprintf(" AND tenant_id = $%d", len(args))
	}
	rows, err := q.QueryContext(ctx, `SELECT record_key, charge_start, charge_end, tenant_id, subscription_id, resource_id, service,
		currency, cost_nanos, location_id, org_id, association, coverage_nanos, amount_nanos, admin_role, duplicate_at_org
		FROM attributions`+w+` ORDER BY record_key, location_id, association`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r Row
		var cost, amount int64
		var dup store.Bool
		if err := rows.Scan(&r.RecordKey, &r.Start, &r.End, &r.TenantID, &r.SubscriptionID, &r.ResourceID, &r.Service, &r.Currency,
			&cost, &r.LocationID, &r.OrgID, &r.Association, &r.Coverage, &amount, &r.AdminRole, &dup); err != nil {
			return err
		}
		r.Cost, r.Amount, r.DuplicateAtOrg = money.Nanos(cost), money.Nanos(amount), bool(dup)
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// StoredIncentives calls fn for each stored incentive row, sorted by record key, location and
// program. A Tenant filter is not supported for incentives (they carry no tenant).
func StoredIncentives(ctx context.Context, q store.Querier, f RowFilter, fn func(*Incentive) error) error {
	w, args := f.where()
	rows, err := q.QueryContext(ctx, `SELECT record_key, location_id, program, org_id, program_version, charge_start, currency, amount_nanos
		FROM incentives`+w+` ORDER BY record_key, location_id, program`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i Incentive
		var amount int64
		if err := rows.Scan(&i.RecordKey, &i.LocationID, &i.Program, &i.OrgID, &i.ProgramVersion, &i.Start, &i.Currency, &amount); err != nil {
			return err
		}
		i.Amount = money.Nanos(amount)
		if err := fn(&i); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RowHeader is the CSV header of attribution rows (formats.md).
var RowHeader = []string{"record_key", "charge_start", "charge_end", "tenant_id", "subscription_id", "resource_id", "service",
	"currency", "cost", "partner_id", "org_id", "association", "coverage", "amount", "admin_role", "duplicate_at_org"}

// IncentiveHeader is the CSV header of incentive rows (formats.md).
var IncentiveHeader = []string{"record_key", "partner_id", "org_id", "program", "program_version", "currency", "amount"}

// Fields returns the row in RowHeader order.
func (r *Row) Fields() []string {
	return []string{r.RecordKey, timeline.Format(r.Start), timeline.Format(r.End), r.TenantID, r.SubscriptionID, r.ResourceID,
		r.Service, r.Currency, r.Cost.String(), r.LocationID, r.OrgID, r.Association, money.FixedString(r.Coverage),
		r.Amount.String(), r.AdminRole, strconv.FormatBool(r.DuplicateAtOrg)}
}

// Fields returns the incentive in IncentiveHeader order.
func (i *Incentive) Fields() []string {
	return []string{i.RecordKey, i.LocationID, i.OrgID, i.Program, i.ProgramVersion, i.Currency, i.Amount.String()}
}

// TableWriter writes rows as CSV or as a JSON array of objects keyed by the CSV header (values
// as strings, except duplicate_at_org as a boolean), streaming.
type TableWriter struct {
	w      io.Writer
	csv    *csv.Writer
	header []string
	n      int
}

// NewTableWriter starts a table in format "csv" or "json".
func NewTableWriter(w io.Writer, format string, header []string) (*TableWriter, error) {
	t := &TableWriter{w: w, header: header}
	switch format {
	case "csv", "":
		t.csv = csv.NewWriter(w)
		return t, t.csv.Write(header)
	case "json":
		_, err := io.WriteString(w, "[")
		return t, err
	}
	return nil, fmt.Errorf("format %q: use csv or json", format)
}

// Write writes one row of fields in header order.
func (t *TableWriter) Write(fields []string) error {
	if t.csv != nil {
		return t.csv.Write(fields)
	}
	obj := make(map[string]any, len(fields))
	for i, f := range fields {
		if t.header[i] == "duplicate_at_org" {
			obj[t.header[i]] = f == "true"
		} else {
			obj[t.header[i]] = f
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	sep := ",\n"
	if t.n == 0 {
		sep = "\n"
	}
	t.n++
	_, err = io.WriteString(t.w, sep+string(b))
	return err
}

// Close finishes the table.
func (t *TableWriter) Close() error {
	if t.csv != nil {
		t.csv.Flush()
		return t.csv.Error()
	}
	_, err := io.WriteString(t.w, "\n]\n")
	return err
}
