package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/money"
)

// WriteEstate writes the estate file (docs formats.md, "Estate file"), indented JSON.
func (d *Dataset) WriteEstate(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(&d.Estate)
}

// UsageHeader is the FOCUS header WriteUsage writes.
var UsageHeader = []string{"ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BilledCost", "EffectiveCost", "BillingCurrency",
	"ResourceId", "SubAccountId", "ServiceName", "ServiceCategory", "ChargeCategory", "PricingCategory", "CommitmentDiscountId",
	"ProviderName", "PublisherName", "x_RecordId"}

// multiCloudHeader is written after UsageHeader when the dataset has other clouds.
var multiCloudHeader = []string{"BillingAccountId", "SubAccountType", "Tags"}

// Header is the FOCUS header of the dataset's usage file.
func (d *Dataset) Header() []string {
	if d.Scale.MultiCloud {
		return append(append([]string{}, UsageHeader...), multiCloudHeader...)
	}
	return UsageHeader
}

// Row is one generated usage row (text as written to the CSV).
type Row struct {
	Start, End                                  time.Time
	Billed, Effective                           money.Nanos
	Currency, ResourceID, Subscription          string
	Service, ServiceCategory, Category, Pricing string
	Commitment, Provider, Publisher, Key        string
	// Multi-cloud columns (empty = null): BillingAccountId, SubAccountType, Tags (JSON).
	BillingAccount, SubAccountType, Tags string
}

// RecordLength is the charge period length of the usage rows: the longest of 24, 12, 8, 6, 4,
// 3, 2 or 1 hours that lets every resource's rows fit into the period one after another.
//
// A multi-month dataset splits each month into parts of whole days instead (EachRow); this is
// then their typical length.
func (d *Dataset) RecordLength() time.Duration {
	slots := (d.Scale.UsageRows + int64(len(d.Resources)) - 1) / int64(max(1, len(d.Resources)))
	hrs := int64(d.Scale.Days * 24)
	if d.Scale.Months > 1 {
		return time.Duration(max(1, hrs/max(1, slots)/24)) * 24 * time.Hour
	}
	for _, l := range []int64{24, 12, 8, 6, 4, 3, 2, 1} {
		if l*slots <= hrs {
			return time.Duration(l) * time.Hour
		}
	}
	return time.Hour
}

