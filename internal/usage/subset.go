package usage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// A segment's rows are sorted by subscription, so the records of a few subscriptions are a few row
// ranges, found from the subscription column's runs alone. decodeV2SubsInto decodes only those
// rows, and of the dictionary only the strings they use: the front-coded dictionary is walked in a
// reused buffer (every entry needs its predecessor), and only the entries the kept rows use are
// copied out. The times and costs are varints of every row, read through (cheap next to the
// strings) and kept for the ranges.

// rowRange is rows [lo, hi) of a segment.
type rowRange struct{ lo, hi int }

// leanBufs is the memory of a batch decoded with a column mask, which the batch's reader may
// hand to the next segment once the batch is released (Batch.Release).
type leanBufs struct {
	arena      []byte // the dictionary's strings
	start, end []int64
	cost       []money.Nanos
	str        [NumStringCols][]uint32
	need       []bool
	keyOff     []uint32 // 0, 1, 2, ...: every key is "" (keyText), one byte each
	keyBuf     []byte
	pool       chan<- *leanBufs
}

// Release hands the memory of a batch read by StreamLeanColumns to the segments read after it:
// the caller must not use the batch, nor any string of its dictionary, afterwards. Other
// batches ignore it (their memory goes to the collector).
func (b *Batch) Release() {
	if lb := b.bufs; lb != nil && lb.pool != nil {
		b.bufs = nil
		select {
		case lb.pool <- lb:
		default:
		}
	}
}

// decodeV2SubsInto decodes, as decodeV2(data, true) does, the rows of a version 2 segment
// whose subscription want accepts (nil: every row), and of the string columns those cols marks
// (nil: every column; the others are left nil). Dictionary entries no kept row uses read as
// "". The whole segment's checksum is verified. When lb is not nil and the columns are
// masked, it decodes into lb's memory (the batch then owns lb until released).
func decodeV2SubsInto(data []byte, want func(sub string) bool, cols *[NumStringCols]bool, lb *leanBufs) (*Batch, error) {
	n, secs, err := parseV2(data)
	if err != nil {
		return nil, err
	}
	if want == nil && cols == nil {
		return buildV2(data, n, secs, true)
	}
	dr := varint.NewReader(secs[secDict], errCorrupt)
	nd := dr.Count("dictionary size", uint64(dr.Len()))
	if dr.Err != nil {
		return nil, dr.Err
	}
	ranges, kept := []rowRange{{0, n}}, n
	if want != nil {
		if ranges, kept, err = wantedRows(data, secs, n, nd, want); err != nil {
			return nil, err
		}
	}
	switch {
	case kept == 0:
		return emptyLean(), nil
	case cols != nil:
	case kept == n:
		return buildV2(data, n, secs, true)
	case 2*kept >= n:
		// Most rows: walking the dictionary to pick its entries costs more than decoding it
		// whole (measured at the bench scale); the rows are cut after.
		b, err := buildV2(data, n, secs, true)
		if err != nil {
			return nil, err
		}
		return b.cutLean(ranges, kept), nil
	}

	if lb == nil {
		lb = &leanBufs{}
	}
	b := &Batch{bufs: lb}
	if b.Start, b.End, err = timesIn(secs[secTimes], n, ranges, kept, lb.start[:0], lb.end); err != nil {
		return nil, err
	}
	lb.start, lb.end = b.Start, b.End
	if b.Cost, err = costsIn(secs[secCost], n, ranges, kept, lb.cost[:0]); err != nil {
		return nil, err
	}
	lb.cost = b.Cost
	need := slices.Grow(lb.need[:0], nd)[:nd]
	clear(need)
	lb.need = need
	empty := -1 // a dictionary index for the missing columns' "": one no kept row uses
	for c := range b.Str {
		if cols != nil && !cols[c] {
			continue
		}
		body, ok := secs[secString0+c]
		if !ok {
			if empty < 0 {
				empty = nd // appended below
			}
			b.Str[c] = constColumn(kept, uint32(empty))
			continue
		}
		sr := varint.NewReader(body, errCorrupt)
		b.Str[c] = readRunsIn(sr, n, nd, ranges, kept, lb.str[c][:0], need) // stops after the last range
		if sr.Err != nil {
			return nil, sr.Err
		}
		lb.str[c] = b.Str[c]
	}
	dr = varint.NewReader(secs[secDict], errCorrupt)
	dr.Count("dictionary size", uint64(dr.Len()))
	b.Dict, lb.arena = readDictSome(dr, len(data), need, lb.arena)
	if dr.Err != nil {
		return nil, dr.Err
	}
	if empty >= 0 {
		b.Dict = append(b.Dict, "")
	}
	if len(lb.keyBuf) < kept { // once made, they serve every smaller batch
		lb.keyOff = make([]uint32, kept+1)
		lb.keyBuf = bytes.Repeat([]byte{keyText}, kept)
		for i := range lb.keyOff {
			lb.keyOff[i] = uint32(i)
		}
	}
	b.keyOff, b.keyBuf = lb.keyOff[:kept+1], lb.keyBuf[:kept]
	return b, nil
}

