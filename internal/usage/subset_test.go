package usage

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// wantOf is the subscription test of StreamLeanSubscriptions for the lower-case IDs subs.
func wantOf(subs map[string]bool) func(string) bool {
	return func(s string) bool { return subs[strings.ToLower(strings.TrimSpace(s))] }
}

// leanRows is what a lean batch holds, row by row, of the rows whose subscription want accepts.
func leanRows(b *Batch, want func(string) bool) []leanView {
	var out []leanView
	for i := 0; i < b.Len(); i++ {
		if want(b.S(ColSubscription, i)) {
			out = append(out, leanOf(b, i))
		}
	}
	return out
}

// decodeV2SubsInto decodes the rows of the wanted subscriptions exactly as the lean decoding of
// the whole segment reads them, in the segment's order, whether the rows are sorted by
// subscription (as imports store them) or not, whatever the IDs' case.
func TestDecodeV2SubsEqualsLeanDecodeCut(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		recs := randomRecords(rng, 1+rng.IntN(3000))
		for i := range recs {
			if rng.IntN(7) == 0 {
				recs[i].SubscriptionID = strings.ToUpper(recs[i].SubscriptionID)
			}
			if rng.IntN(50) == 0 {
				recs[i].SubscriptionID = ""
			}
		}
		b := BatchOf(recs)
		order := make([]int32, b.Len())
		for i := range order {
			order[i] = int32(i)
		}
		if seed%3 != 0 {
			slices.SortStableFunc(order, func(x, y int32) int { return strings.Compare(recs[x].SubscriptionID, recs[y].SubscriptionID) })
		} else {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		data := encodeSegment(b, order, nil)
		whole, err := decodeV2(data, true)
		if err != nil {
			t.Fatal(err)
		}
		// Subsets: none, one, some, every subscription (and "" for the records without one).
		all := map[string]bool{}
		for _, r := range recs {
			all[strings.ToLower(r.SubscriptionID)] = true
		}
		ids := make([]string, 0, len(all))
		for s := range all {
			ids = append(ids, s)
		}
		slices.Sort(ids)
		subsets := []map[string]bool{{}, {ids[rng.IntN(len(ids))]: true}, all, {"not-a-subscription": true}}
		some := map[string]bool{}
		for _, s := range ids {
			if rng.IntN(2) == 0 {
				some[s] = true
			}
		}
		subsets = append(subsets, some)
		for k, subs := range subsets {
			want := wantOf(subs)
			got, err := decodeV2SubsInto(data, want, nil, nil)
			if err != nil {
				t.Fatalf("seed %d, subset %d: %v", seed, k, err)
			}
			// Of some columns only: those columns read alike, the others are not read.
			var mask [NumStringCols]bool
			for c := range mask {
				mask[c] = rng.IntN(3) == 0
			}
			part, err := decodeV2SubsInto(data, want, &mask, nil)
			if err != nil {
				t.Fatalf("seed %d, subset %d, columns %v: %v", seed, k, mask, err)
			}
			if exp := projected(leanRows(whole, want), &mask); !slices.Equal(projectedBatch(part, &mask), exp) {
				t.Fatalf("seed %d, subset %d, columns %v: decoded\n%+v\nwant\n%+v", seed, k, mask, projectedBatch(part, &mask), exp)
			}
			exp := leanRows(whole, want)
			var have []leanView
			for i := 0; i < got.Len(); i++ {
				have = append(have, leanOf(got, i))
				if got.Key(i) != "" {
					t.Fatalf("seed %d, subset %d: row %d has key %q, want none", seed, k, i, got.Key(i))
				}
			}
			if !slices.Equal(have, exp) {
				t.Fatalf("seed %d, subset %d (%d subscriptions): decoded %d rows, want %d\n%+v\nwant\n%+v", seed, k, len(subs), len(have), len(exp), have, exp)
			}
		}
	}
}

