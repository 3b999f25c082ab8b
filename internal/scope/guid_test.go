package scope

import (
	"regexp"
	"testing"
)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// TestIsGUIDAgreesWithThePattern changes every byte of a GUID to every other byte value, and
// cuts and lengthens it: IsGUID must say what the 8-4-4-4-12 pattern says.
func TestIsGUIDAgreesWithThePattern(t *testing.T) {
	const g = "0a1B2c3D-4e5F-6789-aBcD-ef0123456789"
	if !IsGUID(g) {
		t.Fatalf("IsGUID(%q) = false", g)
	}
	check := func(s string) {
		if got, want := IsGUID(s), guidPattern.MatchString(s); got != want {
			t.Fatalf("IsGUID(%q) = %v, want %v", s, got, want)
		}
	}
	for i := range len(g) {
		for c := range 256 {
			b := []byte(g)
			b[i] = byte(c)
			check(string(b))
		}
		check(g[:i])
		check(g + g[:i+1])
	}
}

func FuzzIsGUID(f *testing.F) {
	f.Add("0a1b2c3d-4e5f-6789-abcd-ef0123456789")
	f.Add("0a1b2c3d-4e5f-6789-abcd-ef012345678")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsGUID(s), guidPattern.MatchString(s); got != want {
			t.Fatalf("IsGUID(%q) = %v, want %v", s, got, want)
		}
	})
}

func BenchmarkIsGUID(b *testing.B) {
	gs := []string{"0a1b2c3d-4e5f-6789-abcd-ef0123456789", "00000fa3-0000-4000-8000-000000000fa3"}
	n := 0
	for b.Loop() {
		for _, g := range gs {
			if IsGUID(g) {
				n++
			}
		}
	}
	if n == 0 {
		b.Fatal("no GUID recognised")
	}
}
