package money

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Nanos
	}{
		{"0", 0},
		{"1", 1_000_000_000},
		{"-1.5", -1_500_000_000},
		{"+0.000000001", 1},
		{".5", 500_000_000},
		{"5.", 5_000_000_000},
		{"0.0000000005", 0}, // half to even: 0
		{"0.0000000015", 2}, // half to even: 2
		{"1" + strings.Repeat("0", 500) + "e-491", 1_000_000_000_000_000_000}, // many digits, large negative exponent
		{"1e-400", 0},
		{"5e-10", 0}, // exactly half a nano-unit: to even
		{"6e-10", 1},
		{"0.0000000025", 2}, // half to even: 2
		{"0.00000000250001", 3},
		{"-0.0000000025", -2},
		{"3.5E-06", 3500},
		{"1e3", 1_000_000_000_000},
		{"1.23456789012345678901234567890", 1_234_567_890},
		{"9223372036.854775807", 9223372036854775807},
		{"-9223372036.854775808", -9223372036854775808},
		{"1E-500", 0},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1,000.00", "$1", "1.2.3", "1e", "1e+", " 1", "NaN", "9223372036.854775808", "1e30"} {
		if _, err := Parse(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) err = %v; want ErrSyntax", bad, err)
		}
	}
}

func TestString(t *testing.T) {
	cases := map[Nanos]string{0: "0", 1: "0.000000001", -1: "-0.000000001", 1_500_000_000: "1.5",
		-9223372036854775808: "-9223372036.854775808", 42_000_000_000: "42"}
	for n, want := range cases {
		if got := n.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int64(n), got, want)
		}
	}
	if got := FixedString(500_000_000); got != "0.500000000" {
		t.Errorf("FixedString = %q", got)
	}
	if got := FixedString(1_000_000_000); got != "1.000000000" {
		t.Errorf("FixedString = %q", got)
	}
}

func TestMulDivMatchesBig(t *testing.T) {
	cases := [][3]int64{{1, 1, 2}, {3, 1, 2}, {5, 1, 2}, {-5, 1, 2}, {-3, 1, 2}, {10, 2, 3},
		{9223372036854775807, 3, 7}, {1_000_000_000, 8 * 3600, 730 * 3600}, {7, 0, 5}}
	for _, c := range cases {
		want := mulDivBig(Nanos(c[0]), big.NewInt(c[1]), big.NewInt(c[2]))
		if got := MulDiv(Nanos(c[0]), c[1], c[2]); got != want {
			t.Errorf("MulDiv(%d,%d,%d) = %d; want %d", c[0], c[1], c[2], got, want)
		}
	}
	// 1.00 × 15% × 1/3 = 0.05 exactly; rounding twice would also pass, so use a case that differs:
	// 0.000000010 × 0.15 × 1/3 = 0.0000000005 -> 0 (half-even), not round(1.5)=2 then /3.
	if got := MulDiv2(10, 15, 100, 1, 3); got != 0 {
		t.Errorf("MulDiv2 = %d; want 0", got)
	}
	if got := Ratio(1, 3); got != 333_333_333 {
		t.Errorf("Ratio(1,3) = %d", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "1.5", "-3.5E-06", "0.0000000025", "9223372036.854775807", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		// Round trip: the formatted value parses back to the same amount.
		back, err := Parse(n.String())
		if err != nil || back != n {
			t.Fatalf("Parse(%q) = %d; String %q parses to %d, %v", s, n, n.String(), back, err)
		}
	})
}

// TestParsePlainAgrees: the fast path gives what the general one gives, wherever it answers,
// and answers for the usual spellings.
func TestParsePlainAgrees(t *testing.T) {
	for _, s := range []string{"0", "-0", "+0", "00", "1", "-1", "1.", ".5", "-.5", "0.000000001", "12.345678",
		"000000000000000000000000012.5", "999999999.999999999", "-999999999.999999999", "1234567890.5"} {
		agree(t, s)
		if _, ok := parsePlain(s); !ok && s != "1234567890.5" {
			t.Errorf("parsePlain(%q) declined a plain amount", s)
		}
	}
	for _, s := range []string{"", "-", "+", ".", "-.", "1e3", "1.0000000005", "9223372036.854775807",
		"99999999999999999999", "1..2", "1.2.3", " 1", "1 ", "--1", "+-1", "1,5", "0x10"} {
		agree(t, s)
	}
}

func agree(t *testing.T, s string) {
	t.Helper()
	n, ok := parsePlain(s)
	if !ok {
		return
	}
	want, err := parse(s)
	if err != nil || n != want {
		t.Fatalf("parsePlain(%q) = %d; parse gives %d, %v", s, n, want, err)
	}
}

func FuzzParsePlain(f *testing.F) {
	for _, s := range []string{"0", "1.5", "-12.345678", "999999999.999999999", "1234567890.5", ".", "-"} {
		f.Add(s)
	}
	f.Fuzz(agree)
}

func BenchmarkParse(b *testing.B) {
	in := []string{"57.123456", "0.000123", "-3.5", "1234.5", "3.5E-06", "0.0000000025"}
	var sum Nanos
	for b.Loop() {
		for _, s := range in {
			n, err := Parse(s)
			if err != nil {
				b.Fatal(err)
			}
			sum += n
		}
	}
	if sum == 0 {
		b.Fatal("nothing parsed")
	}
}

// FuzzIsText: IsText agrees with comparing Append's text, for any text and amount (the
// amount drawn near the text's own value too, so that equal values are tried often).
func FuzzIsText(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.5", "1.50", "-2.000000001", "01", "9223372036.854775807", "1e3", "+1", ".5", "5.", "-"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, delta int64) {
		for _, n := range []Nanos{Nanos(delta), Nanos(delta % 3)} {
			if v, err := Parse(s); err == nil {
				n = v + Nanos(delta%3)
			}
			var buf [32]byte
			if got, want := n.IsText(s), string(n.Append(buf[:0])) == s; got != want {
				t.Fatalf("Nanos(%d).IsText(%q) = %v, want %v", int64(n), s, got, want)
			}
		}
	})
}
