package usage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// randomRecords makes records with the variety segments must keep: hex and text keys, times
// in whole seconds or not, repeated and unique strings, costs whose text differs from their
// canonical form.
func randomRecords(rng *rand.Rand, n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		r := &recs[i]
		if rng.IntN(4) == 0 {
			r.Key = fmt.Sprintf("rec-%d-%d", i, rng.IntN(1000))
		} else {
			r.Key = fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
		}
		r.Start = 1772323200_000000000 + rng.Int64N(86400)*1_000_000_000
		if rng.IntN(10) == 0 {
			r.Start += rng.Int64N(1_000_000_000)
		}
		r.End = r.Start + []int64{3600, 43200, 86400}[rng.IntN(3)]*1_000_000_000
		r.SubscriptionID = fmt.Sprintf("%08x-0000-4000-8000-000000000000", rng.IntN(20))
		r.ResourceID = fmt.Sprintf("/subscriptions/%s/resourceGroups/rg%d/providers/Microsoft.Compute/virtualMachines/vm%d", r.SubscriptionID, rng.IntN(3), rng.IntN(50))
		r.Service = []string{"Virtual Machines", "Storage", ""}[rng.IntN(3)]
		r.ServiceCategory = []string{"Compute", "Storage"}[rng.IntN(2)]
		r.ChargeCategory = []string{"Usage", "Usage", "Purchase", "Tax"}[rng.IntN(4)]
		r.PricingCategory = []string{"Standard", "Dynamic", "Committed", ""}[rng.IntN(4)]
		if rng.IntN(5) == 0 {
			r.CommitmentDiscountID = "/providers/Microsoft.Capacity/reservationOrders/ro1/reservations/r1"
		}
		r.Provider = []string{"Microsoft", "AWS", "Amazon Web Services, Inc.", ""}[rng.IntN(4)]
		r.ProviderID = NormalizeProvider(r.Provider)
		if rng.IntN(2) == 0 {
			r.HostProvider, r.InvoiceIssuer = "Microsoft", "Contoso Reseller"
		}
		r.BillingAccountID = []string{"", "1234567890123", "/providers/Microsoft.Billing/billingAccounts/8611537"}[rng.IntN(3)]
		r.SubAccountType = []string{"", "Subscription"}[rng.IntN(2)]
		r.Region = []string{"", "westeurope", "us-east-1"}[rng.IntN(3)]
		r.Unit = []string{"", "Hours", "GB"}[rng.IntN(3)]
		r.Quantity = []string{"", "1", "0.50", "-2.25", "1e+21", "007", "-0", fmt.Sprint(rng.IntN(100000))}[rng.IntN(8)]
		r.Tags = []string{"", `{"env":"prod"}`, `{" org":"x","ms:Department":"1"}`}[rng.IntN(3)]
		r.Publisher = []string{"Microsoft", "Contoso Marketplace"}[rng.IntN(2)]
		r.Currency = []string{"USD", "EUR"}[rng.IntN(2)]
		r.Cost = money.Nanos(rng.Int64N(1_000_000_000_000) - 100_000_000_000)
		r.CostRaw = r.Cost.String()
		if rng.IntN(3) == 0 {
			r.CostRaw += "00" // trailing zeros: kept as written
		}
		for k := range numAmounts {
			switch rng.IntN(3) {
			case 1:
				r.setAmount(k, Some(r.Cost))
			case 2:
				r.setAmount(k, Some(money.Nanos(rng.Int64N(1_000_000_000_000))))
			}
		}
	}
	return recs
}

func TestSegmentRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		recs := randomRecords(rng, 1+rng.IntN(3000))
		b := BatchOf(recs)
		order := make([]int32, b.Len())
		for i := range order {
			order[i] = int32(i)
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		got, err := decodeSegment(encodeSegment(b, order, nil))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if got.Len() != len(recs) {
			t.Fatalf("seed %d: decoded %d records, want %d", seed, got.Len(), len(recs))
		}
		for j, i := range order {
			var r Record
			got.Record(j, &r)
			if !reflect.DeepEqual(r, recs[i]) {
				t.Fatalf("seed %d: record %d decoded as %+v, want %+v", seed, j, r, recs[i])
			}
			if got.Digest(j) != KeyDigest(recs[i].Key) {
				t.Fatalf("seed %d: record %d has another digest than its key", seed, j)
			}
		}
	}
}

