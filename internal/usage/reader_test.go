package usage

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenRecord is a Record in a reviewable form.
type goldenRecord struct {
	Key, Start, End, Subscription, Resource, Service, ServiceCategory, Category, Pricing string
	Commitment, Provider, Publisher, Currency, Cost, CostRaw                             string
	ProviderID, HostProvider, InvoiceIssuer, BillingAccount, SubAccountType, Region      string
	Unit, Quantity, ListCost, BilledCost, EffectiveCost, Tags                            string
}

func golden(rec *Record) goldenRecord {
	return goldenRecord{rec.Key, timeline.Format(rec.Start), timeline.Format(rec.End), rec.SubscriptionID,
		rec.ResourceID, rec.Service, rec.ServiceCategory, rec.ChargeCategory, rec.PricingCategory,
		rec.CommitmentDiscountID, rec.Provider, rec.Publisher, rec.Currency, rec.Cost.String(), rec.CostRaw,
		rec.ProviderID, rec.HostProvider, rec.InvoiceIssuer, rec.BillingAccountID, rec.SubAccountType, rec.Region,
		rec.Unit, rec.Quantity, rec.ListCost.String(), rec.BilledCost.String(), rec.EffectiveCost.String(), rec.Tags}
}

func readAllRecords(t *testing.T, r io.Reader, name string, opts ReadOptions) ([]goldenRecord, []*RowError) {
	t.Helper()
	rd, err := NewReader(r, name, opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var recs []goldenRecord
	var bad []*RowError
	for {
		rec, b, err := rd.Next()
		if err == io.EOF {
			return recs, bad
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if b != nil {
			bad = append(bad, b)
			continue
		}
		recs = append(recs, golden(rec))
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format string
	}{
		{"focus-azure-1.0.csv", FormatFOCUS},
		{"focus-multicloud-1.0.csv", FormatFOCUS},
		{"focus-1.3.csv", FormatFOCUS},
		{"ea-actual-cost-small.csv", FormatAzureCost},
		{"mca-amortized.csv", FormatAzureCost},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rd, err := NewReader(f, tc.file, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rd.Format() != tc.format {
				t.Fatalf("detected format %q, want %q", rd.Format(), tc.format)
			}
			f.Seek(0, io.SeekStart)
			recs, bad := readAllRecords(t, f, tc.file, ReadOptions{})
			if len(bad) > 0 {
				t.Fatalf("bad rows in a valid file: %v", bad)
			}
			got, _ := json.MarshalIndent(recs, "", "  ")
			golden := filepath.Join("testdata", strings.TrimSuffix(tc.file, ".csv")+".golden.json")
			if *update {
				os.WriteFile(golden, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it, then review it)", err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("parsed records differ from %s:\n%s", golden, got)
			}
		})
	}
}

// The cases the golden files pin down, stated here too so a reviewer sees them.
func TestFOCUSMapping(t *testing.T) {
	f, _ := os.Open("testdata/focus-azure-1.0.csv")
	defer f.Close()
	recs, _ := readAllRecords(t, f, "focus", ReadOptions{})
	if len(recs) != 9 {
		t.Fatalf("got %d records, want 9", len(recs))
	}
	check := func(i int, field, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("row %d %s = %q, want %q", i+1, field, got, want)
		}
	}
	check(0, "subscription", recs[0].Subscription, "9ec51cfd-5ca7-4d76-8101-dd0a4abc5674")
	check(0, "cost", recs[0].Cost, "12.345")
	check(1, "pricing", recs[1].Pricing, "Dynamic")
	check(2, "cost (billed)", recs[2].Cost, "0")
	check(3, "publisher", recs[3].Publisher, "Contoso Software")
	check(4, "cost 1.5E-3", recs[4].Cost, "0.0015")
	check(4, "raw", recs[4].CostRaw, "1.5E-3")
	check(5, "cost half-even", recs[5].Cost, "0.12345679")
	check(6, "category", recs[6].Category, "Purchase")
	check(7, "credit", recs[7].Cost, "-5")
	check(8, "category", recs[8].Category, "Tax")

	f.Seek(0, io.SeekStart)
	eff, _ := readAllRecords(t, f, "focus", ReadOptions{Measure: MeasureEffective})
	check(2, "cost (effective)", eff[2].Cost, "3.1")
}