// wantedRows lists the row ranges of a segment of n rows (sorted, disjoint, merged) whose
// subscription want accepts, and their rows in all. Only the subscription column's runs and
// the dictionary entries they use are read: imports number the subscriptions first (the
// column is encoded first), so the dictionary's walk stops early.
func wantedRows(data []byte, secs map[int][]byte, n, nd int, want func(string) bool) ([]rowRange, int, error) {
	type run struct {
		v      uint32
		lo, hi int
	}
	var runs []run
	body, ok := secs[secString0+ColSubscription]
	if !ok { // a missing column is every row's ""
		if want("") {
			return []rowRange{{0, n}}, n, nil
		}
		return nil, 0, nil
	}
	sr := varint.NewReader(body, errCorrupt)
	k := sr.Count("string runs", uint64(n))
	at := 0
	for j := 0; j < k && sr.Err == nil; j++ {
		v := sr.Count("dictionary index", uint64(nd))
		m := sr.Count("string run", uint64(n-at))
		if sr.Err == nil && v >= nd {
			sr.Fail("dictionary index out of range")
		}
		runs = append(runs, run{uint32(v), at, at + m})
		at += m
	}
	if sr.Err == nil && (at != n || sr.Len() != 0) {
		sr.Fail("string runs do not cover every record exactly")
	}
	if sr.Err != nil {
		return nil, 0, sr.Err
	}
	need := make([]bool, nd)
	for _, r := range runs {
		need[r.v] = true
	}
	dr := varint.NewReader(secs[secDict], errCorrupt)
	dr.Count("dictionary size", uint64(dr.Len()))
	subs, _ := readDictSome(dr, len(data), need, nil)
	if dr.Err != nil {
		return nil, 0, dr.Err
	}
	var ranges []rowRange
	kept := 0
	verdict := map[uint32]bool{}
	for _, r := range runs {
		ok, seen := verdict[r.v]
		if !seen {
			ok = want(subs[r.v])
			verdict[r.v] = ok
		}
		if !ok {
			continue
		}
		if m := len(ranges); m > 0 && ranges[m-1].hi == r.lo {
			ranges[m-1].hi = r.hi
		} else {
			ranges = append(ranges, rowRange{r.lo, r.hi})
		}
		kept += r.hi - r.lo
	}
	return ranges, kept, nil
}

// cutLean keeps the rows of ranges (kept rows in all) of a lean batch.
func (b *Batch) cutLean(ranges []rowRange, kept int) *Batch {
	out := &Batch{Dict: b.Dict, Start: make([]int64, 0, kept), End: make([]int64, 0, kept), Cost: make([]money.Nanos, 0, kept)}
	for _, rg := range ranges {
		out.Start = append(out.Start, b.Start[rg.lo:rg.hi]...)
		out.End = append(out.End, b.End[rg.lo:rg.hi]...)
		out.Cost = append(out.Cost, b.Cost[rg.lo:rg.hi]...)
	}
	for c := range out.Str {
		out.Str[c] = make([]uint32, 0, kept)
		for _, rg := range ranges {
			out.Str[c] = append(out.Str[c], b.Str[c][rg.lo:rg.hi]...)
		}
	}
	out.keyOff, out.keyBuf = b.keyOff[:kept+1], b.keyBuf[:kept] // every key is "": one byte each
	return out
}