// A damaged segment is refused by the partial decoding too, wherever the damage is.
func TestDecodeV2SubsChecksDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	recs := randomRecords(rng, 500)
	b := BatchOf(recs)
	order := make([]int32, b.Len())
	for i := range order {
		order[i] = int32(i)
	}
	data := encodeSegment(b, order, nil)
	for _, at := range []int{5, len(data) / 2, len(data) - 5} {
		bad := slices.Clone(data)
		bad[at] ^= 0x40
		if _, err := decodeV2SubsInto(bad, func(string) bool { return true }, nil, nil); err == nil {
			t.Fatalf("a segment damaged at byte %d decoded", at)
		}
	}
}

// projected is views with the columns mask does not mark emptied.
func projected(vs []leanView, mask *[NumStringCols]bool) []leanView {
	out := slices.Clone(vs)
	for i := range out {
		for c := range out[i].Strs {
			if !mask[c] {
				out[i].Strs[c] = ""
			}
		}
	}
	return out
}

// projectedBatch is the rows of a batch of the columns mask marks (the others must be nil).
func projectedBatch(b *Batch, mask *[NumStringCols]bool) []leanView {
	var out []leanView
	for i := 0; i < b.Len(); i++ {
		v := leanView{Start: b.Start[i], End: b.End[i], Cost: int64(b.Cost[i])}
		for c := range v.Strs {
			if mask[c] {
				v.Strs[c] = b.S(c, i)
			} else if b.Str[c] != nil && !isV1(b) {
				panic(fmt.Sprintf("column %d was read", c))
			}
		}
		out = append(out, v)
	}
	return out
}

// isV1 tells a batch of a version 1 segment (every column read) by its keys, which version
// 1 keeps.
func isV1(b *Batch) bool { return b.Len() > 0 && b.Key(0) != "" }

