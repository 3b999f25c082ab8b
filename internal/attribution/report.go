package attribution

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/partnerlink/partnerlink/internal/rules"
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

// StoredRows calls fn for each stored attribution row, sorted by record key, location and
// association (the order of formats.md). The period's result segments are read and sorted
// (on disk beyond a few tens of megabytes), so memory stays bounded.
func StoredRows(ctx context.Context, q store.Querier, f RowFilter, fn func(*Row) error) error {
	return sortedRows(ctx, q, f, fn)
}

// StoredIncentives calls fn for each stored incentive row, sorted by record key, location and
// program. A Tenant filter is not supported for incentives (they carry no tenant).
func StoredIncentives(ctx context.Context, q store.Querier, f RowFilter, fn func(*Incentive) error) error {
	return sortedIncentives(ctx, q, f, fn)
}

// RowHeader is the CSV header of attribution rows (formats.md; provider is version 2's last
// column).
var RowHeader = rules.RowHeader

// IncentiveHeader is the CSV header of incentive rows (formats.md).
var IncentiveHeader = rules.IncentiveHeader

// TableWriter writes rows as CSV or as a JSON array of objects keyed by the CSV header (values
// as strings, except duplicate_at_org as a boolean), streaming.
type TableWriter struct {
	w       io.Writer
	csv     *csv.Writer
	pq      *parquet.GenericWriter[any]
	rowType reflect.Type
	header  []string
	n       int
}

// NewTableWriter starts a table in format "csv", "json" or "parquet" (every column a string
// with the CSV's text).
func NewTableWriter(w io.Writer, format string, header []string) (*TableWriter, error) {
	t := &TableWriter{w: w, header: header}
	switch format {
	case "csv", "":
		t.csv = csv.NewWriter(w)
		return t, t.csv.Write(header)
	case "json":
		_, err := io.WriteString(w, "[")
		return t, err
	case "parquet":
		// The same columns, in the same order, each a string holding the CSV's exact text
		// (decimals never pass through a float).
		// A struct type built for the header keeps the columns in its order.
		fields := make([]reflect.StructField, len(header))
		for i, h := range header {
			fields[i] = reflect.StructField{Name: fmt.Sprintf("C%d", i), Type: reflect.TypeOf(""), Tag: reflect.StructTag(`parquet:"` + h + `"`)}
		}
		t.rowType = reflect.StructOf(fields)
		schema := parquet.SchemaOf(reflect.New(t.rowType).Interface())
		t.pq = parquet.NewGenericWriter[any](w, schema, parquet.Compression(&zstd.Codec{}), parquet.CreatedBy("partnerlink", "", ""))
		return t, nil
	}
	return nil, fmt.Errorf("format %q: use csv, json or parquet", format)
}

// Write writes one row of fields in header order.
func (t *TableWriter) Write(fields []string) error {
	if t.csv != nil {
		return t.csv.Write(fields)
	}
	if t.pq != nil {
		v := reflect.New(t.rowType)
		for i, f := range fields {
			v.Elem().Field(i).SetString(f)
		}
		_, err := t.pq.Write([]any{v.Interface()})
		return err
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
	if t.pq != nil {
		return t.pq.Close()
	}
	_, err := io.WriteString(t.w, "\n]\n")
	return err
}
