package usage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"pgregory.net/rapid"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// genText is a field value as exports hold them: any text that is not null (empty or NULL)
// and has no space at either end (fields are trimmed), commas, quotes and line breaks
// included.
func genText(t *rapid.T, label string) string {
	return rapid.Custom(func(t *rapid.T) string {
		s := rapid.StringMatching(`[a-zA-Z0-9 ,"/:._\-é\n]{0,12}`).Draw(t, "s")
		s = strings.TrimSpace(s)
		if s == "NULL" {
			s = "null-ish"
		}
		return s
	}).Draw(t, label)
}

func genAmount(t *rapid.T, label string) Amount {
	if !rapid.Bool().Draw(t, label+" valid") {
		return Amount{}
	}
	return Some(money.Nanos(rapid.Int64Range(-1e15, 1e15).Draw(t, label)))
}

// genRecord is a record any importer of FOCUS could have stored.
func genRecord(t *rapid.T, i int) Record {
	var r Record
	if rapid.Bool().Draw(t, "hex key") {
		r.Key = fmt.Sprintf("%016x%016x", rapid.Uint64().Draw(t, "k1"), rapid.Uint64().Draw(t, "k2"))
	} else {
		r.Key = fmt.Sprintf("rec-%d-%s", i, strings.ReplaceAll(genText(t, "key"), "\n", ""))
	}
	r.Start = rapid.Int64Range(timeline.Min/2, timeline.Max/2).Draw(t, "start")
	if rapid.Bool().Draw(t, "whole seconds") {
		r.Start -= r.Start % 1e9
	}
	r.End = r.Start + rapid.Int64Range(1, 400*86400e9).Draw(t, "length")
	r.Provider = rapid.SampledFrom([]string{"", "Microsoft", "AWS", "Amazon Web Services, Inc.", "Google Cloud", "Oracle", "Contoso SaaS"}).Draw(t, "provider")
	r.ProviderID = NormalizeProvider(r.Provider)
	r.ChargeCategory = rapid.SampledFrom([]string{CategoryUsage, CategoryUsage, CategoryPurchase, CategoryTax, CategoryCredit, CategoryAdjustment}).Draw(t, "category")
	if r.ProviderID == ProviderMicrosoft {
		if r.ChargeCategory == CategoryUsage || rapid.Bool().Draw(t, "sub") {
			r.SubscriptionID = fmt.Sprintf("%08x-%04x-4000-8000-%012x", rapid.Uint32().Draw(t, "g1"), rapid.Uint16().Draw(t, "g2"), rapid.Uint64Max(1<<48-1).Draw(t, "g3"))
		}
	} else {
		r.SubscriptionID = genText(t, "sub-account")
	}
	r.ResourceID = genText(t, "resource")
	r.Service = genText(t, "service")
	r.ServiceCategory = genText(t, "service category")
	r.PricingCategory = rapid.SampledFrom([]string{"", "Standard", "Dynamic", "Committed", "Other"}).Draw(t, "pricing")
	r.CommitmentDiscountID = genText(t, "commitment")
	r.Publisher = genText(t, "publisher")
	r.HostProvider = genText(t, "host")
	r.InvoiceIssuer = genText(t, "issuer")
	r.BillingAccountID = genText(t, "billing account")
	r.SubAccountType = genText(t, "sub-account type")
	r.Region = genText(t, "region")
	r.Unit = genText(t, "unit")
	r.Currency = rapid.StringMatching(`[A-Z]{3}`).Draw(t, "currency")
	if rapid.Bool().Draw(t, "quantity") {
		r.Quantity = rapid.SampledFrom([]string{"0", "1", "0.50", "-2.25", "1e+21", "1.5E-07", "007", "3600",
			strconv.Itoa(rapid.IntRange(0, 1<<30).Draw(t, "q"))}).Draw(t, "quantity text")
	}
	r.Cost = money.Nanos(rapid.Int64Range(-1e15, 1e15).Draw(t, "cost"))
	r.CostRaw = r.Cost.String()
	if rapid.Bool().Draw(t, "raw cost") {
		if strings.Contains(r.CostRaw, ".") {
			r.CostRaw += "00"
		} else {
			r.CostRaw += ".0"
		}
	}
	r.ListCost, r.BilledCost, r.EffectiveCost = genAmount(t, "list"), genAmount(t, "billed"), genAmount(t, "effective")
	tags := rapid.MapOfN(rapid.StringMatching(`[ a-zA-Z:\-"\\]{1,8}`), rapid.StringMatching(`[a-z0-9 "é]{0,6}`), 0, 4).Draw(t, "tags")
	if len(tags) > 0 {
		b := []byte{'{'}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range tags {
				if !yield(k) {
					return
				}
			}
		}) {
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, tags[k])
		}
		r.Tags = string(append(b, '}'))
	}
	return r
}

