package usage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// A segment is the stored form of a Batch: the records of one charge day, by column. Layout
// (all integers unsigned or zig-zag varints unless noted):
//
//	"PLU" 0x01                      magic and format version
//	n                               records
//	d, then d entries               dictionary, front-coded: shared prefix length with the
//	                                previous entry, suffix length, suffix bytes
//	key mode (1 byte)               0: every key is a row hash, 16 bytes each follow;
//	                                1: per row a kind byte, then 16 bytes or length and text
//	time unit (1 byte)              0: nanoseconds, 9: seconds (every time a whole second)
//	start                           the first start, then n-1 differences (zig-zag)
//	length                          runs of (End-Start) as (value, run length) pairs
//	cost                            n nano-unit amounts (zig-zag)
//	raw costs                       count, then (row difference, length, text)
//	10 string columns               each as runs of (dictionary index, run length)
//
// Rows are sorted by subscription and resource, so the string columns are long runs and the
// dictionary's neighbours share their prefixes (resource IDs begin with their subscription's).
const (
	segMagic   = "PLU\x01"
	maxSegRows = 1 << 24
)

// segmentRows bounds a segment: small enough that a decoded segment is a few megabytes, large
// enough that its dictionary and per-segment rows are amortised over many records.
const segmentRows = 65536

var errCorrupt = errors.New("usage segment is corrupt")

func corrupt(what string) error { return fmt.Errorf("%w: %s", errCorrupt, what) }

// encodeSegment encodes rows order of b (global dictionary indices) as a segment. sc may be
// nil (scratch is then allocated).
func encodeSegment(b *Batch, order []int32, sc *segScratch) []byte {
	if sc == nil {
		sc = &segScratch{}
	}
	n := len(order)
	// Segment dictionary: the strings the rows use, in order of first use. remap holds each
	// global index's segment index + 1; touched lists what to clear afterwards.
	if len(sc.remap) < len(b.Dict) {
		sc.remap = make([]uint32, len(b.Dict))
	}
	defer func() {
		for _, g := range sc.touched {
			sc.remap[g] = 0
		}
		sc.touched = sc.touched[:0]
	}()
	var dict []string
	loc := func(g uint32) uint32 {
		if l := sc.remap[g]; l != 0 {
			return l - 1
		}
		l := uint32(len(dict))
		sc.remap[g] = l + 1
		sc.touched = append(sc.touched, g)
		dict = append(dict, b.Dict[g])
		return l
	}
	var cols [NumStringCols][]uint32
	for c := range cols {
		cols[c] = make([]uint32, n)
		src := b.Str[c]
		prevG, prevL := ^uint32(0), uint32(0)
		for j, i := range order {
			g := src[i]
			if g != prevG {
				prevG, prevL = g, loc(g)
			}
			cols[c][j] = prevL
		}
	}

	out := make([]byte, 0, 64+n*64)
	out = append(out, segMagic...)
	out = binary.AppendUvarint(out, uint64(n))
	out = binary.AppendUvarint(out, uint64(len(dict)))
	prev := ""
	for _, s := range dict {
		shared := commonPrefix(s, prev)
		out = binary.AppendUvarint(out, uint64(shared))
		out = binary.AppendUvarint(out, uint64(len(s)-shared))
		out = append(out, s[shared:]...)
		prev = s
	}

	allHex := true
	for _, i := range order {
		if b.keyBuf[b.keyOff[i]] != keyHex {
			allHex = false
			break
		}
	}
	if allHex {
		out = append(out, 0)
		for _, i := range order {
			out = append(out, b.keyBuf[b.keyOff[i]+1:b.keyOff[i+1]]...)
		}
	} else {
		out = append(out, 1)
		for _, i := range order {
			k := b.keyBuf[b.keyOff[i]:b.keyOff[i+1]]
			out = append(out, k[0])
			if k[0] == keyText {
				out = binary.AppendUvarint(out, uint64(len(k)-1))
			}
			out = append(out, k[1:]...)
		}
	}

	unit := int64(1_000_000_000)
	for _, i := range order {
		if b.Start[i]%unit != 0 || b.End[i]%unit != 0 {
			unit = 1
			break
		}
	}
	if unit == 1 {
		out = append(out, 0)
	} else {
		out = append(out, 9)
	}
	var last int64
	for j, i := range order {
		s := b.Start[i] / unit
		if j == 0 {
			out = binary.AppendVarint(out, s)
		} else {
			out = binary.AppendVarint(out, s-last)
		}
		last = s
	}
	lengths := make([]uint32, 0, 4)
	var lengthVals []uint64
	for _, i := range order {
		v := uint64((b.End[i] - b.Start[i]) / unit)
		if k := len(lengthVals); k > 0 && lengthVals[k-1] == v {
			lengths[k-1]++
			continue
		}
		lengthVals = append(lengthVals, v)
		lengths = append(lengths, 1)
	}
	out = binary.AppendUvarint(out, uint64(len(lengthVals)))
	for k, v := range lengthVals {
		out = binary.AppendUvarint(out, v)
		out = binary.AppendUvarint(out, uint64(lengths[k]))
	}
	for _, i := range order {
		out = binary.AppendVarint(out, int64(b.Cost[i]))
	}

	// Raw cost texts, in the segment's row order (b.raw is sorted by b's row).
	var nraw int
	var rawPart []byte
	prevRow := 0
	k := 0 // in b.raw: while order ascends, the search goes on from the last row's place
	for j, i := range order {
		if len(b.raw) == 0 {
			break
		}
		if j > 0 && i > order[j-1] {
			for k < len(b.raw) && b.raw[k].row < i {
				k++
			}
		} else {
			k, _ = slices.BinarySearchFunc(b.raw, i, func(r rawCost, row int32) int { return int(r.row - row) })
		}
		if k == len(b.raw) || b.raw[k].row != i {
			continue
		}
		t := b.raw[k].text
		rawPart = binary.AppendUvarint(rawPart, uint64(j-prevRow))
		rawPart = binary.AppendUvarint(rawPart, uint64(len(t)))
		rawPart = append(rawPart, t...)
		prevRow = j
		nraw++
	}
	out = binary.AppendUvarint(out, uint64(nraw))
	out = append(out, rawPart...)

	for c := range cols {
		col := cols[c]
		runs := 0
		for j := range col {
			if j == 0 || col[j] != col[j-1] {
				runs++
			}
		}
		out = binary.AppendUvarint(out, uint64(runs))
		for j := 0; j < n; {
			k := j + 1
			for k < n && col[k] == col[j] {
				k++
			}
			out = binary.AppendUvarint(out, uint64(col[j]))
			out = binary.AppendUvarint(out, uint64(k-j))
			j = k
		}
	}
	return out
}

