package usage

import (
	"fmt"
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

// TestParseUTCSecondsIsTimeDate: the fast spelling gives time.Date's UnixNano for every
// year from 0000 to 9999 (wrapping as UnixNano does outside 1678 to 2262), month, day up to
// 28 and time of day; and declines what is not digits.
func TestParseUTCSecondsIsTimeDate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200000 {
		y, mo, d := rng.IntN(10000), 1+rng.IntN(12), 1+rng.IntN(28)
		h, mi, s := rng.IntN(24), rng.IntN(60), rng.IntN(60)
		if i < 10000 {
			y = i // every year
		}
		text := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s)
		got, ok := parseUTCSeconds(text)
		if want := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC).UnixNano(); !ok || got != want {
			t.Fatalf("parseUTCSeconds(%q) = %d, %v; want %d", text, got, ok, want)
		}
	}
	for _, text := range []string{"2026-04-0/T00:00:00Z", "2026-04-01T00:00:0:Z", "2026-13-01T00:00:00Z",
		"2026-04-29T00:00:00Z", "2026-04-01T24:00:00Z", "2026-04-01T00:60:00Z", "2026-04-01T00:00:60Z",
		"2026-00-01T00:00:00Z", "2026-04-00T00:00:00Z", "+026-04-01T00:00:00Z", "2026-04-01 00:00:00Z"} {
		if got, ok := parseUTCSeconds(text); ok {
			t.Errorf("parseUTCSeconds(%q) = %d, want it left to time.Parse", text, got)
		}
	}
}

func BenchmarkParseTime(b *testing.B) {
	in := []string{"2026-04-05T03:00:00Z", "2026-04-17T21:00:00Z", "2026-12-28T00:00:00Z"}
	var sum int64
	for b.Loop() {
		for _, s := range in {
			v, ok := parseTime(s)
			if !ok {
				b.Fatal(s)
			}
			sum += v
		}
	}
	if sum == 0 {
		b.Fatal("nothing parsed")
	}
}