// TestCSVAndParquetStoreTheSameRecords: random records written as FOCUS CSV and as Parquet
// import to identical records, the records written; without their keys too (the rows are then
// hashed, to the same keys from either file).
func TestCSVAndParquetStoreTheSameRecords(t *testing.T) {
	dbs := [2]*store.DB{storetest.SQLite(t), storetest.SQLite(t)}
	rapid.Check(t, func(rt *rapid.T) {
		noKeys := rapid.Bool().Draw(rt, "without keys")
		n := rapid.IntRange(1, 40).Draw(rt, "records")
		recs := make([]Record, n)
		keys := map[string]bool{}
		for i := range recs {
			recs[i] = genRecord(rt, i)
			if keys[recs[i].Key] {
				rt.Skip("a repeated key")
			}
			keys[recs[i].Key] = true
		}
		var stored [2][]Record
		for k, format := range []string{ExportFOCUS, ExportParquet} {
			var b bytes.Buffer
			w, err := NewWriter(&b, format)
			if err != nil {
				rt.Fatal(err)
			}
			w.noKeys = noKeys
			for i := range recs {
				if err := w.Write(&recs[i]); err != nil {
					rt.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				rt.Fatal(err)
			}
			db := dbs[k]
			for _, table := range []string{"usage_keys", "usage_segments"} {
				if _, err := db.ExecContext(context.Background(), "DELETE FROM "+table); err != nil {
					rt.Fatal(err)
				}
			}
			imp, err := ImportReader(context.Background(), db, bytes.NewReader(b.Bytes()), "random."+format, ImportOptions{Now: clock})
			if err != nil {
				rt.Fatalf("%s: %v", format, err)
			}
			if imp.RowsAdded != int64(n) {
				rt.Fatalf("%s: %d of %d records added", format, imp.RowsAdded, n)
			}
			if err := Records(context.Background(), db, timeline.Always(), func(r *Record) error {
				stored[k] = append(stored[k], *r)
				return nil
			}); err != nil {
				rt.Fatal(err)
			}
		}
		for i := range stored[0] {
			if !reflect.DeepEqual(stored[0][i], stored[1][i]) {
				rt.Fatalf("record %d differs:\nCSV     %+v\nParquet %+v", i, stored[0][i], stored[1][i])
			}
		}
		want := slices.Clone(recs)
		if noKeys {
			for i := range want {
				want[i].Key = ""
			}
			for i := range stored[0] {
				stored[0][i].Key = ""
			}
		}
		order := func(a, b Record) int {
			if c := strings.Compare(a.Key, b.Key); c != 0 {
				return c
			}
			return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
		}
		slices.SortFunc(want, order)
		slices.SortFunc(stored[0], order)
		for i := range want {
			if !reflect.DeepEqual(stored[0][i], want[i]) {
				rt.Fatalf("record %d stored as\n%+v\nwritten as\n%+v", i, stored[0][i], want[i])
			}
		}
	})
}

// exportedShape is a Parquet row as AWS writes FOCUS: costs as DOUBLE, times as TIMESTAMP
// in milliseconds, tags as a MAP.
type exportedShape struct {
	RecordID          string            `parquet:"x_RecordId"`
	BilledCost        *float64          `parquet:"BilledCost,optional"`
	EffectiveCost     *float64          `parquet:"EffectiveCost,optional"`
	ListCost          *float64          `parquet:"ListCost,optional"`
	BillingAccountID  string            `parquet:"BillingAccountId,optional"`
	BillingCurrency   string            `parquet:"BillingCurrency"`
	ChargeCategory    string            `parquet:"ChargeCategory"`
	ChargePeriodStart int64             `parquet:"ChargePeriodStart,timestamp(millisecond:utc)"`
	ChargePeriodEnd   int64             `parquet:"ChargePeriodEnd,timestamp(millisecond:utc)"`
	CommitmentID      string            `parquet:"CommitmentDiscountId,optional"`
	ConsumedQuantity  *float64          `parquet:"ConsumedQuantity,optional"`
	ConsumedUnit      string            `parquet:"ConsumedUnit,optional"`
	InvoiceIssuer     string            `parquet:"InvoiceIssuerName,optional"`
	PricingCategory   string            `parquet:"PricingCategory,optional"`
	ProviderName      string            `parquet:"ProviderName,optional"`
	PublisherName     string            `parquet:"PublisherName,optional"`
	RegionID          string            `parquet:"RegionId,optional"`
	ResourceID        string            `parquet:"ResourceId,optional"`
	ServiceCategory   string            `parquet:"ServiceCategory,optional"`
	ServiceName       string            `parquet:"ServiceName,optional"`
	SubAccountID      string            `parquet:"SubAccountId,optional"`
	Tags              map[string]string `parquet:"Tags,optional"`
	ExtraID           int64             `parquet:"Id"`
}

// decimalShape is a Parquet row with costs as DECIMAL(38, 10) in 16 bytes, times as TIMESTAMP
// in microseconds without a zone, and tags as a JSON string.
type decimalShape struct {
	RecordID          string    `parquet:"x_RecordId"`
	BilledCost        *[16]byte `parquet:"BilledCost,optional,decimal(10:38)"`
	EffectiveCost     *[16]byte `parquet:"EffectiveCost,optional,decimal(10:38)"`
	ListCost          *[16]byte `parquet:"ListCost,optional,decimal(10:38)"`
	BillingAccountID  string    `parquet:"BillingAccountId,optional"`
	BillingCurrency   string    `parquet:"BillingCurrency"`
	ChargeCategory    string    `parquet:"ChargeCategory"`
	ChargePeriodStart int64     `parquet:"ChargePeriodStart,timestamp(microsecond:local)"`
	ChargePeriodEnd   int64     `parquet:"ChargePeriodEnd,timestamp(microsecond:local)"`
	CommitmentID      string    `parquet:"CommitmentDiscountId,optional"`
	ConsumedQuantity  string    `parquet:"ConsumedQuantity,optional"`
	ConsumedUnit      string    `parquet:"ConsumedUnit,optional"`
	HostProviderName  string    `parquet:"HostProviderName,optional"`
	InvoiceIssuer     string    `parquet:"InvoiceIssuerName,optional"`
	PricingCategory   string    `parquet:"PricingCategory,optional"`
	ProviderName      string    `parquet:"ServiceProviderName,optional"`
	PublisherName     string    `parquet:"PublisherName,optional"`
	RegionID          string    `parquet:"RegionId,optional"`
	ResourceID        string    `parquet:"ResourceId,optional"`
	ServiceCategory   string    `parquet:"ServiceCategory,optional"`
	ServiceName       string    `parquet:"ServiceName,optional"`
	SubAccountID      string    `parquet:"SubAccountId,optional"`
	SubAccountType    string    `parquet:"SubAccountType,optional"`
	Tags              string    `parquet:"Tags,optional,json"`
}

func floatOf(a Amount) *float64 {
	if !a.Valid {
		return nil
	}
	f, _ := strconv.ParseFloat(a.Nanos.String(), 64)
	return &f
}

// decimal16 is a in DECIMAL(38, 10): big-endian two's complement of nano-units × 10.
func decimal16(a Amount) *[16]byte {
	if !a.Valid {
		return nil
	}
	var b [16]byte
	v := new(big.Int).Mul(big.NewInt(int64(a.Nanos)), big.NewInt(10))
	if v.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	v.FillBytes(b[:])
	return &b
}

// doubleText is how a DOUBLE reads: its shortest decimal form.
func doubleText(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

// TestParquetAsExportsWriteIt: the golden FOCUS files written as Parquet in the shapes real
// exports use (DOUBLE costs, MAP tags, TIMESTAMP in milliseconds; DECIMAL(38, 10) costs in 16
// bytes, TIMESTAMP in microseconds without a zone, JSON tags) store the records the CSV files
// store. What differs is only what the type cannot hold: a DOUBLE cost's text is its shortest
// decimal form ("-5" for "-5.00"), and a DOUBLE quantity likewise.
func TestParquetAsExportsWriteIt(t *testing.T) {
	for _, file := range []string{"focus-multicloud-1.0.csv", "focus-1.3.csv"} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		db := storetest.SQLite(t)
		importBytes(t, db, file, data, ImportOptions{})
		want := storedRecords(t, db)

		var shaped, decimal []Record
		var b1, b2 bytes.Buffer
		w1 := parquet.NewGenericWriter[exportedShape](&b1, parquet.Compression(&snappy.Codec{}))
		w2 := parquet.NewGenericWriter[decimalShape](&b2)
		for i, r := range want {
			e := exportedShape{RecordID: r.Key, BilledCost: floatOf(r.BilledCost), EffectiveCost: floatOf(r.EffectiveCost),
				ListCost: floatOf(r.ListCost), BillingAccountID: r.BillingAccountID, BillingCurrency: r.Currency,
				ChargeCategory: r.ChargeCategory, ChargePeriodStart: r.Start / 1e6, ChargePeriodEnd: r.End / 1e6,
				CommitmentID: r.CommitmentDiscountID, ConsumedUnit: r.Unit, InvoiceIssuer: r.InvoiceIssuer,
				PricingCategory: r.PricingCategory, ProviderName: r.Provider, PublisherName: r.Publisher, RegionID: r.Region,
				ResourceID: r.ResourceID, ServiceCategory: r.ServiceCategory, ServiceName: r.Service, SubAccountID: r.SubscriptionID,
				ExtraID: int64(i)}
			if r.Quantity != "" {
				q, _ := strconv.ParseFloat(r.Quantity, 64)
				e.ConsumedQuantity = &q
			}
			if tags := TagsOf(r.Tags); tags != nil {
				e.Tags = map[string]string{}
				for _, tag := range tags {
					e.Tags[tag.Key] = tag.Value
				}
			}
			if _, err := w1.Write([]exportedShape{e}); err != nil {
				t.Fatal(err)
			}
			s := r
			s.Cost, _ = money.Parse(doubleText(e.BilledCost)) // the measure, as a DOUBLE reads
			s.CostRaw, s.Quantity = doubleText(e.BilledCost), doubleText(e.ConsumedQuantity)
			s.HostProvider, s.SubAccountType = "", ""
			for _, a := range []*Amount{&s.ListCost, &s.BilledCost, &s.EffectiveCost} {
				if a.Valid {
					a.Nanos, _ = money.Parse(doubleText(floatOf(*a)))
				}
			}
			shaped = append(shaped, s)

			d := decimalShape{RecordID: r.Key, BilledCost: decimal16(r.BilledCost), EffectiveCost: decimal16(r.EffectiveCost),
				ListCost: decimal16(r.ListCost), BillingAccountID: r.BillingAccountID, BillingCurrency: r.Currency,
				ChargeCategory: r.ChargeCategory, ChargePeriodStart: r.Start / 1e3, ChargePeriodEnd: r.End / 1e3,
				CommitmentID: r.CommitmentDiscountID, ConsumedQuantity: r.Quantity, ConsumedUnit: r.Unit,
				HostProviderName: r.HostProvider, InvoiceIssuer: r.InvoiceIssuer, PricingCategory: r.PricingCategory,
				ProviderName: r.Provider, PublisherName: r.Publisher, RegionID: r.Region, ResourceID: r.ResourceID,
				ServiceCategory: r.ServiceCategory, ServiceName: r.Service, SubAccountID: r.SubscriptionID,
				SubAccountType: r.SubAccountType, Tags: r.Tags}
			if _, err := w2.Write([]decimalShape{d}); err != nil {
				t.Fatal(err)
			}
			s = r
			s.CostRaw = r.BilledCost.Nanos.String() // a DECIMAL reads in its shortest form
			decimal = append(decimal, s)
		}
		for _, w := range []interface{ Close() error }{w1, w2} {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			name string
			data []byte
			want []Record
		}{{"doubles.parquet", b1.Bytes(), shaped}, {"decimals.parquet", b2.Bytes(), decimal}} {
			pdb := storetest.SQLite(t)
			imp := importBytes(t, pdb, c.name, c.data, ImportOptions{})
			if imp.Encoding != "parquet" || imp.RowsRejected != 0 || imp.RowsAdded != int64(len(want)) {
				t.Fatalf("%s of %s: %+v", c.name, file, imp)
			}
			got := storedRecords(t, pdb)
			for i := range got {
				if !reflect.DeepEqual(got[i], c.want[i]) {
					t.Fatalf("%s of %s, record %d:\n%+v\nwant\n%+v", c.name, file, i, got[i], c.want[i])
				}
			}
		}
	}
}

// TestSampleShapeImportsWhole: a file in the shape of the FinOps Foundation's public FOCUS
// sample (1,000 rows: 942 AWS, 51 Microsoft, 7 Oracle, 3 of them not Usage; NULL tokens,
// timestamps without an offset, ARNs, bare IDs and OCIDs, 11- and 12-digit account IDs, JSON
// tags with odd keys, extra non-FOCUS columns), built from the multi-cloud golden file's rows,
// imports 1,000 of 1,000 rows, each category as it is, and again adds nothing.
func TestSampleShapeImportsWhole(t *testing.T) {
	data, err := os.ReadFile("testdata/focus-multicloud-1.0.csv")
	if err != nil {
		t.Fatal(err)
	}
	all, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := all[0], all[1:]
	col := func(name string) int { return slices.Index(header, name) }
	byProvider := map[string][][]string{}
	var other [][]string
	for _, r := range rows {
		if r[col("ChargeCategory")] != "Usage" {
			other = append(other, r)
			continue
		}
		byProvider[r[col("ProviderName")]] = append(byProvider[r[col("ProviderName")]], r)
	}
	if len(other) != 3 {
		t.Fatalf("the golden file has %d rows that are not Usage, want 3", len(other))
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	w.Write(header)
	n := 0
	emit := func(r []string) {
		r = slices.Clone(r)
		n++
		r[col("Id")] = fmt.Sprintf("row-%d", n)
		if id := r[col("ResourceId")]; id != "NULL" {
			r[col("ResourceId")] = fmt.Sprintf("%s-%d", id, n%97)
		}
		w.Write(r)
	}
	for _, p := range []struct {
		name string
		rows int
	}{{"AWS", 942 - 2}, {"Microsoft", 51 - 1}, {"Oracle", 7}} {
		for i := 0; i < p.rows; i++ {
			emit(byProvider[p.name][i%len(byProvider[p.name])])
		}
	}
	for _, r := range other {
		emit(r)
	}
	w.Flush()
	// The CSV writer quoted nothing the golden file did not; NULL stays unquoted.
	file := strings.ReplaceAll(out.String(), `"NULL"`, "NULL")
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		imp := importBytes(t, db, "sample-shape.csv", []byte(file), ImportOptions{})
		if imp.RowsRead != 1000 || imp.RowsAdded != 1000 || imp.RowsRejected != 0 {
			t.Fatalf("imported %+v, want 1,000 of 1,000 rows", imp)
		}
		providers, categories := map[string]int{}, map[string]int{}
		for _, r := range storedRecords(t, db) {
			providers[r.ProviderID]++
			categories[r.ChargeCategory]++
		}
		if fmt.Sprint(providers) != "map[aws:942 microsoft:51 oracle:7]" || fmt.Sprint(categories) != "map[Credit:1 Purchase:1 Tax:1 Usage:997]" {
			t.Fatalf("stored by provider %v, by category %v", providers, categories)
		}
		if again := importBytes(t, db, "sample-shape.csv", []byte(file), ImportOptions{}); again.RowsAdded != 0 || again.RowsDuplicate != 1000 {
			t.Fatalf("importing again: %+v", again)
		}
	})
}