// TestSegmentIsCompact guards the layout's point: a day of rows sorted by subscription and
// resource takes a small fraction of its CSV.
func TestSegmentIsCompact(t *testing.T) {
	f, err := os.Open("testdata/focus-azure-1.0.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []Record
	if err := readAll(t.Context(), f, "focus.csv", ReadOptions{}, func(r *Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	var big []Record
	for k := 0; k < 200; k++ {
		for _, r := range recs {
			r.Key = fmt.Sprintf("%016x%016x", k, len(big))
			big = append(big, r)
		}
	}
	b := BatchOf(big)
	order := make([]int32, b.Len())
	for i := range order {
		order[i] = int32(i)
	}
	size := len(encodeSegment(b, order, nil))
	if per := size / len(big); per > 40 {
		t.Fatalf("a segment takes %d bytes per record, want at most 40", per)
	}
}

func TestDecodeSegmentRejectsDamage(t *testing.T) {
	recs := randomRecords(rand.New(rand.NewPCG(3, 4)), 200)
	b := BatchOf(recs)
	order := make([]int32, b.Len())
	for i := range order {
		order[i] = int32(i)
	}
	data := encodeSegment(b, order, nil)
	for _, cut := range []int{0, 3, 4, 10, len(data) / 2, len(data) - 1} {
		if _, err := decodeSegment(data[:cut]); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("a segment cut at %d of %d bytes decoded (err %v)", cut, len(data), err)
		}
	}
	if _, err := decodeSegment(append(append([]byte(nil), data...), 0)); err == nil {
		t.Fatal("a segment with a trailing byte decoded")
	}
}

// TestDecodeSegmentChecksDamage: any byte of a version 2 segment changed is a checksum
// error, never other records.
func TestDecodeSegmentChecksDamage(t *testing.T) {
	data := encodeSegment(BatchOf(randomRecords(rand.New(rand.NewPCG(5, 6)), 50)), identity(50), nil)
	for i := range data {
		bad := slices.Clone(data)
		bad[i] ^= 0x20
		if _, err := decodeSegment(bad); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("byte %d changed: decoded (err %v)", i, err)
		}
	}
}

// section is one section of a version 2 segment.
type section struct {
	id    int
	flags byte
	body  []byte
}

// sections splits a version 2 segment into its record count and sections.
func sections(t *testing.T, data []byte) (int, []section) {
	t.Helper()
	r := varint.NewReader(data[len(segMagicV2):len(data)-4], errCorrupt)
	n := int(r.Uvarint("n"))
	var out []section
	for k := int(r.Uvarint("count")); k > 0; k-- {
		id, flags := int(r.Uvarint("id")), r.Byte("flags")
		out = append(out, section{id, flags, r.Bytes(int(r.Uvarint("length")), "body")})
	}
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	return n, out
}

// assemble is the version 2 segment of n records with these sections.
func assemble(n int, secs []section) []byte {
	out := binary.AppendUvarint([]byte(segMagicV2), uint64(n))
	out = binary.AppendUvarint(out, uint64(len(secs)))
	for _, s := range secs {
		out = binary.AppendUvarint(out, uint64(s.id))
		out = append(out, s.flags)
		out = binary.AppendUvarint(out, uint64(len(s.body)))
		out = append(out, s.body...)
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

func identity(n int) []int32 {
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	return order
}

// TestSegmentSchemaEvolution: a section this build does not know is skipped unless it is
// flagged critical (then the segment is refused, naming it), and a column missing from a
// segment reads as its default: the story that lets a later version add columns without
// rewriting stored segments, and this one read segments written before a column existed.
func TestSegmentSchemaEvolution(t *testing.T) {
	recs := randomRecords(rand.New(rand.NewPCG(7, 8)), 300)
	data := encodeSegment(BatchOf(recs), identity(len(recs)), nil)
	n, secs := sections(t, data)

	unknown := append(slices.Clone(secs), section{id: 200, body: []byte("a column of a later version")})
	b, err := decodeSegment(assemble(n, unknown))
	if err != nil || !reflect.DeepEqual(b.Records(), recs) {
		t.Fatalf("an unknown optional section changed the records (%v)", err)
	}
	unknown[len(unknown)-1].flags = flagCritical
	if _, err := decodeSegment(assemble(n, unknown)); err == nil || !strings.Contains(err.Error(), "section 200") || !strings.Contains(err.Error(), "upgrade partnerlink") {
		t.Fatalf("an unknown critical section: %v", err)
	}

	var without []section
	for _, s := range secs {
		if s.id != secString0+ColRegion && s.id != secAmount0+AmountList && s.id != secQuantity {
			without = append(without, s)
		}
	}
	b, err = decodeSegment(assemble(n, without))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range b.Records() {
		want := recs[i]
		want.Region, want.ListCost, want.Quantity = "", Amount{}, ""
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("record %d without its region, list cost and quantity columns: %+v, want %+v", i, r, want)
		}
	}

	for _, id := range []int{secDict, secKeys, secTimes, secCost} {
		var missing []section
		for _, s := range secs {
			if s.id != id {
				missing = append(missing, s)
			}
		}
		if _, err := decodeSegment(assemble(n, missing)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("required section %d is missing", id)) {
			t.Fatalf("without section %d: %v", id, err)
		}
	}
	if _, err := decodeSegment(assemble(n, append(slices.Clone(secs), secs[0]))); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("a repeated section: %v", err)
	}
}

// FuzzDecodeSegment: whatever the bytes, decoding returns a batch or an error, never panics,
// and a batch it returns can be read and re-encoded to the same records. Each input is also
// tried with a correct checksum, so that the fuzzer reaches the sections.
func FuzzDecodeSegment(f *testing.F) {
	for seed := uint64(1); seed <= 3; seed++ {
		recs := randomRecords(rand.New(rand.NewPCG(seed, 1)), int(seed)*7)
		b := BatchOf(recs)
		f.Add(encodeSegment(b, identity(b.Len()), nil))
		f.Add(encodeV1(b, identity(b.Len()), nil))
	}
	f.Add([]byte(segMagicV2))
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeAndReencode(t, data)
		if len(data) >= 8 && string(data[:4]) == segMagicV2 {
			fixed := slices.Clone(data)
			binary.LittleEndian.PutUint32(fixed[len(fixed)-4:], crc32.Checksum(fixed[:len(fixed)-4], castagnoli))
			decodeAndReencode(t, fixed)
		}
	})
}

