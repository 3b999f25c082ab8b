package usage

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// ExportColumns are the columns of `partnerlink export usage`, in order.
var ExportColumns = []string{"record_key", "charge_start", "charge_end", "subscription_id", "resource_id",
	"service", "service_category", "charge_category", "pricing_category", "commitment_discount_id",
	"provider", "publisher", "currency", "cost"}

// FOCUSColumns are the columns of `partnerlink export usage --format focus` (and parquet), in
// order: FOCUS columns, the record key as x_RecordId and the attributed cost, exactly as
// imported, as x_AttributedCost, so that `import usage` reads the file back to the same
// records.
var FOCUSColumns = []string{"x_RecordId", "ChargePeriodStart", "ChargePeriodEnd", "BillingAccountId", "SubAccountId",
	"SubAccountType", "ResourceId", "ServiceName", "ServiceCategory", "ChargeCategory", "PricingCategory",
	"CommitmentDiscountId", "ProviderName", "HostProviderName", "PublisherName", "InvoiceIssuerName", "RegionId",
	"ConsumedQuantity", "ConsumedUnit", "BillingCurrency", "ListCost", "BilledCost", "EffectiveCost", "Tags",
	"x_AttributedCost"}

// focusValues are r's FOCUSColumns, null (an empty value) as NULL, as FOCUS asks (and as a
// Parquet null reads, so that the CSV and the Parquet export of a record hash alike).
func focusValues(r *Record) []string {
	v := []string{r.Key, timeline.Format(r.Start), timeline.Format(r.End), r.BillingAccountID, r.SubscriptionID,
		r.SubAccountType, r.ResourceID, r.Service, r.ServiceCategory, r.ChargeCategory, r.PricingCategory,
		r.CommitmentDiscountID, r.Provider, r.HostProvider, r.Publisher, r.InvoiceIssuer, r.Region,
		r.Quantity, r.Unit, r.Currency, r.ListCost.String(), r.BilledCost.String(), r.EffectiveCost.String(), r.Tags,
		attributedCost(r)}
	for i := range v {
		if v[i] == "" {
			v[i] = "NULL"
		}
	}
	if r.Tags == "" {
		v[23] = "{}" // as the Parquet export writes no tags
	}
	return v
}

func attributedCost(r *Record) string {
	if r.CostRaw != "" {
		return r.CostRaw
	}
	return r.Cost.String()
}

// Export formats.
const (
	ExportCSV     = "csv"
	ExportJSON    = "json"
	ExportFOCUS   = "focus"
	ExportParquet = "parquet"
)

// Writer writes normalised records as CSV or JSON (an array of objects with the CSV's
// columns as keys; cost stays an exact decimal string), or every field as FOCUS CSV or
// Parquet (FOCUSColumns).
type Writer struct {
	format string
	bw     *bufio.Writer
	csv    *csv.Writer
	pq     *parquet.GenericWriter[parquetRow]
	rows   []parquetRow
	n      int
	// noKeys leaves x_RecordId empty, so that importing the file hashes the rows (tests of
	// the keys of rows without an ID).
	noKeys bool
}

// NewWriter starts an export in format csv, json, focus or parquet.
func NewWriter(w io.Writer, format string) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	x := &Writer{format: format, bw: bw}
	switch format {
	case ExportCSV, ExportFOCUS:
		x.csv = csv.NewWriter(bw)
		cols := ExportColumns
		if format == ExportFOCUS {
			cols = FOCUSColumns
		}
		if err := x.csv.Write(cols); err != nil {
			return nil, err
		}
	case ExportParquet:
		// Row groups of 65,536 rows keep the writer's memory to a few megabytes.
		x.pq = parquet.NewGenericWriter[parquetRow](bw, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(65536),
			parquet.CreatedBy("partnerlink", "", ""))
	case "json":
		if _, err := bw.WriteString("["); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("format %q is not supported; use csv, json, focus or parquet", format)
	}
	return x, nil
}

