package usage

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// ExportColumns are the columns of `partnerlink export usage`, in order.
var ExportColumns = []string{"record_key", "charge_start", "charge_end", "subscription_id", "resource_id",
	"service", "service_category", "charge_category", "pricing_category", "commitment_discount_id",
	"provider", "publisher", "currency", "cost"}

// Writer writes normalised records as CSV or JSON (an array of objects with the CSV's
// columns as keys; cost stays an exact decimal string).
type Writer struct {
	format string
	bw     *bufio.Writer
	csv    *csv.Writer
	n      int
}

// NewWriter starts an export in format "csv" or "json".
func NewWriter(w io.Writer, format string) (*Writer, error) {
	bw := bufio.NewWriter(w)
	x := &Writer{format: format, bw: bw}
	switch format {
	case "csv":
		x.csv = csv.NewWriter(bw)
		if err := x.csv.Write(ExportColumns); err != nil {
			return nil, err
		}
	case "json":
		if _, err := bw.WriteString("["); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("format %q is not supported; use csv or json", format)
	}
	return x, nil
}

func values(r *Record) []string {
	return []string{r.Key, timeline.Format(r.Start), timeline.Format(r.End), r.SubscriptionID, r.ResourceID,
		r.Service, r.ServiceCategory, r.ChargeCategory, r.PricingCategory, r.CommitmentDiscountID,
		r.Provider, r.Publisher, r.Currency, r.Cost.String()}
}

// Write writes one record.
func (x *Writer) Write(r *Record) error {
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

// Close ends the document and flushes it.
func (x *Writer) Close() error {
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