// FuzzParquet: whatever a Parquet file holds, reading it returns rows or an error, never
// panics, and allocates no more than its size can justify (a length in a hostile file must not
// size an allocation).
func FuzzParquet(f *testing.F) {
	for _, file := range []string{"focus-multicloud-1.0.csv", "focus-1.3.csv"} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			f.Fatal(err)
		}
		db := storetest.SQLite(f)
		importBytes(f, db, file, data, ImportOptions{})
		f.Add(exportAs(f, db, ExportParquet))
	}
	var b bytes.Buffer
	w := parquet.NewGenericWriter[exportedShape](&b, parquet.Compression(&snappy.Codec{}))
	w.Write([]exportedShape{{RecordID: "a", BillingCurrency: "USD", ChargeCategory: "Usage", ChargePeriodEnd: 1, Tags: map[string]string{"k": "v"}}})
	w.Close()
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte(parquetMagic)) {
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rd, err := NewReader(bytes.NewReader(data), "fuzz.parquet", ReadOptions{})
		if err == nil {
			rows := 0
			err = rd.Each(context.Background(), func(*Record, *RowError) error { rows++; return nil })
			rd.Close()
		}
		runtime.ReadMemStats(&after)
		if got, most := after.TotalAlloc-before.TotalAlloc, uint64(64<<20+4096*len(data)); got > most {
			t.Fatalf("reading %d bytes allocated %d bytes (err %v)", len(data), got, err)
		}
	})
}

