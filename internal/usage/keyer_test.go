package usage

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestAppendTimeIsAppendInt: the keyer's cache of time texts gives exactly strconv's text,
// for times that share a cache slot (the same hour of different days, 1024 hours apart),
// repeat, are negative or extreme.
func TestAppendTimeIsAppendInt(t *testing.T) {
	k := &keyer{}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	vals := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, base, base + 1, base - 1}
	for range 20000 {
		switch rng.IntN(4) {
		case 0:
			vals = append(vals, base+int64(rng.IntN(2000))*int64(time.Hour))
		case 1:
			vals = append(vals, base+int64(rng.IntN(4))*timeCacheSize*int64(time.Hour)) // one slot
		case 2:
			vals = append(vals, vals[rng.IntN(len(vals))])
		default:
			vals = append(vals, int64(rng.Uint64()))
		}
	}
	for _, v := range vals {
		got := string(k.appendTime([]byte("x"), v))
		if want := "x" + strconv.FormatInt(v, 10); got != want {
			t.Fatalf("appendTime(%d) = %q, want %q", v, got, want)
		}
	}
}
