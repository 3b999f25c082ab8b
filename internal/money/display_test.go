package money

import (
	"math"
	"testing"
)

func TestDisplay(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"0", "0.00"},
		{"226080.402317142", "226,080.40"},
		{"1234567.895", "1,234,567.90"}, // half: to even (89 -> 90)
		{"1234567.885", "1,234,567.88"}, // half: to even (88 stays)
		{"1234567.885000001", "1,234,567.89"},
		{"999.995", "1,000.00"},
		{"-1234.5", "-1,234.50"},
		{"-0.004", "0.00"}, // no "-0.00"
		{"-0.005", "0.00"}, // half to even: 0
		{"-0.015", "-0.02"},
		{"100", "100.00"},
		{"1000", "1,000.00"},
	} {
		n, err := Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Display(); got != c.want {
			t.Errorf("Display(%s) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Nanos(math.MinInt64).Display(); got != "-9,223,372,036.85" {
		t.Errorf("MinInt64: %q", got)
	}
	if got := Nanos(5 * Scale).DisplayIn("EUR"); got != "EUR 5.00" {
		t.Errorf("DisplayIn: %q", got)
	}
	if got := DisplayString("not money"); got != "not money" {
		t.Errorf("DisplayString: %q", got)
	}
}
