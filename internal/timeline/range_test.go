package timeline

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRefusesInstantsOutsideInt64Nanoseconds(t *testing.T) {
	for _, s := range []string{"0001-01-01", "1677-12-31", "1677-12-31T23:59:59.999999999Z", "2262-01-01T00:00:00.000000001Z",
		"2262-04-12", "9999-12-31", "9999-12-31T23:59:59Z", "1000-06-01T00:00:00+05:00"} {
		_, err := ParseDateOrTime(s)
		var re *RangeError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), s) || !strings.Contains(err.Error(), "1678-01-01 to 2262-01-01") {
			t.Errorf("ParseDateOrTime(%q) = %v; want a range error naming the value and the range", s, err)
		}
		if strings.Contains(s, "T") {
			if _, err := Parse(s); !errors.As(err, &re) {
				t.Errorf("Parse(%q) = %v; want a range error", s, err)
			}
		}
	}
	for s, want := range map[string]time.Time{"1678-01-01": Earliest, "2262-01-01": Latest, "2026-03-01": time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)} {
		got, err := ParseDateOrTime(s)
		if err != nil || got != want.UnixNano() {
			t.Errorf("ParseDateOrTime(%q) = %d, %v; want %d", s, got, err, want.UnixNano())
		}
		// The round trip is exact inside the range (outside, int64 nanoseconds wrap).
		if Time(got) != want {
			t.Errorf("%s does not survive the round trip: %s", s, Time(got))
		}
	}
	if _, err := FromTime(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("FromTime(0001-01-01) accepted")
	}
}

// An accepted date or time converts exactly: back to the same instant, never wrapped.
func FuzzParseDateOrTime(f *testing.F) {
	for _, s := range []string{"2026-03-01", "1678-01-01", "2262-01-01", "9999-12-31", "0001-01-01T00:00:00Z", "2026-03-01T10:00:00.5+02:00", "2262-04-11T23:47:16.854775807Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := ParseDateOrTime(s)
		if err != nil {
			return
		}
		want, perr := time.Parse(time.DateOnly, s)
		if perr != nil {
			want, perr = time.Parse(time.RFC3339Nano, s)
		}
		if perr != nil || !Time(ns).Equal(want) {
			t.Fatalf("ParseDateOrTime(%q) = %d (%s); the text says %s", s, ns, Time(ns), want)
		}
	})
}