// TestParquetBadRows: a bad Parquet row is reported by its row number and column, and with
// --skip-bad written to the rejects file as a CSV row, which can be fixed and imported.
func TestParquetBadRows(t *testing.T) {
	cost := 1.5
	good := exportedShape{RecordID: "a", BilledCost: &cost, BillingCurrency: "USD", ChargeCategory: "Usage", SubAccountID: "11111111-2222-3333-4444-555555555555",
		ChargePeriodStart: 1772323200000, ChargePeriodEnd: 1772326800000, ResourceID: "r, with a comma"}
	utf := good
	utf.RecordID, utf.ResourceID = "b", "caf\xe9"
	cur := good
	cur.RecordID, cur.BillingCurrency = "c", "dollars"
	var b bytes.Buffer
	w := parquet.NewGenericWriter[exportedShape](&b)
	w.Write([]exportedShape{good, utf, cur, good})
	w.Close()
	db := storetest.SQLite(t)
	_, err := ImportReader(context.Background(), db, bytes.NewReader(b.Bytes()), "bad.parquet", ImportOptions{Now: clock})
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Total != 2 || rej.Rows[0].Error() != "bad.parquet: row 2: column ResourceId: is not valid UTF-8; save the file as UTF-8" ||
		!strings.HasPrefix(rej.Rows[1].Error(), "bad.parquet: row 3: column BillingCurrency: ") {
		t.Fatalf("%v", err)
	}
	var rejects bytes.Buffer
	imp, err := ImportReader(context.Background(), db, bytes.NewReader(b.Bytes()), "bad.parquet", ImportOptions{Now: clock, SkipBad: true, Rejects: &rejects})
	if err != nil || imp.RowsAdded != 1 || imp.RowsRejected != 2 || imp.RowsDuplicate != 1 {
		t.Fatalf("%+v %v", imp, err)
	}
	lines := strings.Split(strings.TrimSpace(rejects.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "x_RecordId,BilledCost,") || !strings.HasSuffix(lines[0], ",x_RejectLine,x_RejectReason") ||
		!strings.Contains(lines[2], `,"r, with a comma",`) || !strings.Contains(lines[2], ",3,") {
		t.Fatalf("rejects file:\n%s", rejects.String())
	}
}

// TestParquetFromAStream: Parquet sent as a stream (an HTTP upload: no random access) is read
// from a temporary copy, and the import records the file's SHA-256.
func TestParquetFromAStream(t *testing.T) {
	data, err := os.ReadFile("testdata/focus-1.3.csv")
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	importBytes(t, db, "focus-1.3.csv", data, ImportOptions{})
	pq := exportAs(t, db, ExportParquet)
	again := storetest.SQLite(t)
	stream := struct{ io.Reader }{bytes.NewReader(pq)}
	imp, err := ImportReader(context.Background(), again, stream, "upload", ImportOptions{Now: clock})
	sum := sha256.Sum256(pq)
	if err != nil || imp.Encoding != "parquet" || imp.RowsAdded != 7 || imp.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("%+v %v", imp, err)
	}
	if !reflect.DeepEqual(storedRecords(t, again), storedRecords(t, db)) {
		t.Fatal("the streamed Parquet stored other records")
	}
}

