package usage

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTimestampIsTimeFormat: the Parquet reader's timestamp text (whole seconds by its
// own formatter, the rest by time.Time) is what time.Time writes, for any instant from 1970 to
// 9999 in milliseconds and microseconds, and in nanoseconds as far as int64 holds them.
func TestAppendTimestampIsTimeFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range 200000 {
		secs := rng.Int64N(253402300800)
		if i < 3 {
			secs = []int64{0, 951782400, 253402300799}[i] // the epoch, 2000-02-29, the last second of 9999
		}
		if got, want := string(appendUTCSeconds(nil, secs)), time.Unix(secs, 0).UTC().Format(time.RFC3339); got != want {
			t.Fatalf("appendUTCSeconds(%d) = %s, want %s", secs, got, want)
		}
		frac := rng.Int64N(2) // whole seconds or not
		for _, c := range []struct {
			unit time.Duration
			v    int64
			t    time.Time
		}{
			{time.Millisecond, secs*1e3 + frac, time.UnixMilli(secs*1e3 + frac)},
			{time.Microsecond, secs*1e6 + frac, time.UnixMicro(secs*1e6 + frac)},
			{time.Nanosecond, secs%9e9*1e9 + frac, time.Unix(0, secs%9e9*1e9+frac)},
		} {
			if got, want := string(appendTimestamp(nil, c.v, c.unit)), c.t.UTC().Format(time.RFC3339Nano); got != want {
				t.Fatalf("appendTimestamp(%d, %v) = %s, want %s", c.v, c.unit, got, want)
			}
		}
	}
}
