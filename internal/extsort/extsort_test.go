package extsort

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Items sort the same whether they fit in memory or are merged from many runs on disk, and
// equal items keep the order they were added in.
func TestSortsAcrossRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var items [][]byte
	for i := 0; i < 20000; i++ {
		it := make([]byte, 12)
		binary.BigEndian.PutUint32(it, uint32(rng.IntN(500))) // the sort key: many ties
		binary.BigEndian.PutUint64(it[4:], uint64(i))         // the order added
		items = append(items, it)
	}
	cmp := func(a, b []byte) int { return bytes.Compare(a[:4], b[:4]) }
	want := slices.Clone(items)
	slices.SortStableFunc(want, cmp)
	for _, budget := range []int{1 << 30, 65536, 2048} { // 2048: hundreds of runs, merged every 64
		s := New(cmp, budget)
		for _, it := range items {
			if err := s.Add(it); err != nil {
				t.Fatal(err)
			}
		}
		var got [][]byte
		if err := s.Each(func(it []byte) error { got = append(got, slices.Clone(it)); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("budget %d: %d items back, want %d", budget, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("budget %d: item %d is %x, want %x", budget, i, got[i], want[i])
			}
		}
	}
}

// A run that cannot be written (here: no temporary directory) is an error from Add or Each
// naming the fix, although runs are written on another goroutine.
func TestUnwritableRunIsAnError(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()+"/missing")
	s := New(bytes.Compare, 64)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = s.Add([]byte("an item of some length"))
	}
	if err == nil {
		err = s.Each(func([]byte) error { return nil })
	}
	if err == nil || !strings.Contains(err.Error(), "TMPDIR") {
		t.Fatalf("got %v, want an error naming TMPDIR", err)
	}
}