func TestAzureMapping(t *testing.T) {
	f, _ := os.Open("testdata/mca-amortized.csv")
	defer f.Close()
	recs, _ := readAllRecords(t, f, "mca", ReadOptions{})
	want := []struct{ start, end, category, pricing, commitment, publisher, cost string }{
		{"2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", "Usage", "Committed", "/providers/Microsoft.BillingBenefits/savingsPlanOrders/aa11/savingsPlans/bb22", "Microsoft", "3.84"},
		{"2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", "Usage", "Committed", "/providers/Microsoft.BillingBenefits/savingsPlanOrders/aa11/savingsPlans/bb22", "Microsoft", "0"},
		{"2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z", "Usage", "Dynamic", "", "Microsoft", "0.77"},
		{"2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z", "Credit", "Standard", "", "Microsoft", "-12.5"},
		{"2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z", "Usage", "Standard", "", "Fabrikam Security", "40"},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		got := struct{ start, end, category, pricing, commitment, publisher, cost string }{r.Start, r.End, r.Category, r.Pricing, r.Commitment, r.Publisher, r.Cost}
		if got != w {
			t.Errorf("row %d:\n got %+v\nwant %+v", i+2, got, w)
		}
	}

	ea, _ := os.Open("testdata/ea-actual-cost-small.csv")
	defer ea.Close()
	recs, _ = readAllRecords(t, ea, "ea", ReadOptions{})
	// The reservation purchase: MM/DD/YYYY date, Purchase, its reservation as commitment.
	var purchase *goldenRecord
	for i := range recs {
		if recs[i].Category == CategoryPurchase {
			purchase = &recs[i]
		}
	}
	if purchase == nil || purchase.Start != "2023-09-21T00:00:00Z" || purchase.Commitment == "" || purchase.Pricing != "Committed" {
		t.Errorf("EA reservation purchase mapped as %+v", purchase)
	}
}

func TestGzipAndKeysStable(t *testing.T) {
	raw, _ := os.ReadFile("testdata/focus-azure-1.0.csv")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	plain, _ := readAllRecords(t, bytes.NewReader(raw), "a", ReadOptions{})
	zipped, _ := readAllRecords(t, &gz, "a.gz", ReadOptions{})
	if len(plain) != len(zipped) {
		t.Fatalf("gzip gave %d records, plain %d", len(zipped), len(plain))
	}
	seen := map[string]bool{}
	for i := range plain {
		if plain[i] != zipped[i] {
			t.Errorf("record %d differs between plain and gzip", i)
		}
		if seen[plain[i].Key] {
			t.Errorf("record %d: key %s not unique", i, plain[i].Key)
		}
		seen[plain[i].Key] = true
	}
	// LF instead of CRLF and no BOM: same keys.
	lf := bytes.ReplaceAll(bytes.TrimPrefix(raw, []byte("\ufeff")), []byte("\r\n"), []byte("\n"))
	again, _ := readAllRecords(t, bytes.NewReader(lf), "a", ReadOptions{})
	for i := range plain {
		if again[i].Key != plain[i].Key {
			t.Errorf("record %d: key changed with line ends", i)
		}
	}
}

const focusHeader = "ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,SubAccountId,ChargeCategory,ResourceId\n"
const goodRow = "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1.50,USD,11111111-2222-3333-4444-555555555555,Usage,/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/a\n"