func decodeAndReencode(t *testing.T, data []byte) {
	b, err := decodeSegment(data)
	if err != nil {
		return
	}
	recs := b.Records()
	again, err := decodeSegment(encodeSegment(b, identity(len(recs)), nil))
	if err != nil {
		t.Fatalf("re-encoded segment does not decode: %v", err)
	}
	if !reflect.DeepEqual(again.Records(), recs) {
		t.Fatal("re-encoded segment holds other records")
	}
}

// TestKeySetAgreesWithMap: the de-duplication set finds exactly the repeats a map finds, across
// its growth, for keys that share a digest or a start, or the bytes its tags are made of.
func TestKeySetAgreesWithMap(t *testing.T) {
	type key struct {
		d [16]byte
		s int64
	}
	rng := rand.New(rand.NewPCG(5, 5))
	ks := newKeySet(3)
	seen := map[key]bool{}
	var keys []key
	for i := 0; i < 50000; i++ {
		var k key
		switch {
		case len(keys) > 0 && rng.IntN(4) == 0:
			k = keys[rng.IntN(len(keys))] // a repeat
		case len(keys) > 0 && rng.IntN(3) == 0:
			k = keys[rng.IntN(len(keys))]
			k.s += int64(1 + rng.IntN(3)) // the same digest at another start
		case len(keys) > 0 && rng.IntN(2) == 0:
			k = keys[rng.IntN(len(keys))]
			k.d[15] ^= byte(1 + rng.IntN(255)) // the same home slot and tag, another digest
		default:
			for j := range k.d {
				k.d[j] = byte(rng.IntN(4)) // few distinct bytes: tags collide often
			}
			k.s = int64(rng.IntN(8))
		}
		keys = append(keys, k)
		if got, want := ks.add(k.d, k.s), !seen[k]; got != want {
			t.Fatalf("key %d %x@%d: add said new=%v, want %v", i, k.d, k.s, got, want)
		}
		seen[k] = true
	}
}

