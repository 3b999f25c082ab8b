package usage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"pgregory.net/rapid"
)

// Rows in a FOCUS export's shape, written for the summaries' edge cases: two currencies, a
// half-day charge period, an empty resource, a subscription spelled in two cases, one with a
// Usage record on another subscription's resource (left raw), a purchase, a credit, a
// trailing slash, a non-ASCII resource group, an AWS account, and equal costs (the costliest
// record's tie goes to the least resource).
const summaryCSV = `ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,ResourceId,SubAccountId,ChargeCategory,ProviderName,x_RecordId
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,10.5,USD,/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-1,aaaaaaaa-0000-0000-0000-000000000001,Usage,Microsoft,s1
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,2.25,USD,/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-2,aaaaaaaa-0000-0000-0000-000000000001,Usage,Microsoft,s2
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,3,EUR,/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-1,aaaaaaaa-0000-0000-0000-000000000001,Usage,Microsoft,s3
2026-03-01T12:00:00Z,2026-03-02T00:00:00Z,1,USD,/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-1,aaaaaaaa-0000-0000-0000-000000000001,Usage,Microsoft,s4
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,0.5,USD,,aaaaaaaa-0000-0000-0000-000000000001,Usage,Microsoft,s5
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,4,USD,/SUBSCRIPTIONS/AAAAAAAA-0000-0000-0000-000000000001/RESOURCEGROUPS/RG-WEB/providers/Microsoft.Web/sites/app,AAAAAAAA-0000-0000-0000-000000000001,Usage,Microsoft,s6
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,7,USD,/subscriptions/bbbbbbbb-0000-0000-0000-000000000002/resourceGroups/rg/providers/Microsoft.Sql/servers/db,bbbbbbbb-0000-0000-0000-000000000002,Usage,Microsoft,s7
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1.5,USD,/subscriptions/cccccccc-0000-0000-0000-000000000003/resourceGroups/rg/providers/Microsoft.Network/dnszones/z,bbbbbbbb-0000-0000-0000-000000000002,Usage,Microsoft,s8
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,100,USD,,cccccccc-0000-0000-0000-000000000003,Purchase,Microsoft,s9
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,6,USD,/subscriptions/cccccccc-0000-0000-0000-000000000003/resourceGroups/rg/ ,cccccccc-0000-0000-0000-000000000003,Usage,Microsoft,s10
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,-2,USD,/subscriptions/cccccccc-0000-0000-0000-000000000003/resourceGroups/rg/providers/p/x/credit,cccccccc-0000-0000-0000-000000000003,Usage,Microsoft,s11
2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,6,USD,/subscriptions/cccccccc-0000-0000-0000-000000000003/resourceGroups/ʀg/providers/p/x/a,cccccccc-0000-0000-0000-000000000003,Usage,Microsoft,s12
2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,0.0104,USD,arn:aws:ec2:us-east-1:012345678901:instance/i-0abc,012345678901,Usage,AWS,s13
2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,8,USD,/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-1,aaaaaaaa-0000-0000-0000-000000000001,Usage,Microsoft,s14
`

// summaryView is what an adder-up of consumption per subscription reads of stored usage:
// per subscription (as spelled), charge period, currency and provider, the Usage records'
// number, sum, costs (sorted), and costliest record (ties: the least resource).
type summaryView map[summaryKey]*summaryVal

type summaryKey struct {
	sub, cur, prov string
	start, end     int64
}

type summaryVal struct {
	records int
	sum     money.Nanos
	costs   []money.Nanos
	topCost money.Nanos
	topRes  string
}

func (v summaryView) add(k summaryKey, costs []money.Nanos, topCost money.Nanos, topRes string) {
	x := v[k]
	if x == nil {
		x = &summaryVal{}
		v[k] = x
	}
	if x.records == 0 || topCost > x.topCost || (topCost == x.topCost && topRes < x.topRes) {
		x.topCost, x.topRes = topCost, topRes
	}
	x.records += len(costs)
	for _, c := range costs {
		x.sum += c
	}
	x.costs = append(x.costs, costs...)
	slices.Sort(x.costs)
}

