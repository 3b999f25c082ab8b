package scope

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Lower's word-at-a-time check agrees with strings.ToLower(strings.TrimSpace(s)) on strings of
// ASCII letters on either side of the upper-case range, digits, punctuation and bytes that are
// not ASCII, at every length and alignment.
func TestLowerEqualsToLower(t *testing.T) {
	alphabet := []byte("@AZ[`az{09-/ \t\u212a\u00c9\xff\x7f")
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 40).Draw(t, "bytes")
		s := string(b)
		if got, want := Lower(s), strings.ToLower(strings.TrimSpace(s)); got != want {
			t.Fatalf("lower(%q) = %q, want %q", s, got, want)
		}
	})
	for _, s := range []string{"", "a", "0123456789abcdef-0123-4567-89ab-cdef01234567", "0123456789ABCDEF", "abcdefgh@", "abcdefg[", " /Subscriptions/X "} {
		if got, want := Lower(s), strings.ToLower(strings.TrimSpace(s)); got != want {
			t.Errorf("lower(%q) = %q, want %q", s, got, want)
		}
	}
}

// ASCII's word-at-a-time check agrees with a byte loop: ASCII strings of every length, with
// at most one byte that is not ASCII, anywhere in a word.
func TestASCIIEqualsByteLoop(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.SampledFrom([]byte("a/Z0 \x7f")), 0, 40).Draw(t, "ascii")
		if len(b) > 0 && rapid.Bool().Draw(t, "one not ASCII") {
			b[rapid.IntRange(0, len(b)-1).Draw(t, "at")] = rapid.SampledFrom([]byte{0x80, 0xc3, 0xff}).Draw(t, "byte")
		}
		s := string(b)
		want := true
		for i := 0; i < len(s); i++ {
			want = want && s[i] < 0x80
		}
		if got := ASCII(s); got != want {
			t.Fatalf("ASCII(%q) = %v, want %v", s, got, want)
		}
	})
}