// parquetRow is a record as `export usage --format parquet` writes it: FOCUSColumns, times as
// TIMESTAMP(NANOS, UTC), amounts as DECIMAL(18, 9) (nano-units exactly), tags as a
// MAP<STRING, STRING>; the quantity and the attributed cost as text, exactly as imported.
type parquetRow struct {
	RecordID          string            `parquet:"x_RecordId"`
	ChargePeriodStart int64             `parquet:"ChargePeriodStart,timestamp(nanosecond:utc)"`
	ChargePeriodEnd   int64             `parquet:"ChargePeriodEnd,timestamp(nanosecond:utc)"`
	BillingAccountID  *string           `parquet:"BillingAccountId,optional,dict"`
	SubAccountID      *string           `parquet:"SubAccountId,optional,dict"`
	SubAccountType    *string           `parquet:"SubAccountType,optional,dict"`
	ResourceID        *string           `parquet:"ResourceId,optional,dict"`
	ServiceName       *string           `parquet:"ServiceName,optional,dict"`
	ServiceCategory   *string           `parquet:"ServiceCategory,optional,dict"`
	ChargeCategory    string            `parquet:"ChargeCategory,dict"`
	PricingCategory   *string           `parquet:"PricingCategory,optional,dict"`
	Commitment        *string           `parquet:"CommitmentDiscountId,optional,dict"`
	ProviderName      *string           `parquet:"ProviderName,optional,dict"`
	HostProviderName  *string           `parquet:"HostProviderName,optional,dict"`
	PublisherName     *string           `parquet:"PublisherName,optional,dict"`
	InvoiceIssuerName *string           `parquet:"InvoiceIssuerName,optional,dict"`
	RegionID          *string           `parquet:"RegionId,optional,dict"`
	ConsumedQuantity  *string           `parquet:"ConsumedQuantity,optional"`
	ConsumedUnit      *string           `parquet:"ConsumedUnit,optional,dict"`
	BillingCurrency   string            `parquet:"BillingCurrency,dict"`
	ListCost          *int64            `parquet:"ListCost,optional,decimal(9:18)"`
	BilledCost        *int64            `parquet:"BilledCost,optional,decimal(9:18)"`
	EffectiveCost     *int64            `parquet:"EffectiveCost,optional,decimal(9:18)"`
	Tags              map[string]string `parquet:"Tags"`
	AttributedCost    string            `parquet:"x_AttributedCost"`
}

func amountPtr(a Amount) *int64 {
	if !a.Valid {
		return nil
	}
	v := int64(a.Nanos)
	return &v
}

// text is s as an optional Parquet string: nil (null) when empty. (parquet-go writes an empty
// non-pointer string after a non-empty one as "", not null.)
func text(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func parquetRowOf(r *Record) parquetRow {
	row := parquetRow{RecordID: r.Key, ChargePeriodStart: r.Start, ChargePeriodEnd: r.End, BillingAccountID: text(r.BillingAccountID),
		SubAccountID: text(r.SubscriptionID), SubAccountType: text(r.SubAccountType), ResourceID: text(r.ResourceID),
		ServiceName: text(r.Service), ServiceCategory: text(r.ServiceCategory), ChargeCategory: r.ChargeCategory,
		PricingCategory: text(r.PricingCategory), Commitment: text(r.CommitmentDiscountID), ProviderName: text(r.Provider),
		HostProviderName: text(r.HostProvider), PublisherName: text(r.Publisher), InvoiceIssuerName: text(r.InvoiceIssuer),
		RegionID: text(r.Region), ConsumedQuantity: text(r.Quantity), ConsumedUnit: text(r.Unit), BillingCurrency: r.Currency, ListCost: amountPtr(r.ListCost), BilledCost: amountPtr(r.BilledCost),
		EffectiveCost: amountPtr(r.EffectiveCost), AttributedCost: attributedCost(r)}
	// Every row has a map, empty when the record has no tags: parquet-go writes a nil map
	// after a non-empty one as an empty map, not null, and the CSV export says {} alike.
	tags := TagsOf(r.Tags)
	row.Tags = make(map[string]string, len(tags))
	for _, t := range tags {
		row.Tags[t.Key] = t.Value
	}
	return row
}

func values(r *Record) []string {
	return []string{r.Key, timeline.Format(r.Start), timeline.Format(r.End), r.SubscriptionID, r.ResourceID,
		r.Service, r.ServiceCategory, r.ChargeCategory, r.PricingCategory, r.CommitmentDiscountID,
		r.Provider, r.Publisher, r.Currency, r.Cost.String()}
}

// Write writes one record.
func (x *Writer) Write(r *Record) error {
	switch x.format {
	case ExportFOCUS:
		v := focusValues(r)
		if x.noKeys {
			v[0] = "NULL"
		}
		return x.csv.Write(v)
	case ExportParquet:
		x.rows = append(x.rows, parquetRowOf(r))
		if x.noKeys {
			x.rows[len(x.rows)-1].RecordID = ""
		}
		if len(x.rows) >= 1024 {
			return x.flushParquet()
		}
		return nil
	}
	v := values(r)
	if x.csv != nil {
		return x.csv.Write(v)
	}
	obj := make(map[string]string, len(v))
	for i, c := range ExportColumns {
		obj[c] = v[i]
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	if x.n > 0 {
		x.bw.WriteString(",")
	}
	x.bw.WriteString("\n  ")
	x.n++
	_, err = x.bw.Write(b)
	return err
}

func (x *Writer) flushParquet() error {
	_, err := x.pq.Write(x.rows)
	clear(x.rows)
	x.rows = x.rows[:0]
	return err
}

// Close ends the document and flushes it.
func (x *Writer) Close() error {
	if x.pq != nil {
		if err := x.flushParquet(); err != nil {
			return err
		}
		if err := x.pq.Close(); err != nil {
			return err
		}
		return x.bw.Flush()
	}
	if x.csv != nil {
		x.csv.Flush()
		if err := x.csv.Error(); err != nil {
			return err
		}
	} else {
		if x.n > 0 {
			x.bw.WriteString("\n")
		}
		x.bw.WriteString("]\n")
	}
	return x.bw.Flush()
}
