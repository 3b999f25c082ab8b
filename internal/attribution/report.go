package attribution

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

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