// The checksum has vouched for the bytes, so the readers below skip what they do not keep
// (a varint ends at its first byte below 0x80) and stop after the last range; the counts are
// still checked, so that a segment written wrong is refused rather than misread.

// skipVarints returns the offset in b after the m varints from off, or -1 when b ends first.
func skipVarints(b []byte, off, m int) int {
	for ; m > 0; off++ {
		if off >= len(b) {
			return -1
		}
		if b[off] < 0x80 {
			m--
		}
	}
	return off
}

// timesIn reads the charge periods section of a segment of n rows for the rows of ranges.
// start and end, when large enough, are used for the result.
func timesIn(body []byte, n int, ranges []rowRange, kept int, start, end []int64) ([]int64, []int64, error) {
	r := varint.NewReader(body, errCorrupt)
	unit := readTimeUnit(r)
	if r.Err != nil {
		return nil, nil, r.Err
	}
	start = slices.Grow(start[:0], kept)
	if cap(end) >= kept {
		end = end[:kept]
	} else {
		end = make([]int64, kept)
	}
	// Starts are differences from the row before: every one up to the last kept row is added.
	last := ranges[len(ranges)-1].hi
	var s int64
	rest, off := r.Bytes(r.Len(), "times"), 0
	k := 0
	for i := 0; i < last; i++ {
		d, w := binary.Varint(rest[off:])
		if w <= 0 {
			return nil, nil, corrupt(fmt.Sprintf("charge period start of row %d", i))
		}
		off += w
		s += d // the first is the start itself
		// i < last, the last range's end: k stays in range.
		for i >= ranges[k].hi {
			k++
		}
		if i >= ranges[k].lo {
			start = append(start, s*unit)
		}
	}
	if off = skipVarints(rest, off, n-last); off < 0 {
		return nil, nil, corrupt("charge period starts end early")
	}
	r = varint.NewReader(rest[off:], errCorrupt)
	runs := r.Count("length runs", uint64(n))
	at, j := 0, 0 // j: kept rows given an end
	k = 0
	for q := 0; q < runs && r.Err == nil; q++ {
		v := int64(r.Uvarint("length"))
		m := r.Count("length run", uint64(n-at))
		for ; k < len(ranges) && ranges[k].lo < at+m; k++ {
			lo, hi := max(ranges[k].lo, at), min(ranges[k].hi, at+m)
			for ; lo < hi; lo++ {
				end[j] = start[j] + v*unit
				j++
			}
			if ranges[k].hi > at+m {
				break // the range goes on in the next run
			}
		}
		at += m
	}
	if r.Err == nil && at != n {
		r.Fail("length runs do not cover every record")
	}
	if r.Err != nil {
		return nil, nil, r.Err
	}
	return start, end, nil
}

// costsIn reads the costs section of a segment of n rows for the rows of ranges.
// out, when large enough, is used for the result.
func costsIn(body []byte, n int, ranges []rowRange, kept int, out []money.Nanos) ([]money.Nanos, error) {
	out = slices.Grow(out[:0], kept)
	off, at := 0, 0
	for _, rg := range ranges {
		if off = skipVarints(body, off, rg.lo-at); off < 0 {
			return nil, corrupt(fmt.Sprintf("costs end before row %d of %d", rg.lo, n))
		}
		for i := rg.lo; i < rg.hi; i++ {
			v, w := binary.Varint(body[off:])
			if w <= 0 {
				return nil, corrupt(fmt.Sprintf("cost of row %d of %d", i, n))
			}
			out = append(out, money.Nanos(v))
			off += w
		}
		at = rg.hi
	}
	return out, nil
}

// emptyLean is a lean batch of no records.
func emptyLean() *Batch { return &Batch{keyOff: []uint32{0}} }

