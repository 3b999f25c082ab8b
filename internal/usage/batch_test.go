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