func TestBadRows(t *testing.T) {
	for _, tc := range []struct {
		name, row, column string
		reason            []string // substrings the message must contain
	}{
		{"unparsable start", "yesterday,2026-03-02T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage,r\n", "ChargePeriodStart", []string{`"yesterday"`, "RFC 3339"}},
		{"unparsable amount", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1\u00a0234,USD,11111111-2222-3333-4444-555555555555,Usage,r\n", "BilledCost", []string{`"1\u00a0234"`, "U+00A0", "not a decimal"}},
		{"amount with comma", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,\"1,5\",USD,11111111-2222-3333-4444-555555555555,Usage,r\n", "BilledCost", []string{`"1,5"`}},
		{"end before start", "2026-03-02T00:00:00Z,2026-03-01T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage,r\n", "ChargePeriodEnd", []string{"not after ChargePeriodStart"}},
		{"currency missing", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,,11111111-2222-3333-4444-555555555555,Usage,r\n", "BillingCurrency", []string{"currency is missing"}},
		{"unknown category", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Bonus,r\n", "ChargeCategory", []string{`"Bonus"`, "Usage, Purchase"}},
		{"bad subscription", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,prod-sub,Usage,r\n", "SubAccountId", []string{`"prod-sub"`, "GUID"}},
		{"wrong column count", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD\n", "", []string{"has 4 columns, the header has 7"}},
		{"invalid UTF-8", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage,caf\xe9\n", "ResourceId", []string{"UTF-8"}},
		{"bare quote", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage,a\"b\n", "", []string{"quote"}},
		{"start beyond 2262", "9999-12-31T00:00:00Z,9999-12-31T01:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage,r\n", "ChargePeriodStart",
			[]string{`"9999-12-31T00:00:00Z" is out of range`, "1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z"}},
		{"end before 1678", "1600-01-01 00:00:00,0001-01-01T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage,r\n", "ChargePeriodStart",
			[]string{`"1600-01-01 00:00:00" is out of range`}},
		{"null start", "NULL,2026-03-02T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage,r\n", "ChargePeriodStart", []string{"is null"}},
		{"null cost", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,NULL,USD,11111111-2222-3333-4444-555555555555,Usage,r\n", "BilledCost", []string{"is null"}},
		{"null subscription", "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,NULL,Usage,r\n", "SubAccountId", []string{"is null", "Microsoft usage row"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := focusHeader + goodRow + tc.row + goodRow
			recs, bad := readAllRecords(t, strings.NewReader(in), "march.csv", ReadOptions{})
			if len(bad) != 1 {
				t.Fatalf("got %d bad rows (%v), want 1", len(bad), bad)
			}
			b := bad[0]
			if b.Line != 3 || b.Column != tc.column {
				t.Errorf("bad row at line %d column %q, want line 3 column %q", b.Line, b.Column, tc.column)
			}
			msg := b.Error()
			if !strings.HasPrefix(msg, "march.csv:3: ") {
				t.Errorf("message %q does not start with file:line", msg)
			}
			for _, s := range tc.reason {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
			if b.Raw != strings.TrimSuffix(tc.row, "\n") && tc.name != "bare quote" {
				t.Errorf("raw row = %q, want the row as written", b.Raw)
			}
			if len(recs) < 1 {
				t.Errorf("the good rows around the bad one were lost: %d records", len(recs))
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"duplicated column", "ChargePeriodStart,BilledCost,ChargePeriodEnd,BilledCost\n", `column "BilledCost" twice`},
		{"duplicated column, other case", "ChargePeriodStart,BilledCost,billedcost\n", `"billedcost" twice (as "BilledCost" and "billedcost"`},
		{"empty", "", "is empty"},
		{"json", `{"rows": [1, 2]}`, "not a CSV file"},
		{"other csv", "name,age\nann,3\n", "neither FOCUS columns"},
		{"binary", "\x00\x01\x02\x03,\xff\xfe\n", "not a CSV file"},
		{"missing column", "ChargePeriodStart,ChargePeriodEnd,BillingCurrency,SubAccountId\n", "lacks the FOCUS column(s) BilledCost, ChargeCategory"},
		{"azure missing", "Date,SubscriptionId,MeterCategory\n", "lacks the Azure cost-details column(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tc.in), "in.csv", ReadOptions{})
			var fe *FileError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "in.csv: ") {
				t.Errorf("error = %v, want a FileError naming in.csv containing %q", err, tc.want)
			}
		})
	}
	if _, err := NewReader(strings.NewReader(focusHeader), "x", ReadOptions{Format: "parquet"}); err == nil || !strings.Contains(err.Error(), `"parquet"`) {
		t.Errorf("unknown format accepted: %v", err)
	}
}

// TestOtherFormatsRangeCheckTimes: out-of-range instants are refused by every reader, naming
// the value, the place and the range: Azure dates, NDJSON, Parquet timestamps.
func TestOtherFormatsRangeCheckTimes(t *testing.T) {
	want := "out of range: partnerlink holds instants from 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z"
	azure := "Date,SubscriptionId,ChargeType,CostInBillingCurrency,BillingCurrency\n" +
		"12/31/9999,11111111-2222-3333-4444-555555555555,Usage,1,USD\n"
	if _, bad := readAllRecords(t, strings.NewReader(azure), "ea.csv", ReadOptions{}); len(bad) != 1 ||
		!strings.Contains(bad[0].Error(), `ea.csv:2: column Date: "12/31/9999" is `+want) {
		t.Errorf("Azure date 9999: %v", bad)
	}

	db := storetest.SQLite(t)
	nd := `{"ChargePeriodStart":"2026-03-01T00:00:00Z","ChargePeriodEnd":"2026-03-02T00:00:00Z","BilledCost":1,"BillingCurrency":"USD","SubAccountId":"11111111-2222-3333-4444-555555555555","ChargeCategory":"Usage"}
{"ChargePeriodStart":"2026-03-01T00:00:00Z","ChargePeriodEnd":"3000-01-01T00:00:00Z","BilledCost":1,"BillingCurrency":"USD","SubAccountId":"11111111-2222-3333-4444-555555555555","ChargeCategory":"Usage"}
`
	_, err := ImportNDJSON(context.Background(), db, strings.NewReader(nd), "rows.ndjson", ImportOptions{Now: clock})
	if err == nil || !strings.Contains(err.Error(), `rows.ndjson:2: column ChargePeriodEnd: "3000-01-01T00:00:00Z" is `+want) {
		t.Errorf("NDJSON end in 3000: %v", err)
	}

	var b bytes.Buffer
	w := parquet.NewGenericWriter[exportedShape](&b)
	w.Write([]exportedShape{{RecordID: "a", BillingCurrency: "USD", ChargeCategory: "Usage", SubAccountID: "11111111-2222-3333-4444-555555555555",
		ChargePeriodStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), ChargePeriodEnd: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}})
	w.Close()
	_, err = ImportReader(context.Background(), db, bytes.NewReader(b.Bytes()), "ts.parquet", ImportOptions{Now: clock})
	if err == nil || !strings.Contains(err.Error(), `ts.parquet: row 1: column ChargePeriodEnd: "2300-01-01T00:00:00Z" is `+want) {
		t.Errorf("Parquet timestamp in 2300: %v", err)
	}
}

// TestFieldSizeLimit: a field over the limit is a bad row naming its column, size and the
// flag; a record that could not be read without holding more than every field at the limit
// stops the file, on either CSV path (the parallel splitter, and encoding/csv after a quote it
// rejects), without reading the rest into memory.
func TestFieldSizeLimit(t *testing.T) {
	opts := ReadOptions{MaxFieldBytes: 100}
	long := "/subscriptions/11111111-2222-3333-4444-555555555555/" + strings.Repeat("x", 100)
	row := "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage," + long + "\n"
	_, bad := readAllRecords(t, strings.NewReader(focusHeader+goodRow+row+goodRow), "big.csv", opts)
	if len(bad) != 1 || bad[0].Error() != "big.csv:3: column ResourceId: has 152 bytes, more than the limit of 100 a field (--max-field-bytes)" {
		t.Fatalf("bad rows %v", bad)
	}
	if _, bad := readAllRecords(t, strings.NewReader(focusHeader+goodRow+row), "big.csv", ReadOptions{}); len(bad) != 0 {
		t.Fatalf("the default limit refused a 152-byte field: %v", bad)
	}
	huge := strings.Repeat("y", 2*chunkSize) // longer than a chunk, which the splitter must grow
	for name, in := range map[string]string{
		"splitter":     focusHeader + goodRow + `2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,x,Usage,"` + huge + "\"\n" + goodRow,
		"encoding/csv": focusHeader + "a\"b,2,3,4,5,6,7\n" + goodRow + `2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,x,Usage,"` + huge + "\"\n" + goodRow,
	} {
		rd, err := NewReader(strings.NewReader(in), "huge.csv", opts)
		if err != nil {
			t.Fatal(err)
		}
		err = rd.Each(context.Background(), func(*Record, *RowError) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "huge.csv: reading after line") || !strings.Contains(err.Error(), "--max-field-bytes") {
			t.Errorf("%s: a record of %d bytes with a limit of 100 a field: %v", name, len(huge), err)
		}
	}
}

// FuzzReader: no input makes the reader panic or hang, and every record it accepts satisfies
// what the engine relies on.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"focus-azure-1.0.csv", "ea-actual-cost-small.csv", "mca-amortized.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(focusHeader + goodRow))
	f.Add([]byte(focusHeader + "\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), "fuzz.csv", ReadOptions{})
		if err != nil {
			return
		}
		for i := 0; i < 10000; i++ {
			rec, bad, err := rd.Next()
			if err != nil {
				return
			}
			if bad != nil {
				if bad.Line <= 0 || bad.Reason == "" {
					t.Fatalf("bad row without place or reason: %+v", bad)
				}
				continue
			}
			if rec.End <= rec.Start || len(rec.Currency) != 3 || rec.Key == "" || categories[strings.ToLower(rec.ChargeCategory)] == "" {
				t.Fatalf("accepted an invalid record: %+v", rec)
			}
		}
	})
}

func BenchmarkReader(b *testing.B) {
	var file bytes.Buffer
	if err := GenerateFOCUS(&file, 20000, 1); err != nil {
		b.Fatal(err)
	}
	data := file.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := readAll(b.Context(), bytes.NewReader(data), "bench.csv", ReadOptions{}, func(*Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawSplit is the raw limit BenchmarkReader is compared with: the standard library
// splitting the same file into fields, no conversion.
func BenchmarkRawSplit(b *testing.B) {
	var file bytes.Buffer
	if err := GenerateFOCUS(&file, 20000, 1); err != nil {
		b.Fatal(err)
	}
	data := file.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		cr := csv.NewReader(bytes.NewReader(data))
		cr.ReuseRecord = true
		for {
			if _, err := cr.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