func TestMayHold(t *testing.T) {
	rs := []string{"0000000b-aa"}
	for _, c := range []struct {
		lo, hi string
		want   bool
	}{
		{"0000000a", "0000000a-ff", false},
		{"0000000c", "0000000f", false},
		{"0000000b-ab", "0000000b-z", false},
		{"0000000a", "0000000c", true},
		{"0000000B-AA", "0000000B-AA", true}, // upper-case spelling
		{"0000000b-aA", "0000000b-aA", true}, // mixed
		{"0000000b-aa", "0000000b-aa", true},
		{"0000000b-aa ", "0000000b-aa ", true}, // trailing white space
		{" 0000000b-aa", "0000000f", true},     // leading white space: always read
		{"0000000c", "\u00e9", true},           // not ASCII: always read
	} {
		if got := mayHold(rs, c.lo, c.hi); got != c.want {
			t.Errorf("mayHold([%q, %q]) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
}

// variantIn agrees with trying every spelling, on short strings of letters of both cases and
// of characters that sort between and around them.
func TestVariantInBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	alpha := "0-AaBb_z"
	str := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	for k := 0; k < 200000; k++ {
		w := strings.ToLower(str(rng.IntN(4)))
		lo, hi := str(rng.IntN(5)), str(rng.IntN(5))
		if lo > hi {
			lo, hi = hi, lo
		}
		want := false
		var try func(prefix string, i int)
		try = func(prefix string, i int) {
			if i == len(w) {
				want = want || (lo <= prefix && prefix <= hi)
				return
			}
			try(prefix+strings.ToLower(w[i:i+1]), i+1)
			try(prefix+strings.ToUpper(w[i:i+1]), i+1)
		}
		try("", 0)
		if got := variantIn(w, lo, hi); got != want {
			t.Fatalf("variantIn(%q, %q, %q) = %v, want %v", w, lo, hi, got, want)
		}
	}
}

// StreamLeanSubscriptions reads of the stored golden data (both segment versions) exactly
// the records StreamLean reads of the wanted subscriptions.
func TestStreamLeanSubscriptionsGolden(t *testing.T) {
	forStoredGolden(t, func(version int, db *store.DB, w timeline.Window) {
		checkSubsets(t, fmt.Sprintf("version %d, window %s", version, w), db, w)
	})
}

// checkSubsets compares StreamLeanSubscriptions with StreamLean cut, for every single
// subscription stored, none, all and a few that are not stored.
func checkSubsets(t *testing.T, what string, db *store.DB, w timeline.Window) {
	t.Helper()
	whole := collect(t, StreamLean, db, w)
	all := map[string]bool{}
	for _, v := range whole {
		all[strings.ToLower(v.Strs[ColSubscription])] = true
	}
	if len(all) == 0 {
		t.Fatalf("%s: no subscription stored", what)
	}
	subsets := []map[string]bool{nil, {}, all, {"not-stored": true}}
	for s := range all {
		subsets = append(subsets, map[string]bool{s: true})
	}
	for _, subs := range subsets {
		read := func(ctx context.Context, q store.Querier, w timeline.Window, fn func(*Batch) error) error {
			return StreamLeanSubscriptions(ctx, q, w, subs, fn)
		}
		got := collect(t, read, db, w)
		var exp []leanView
		for _, v := range whole {
			if subs[strings.ToLower(v.Strs[ColSubscription])] {
				exp = append(exp, v)
			}
		}
		if !slices.Equal(got, exp) {
			t.Fatalf("%s, subscriptions %v: read %d records, want %d", what, subs, len(got), len(exp))
		}
		// The audit's columns only.
		mask := [NumStringCols]bool{ColSubscription: true, ColResource: true, ColCurrency: true}
		var part []leanView
		err := StreamLeanColumns(context.Background(), db, w, subs, []int{ColSubscription, ColResource, ColCurrency}, func(b *Batch) error {
			part = append(part, projectedBatch(b, &mask)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if subs == nil {
			exp = whole
		}
		sortViews(part)
		want := projected(exp, &mask)
		sortViews(want)
		if !slices.Equal(part, want) {
			t.Fatalf("%s, subscriptions %v, three columns: read %d records, want %d", what, subs, len(part), len(want))
		}
	}
}

func sortViews(vs []leanView) {
	slices.SortFunc(vs, func(a, b leanView) int {
		if a.Start != b.Start {
			return int(a.Start - b.Start)
		}
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
}

// On an import of many subscriptions over days that each hold some of them (so that a
// restricted read skips whole segments, and cuts others), on SQLite and PostgreSQL.
func TestStreamLeanSubscriptionsImported(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var b strings.Builder
	b.WriteString("ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,SubAccountId,ChargeCategory,ResourceId,x_RecordId\n")
	for i := 0; i < 6000; i++ {
		day := 1 + rng.IntN(6)
		sub := day*10 + rng.IntN(12) // days share some subscriptions
		id := fmt.Sprintf("%08x-0000-4000-8000-00000000abcd", sub)
		if sub%5 == 0 {
			id = strings.ToUpper(id)
		}
		fmt.Fprintf(&b, "2026-02-%02dT00:00:00Z,2026-02-%02dT01:00:00Z,%d.%03d,USD,/subscriptions/%s,Usage,/subscriptions/%s/resourceGroups/rg%d,rec-%07d\n",
			day, day, rng.IntN(1000), rng.IntN(1000), id, id, rng.IntN(30), i)
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if _, err := importString(t, db, "subs.csv", b.String(), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		feb3, _ := timeline.ParseDateOrTime("2026-02-03")
		feb5, _ := timeline.ParseDateOrTime("2026-02-05T00:30:00Z")
		for _, w := range []timeline.Window{timeline.Always(), {From: feb3, To: feb5}} {
			checkSubsets(t, "window "+w.String(), db, w)
			// A sharded run's read: about a third of the sub-accounts, by a hash of their ID.
			third := func(sub string) bool { return crc32.ChecksumIEEE([]byte(sub))%3 == 0 }
			checkAttributionRead(t, "a third, window "+w.String(), db, w, third)
		}
	})
}

// Decoding into memory a released batch left behind (larger and smaller segments, other
// dictionaries, other subsets) reads every segment as decoding into new memory does; a batch
// still held is not written to.
func TestDecodeIntoReusedMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 11))
	pool := make(chan *leanBufs, 1)
	lb := &leanBufs{pool: pool}
	var mask [NumStringCols]bool
	mask[ColSubscription], mask[ColResource], mask[ColCurrency] = true, true, true
	var held *Batch
	var heldExp []leanView
	for round := 0; round < 40; round++ {
		recs := randomRecords(rng, 1+rng.IntN([]int{20, 3000}[round%2]))
		b := BatchOf(recs)
		order := identity(b.Len())
		slices.SortStableFunc(order, func(x, y int32) int { return strings.Compare(recs[x].SubscriptionID, recs[y].SubscriptionID) })
		data := encodeSegment(b, order, nil)
		subs := map[string]bool{}
		for _, r := range recs {
			if rng.IntN(3) > 0 {
				subs[strings.ToLower(r.SubscriptionID)] = true
			}
		}
		want := wantOf(subs)
		fresh, err := decodeV2SubsInto(data, want, &mask, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeV2SubsInto(data, want, &mask, lb)
		if err != nil {
			t.Fatal(err)
		}
		exp := projectedBatch(fresh, &mask)
		if have := projectedBatch(got, &mask); !slices.Equal(have, exp) {
			t.Fatalf("round %d: decoded into reused memory\n%+v\nwant\n%+v", round, have, exp)
		}
		if got.Len() > 0 && got.bufs != lb {
			t.Fatalf("round %d: the batch does not own the memory it was decoded into", round)
		}
		if held != nil {
			if have := projectedBatch(held, &mask); !slices.Equal(have, heldExp) {
				t.Fatalf("round %d: the batch held since the round before changed", round)
			}
			held = nil
		}
		if round%5 == 4 { // held, not released: the next segment gets memory of its own
			held, heldExp = got, exp
			lb = &leanBufs{pool: pool}
			continue
		}
		got.Release()
		lb = <-pool
	}
}

// FuzzDecodeV2Subs: whatever the bytes (each input also tried with a correct checksum, so that
// the fuzzer reaches the sections), decoding part of a segment into reused memory returns an
// error or exactly the rows and columns the whole lean decoding gives, and never panics.
func FuzzDecodeV2Subs(f *testing.F) {
	for seed := uint64(1); seed <= 3; seed++ {
		recs := randomRecords(rand.New(rand.NewPCG(seed, 2)), int(seed)*9)
		b := BatchOf(recs)
		f.Add(encodeSegment(b, identity(b.Len()), nil), uint8(seed))
	}
	lb := &leanBufs{}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		try := func(data []byte) {
			whole, err := decodeV2(data, true)
			if err != nil {
				// Damaged: decoding part of it must fail or not, but never panic.
				var mask [NumStringCols]bool
				mask[ColSubscription], mask[ColResource] = true, true
				decodeV2SubsInto(data, func(s string) bool { return len(s)%2 == int(pick)%2 }, &mask, lb)
				return
			}
			subs := map[string]bool{}
			for i := 0; i < whole.Len(); i++ {
				if s := strings.ToLower(whole.S(ColSubscription, i)); (int(pick)+i)%3 != 0 {
					subs[s] = true
				}
			}
			var mask [NumStringCols]bool
			for c := range mask {
				mask[c] = (int(pick)>>(c%8))&1 == 1 || c == ColSubscription
			}
			want := wantOf(subs)
			got, err := decodeV2SubsInto(data, want, &mask, lb)
			if err != nil {
				t.Fatalf("the whole segment decodes, part of it does not: %v", err)
			}
			if exp := projected(leanRows(whole, want), &mask); !slices.Equal(projectedBatch(got, &mask), exp) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", projectedBatch(got, &mask), exp)
			}
		}
		try(data)
		if len(data) >= 8 && string(data[:4]) == segMagicV2 {
			fixed := slices.Clone(data)
			binary.LittleEndian.PutUint32(fixed[len(fixed)-4:], crc32.Checksum(fixed[:len(fixed)-4], castagnoli))
			try(fixed)
		}
	})
}