// TestOrderDayEqualsComparison: the counting sorts order a day's rows exactly as a comparison
// by subscription name, resource index, start and file order does, whatever the dictionary's
// order of names (its strings are distinct, as an interned dictionary's are) and whether a
// resource has rows in several subscriptions.
func TestOrderDayEqualsComparison(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	sc := &segScratch{}
	for round := 0; round < 200; round++ {
		dict := make([]string, 1+rng.IntN(300))
		for i, k := range rng.Perm(len(dict)) {
			dict[i] = fmt.Sprintf("s%03d", k) // names in no particular order
		}
		rows := make([]segRow, rng.IntN(2000))
		for i := range rows {
			rows[i] = segRow{sub: uint32(rng.IntN(min(len(dict), 1+rng.IntN(20)))), res: uint32(rng.IntN(len(dict))),
				start: int64(rng.IntN(1 + rng.IntN(30)))}
		}
		var keep []int32
		for i := range rows {
			if rng.IntN(5) > 0 {
				keep = append(keep, int32(i))
			}
		}
		want := slices.Clone(keep)
		slices.SortStableFunc(want, func(x, y int32) int {
			a, b := &rows[x], &rows[y]
			if c := strings.Compare(dict[a.sub], dict[b.sub]); c != 0 {
				return c
			}
			if a.res != b.res {
				return int(a.res) - int(b.res)
			}
			return int(a.start - b.start)
		})
		for _, big := range []bool{false, true} {
			got, d := slices.Clone(keep), dict
			if big { // the comparison path: a dictionary far larger than the day
				d = append(slices.Clone(dict), make([]string, 4*len(keep)+4096)...)
			}
			sc.orderDay(rows, got, d)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d (large dictionary %v): got %v, want %v", round, big, got, want)
			}
		}
		for _, r := range sc.rank {
			if r != 0 {
				t.Fatalf("round %d: a rank was left set", round)
			}
		}
	}
}

// BenchmarkBuildSegments: pass 2's work on one day of the usage benchmark's shape (333,333
// rows of 4,000 subscriptions and 200,000 resources, in no order): de-duplicate, order, gather
// and encode.
func BenchmarkBuildSegments(b *testing.B) {
	const n, subs, resources = 333333, 4000, 200000
	rng := rand.New(rand.NewPCG(9, 9))
	dict := []string{"", "{\"env\":\"prod\"}", "Microsoft", "USD"}
	for s := 0; s < subs; s++ {
		dict = append(dict, fmt.Sprintf("%08x-0000-4000-8000-%012x", s, s))
	}
	for r := 0; r < resources; r++ {
		s := r * 7919 % subs
		dict = append(dict, fmt.Sprintf("/subscriptions/%08x-0000-4000-8000-%012x/resourcegroups/rg%d/providers/microsoft.compute/virtualmachines/vm%d", s, s, r%20, r))
	}
	shapes := make([]shape, 64)
	for k := range shapes {
		for c := range shapes[k] {
			shapes[k][c] = uint32(rng.IntN(4))
		}
	}
	day := int64(20000) * dayNanos
	sc := &segScratch{}
	for i := 0; i < n; i++ {
		var row segRow
		for j := range row.digest {
			row.digest[j] = byte(rng.IntN(256))
		}
		r := rng.IntN(resources)
		row.start = day + int64(rng.IntN(24))*int64(time.Hour)
		row.end = row.start + int64(time.Hour)
		row.cost = money.Nanos(rng.Int64N(100e9))
		row.sub, row.res, row.tag = uint32(4+r*7919%subs), uint32(4+subs+r), 1
		row.shape = uint32(rng.IntN(len(shapes)))
		sc.rawText = fmt.Appendf(sc.rawText, "%d.%06d", rng.IntN(100), rng.IntN(1000000))
		sc.rawEnd = append(sc.rawEnd, uint32(len(sc.rawText)))
		row.raw = int32(len(sc.rawEnd))
		row.amounts, row.amountKinds = int32(len(sc.extra)), 1|2<<2
		sc.extra = append(sc.extra, money.Nanos(rng.Int64N(100e9)))
		sc.rows = append(sc.rows, row)
	}
	b.ResetTimer()
	for range b.N {
		segs, added := buildSegments(sc, dict, shapes, day, newKeySet(n), "import", "cost")
		if added != n || len(segs) != (n+segmentRows-1)/segmentRows {
			b.Fatalf("%d rows in %d segments", added, len(segs))
		}
	}
}
