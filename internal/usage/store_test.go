package usage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

var clock = func() time.Time { return time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC) }

func importString(t *testing.T, db *store.DB, name, body string, opts ImportOptions) (*Import, error) {
	t.Helper()
	opts.Now = clock
	return ImportReader(context.Background(), db, strings.NewReader(body), name, opts)
}

func exportCSV(t *testing.T, db *store.DB) string {
	t.Helper()
	var b bytes.Buffer
	w, _ := NewWriter(&b, "csv")
	if err := Records(context.Background(), db, timeline.Always(), w.Write); err != nil {
		t.Fatalf("export: %v", err)
	}
	w.Close()
	return b.String()
}

func count(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COALESCE(SUM(records), 0) FROM usage_segments`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func focusRow(day int, cost string, resource string) string {
	return fmt.Sprintf("2026-03-%02dT00:00:00Z,2026-03-%02dT00:00:00Z,%s,USD,11111111-2222-3333-4444-555555555555,Usage,%s\n", day, day+1, cost, resource)
}

func TestImportIsIdempotent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		first := focusHeader + focusRow(1, "1.5", "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/A") + focusRow(2, "2.25", "r2")
		imp, err := importString(t, db, "march.csv", first, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if imp.RowsRead != 2 || imp.RowsAdded != 2 || imp.RowsDuplicate != 0 || imp.Status != "done" || len(imp.SHA256) != 64 {
			t.Fatalf("first import = %+v", imp)
		}
		before := exportCSV(t, db)
		again, err := importString(t, db, "march.csv", first, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.RowsAdded != 0 || again.RowsDuplicate != 2 || again.SHA256 != imp.SHA256 {
			t.Fatalf("re-import = %+v, want 0 added, 2 duplicate, same hash", again)
		}
		// An overlapping file: one old row (with other spelling of the resource's case is a
		// different row only if the key differs; here it is the same row) and one new.
		overlap := focusHeader + focusRow(2, "2.25", "r2") + focusRow(3, "4", "r3")
		o, err := importString(t, db, "overlap.csv", overlap, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if o.RowsAdded != 1 || o.RowsDuplicate != 1 {
			t.Fatalf("overlapping import = %+v, want 1 added 1 duplicate", o)
		}
		after := exportCSV(t, db)
		if !strings.HasPrefix(after, strings.SplitN(before, "\n", 2)[0]) || count(t, db) != 3 {
			t.Fatalf("stored %d records, want 3", count(t, db))
		}
		imps, err := Imports(context.Background(), db, 10)
		if err != nil || len(imps) != 3 {
			t.Fatalf("import history: %d records, err %v", len(imps), err)
		}
	})
}

func TestBadFileImportsNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		var body strings.Builder
		body.WriteString(focusHeader)
		for i := 1; i <= 20; i++ {
			body.WriteString(focusRow(i%28+1, "1", fmt.Sprintf("r%d", i)))
		}
		body.WriteString(focusRow(5, "one", "bad1"))
		body.WriteString("2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,,11111111-2222-3333-4444-555555555555,Usage,bad2\n")
		_, err := importString(t, db, "march.csv", body.String(), ImportOptions{MaxListed: 1})
		var rej *RejectedError
		if !errors.As(err, &rej) || rej.Total != 2 || len(rej.Rows) != 1 {
			t.Fatalf("err = %v, want a RejectedError with 2 bad rows, 1 listed", err)
		}
		msg := err.Error()
		for _, want := range []string{"march.csv: 2 bad row(s), nothing imported", "march.csv:22: column BilledCost", "... and 1 more"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		if n := count(t, db); n != 0 {
			t.Fatalf("%d records stored from a rejected file", n)
		}
		imps, _ := Imports(context.Background(), db, 10)
		if len(imps) != 1 || imps[0].Status != "rejected" || imps[0].RowsRejected != 2 {
			t.Fatalf("the rejected attempt is not in the history: %+v", imps)
		}
	})
}

func TestSkipBadWritesRejects(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		bad := "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,\"1,5\",USD,11111111-2222-3333-4444-555555555555,Usage,\"r, with comma\""
		body := focusHeader + focusRow(1, "1", "r1") + bad + "\n" + focusRow(2, "2", "r2")
		var rejects bytes.Buffer
		imp, err := importString(t, db, "march.csv", body, ImportOptions{SkipBad: true, Rejects: &rejects})
		if err != nil {
			t.Fatal(err)
		}
		if imp.RowsAdded != 2 || imp.RowsRejected != 1 {
			t.Fatalf("import = %+v", imp)
		}
		lines := strings.Split(strings.TrimSpace(rejects.String()), "\n")
		if len(lines) != 2 || !strings.HasSuffix(lines[0], ",x_RejectLine,x_RejectReason") ||
			!strings.HasPrefix(lines[1], bad+",3,") || !strings.Contains(lines[1], "column BilledCost") {
			t.Fatalf("rejects file:\n%s", rejects.String())
		}
		// Fixing the row in the rejects file and importing it adds exactly that row.
		fixed := strings.Replace(rejects.String(), `"1,5"`, "1.5", 1)
		imp2, err := importString(t, db, "rejects-fixed.csv", fixed, ImportOptions{})
		if err != nil || imp2.RowsAdded != 1 {
			t.Fatalf("fixed rejects: %+v, %v", imp2, err)
		}
		if _, err := importString(t, db, "x.csv", body, ImportOptions{SkipBad: true}); err == nil {
			t.Fatal("--skip-bad without a rejects writer was accepted")
		}
	})
}

// cancelAfter cancels the import's context once n bytes have been read: a crash half-way.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	if len(p) > 512 {
		p = p[:512]
	}
	k, err := c.r.Read(p)
	c.n -= k
	return k, err
}

func TestInterruptedImportLeavesNothing(t *testing.T) {
	body := randomFOCUS(rand.New(rand.NewPCG(7, 7)), 5000, nil)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := ImportReader(ctx, db, &cancelAfter{r: strings.NewReader(body), n: len(body) / 2, cancel: cancel}, "big.csv", ImportOptions{Now: clock})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted import returned %v, want context.Canceled", err)
		}
		if n := count(t, db); n != 0 {
			t.Fatalf("%d records left by an interrupted import", n)
		}
		if _, err := importString(t, db, "big.csv", body, ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		clean := storetest.SQLite(t)
		if _, err := importString(t, clean, "big.csv", body, ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if exportCSV(t, db) != exportCSV(t, clean) {
			t.Fatal("records after an interrupted and a repeated import differ from one clean import")
		}
	})
}

// randomFOCUS writes n rows with random amounts of up to 9 fraction digits, and adds each
// amount's exact value to sum when sum is not nil.
func randomFOCUS(rng *rand.Rand, n int, sum *big.Rat) string {
	var b strings.Builder
	b.WriteString("ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,SubAccountId,ChargeCategory,ResourceId,x_RecordId\n")
	for i := 0; i < n; i++ {
		whole := rng.Int64N(100000)
		frac := rng.Int64N(1_000_000_000)
		digits := 1 + rng.IntN(9)
		fs := fmt.Sprintf("%09d", frac)[:digits]
		amount := fmt.Sprintf("%d.%s", whole, fs)
		if rng.IntN(10) == 0 {
			amount = "-" + amount
		}
		if sum != nil {
			v, _ := new(big.Rat).SetString(amount)
			sum.Add(sum, v)
		}
		day := 1 + rng.IntN(28)
		fmt.Fprintf(&b, "2026-02-%02dT00:00:00Z,2026-02-%02dT01:00:00Z,%s,USD,/subscriptions/%08x-0000-4000-8000-000000000000,Usage,/subscriptions/x/resourceGroups/rg%d,rec-%07d\n",
			day, day, amount, rng.IntN(50), rng.IntN(100), i)
	}
	return b.String()
}

func TestSumsAreExact(t *testing.T) {
	want := new(big.Rat)
	body := randomFOCUS(rand.New(rand.NewPCG(1, 2)), 100000, want)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		imp, err := importString(t, db, "random.csv", body, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if imp.RowsAdded != 100000 {
			t.Fatalf("added %d rows, want 100000", imp.RowsAdded)
		}
		// Sum in Go over exact int64s (SQL SUM of BIGINT could overflow into NUMERIC/float).
		total := new(big.Int)
		err = Records(context.Background(), db, timeline.Always(), func(r *Record) error {
			total.Add(total, big.NewInt(int64(r.Cost)))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := new(big.Rat).SetFrac(total, big.NewInt(1_000_000_000))
		if got.Cmp(want) != 0 {
			t.Fatalf("stored total %s, exact total of the input %s", got.FloatString(9), want.FloatString(9))
		}
	})
}

func TestStreamOrderAndWindow(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f, _ := os.ReadFile("testdata/focus-azure-1.0.csv")
		if _, err := importString(t, db, "focus.csv", string(f), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		march2, _ := timeline.ParseDateOrTime("2026-03-02")
		march3, _ := timeline.ParseDateOrTime("2026-03-03")
		var got []Record
		err := Stream(context.Background(), db, timeline.Window{From: march2, To: march3}, func(b *Batch) error {
			recs := b.Records()
			for i := 1; i < len(recs); i++ {
				if recs[i-1].SubscriptionID > recs[i].SubscriptionID {
					t.Fatalf("a segment's records are not ordered by subscription at %d", i)
				}
			}
			got = append(got, recs...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The purchase starts on March 1st and is outside the window; the other 8 are inside.
		if len(got) != 8 {
			t.Fatalf("streamed %d records, want 8", len(got))
		}
		for _, r := range got {
			if r.Start < march2 || r.Start >= march3 {
				t.Fatalf("record %s starts at %s, outside the window", r.Key, timeline.Format(r.Start))
			}
		}
	})
}

func BenchmarkImportSQLite(b *testing.B) {
	var file bytes.Buffer
	if err := GenerateFOCUS(&file, 50000, 1); err != nil {
		b.Fatal(err)
	}
	data := file.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		db := storetest.SQLite(b)
		b.StartTimer()
		if _, err := ImportReader(b.Context(), db, bytes.NewReader(data), "bench.csv", ImportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriterFailureStopsImport: when the database rejects the segments, the import stops with
// the database's error and leaves nothing behind.
func TestWriterFailureStopsImport(t *testing.T) {
	body := randomFOCUS(rand.New(rand.NewPCG(3, 3)), 30017, nil)
	db := storetest.SQLite(t)
	if _, err := db.ExecContext(context.Background(), `CREATE TRIGGER usage_fail BEFORE INSERT ON usage_segments
		BEGIN SELECT RAISE(ABORT, 'usage_fail trigger'); END`); err != nil {
		t.Fatal(err)
	}
	_, err := importString(t, db, "big.csv", body, ImportOptions{})
	var se *store.Error
	if !errors.As(err, &se) || !strings.Contains(fmt.Sprint(se.Cause()), "usage_fail") {
		t.Fatalf("import into a failing table returned %v, want the database's error", err)
	}
	if n := count(t, db); n != 0 {
		t.Fatalf("%d records left by a failed import", n)
	}
}

// withSpillBudget makes every import spill to its temporary file after n bytes.
func withSpillBudget(t *testing.T, n int) {
	old := spillBudget
	spillBudget = n
	t.Cleanup(func() { spillBudget = old })
}

// TestDuplicatesInsideAndAcrossImports: repeats inside the file (near and far apart) and a
// re-import are counted as duplicates, the first of a repeated key wins, and an import that
// spills to disk stores exactly what one that fits in memory stores.
func TestDuplicatesInsideAndAcrossImports(t *testing.T) {
	body := randomFOCUS(rand.New(rand.NewPCG(11, 11)), 20500, nil)
	lines := strings.SplitAfter(body, "\n")
	lines = lines[:len(lines)-1]
	var b strings.Builder
	for i, line := range lines {
		b.WriteString(line)
		if i == 5 || i == 10003 {
			b.WriteString(line) // repeated at once
		}
	}
	for _, line := range lines[10:20] {
		b.WriteString(line) // repeated far later
	}
	// The same key with another cost, later in the file: the first one stays.
	b.WriteString(strings.Replace(lines[30], ",USD,", "1,USD,", 1))
	file := b.String()
	ref := storetest.SQLite(t)
	want, err := importString(t, ref, "f.csv", file, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Every record keeps its x_RecordId as its key, and the first of a repeated key wins.
	keys := map[string]string{}
	if err := Records(context.Background(), ref, timeline.Always(), func(r *Record) error { keys[r.Key] = r.CostRaw; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, line := range lines[1:] { // after the header
		f := strings.Split(strings.TrimSpace(line), ",")
		if got, ok := keys[f[7]]; !ok || got != f[2] {
			t.Fatalf("record %s is stored with cost %q (found: %v), want %q", f[7], got, ok, f[2])
		}
	}
	if want.RowsDuplicate != 13 || want.RowsAdded != 20500 {
		t.Fatalf("reference import counted %d added, %d duplicates; want %d, 13", want.RowsAdded, want.RowsDuplicate, 20500)
	}
	withSpillBudget(t, 4096)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		for round := 1; round <= 2; round++ {
			imp, err := importString(t, db, "f.csv", file, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantAdded, wantDup := want.RowsAdded, want.RowsDuplicate
			if round == 2 {
				wantAdded, wantDup = 0, want.RowsRead
			}
			if imp.RowsAdded != wantAdded || imp.RowsDuplicate != wantDup {
				t.Fatalf("import %d: added %d, duplicate %d; want %d, %d", round, imp.RowsAdded, imp.RowsDuplicate, wantAdded, wantDup)
			}
			if exportCSV(t, db) != exportCSV(t, ref) {
				t.Fatalf("import %d stored other records than the reference", round)
			}
		}
	})
}

// TestFullDictionary: beyond its budget the import's dictionary takes no more strings; they are
// written inline and the stored records are the same.
func TestFullDictionary(t *testing.T) {
	body := randomFOCUS(rand.New(rand.NewPCG(8, 8)), 5000, nil)
	ref := storetest.SQLite(t)
	if _, err := importString(t, ref, "f.csv", body, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	old := dictBudget
	dictBudget = 200
	t.Cleanup(func() { dictBudget = old })
	withSpillBudget(t, 8192)
	db := storetest.SQLite(t)
	if _, err := importString(t, db, "f.csv", body, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if exportCSV(t, db) != exportCSV(t, ref) {
		t.Fatal("an import past its dictionary budget stored other records")
	}
}

// TestFullShapeTable: past the shape table's bound, rows carry their shape columns themselves
// and store the same records, every field of them.
func TestFullShapeTable(t *testing.T) {
	recs := randomRecords(rand.New(rand.NewPCG(4, 2)), 3000)
	ref := storetest.SQLite(t)
	if _, err := ImportRecords(context.Background(), ref, "r", recs, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	old := maxShapes
	maxShapes = 3
	t.Cleanup(func() { maxShapes = old })
	withSpillBudget(t, 8192)
	db := storetest.SQLite(t)
	if _, err := ImportRecords(context.Background(), db, "r", recs, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := storedRecords(t, db), storedRecords(t, ref); !reflect.DeepEqual(got, want) || len(got) != len(recs) {
		t.Fatal("an import past its shape table stored other records")
	}
}

// TestConcurrentImportsAddOnce: two imports of the same file at the same time store each
// record once, and between them count every row once as added and once as a duplicate.
func TestConcurrentImportsAddOnce(t *testing.T) {
	body := randomFOCUS(rand.New(rand.NewPCG(5, 9)), 3000, nil)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		type result struct {
			imp *Import
			err error
		}
		res := make(chan result, 2)
		for range 2 {
			go func() {
				imp, err := ImportReader(context.Background(), db, strings.NewReader(body), "same.csv", ImportOptions{Now: clock})
				res <- result{imp, err}
			}()
		}
		var added, dup int64
		for range 2 {
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			added += r.imp.RowsAdded
			dup += r.imp.RowsDuplicate
		}
		if added != 3000 || dup != 3000 || count(t, db) != 3000 {
			t.Fatalf("two concurrent imports added %d and counted %d duplicates, %d stored; want 3000, 3000, 3000", added, dup, count(t, db))
		}
	})
}

func TestFindByKey(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f, _ := os.ReadFile("testdata/focus-azure-1.0.csv")
		if _, err := importString(t, db, "focus.csv", string(f), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		var all []*Record
		if err := Records(context.Background(), db, timeline.Always(), func(r *Record) error {
			c := *r
			all = append(all, &c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, want := range all {
			got, err := Find(context.Background(), db, want.Key, timeline.Window{From: want.Start, To: want.Start + 1})
			if err != nil {
				t.Fatalf("find %s: %v", want.Key, err)
			}
			if *got != *want {
				t.Fatalf("find %s gave %+v, want %+v", want.Key, got, want)
			}
		}
		_, err := Find(context.Background(), db, all[0].Key, timeline.Window{From: all[0].Start + 1, To: all[0].Start + 2})
		if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), all[0].Key) {
			t.Fatalf("find outside the record's start gave %v, want not found naming the key", err)
		}
	})
}

// TestFindByKeyInEveryBucketSplit: a record is found by its key in segments of every size, so
// under every split of their keys into buckets.
func TestFindByKeyInEveryBucketSplit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var all []Record
		sizes := []int{70000, 20000, 300, 1} // bits 8 and 4, 6, 0, 0
		for k, n := range sizes {
			recs := randomRecords(rand.New(rand.NewPCG(uint64(k), 11)), n)
			if _, err := ImportRecords(ctx, db, fmt.Sprint("part", k), recs, ImportOptions{Now: clock}); err != nil {
				t.Fatal(err)
			}
			all = append(all, recs...)
		}
		var bits []int
		rows, err := db.QueryContext(ctx, `SELECT DISTINCT bits FROM usage_keys ORDER BY bits`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b int
			if err := rows.Scan(&b); err != nil {
				t.Fatal(err)
			}
			bits = append(bits, b)
		}
		rows.Close()
		if !slices.Equal(bits, []int{0, 4, 6, 8}) {
			t.Fatalf("key buckets split by %v bits, want 0, 4, 6 and 8", bits)
		}
		// Some records of every part (finding one decodes its segment, so not all of them).
		var probe []int
		for lo, k := 0, 0; k < len(sizes); k++ {
			n := sizes[k]
			probe = append(probe, lo, lo+n/2, lo+n-1, lo+n/3, lo+2*n/3)
			lo += n
		}
		for _, i := range probe {
			want := &all[i]
			got, err := Find(ctx, db, want.Key, timeline.Window{From: want.Start, To: want.Start + 1})
			if err != nil {
				t.Fatalf("record %d: find %s: %v", i, want.Key, err)
			}
			if got.Key != want.Key || got.Start != want.Start || got.Cost != want.Cost {
				t.Fatalf("record %d: find %s gave %s at %d costing %d", i, want.Key, got.Key, got.Start, got.Cost)
			}
		}
	})
}

// TestUpgradeLegacy: records in the row-per-record table of older databases (schema 0599 and
// before; 0600 drops the table once engines.Migrate has called UpgradeLegacy) move into
// segments unchanged.
func TestUpgradeLegacy(t *testing.T) {
	f, _ := os.ReadFile("testdata/focus-azure-1.0.csv")
	ref := storetest.SQLite(t)
	if _, err := importString(t, ref, "focus.csv", string(f), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var recs []Record
	if err := Records(context.Background(), ref, timeline.Always(), func(r *Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	storetest.RunEmpty(t, func(t *testing.T, db *store.DB) {
		if _, err := db.MigrateTo(context.Background(), 599); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if _, err := db.ExecContext(context.Background(), `INSERT INTO usage_records (record_key, charge_start, charge_end,
				subscription_id, resource_id, resource_key, service, service_category, charge_category, pricing_category,
				commitment_discount_id, provider, publisher, currency, cost_nanos, cost_raw, measure, import_id)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,'billed','old')`, r.Key, r.Start, r.End,
				r.SubscriptionID, r.ResourceID, ResourceKey(r.ResourceID), r.Service, r.ServiceCategory, r.ChargeCategory,
				r.PricingCategory, r.CommitmentDiscountID, r.Provider, r.Publisher, r.Currency, int64(r.Cost), r.CostRaw); err != nil {
				t.Fatal(err)
			}
		}
		if err := UpgradeLegacy(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM usage_records`).Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d legacy rows left (%v)", left, err)
		}
		if exportCSV(t, db) != exportCSV(t, ref) {
			t.Fatal("upgraded records differ from the imported ones")
		}
		if err := UpgradeLegacy(context.Background(), db); err != nil || count(t, db) != len(recs) {
			t.Fatalf("a second upgrade changed the records (%v)", err)
		}
	})
}

