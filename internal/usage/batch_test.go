package usage

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"
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

// lowerASCII, eight bytes at a time, lowers exactly the bytes 'A' to 'Z', whatever sits next
// to them (the letters' neighbours '@' and '[', their copies with the high bit set, UTF-8).
func TestLowerASCIIAgreesWithBytewise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	edges := []byte{'@', 'A', 'Z', '[', '`', 'a', 'z', '{', 0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xda, 0xdb, 0xff}
	for n := 0; n < 20000; n++ {
		p := make([]byte, rng.IntN(40))
		for i := range p {
			if n%2 == 0 {
				p[i] = byte(rng.IntN(256))
			} else {
				p[i] = edges[rng.IntN(len(edges))]
			}
		}
		want := append([]byte(nil), p...)
		for i, c := range want {
			if 'A' <= c && c <= 'Z' {
				want[i] = c + 'a' - 'A'
			}
		}
		got := append([]byte(nil), p...)
		lowerASCII(got)
		if string(got) != string(want) {
			t.Fatalf("lowerASCII(%q) = %q, want %q", p, got, want)
		}
	}
}
