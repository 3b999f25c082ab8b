package timeline

import (
	"testing"

	"pgregory.net/rapid"
)

func TestWindowBoundaries(t *testing.T) {
	w := Window{10, 20}
	for _, c := range []struct {
		t    int64
		want bool
	}{{9, false}, {10, true}, {19, true}, {20, false}} {
		if got := w.Contains(c.t); got != c.want {
			t.Errorf("%v.Contains(%d) = %v", w, c.t, got)
		}
	}
	if !Since(5).Contains(Max - 1) {
		t.Error("open window must contain the far future")
	}
	if (Window{10, 20}).Overlaps(Window{20, 30}) {
		t.Error("adjacent half-open windows do not overlap")
	}
}

func TestUnionAndIntersect(t *testing.T) {
	s := Union(Window{10, 20}, Window{15, 30}, Window{30, 40}, Window{50, 60}, Window{5, 5})
	want := Set{{10, 40}, {50, 60}}
	if len(s) != len(want) || s[0] != want[0] || s[1] != want[1] {
		t.Fatalf("Union = %v; want %v", s, want)
	}
	if got := s.Clip(Window{0, 55}).Length(); got != 35 {
		t.Errorf("clipped length = %d; want 35", got)
	}
}

// The set operations agree with a brute-force per-instant evaluation.
func TestSetProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		gen := rapid.Custom(func(t *rapid.T) Window {
			a := rapid.Int64Range(0, 60).Draw(t, "a")
			return Window{a, a + rapid.Int64Range(0, 20).Draw(t, "len")}
		})
		as := rapid.SliceOfN(gen, 0, 6).Draw(t, "as")
		bs := rapid.SliceOfN(gen, 0, 6).Draw(t, "bs")
		u, v := Union(as...), Union(bs...)
		in := func(ws []Window, x int64) bool {
			for _, w := range ws {
				if w.Contains(x) {
					return true
				}
			}
			return false
		}
		var nu, ni int64
		for x := int64(0); x < 90; x++ {
			if in(as, x) != u.Contains(x) {
				t.Fatalf("union disagrees at %d: %v vs %v", x, as, u)
			}
			if in(as, x) {
				nu++
			}
			if in(as, x) && in(bs, x) {
				ni++
			}
		}
		if u.Length() != nu || u.Intersect(v).Length() != ni {
			t.Fatalf("lengths: union %d want %d, intersect %d want %d", u.Length(), nu, u.Intersect(v).Length(), ni)
		}
	})
}