// summarizedView reads what StreamSummarized gives of the subscriptions subs (lower case)
// in w: entries and Usage rows added up alike, and the subscriptions (as spelled) it gave
// rows of.
func summarizedView(t *testing.T, db *store.DB, w timeline.Window, subs map[string]bool, rows func(string) bool) (summaryView, map[string]bool) {
	t.Helper()
	ctx := context.Background()
	sums, err := ReadSummaries(ctx, db, w)
	if err != nil {
		t.Fatal(err)
	}
	view, asRows := summaryView{}, map[string]bool{}
	err = StreamSummarized(ctx, db, sums, subs, rows, []int{ColSubscription, ColResource, ColChargeCategory, ColCurrency, ColProviderID},
		func(b *Batch, s *Summary) error {
			for i := 0; i < b.Len(); i++ {
				sub := b.S(ColSubscription, i)
				asRows[sub] = true
				if b.S(ColChargeCategory, i) == CategoryUsage {
					view.add(summaryKey{sub, b.S(ColCurrency, i), b.S(ColProviderID, i), b.Start[i], b.End[i]}, []money.Nanos{b.Cost[i]}, b.Cost[i], b.S(ColResource, i))
				}
			}
			if s == nil {
				return nil
			}
			for _, e := range s.Entries {
				costs, err := e.AppendCosts(nil)
				if err != nil {
					return err
				}
				if len(costs) != e.Records || slices.Max(costs) != e.TopCost {
					return fmt.Errorf("entry %+v: costs %v", e, costs)
				}
				view.add(summaryKey{e.Subscription, e.Currency, e.Provider, e.Start, e.End}, costs, e.TopCost, e.TopResource)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return view, asRows
}

// rowView is summarizedView's answer read from every stored row, and the subscriptions whose
// rows StreamSummarized must give: those rows accepts and those with a Usage record on a
// resource outside them.
func rowView(t *testing.T, db *store.DB, w timeline.Window, subs map[string]bool, rows func(string) bool) (summaryView, map[string]bool) {
	t.Helper()
	view, asRows := summaryView{}, map[string]bool{}
	err := StreamLean(context.Background(), db, w, func(b *Batch) error {
		for i := 0; i < b.Len(); i++ {
			sub, res := b.S(ColSubscription, i), b.S(ColResource, i)
			if !subs[strings.ToLower(strings.TrimSpace(sub))] || b.S(ColChargeCategory, i) != CategoryUsage {
				continue
			}
			if rows(sub) || !withinSubscription(res, sub) {
				asRows[sub] = true
			}
			view.add(summaryKey{sub, b.S(ColCurrency, i), b.S(ColProviderID, i), b.Start[i], b.End[i]}, []money.Nanos{b.Cost[i]}, b.Cost[i], res)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return view, asRows
}

// TestSummariesAddUpTheRows: what StreamSummarized gives, summaries and rows, adds up to what
// every stored row adds up to, for any choice of subscriptions read as rows, period and
// engine; it gives rows of exactly the subscriptions asked for and those left raw; and of a
// segment stored without a summary it gives the rows.
func TestSummariesAddUpTheRows(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if _, err := importString(t, db, "summary.csv", summaryCSV, ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"focus-azure-1.0.csv", "ea-actual-cost-small.csv", "mca-amortized.csv", "focus-multicloud-1.0.csv"} {
			body, err := os.ReadFile("testdata/" + f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := importString(t, db, f, string(body), ImportOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// A second import of the same day: its records are in segments of their own.
		again := strings.ReplaceAll(strings.ReplaceAll(summaryCSV, ",s", ",again-s"), "10.5,USD", "11.5,USD")
		if _, err := importString(t, db, "again.csv", again, ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		all := map[string]bool{}
		if err := StreamLean(context.Background(), db, timeline.Always(), func(b *Batch) error {
			for i := 0; i < b.Len(); i++ {
				all[strings.ToLower(strings.TrimSpace(b.S(ColSubscription, i)))] = true
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		none := func(string) bool { return false }
		march := timeline.Window{From: mustTime(t, "2026-03-01T00:00:00Z"), To: mustTime(t, "2026-04-01T00:00:00Z")}
		halfDay := timeline.Window{From: mustTime(t, "2026-03-01T06:00:00Z"), To: mustTime(t, "2026-03-02T06:00:00Z")}
		cases := []struct {
			name string
			w    timeline.Window
			subs map[string]bool
			rows func(string) bool
		}{
			{"every subscription summarized", timeline.Always(), all, none},
			{"one subscription as rows", timeline.Always(), all, func(s string) bool { return strings.EqualFold(s, "aaaaaaaa-0000-0000-0000-000000000001") }},
			{"every subscription as rows", timeline.Always(), all, func(string) bool { return true }},
			{"two subscriptions", march, map[string]bool{"aaaaaaaa-0000-0000-0000-000000000001": true, "bbbbbbbb-0000-0000-0000-000000000002": true}, none},
			{"a window inside a day", halfDay, all, none},
		}
		check := func(t *testing.T, summaries bool) {
			for _, c := range cases {
				want, wantRows := rowView(t, db, c.w, c.subs, c.rows)
				got, gotRows := summarizedView(t, db, c.w, c.subs, c.rows)
				if len(want) == 0 {
					t.Fatalf("%s: no records to compare", c.name)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: summarized\n%s\nrow by row\n%s", c.name, dumpView(got), dumpView(want))
				}
				for sub := range wantRows {
					if !gotRows[sub] {
						t.Fatalf("%s: subscription %s was not given as rows", c.name, sub)
					}
				}
				if !summaries {
					continue
				}
				for sub := range gotRows {
					if !wantRows[sub] {
						t.Fatalf("%s: subscription %s was given as rows, not summarized", c.name, sub)
					}
				}
			}
		}
		check(t, true)
		if _, raw := rowView(t, db, timeline.Always(), all, none); !raw["bbbbbbbb-0000-0000-0000-000000000002"] || !raw["012345678901"] {
			t.Fatalf("raw subscriptions %v: want the one with another's resource, and the AWS account", raw)
		}
		// Segments stored before summaries were written: read as rows.
		if _, err := db.ExecContext(context.Background(), `DELETE FROM usage_summaries`); err != nil {
			t.Fatal(err)
		}
		check(t, false)
	})
}

func dumpView(v summaryView) string {
	var lines []string
	for k, x := range v {
		lines = append(lines, fmt.Sprintf("%+v: %+v", k, *x))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func mustTime(t *testing.T, s string) int64 {
	t.Helper()
	n, err := timeline.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWithinSubscriptionEqualsCanonical checks the summaries' test of a resource's
// subscription, which compares without lowering where it can, against the canonical keys'
// (scope.Key, scope.PrefixCovers), over spellings in any case, with white space, trailing
// slashes and letters that are not ASCII.
func TestWithinSubscriptionEqualsCanonical(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sub := rapid.SampledFrom([]string{"aaaaaaaa-0000-0000-0000-000000000001", "AAAAAAAA-0000-0000-0000-000000000001", " aaaaaaaa-0000-0000-0000-000000000001 ",
			"012345678901", "sub-ʀ", "sub-\u212a"}).Draw(t, "sub")
		parts := rapid.SliceOfN(rapid.SampledFrom([]string{"subscriptions", "SUBSCRIPTIONS", "aaaaaaaa-0000-0000-0000-000000000001", "AAAAAAAA-0000-0000-0000-000000000001",
			"aaaaaaaa-0000-0000-0000-00000000000", "012345678901", "resourceGroups", "rg", "ʀg", "sub-ʀ", "sub-k", "sub-K", "sub-\u212a", "", " "}), 0, 6).Draw(t, "parts")
		res := strings.Join(parts, "/")
		if rapid.Bool().Draw(t, "leading slash") {
			res = "/" + res
		}
		res += rapid.SampledFrom([]string{"", "/", " ", "//"}).Draw(t, "tail")
		want := strings.TrimRight(strings.TrimSpace(res), "/") == "" ||
			scope.PrefixCovers("/subscriptions/"+strings.ToLower(strings.TrimSpace(sub)), scope.Key(res))
		if got := withinSubscription(res, sub); got != want {
			t.Fatalf("withinSubscription(%q, %q) = %v, want %v", res, sub, got, want)
		}
	})
}

// storedSummary is the summary of the first segment stored for summaryCSV, and its segment.
func storedSummary(t *testing.T) (*store.DB, string, []byte) {
	db := storetest.SQLite(t)
	if _, err := importString(t, db, "summary.csv", summaryCSV, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var id string
	var data []byte
	if err := db.QueryRowContext(context.Background(), `SELECT segment_id, data FROM usage_summaries ORDER BY day LIMIT 1`).Scan(&id, &data); err != nil {
		t.Fatal(err)
	}
	return db, id, data
}

// TestDamagedSummaryIsReported: a summary whose bytes changed, or of a newer format, is an
// error naming its segment, not a wrong sum.
func TestDamagedSummaryIsReported(t *testing.T) {
	db, id, data := storedSummary(t)
	for name, bad := range map[string][]byte{
		"a byte flipped": func() []byte { b := bytes.Clone(data); b[len(b)/2] ^= 0x40; return b }(),
		"truncated":      data[:len(data)-7],
		"newer format":   append([]byte("PLS\x02"), data[4:]...),
	} {
		if _, err := db.ExecContext(context.Background(), `UPDATE usage_summaries SET data = $1 WHERE segment_id = $2`, bad, id); err != nil {
			t.Fatal(err)
		}
		_, err := ReadSummaries(context.Background(), db, timeline.Always())
		if !errors.Is(err, errSummaryCorrupt) || !strings.Contains(err.Error(), id) {
			t.Fatalf("%s: got %v, want a corrupt summary error naming segment %s", name, err, id)
		}
		if name == "newer format" && !strings.Contains(err.Error(), "upgrade partnerlink") {
			t.Fatalf("newer format: %v does not say to upgrade", err)
		}
	}
}

// FuzzDecodeSummary: any bytes decode to a summary or an error, without a panic, and every
// entry's costs decode to its record count. The checksum is made right first, so that the
// fuzzer's bytes reach the decoding, not only the checksum's refusal.
func FuzzDecodeSummary(f *testing.F) {
	bb := NewBatchBuilder()
	for i, sub := range []string{"a", "a", "b", "c"} {
		res := []string{"/subscriptions/a/resourceGroups/rg/x", "/subscriptions/a/resourceGroups/rg/y", "/subscriptions/b/z", "/subscriptions/a/y"}[i]
		r := Record{Start: int64(i % 2), End: 10, SubscriptionID: sub, ResourceID: res, ChargeCategory: CategoryUsage, Currency: "USD", Cost: money.Nanos(i*1000 - 1500)}
		bb.Add(&r)
	}
	data := summarize(bb.Batch(), nil)
	if s, err := decodeSummary(data); err != nil || len(s.Entries) != 3 || len(s.Raw) != 1 {
		f.Fatalf("seed summary: %+v, %v", s, err)
	}
	f.Add(data[:len(data)-4])
	f.Add([]byte(summaryMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.Checksum(data, castagnoli))
		s, err := decodeSummary(data)
		if err != nil {
			return
		}
		for _, e := range s.Entries {
			if costs, err := e.AppendCosts(nil); err == nil && len(costs) != e.Records {
				t.Fatalf("entry of %d records gave %d costs", e.Records, len(costs))
			}
		}
	})
}

// BenchmarkSummarize: summarizing a full segment of the usage benchmark's records (one day's,
// sorted as imports sort them), and encoding the same segment, its peer: what summaries add
// to an import.
func BenchmarkSummarize(b *testing.B) {
	// The benchmark's month is 30 days: a thirtieth of it is about a day's records.
	var file bytes.Buffer
	if err := GenerateFOCUS(&file, 30*segmentRows, 1); err != nil {
		b.Fatal(err)
	}
	var recs []Record
	first := int64(math.MaxInt64)
	if err := readAll(b.Context(), &file, "bench.csv", ReadOptions{}, func(r *Record) error {
		recs = append(recs, *r)
		first = min(first, floorDay(r.Start))
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	recs = slices.DeleteFunc(recs, func(r Record) bool { return floorDay(r.Start) != first })
	if len(recs) > segmentRows {
		recs = recs[:segmentRows]
	}
	slices.SortFunc(recs, func(x, y Record) int {
		return cmp.Or(strings.Compare(x.SubscriptionID, y.SubscriptionID), strings.Compare(x.ResourceID, y.ResourceID), cmp.Compare(x.Start, y.Start))
	})
	bb := NewBatchBuilder()
	for i := range recs {
		bb.Add(&recs[i])
	}
	batch := bb.Batch()
	order := make([]int32, batch.Len())
	for i := range order {
		order[i] = int32(i)
	}
	var sc segScratch
	b.Run("summarize", func(b *testing.B) {
		for b.Loop() {
			summarize(batch, &sc.summary)
		}
	})
	b.Run("encodeSegment", func(b *testing.B) {
		for b.Loop() {
			encodeSegment(batch, order, &sc)
		}
	})
}