func mix(x uint64) uint64 { // splitmix64 finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// EachRow generates the usage rows in order without holding them in memory. Row i depends only
// on the seed and i, so any range can be regenerated independently. In a multi-month dataset
// the rows of a resource outside its customer's months are left out (churn, late joiners) and
// costs grow a few per cent a month.
func (d *Dataset) EachRow(fn func(*Row) error) error {
	n := int64(len(d.Resources))
	l := d.RecordLength()
	hrs := int64(d.Scale.Days * 24)
	lh := int64(l / time.Hour)
	slot0 := (d.Scale.UsageRows + n - 1) / max(1, n) // rows per resource
	var r Row
	for i := int64(0); i < d.Scale.UsageRows; i++ {
		h := mix(uint64(d.Seed)*0x100000001b3 ^ uint64(i))
		res := &d.Resources[i%n]
		slot := i / n
		start := (slot * lh) % hrs
		r = Row{Start: d.From.Add(time.Duration(start) * time.Hour), Currency: res.Currency, ResourceID: res.UsageID,
			Subscription: res.SubscriptionID, Service: res.Service, ServiceCategory: res.ServiceCategory,
			Category: "Usage", Pricing: "Standard", Provider: "Microsoft", Publisher: "Microsoft",
			Key: "syn" + strconv.FormatInt(d.Seed, 10) + "-" + strconv.FormatInt(i, 10)}
		r.End = r.Start.Add(l)
		if d.Scale.Months > 1 {
			// Each month in parts of whole days, so that every month has as many rows.
			parts := max(1, slot0/int64(d.Scale.Months))
			m, k := int(slot/parts), int(slot%parts)
			ms := d.From.AddDate(0, m, 0)
			days := int64(ms.AddDate(0, 1, 0).Sub(ms) / (24 * time.Hour))
			r.Start = ms.AddDate(0, 0, int(int64(k)*days/parts))
			r.End = ms.AddDate(0, 0, int(int64(k+1)*days/parts))
		}
		if !res.Start.IsZero() && r.Start.Before(res.Start) || !res.End.IsZero() && !r.Start.Before(res.End) || !r.Start.Before(d.To) {
			continue
		}
		azure := res.Provider == ""
		if !azure {
			r.Provider, r.Publisher, r.BillingAccount, r.SubAccountType, r.Tags = res.Provider, res.Publisher, res.BillingAccount, res.SubAccountType, res.Tags
		}
		// Cost: up to 50 units with 8 fraction digits, as Azure prints them.
		cost := money.Nanos((h%5_000_000_000)*10 + 10)
		if d.Scale.Months > 1 {
			cost = cost * money.Nanos(100+4*d.monthIndex(r.Start)) / 100 // growth
		}
		switch k := (h >> 40) % 1000; {
		case k < 930:
			switch p := (h >> 20) % 100; {
			case p < 5:
				r.Pricing = "Dynamic" // spot
			case p < 13 && azure:
				r.Pricing, r.Commitment = "Committed", d.commitment // reservation
			case p < 16 && azure:
				r.Publisher = "Contoso Marketplace Ltd" // third-party
			}
		case k < 950:
			r.Category, r.Pricing = "Purchase", ""
			if azure {
				r.Publisher = "Contoso Marketplace Ltd"
			}
			cost *= 20
		case k < 970:
			r.Category, r.Pricing = "Tax", ""
			cost /= 10
		case k < 985:
			r.Category, r.Pricing = "Credit", ""
			cost = -cost
		default:
			r.Category, r.Pricing = "Adjustment", ""
			if h&1 == 0 {
				cost = -cost
			}
		}
		if (h>>50)%1000 == 7 && len(d.UnknownSubscriptions) > 0 && azure {
			r.Subscription = d.UnknownSubscriptions[int(h%uint64(len(d.UnknownSubscriptions)))]
			r.ResourceID = "/subscriptions/" + r.Subscription + "/resourceGroups/rg-orphan/providers/Microsoft.Storage/storageAccounts/orphan"
		}
		r.Billed, r.Effective = cost, cost
		if r.Commitment != "" {
			r.Billed = 0 // the reservation was paid up front; usage shows amortised cost only
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// WriteUsage streams the FOCUS CSV. It writes the file in one pass with constant memory.
func (d *Dataset) WriteUsage(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	for i, h := range d.Header() {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(h)
	}
	bw.WriteByte('\n')
	times := map[time.Time]string{}
	ts := func(t time.Time) string {
		s, ok := times[t]
		if !ok {
			s = t.Format(time.RFC3339)
			times[t] = s
		}
		return s
	}
	d.Rows = 0
	var buf []byte
	err := d.EachRow(func(r *Row) error {
		month := ts(time.Date(r.Start.Year(), r.Start.Month(), 1, 0, 0, 0, 0, time.UTC))
		buf = buf[:0]
		buf = append(buf, ts(r.Start)...)
		buf = append(buf, ',')
		buf = append(buf, ts(r.End)...)
		buf = append(buf, ',')
		buf = append(buf, month...)
		buf = append(buf, ',')
		buf = r.Billed.Append(buf)
		buf = append(buf, ',')
		buf = r.Effective.Append(buf)
		for _, s := range []string{r.Currency, r.ResourceID, r.Subscription, r.Service, r.ServiceCategory, r.Category, r.Pricing,
			r.Commitment, r.Provider, r.Publisher, r.Key} {
			buf = append(buf, ',')
			buf = appendCSV(buf, s) // "Amazon Web Services, Inc." holds a comma
		}
		if d.Scale.MultiCloud {
			buf = append(buf, ',')
			buf = append(buf, r.BillingAccount...)
			buf = append(buf, ',')
			buf = append(buf, r.SubAccountType...)
			buf = append(buf, ',')
			buf = appendCSV(buf, r.Tags) // a JSON object: commas and quotes
		}
		buf = append(buf, '\n')
		d.Rows++
		_, err := bw.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing usage: %w", err)
	}
	return nil
}

// appendCSV appends s as one CSV field, quoted when it holds a comma, a quote or a line break.
func appendCSV(buf []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	buf = append(buf, strings.ReplaceAll(s, `"`, `""`)...)
	return append(buf, '"')
}