// TestExportOrder: the export is sorted by key (a key before the keys it is a prefix of) and
// then charge start, whether it is sorted in memory or merged from runs on disk.
func TestExportOrder(t *testing.T) {
	day := int64(1772323200_000000000)
	var recs []Record
	for i, k := range []string{"ab", "a", "b", "a", "abc", "a"} {
		start := day + int64(5-i)*3600_000000000
		recs = append(recs, Record{Key: k, Start: start, End: start + 3600_000000000, SubscriptionID: "11111111-2222-3333-4444-555555555555",
			ChargeCategory: "Usage", Currency: "USD", Cost: 1, CostRaw: "0.000000001"})
	}
	db := storetest.SQLite(t)
	if _, err := ImportRecords(context.Background(), db, "r", recs, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, budget := range []int{1 << 30, 1} {
		old := exportRunBytes
		exportRunBytes = budget
		var got []string
		err := Records(context.Background(), db, timeline.Always(), func(r *Record) error {
			got = append(got, fmt.Sprintf("%s@%d", r.Key, (r.Start-day)/3600_000000000))
			return nil
		})
		exportRunBytes = old
		if err != nil {
			t.Fatal(err)
		}
		if want := "a@0 a@2 a@4 ab@5 abc@1 b@3"; strings.Join(got, " ") != want {
			t.Fatalf("budget %d: export order %v, want %s", budget, got, want)
		}
	}
}

// TestRejectedFileIsInTheHistory: a file rejected before any row is read (not CSV, a bad
// header, a damaged Parquet file) leaves its attempt in the import history, with its hash, as
// the docs promise.
func TestRejectedFileIsInTheHistory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		for i, in := range []string{`{"not": "csv"}`, "ChargePeriodStart,BilledCost,BilledCost\n", "PAR1 and nothing else"} {
			_, err := importString(t, db, fmt.Sprintf("bad-%d", i), in, ImportOptions{})
			var fe *FileError
			if !errors.As(err, &fe) || fe.Import == nil || fe.Import.Status != "rejected" {
				t.Fatalf("%q: %v", in, err)
			}
		}
		imps, err := Imports(context.Background(), db, 10)
		if err != nil || len(imps) != 3 {
			t.Fatalf("%d imports recorded (%v), want 3", len(imps), err)
		}
		for _, imp := range imps {
			if imp.Status != "rejected" || imp.RowsRead != 0 || len(imp.SHA256) != 64 {
				t.Errorf("recorded %+v", imp)
			}
		}
	})
}

