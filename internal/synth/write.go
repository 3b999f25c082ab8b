package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
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

// Row is one generated usage row (text as written to the CSV).
type Row struct {
	Start, End                                  time.Time
	Billed, Effective                           money.Nanos
	Currency, ResourceID, Subscription          string
	Service, ServiceCategory, Category, Pricing string
	Commitment, Provider, Publisher, Key        string
}

// RecordLength is the charge period length of the usage rows: the longest of 24, 12, 8, 6, 4,
// 3, 2 or 1 hours that lets every resource's rows fit into the period one after another.
func (d *Dataset) RecordLength() time.Duration {
	slots := (d.Scale.UsageRows + int64(len(d.Resources)) - 1) / int64(max(1, len(d.Resources)))
	hrs := int64(d.Scale.Days * 24)
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
// on the seed and i, so any range can be regenerated independently.
func (d *Dataset) EachRow(fn func(*Row) error) error {
	n := int64(len(d.Resources))
	l := d.RecordLength()
	hrs := int64(d.Scale.Days * 24)
	lh := int64(l / time.Hour)
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
		// Cost: up to 50 units with 8 fraction digits, as Azure prints them.
		cost := money.Nanos((h%5_000_000_000)*10 + 10)
		switch k := (h >> 40) % 1000; {
		case k < 930:
			switch p := (h >> 20) % 100; {
			case p < 5:
				r.Pricing = "Dynamic" // spot
			case p < 13:
				r.Pricing, r.Commitment = "Committed", d.commitment // reservation
			case p < 16:
				r.Publisher = "Contoso Marketplace Ltd" // third-party
			}
		case k < 950:
			r.Category, r.Pricing, r.Publisher = "Purchase", "", "Contoso Marketplace Ltd"
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
		if (h>>50)%1000 == 7 && len(d.UnknownSubscriptions) > 0 {
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
	for i, h := range UsageHeader {
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
	month := ts(time.Date(d.From.Year(), d.From.Month(), 1, 0, 0, 0, 0, time.UTC))
	var buf []byte
	err := d.EachRow(func(r *Row) error {
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
			buf = append(buf, s...) // no generated value holds a comma or a quote
		}
		buf = append(buf, '\n')
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