// typedShape has the columns the mapping takes as numbers from Parquet, in several of their
// types: TIMESTAMP in milliseconds and nanoseconds, DECIMAL of scale 0, 4 (INT32) and 9.
type typedShape struct {
	BillingCurrency   string `parquet:"BillingCurrency"`
	ChargeCategory    string `parquet:"ChargeCategory"`
	ProviderName      string `parquet:"ProviderName"`
	SubAccountID      string `parquet:"SubAccountId"`
	ChargePeriodStart int64  `parquet:"ChargePeriodStart,timestamp(millisecond:utc)"`
	ChargePeriodEnd   *int64 `parquet:"ChargePeriodEnd,optional,timestamp(nanosecond:utc)"`
	BilledCost        int64  `parquet:"BilledCost,decimal(0:18)"`
	EffectiveCost     *int32 `parquet:"EffectiveCost,optional,decimal(4:9)"`
	ListCost          *int64 `parquet:"ListCost,optional,decimal(9:18)"`
	Currency          string `parquet:"x_Other"`
}

// TestParquetNumbersAsTheirText: the charge times and amounts the mapping takes from Parquet
// as numbers give exactly the records, keys, bad rows and rejects lines that their text gives
// (the path every value took before), extremes included: instants beyond what partnerlink
// holds, amounts beyond nano-units, nulls.
func TestParquetNumbersAsTheirText(t *testing.T) {
	defer func() { parquetTyped = true }()
	rapid.Check(t, func(rt *rapid.T) {
		wide := func(label string, small int64) int64 {
			if rapid.Bool().Draw(rt, label+" wide") {
				return rapid.Int64().Draw(rt, label)
			}
			return rapid.Int64Range(-small, small).Draw(rt, label)
		}
		n := rapid.IntRange(1, 30).Draw(rt, "rows")
		rows := make([]typedShape, n)
		for i := range rows {
			start := wide("start", 4e12)
			if rapid.Bool().Draw(rt, "whole seconds") {
				start -= start % 1000
			}
			r := typedShape{BillingCurrency: "USD", ChargeCategory: "Usage", ProviderName: "AWS", SubAccountID: "123456789012",
				ChargePeriodStart: start, BilledCost: wide("billed", 1e9), Currency: rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "other")}
			if rapid.IntRange(0, 9).Draw(rt, "end null") > 0 {
				end := start*1e6 + rapid.Int64Range(1, 1e13).Draw(rt, "length")
				if rapid.Bool().Draw(rt, "wide end") {
					end = rapid.Int64().Draw(rt, "end")
				}
				r.ChargePeriodEnd = &end
			}
			if rapid.Bool().Draw(rt, "effective") {
				e := rapid.Int32().Draw(rt, "effective value")
				r.EffectiveCost = &e
			}
			if rapid.Bool().Draw(rt, "list") {
				l := wide("list value", 1e15)
				r.ListCost = &l
			}
			rows[i] = r
		}
		var b bytes.Buffer
		w := parquet.NewGenericWriter[typedShape](&b)
		if _, err := w.Write(rows); err != nil {
			rt.Fatal(err)
		}
		if err := w.Close(); err != nil {
			rt.Fatal(err)
		}
		measure := rapid.SampledFrom([]string{MeasureBilled, MeasureEffective}).Draw(rt, "measure")
		var got [2][]string
		for k, typed := range []bool{false, true} {
			parquetTyped = typed
			rd, err := NewReader(bytes.NewReader(b.Bytes()), "typed.parquet", ReadOptions{Measure: measure})
			if err != nil {
				rt.Fatal(err)
			}
			err = rd.Each(context.Background(), func(rec *Record, bad *RowError) error {
				if bad != nil {
					got[k] = append(got[k], fmt.Sprintf("bad %s | %s", bad.Error(), bad.Raw))
				} else {
					got[k] = append(got[k], fmt.Sprintf("%+v", *rec))
				}
				return nil
			})
			rd.Close()
			if err != nil {
				rt.Fatal(err)
			}
		}
		if !slices.Equal(got[0], got[1]) {
			for i := range got[0] {
				if i < len(got[1]) && got[0][i] != got[1][i] {
					rt.Fatalf("row %d:\nas text    %s\nas numbers %s", i+1, got[0][i], got[1][i])
				}
			}
			rt.Fatalf("%d rows as text, %d as numbers", len(got[0]), len(got[1]))
		}
	})
}