// BenchmarkStrTableIntern: pass 1's dictionary, 1,000,000 lookups of 200,000 resource IDs
// (the usage benchmark's shape: each resource seen five times, in turn).
func BenchmarkStrTableIntern(b *testing.B) {
	keys := make([]string, 200000)
	for i := range keys {
		keys[i] = fmt.Sprintf("/subscriptions/%08x-0000-4000-8000-%012x/resourceGroups/rg%d/providers/Microsoft.Compute/virtualMachines/vm%d", i*7919%4000, i*7919%4000, i%20, i)
	}
	b.ResetTimer()
	for range b.N {
		t := newStrTable()
		for j := 0; j < 1000000; j++ {
			t.intern(keys[j%len(keys)])
		}
	}
}

// TestSortEntries: the bucketed sort of a segment's keys orders them as sorting by comparison
// does, for random digests, digests sharing their top bits, one record's key at many charge
// starts, and every size around the bucketing's threshold.
func TestSortEntries(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 3000).Draw(rt, "n")
		spread := rapid.SampledFrom([]uint64{0, 1, 1 << 40, 1 << 63}).Draw(rt, "spread")
		es := make([]keyEntry, n)
		for i := range es {
			es[i] = keyEntry{a: rapid.Uint64().Draw(rt, "a"), b: rapid.Uint64Range(0, 3).Draw(rt, "b"), s: rapid.Uint64Range(0, 5).Draw(rt, "s")}
			if spread != 1<<63 {
				es[i].a = es[i].a%(spread+1) | 0xab<<56
			}
		}
		want := slices.Clone(es)
		slices.SortFunc(want, compareEntries)
		sortEntries(es, nil)
		if !slices.Equal(es, want) {
			rt.Fatalf("sorted %d keys (spread %d) out of order", n, spread)
		}
	})
}

// BenchmarkSortEntries: one full segment's keys (65,536 random digests), by the bucketed sort
// and by comparison alone.
func BenchmarkSortEntries(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	es := make([]keyEntry, 65536)
	for i := range es {
		es[i] = keyEntry{a: rng.Uint64(), b: rng.Uint64(), s: rng.Uint64N(1 << 40)}
	}
	work := make([]keyEntry, len(es))
	var tmp []keyEntry
	b.Run("bucketed", func(b *testing.B) {
		for range b.N {
			copy(work, es)
			tmp = sortEntries(work, tmp)
		}
	})
	b.Run("comparison", func(b *testing.B) {
		for range b.N {
			copy(work, es)
			slices.SortFunc(work, compareEntries)
		}
	})
}