// readRunsIn reads a string column of n rows (runs of dictionary indices below nd) and returns
// its values in the rows of ranges (sorted, disjoint), kept rows in all. It stops reading
// after the last range.
// out, when large enough, is used for the result; need is set for the values of the rows kept.
func readRunsIn(r *varint.Reader, n, nd int, ranges []rowRange, kept int, out []uint32, need []bool) []uint32 {
	out = slices.Grow(out[:0], kept)
	runs := r.Count("string runs", uint64(n))
	at, k := 0, 0
	for j := 0; j < runs && k < len(ranges) && r.Err == nil; j++ {
		v := r.Count("dictionary index", uint64(nd))
		m := r.Count("string run", uint64(n-at))
		if r.Err == nil && v >= nd {
			r.Fail("dictionary index out of range")
		}
		if r.Err != nil {
			break
		}
		end := at + m
		for k < len(ranges) && ranges[k].lo < end {
			lo, hi := max(ranges[k].lo, at), min(ranges[k].hi, end)
			if lo < hi {
				if len(out)+hi-lo > kept {
					r.Fail("string runs cover more than the rows kept")
					return out
				}
				need[v] = true
				o := len(out)
				out = out[:o+hi-lo]
				for j := o; j < len(out); j++ {
					out[j] = uint32(v)
				}
			}
			if ranges[k].hi > end {
				break // the range goes on in the next run
			}
			k++
		}
		at = end
	}
	if r.Err == nil && len(out) != kept {
		r.Fail("string runs do not cover every record kept")
	}
	return out
}

// readDictSome reads a front-coded dictionary (its count already read) of a segment of size
// bytes, returning the entries need marks (the others "") in one arena: arena's memory when
// it is large enough, else a new allocation (returned for reuse). It reads no further than the
// last entry needed (so the reader is left inside the dictionary).
func readDictSome(r *varint.Reader, size int, need []bool, arena []byte) ([]string, []byte) {
	last := len(need) - 1 // the walk stops after the last entry needed
	for last >= 0 && !need[last] {
		last--
	}
	body := r.Bytes(r.Len(), "dictionary")
	if r.Err != nil {
		return nil, arena
	}
	// entry reads entry i's prefix length and suffix at off (off < 0: damaged).
	entry := func(off, prevLen int) (shared int, suffix []byte, next int) {
		v, n := binary.Uvarint(body[off:])
		if n <= 0 || v > uint64(prevLen) {
			return 0, nil, -1
		}
		shared, off = int(v), off+n
		v, n = binary.Uvarint(body[off:])
		if n <= 0 || v > uint64(len(body)-off-n) {
			return 0, nil, -1
		}
		off += n
		return shared, body[off : off+int(v)], off + int(v)
	}
	// The entries point into the arena as they are made, so it never moves: when it is full a
	// new one is begun (the entries made keep the old one). A dictionary is decoded once (a
	// first pass that sized the arena exactly was 0.1 CPU s of the audit at the bench scale).
	arena = arena[:0]
	dict := make([]string, len(need))
	var cur []byte  // the previous entry when it is not in the arena
	var prev []byte // the previous entry (in cur or the arena)
	total := 0
	for i, off := 0, 0; i <= last; i++ {
		shared, suffix, next := entry(off, len(prev))
		if next < 0 {
			r.Fail("dictionary entry")
			return nil, arena
		}
		off = next
		if need[i] {
			n := shared + len(suffix)
			// As readDict: a dictionary far larger than its segment is damage, not data.
			if total += n; total > 64*size {
				r.Fail("dictionary larger than its segment can hold")
				return nil, arena
			}
			if len(arena)+n > cap(arena) {
				arena = make([]byte, 0, max(2*cap(arena), n, 64<<10))
			}
			at := len(arena)
			arena = append(arena, prev[:shared]...)
			arena = append(arena, suffix...) // within its capacity: never moves
			prev = arena[at:]
			if len(prev) > 0 {
				dict[i] = unsafe.String(&prev[0], len(prev)) // the arena is never written again there
			}
			continue
		}
		if len(cur) == 0 || len(prev) == 0 || &prev[0] != &cur[0] {
			cur = append(cur[:0], prev[:shared]...) // prev is in the arena (or empty)
		} else {
			cur = cur[:shared]
		}
		cur = append(cur, suffix...)
		prev = cur
	}
	return dict, arena
}
