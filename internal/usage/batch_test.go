package usage

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/partnerlink/partnerlink/internal/money"
)

// hexDecode16 takes exactly the 32-digit lower-case hex strings (the row hashes) and decodes
// them as encoding/hex does.
func TestHexDecode16AgreesWithHex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "0123456789abcdefABCDEFgxz /:\x00\xff"
	for n := 0; n < 20000; n++ {
		b := make([]byte, 32)
		for i := range b {
			if n%2 == 0 {
				b[i] = "0123456789abcdef"[rng.IntN(16)]
			} else {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		if n%2 == 0 && n%4 == 2 {
			b[rng.IntN(32)] = alphabet[16+rng.IntN(len(alphabet)-16)] // one digit that is not lower-case hex
		}
		s := string(b)
		var d [16]byte
		ok := hexDecode16(&d, s)
		want, err := hex.DecodeString(s)
		lower := true
		for _, c := range b {
			lower = lower && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f')
		}
		if ok != (err == nil && lower) {
			t.Fatalf("hexDecode16(%q) = %v, encoding/hex: %v", s, ok, err)
		}
		if ok && string(d[:]) != string(want) {
			t.Fatalf("hexDecode16(%q) = %x, want %x", s, d, want)
		}
	}
}

// LeanBatch reads as a builder's batch of the same records does, in every string column, the
// times, costs and keys (every key "", as StreamLean's), and refuses columns of other lengths.
func TestLeanBatchReadsAsBuilt(t *testing.T) {
	recs := []Record{
		{Start: 10, End: 20, Cost: 7, SubscriptionID: "sub-a", ResourceID: "/subscriptions/sub-a", ChargeCategory: CategoryUsage, Currency: "EUR", ProviderID: "microsoft"},
		{Start: 20, End: 40, Cost: -3, SubscriptionID: "sub-b", ResourceID: "/subscriptions/sub-b/resourcegroups/x", ChargeCategory: CategoryUsage, Currency: "USD", ProviderID: "microsoft"},
	}
	built := BatchOf(recs)
	dict := []string{"sub-a", "/subscriptions/sub-a", CategoryUsage, "EUR", "microsoft", "sub-b", "/subscriptions/sub-b/resourcegroups/x", "USD"}
	var cols [NumStringCols][]uint32
	cols[ColSubscription] = []uint32{0, 5}
	cols[ColResource] = []uint32{1, 6}
	cols[ColChargeCategory] = []uint32{2, 2}
	cols[ColCurrency] = []uint32{3, 7}
	cols[ColProviderID] = []uint32{4, 4}
	lean := LeanBatch(dict, []int64{10, 20}, []int64{20, 40}, []money.Nanos{7, -3}, cols)
	if lean.Len() != built.Len() {
		t.Fatalf("LeanBatch has %d records, want %d", lean.Len(), built.Len())
	}
	for i := range recs {
		if lean.Start[i] != built.Start[i] || lean.End[i] != built.End[i] || lean.Cost[i] != built.Cost[i] {
			t.Errorf("record %d: [%d, %d) cost %d, want [%d, %d) cost %d", i, lean.Start[i], lean.End[i], lean.Cost[i], built.Start[i], built.End[i], built.Cost[i])
		}
		for c := 0; c < NumStringCols; c++ {
			if got, want := lean.S(c, i), built.S(c, i); got != want {
				t.Errorf("record %d column %d: %q, want %q", i, c, got, want)
			}
		}
		if k := lean.Key(i); k != "" {
			t.Errorf("record %d: key %q, want \"\"", i, k)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("LeanBatch took a string column shorter than the records")
		}
	}()
	cols[ColCurrency] = []uint32{3}
	LeanBatch(dict, []int64{10, 20}, []int64{20, 40}, []money.Nanos{7, -3}, cols)
}