// decodeSegment decodes a segment. The batch's strings point into one new allocation, not
// into data, so data may be reused.
func decodeSegment(data []byte) (*Batch, error) {
	if len(data) < len(segMagic) || string(data[:len(segMagic)]) != segMagic {
		return nil, corrupt("unknown format (this partnerlink may be older than the one that wrote it)")
	}
	r := varint.NewReader(data[len(segMagic):], errCorrupt)
	n := r.Count("record count", maxSegRows)
	// Every record takes at least a few bytes, so a count beyond the data is corruption (and
	// must not size allocations).
	if r.Err == nil && n > r.Len() {
		return nil, corrupt("record count larger than the segment")
	}
	nd := r.Count("dictionary size", uint64(r.Len()))
	// Dictionary: rebuild into one arena, then cut strings out of it. A first pass over the
	// lengths sizes the arena exactly: grown by appending, it was up to twice the strings, and
	// the arena lives as long as the batch (on the bench estate, 6 to 12 MB a segment).
	size, prevLen := 0, 0
	for pre, i := *r, 0; i < nd && pre.Err == nil; i++ {
		shared := pre.Count("dictionary prefix", uint64(prevLen))
		prevLen = shared + len(pre.Bytes(pre.Count("dictionary entry", uint64(pre.Len())), "dictionary entry"))
		if size += prevLen; size > 64*len(data) {
			break // the second pass says what is wrong
		}
	}
	type span struct{ off, n int }
	spans := make([]span, 0, nd)
	arena := make([]byte, 0, min(size, 64*len(data)))
	prev := span{}
	for i := 0; i < nd && r.Err == nil; i++ {
		shared := r.Count("dictionary prefix", uint64(prev.n))
		suffix := r.Bytes(r.Count("dictionary entry", uint64(r.Len())), "dictionary entry")
		off := len(arena)
		// Front coding can describe strings far longer than itself; real dictionaries
		// decode to a few times their size, so a larger one is damage, not data.
		if len(arena)+shared+len(suffix) > 64*len(data) {
			return nil, corrupt("dictionary larger than its segment can hold")
		}
		arena = append(arena, arena[prev.off:prev.off+shared]...)
		arena = append(arena, suffix...)
		prev = span{off, shared + len(suffix)}
		spans = append(spans, prev)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	b := &Batch{Dict: make([]string, nd)}
	if len(arena) > 0 {
		base := unsafe.String(&arena[0], len(arena)) // arena is never written again
		for i, s := range spans {
			b.Dict[i] = base[s.off : s.off+s.n]
		}
	}

	b.keyOff = make([]uint32, n+1)
	switch mode := r.Byte("key mode"); mode {
	case 0:
		raw := r.Bytes(16*n, "keys")
		if r.Err != nil {
			return nil, r.Err
		}
		b.keyBuf = make([]byte, 0, 17*n)
		for i := 0; i < n; i++ {
			b.keyBuf = append(b.keyBuf, keyHex)
			b.keyBuf = append(b.keyBuf, raw[16*i:16*i+16]...)
			b.keyOff[i+1] = uint32(len(b.keyBuf))
		}
	case 1:
		for i := 0; i < n && r.Err == nil; i++ {
			kind := r.Byte("key kind")
			var k []byte
			switch kind {
			case keyHex:
				k = r.Bytes(16, "key")
			case keyText:
				k = r.Bytes(r.Count("key length", uint64(r.Len())), "key")
			default:
				r.Fail(fmt.Sprintf("key kind %d", kind))
			}
			b.keyBuf = append(b.keyBuf, kind)
			b.keyBuf = append(b.keyBuf, k...)
			b.keyOff[i+1] = uint32(len(b.keyBuf))
		}
	default:
		r.Fail(fmt.Sprintf("key mode %d", mode))
	}

	var unit int64
	switch u := r.Byte("time unit"); u {
	case 0:
		unit = 1
	case 9:
		unit = 1_000_000_000
	default:
		r.Fail(fmt.Sprintf("time unit %d", u))
	}
	if r.Err != nil {
		return nil, r.Err
	}
	b.Start = make([]int64, n)
	b.End = make([]int64, n)
	var s int64
	for i := 0; i < n; i++ {
		d := r.Varint("start")
		if i == 0 {
			s = d
		} else {
			s += d
		}
		b.Start[i] = s * unit
	}
	runs := r.Count("length runs", uint64(n))
	at := 0
	for k := 0; k < runs && r.Err == nil; k++ {
		v := int64(r.Uvarint("length"))
		m := r.Count("length run", uint64(n-at))
		for j := at; j < at+m; j++ {
			b.End[j] = b.Start[j] + v*unit
		}
		at += m
	}
	if r.Err == nil && at != n {
		r.Fail("length runs do not cover every record")
	}
	b.Cost = make([]money.Nanos, n)
	for i := 0; i < n; i++ {
		b.Cost[i] = money.Nanos(r.Varint("cost"))
	}
	nr := r.Count("raw costs", uint64(n))
	row := 0
	for k := 0; k < nr && r.Err == nil; k++ {
		row += r.Count("raw cost row", uint64(n))
		text := r.Bytes(r.Count("raw cost length", uint64(r.Len())), "raw cost")
		if r.Err == nil && (row >= n || (k > 0 && int32(row) <= b.raw[k-1].row)) {
			r.Fail("raw cost rows out of order")
		}
		b.raw = append(b.raw, rawCost{int32(row), string(text)})
	}
	for c := range b.Str {
		col := make([]uint32, n)
		runs := r.Count("string runs", uint64(n))
		at := 0
		for k := 0; k < runs && r.Err == nil; k++ {
			v := r.Count("dictionary index", uint64(nd))
			m := r.Count("string run", uint64(n-at))
			if r.Err == nil && v >= nd {
				r.Fail("dictionary index out of range")
			}
			for j := at; j < at+m; j++ {
				col[j] = uint32(v)
			}
			at += m
		}
		if r.Err == nil && at != n {
			r.Fail("string runs do not cover every record")
		}
		b.Str[c] = col
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if r.Len() != 0 {
		return nil, corrupt(fmt.Sprintf("%d bytes after the last column", r.Len()))
	}
	return b, nil
}

// EncodeRows encodes rows of b (in that order) in the segment format: how other stores of
// the project (attribution results) keep the records they refer to.
func EncodeRows(b *Batch, rows []int32) []byte { return encodeSegment(b, rows, nil) }

// DecodeRows decodes what EncodeRows wrote.
func DecodeRows(data []byte) (*Batch, error) { return decodeSegment(data) }
