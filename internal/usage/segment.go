package usage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// A segment is the stored form of a Batch: the records of one charge day, by column. The
// byte-level specification of every version is docs/formats.md "Usage segments"; in short:
//
// Version 2 ("PLU" 0x02): the record count, then self-described sections (ID, flags, length,
// body), then a CRC32C of everything before it. Each column is a section: a reader skips the
// sections it does not know unless they are flagged critical, and a column missing from a
// segment reads as its default (empty, null), so a new column does not mean rewriting stored
// segments.
//
// Version 1 ("PLU" 0x01): the record count, dictionary, keys, times, costs, raw cost texts and
// the first ten string columns, in that fixed order, without a checksum (the segment row's
// SHA-256 is verified instead). It is still read, and still written by EncodeRows, which
// result segments embed.
//
// Rows are sorted by subscription and resource, so the string columns are long runs and the
// dictionary's neighbours share their prefixes (resource IDs begin with their subscription's).
const (
	segMagicV1 = "PLU\x01"
	segMagicV2 = "PLU\x02"
	maxSegRows = 1 << 24
)

// Section IDs of format version 2.
const (
	secDict     = 1
	secKeys     = 2
	secTimes    = 3
	secCost     = 4
	secRawCost  = 5
	secString0  = 16 // + the string column (ColSubscription ... ColTags)
	secQuantity = 64
	secAmount0  = 80 // + the amount (AmountList, AmountBilled, AmountEffective)

	// flagCritical: a reader that does not know the section must refuse the segment.
	flagCritical = 1
)

// segmentRows bounds a segment: small enough that a decoded segment is a few megabytes, large
// enough that its dictionary and per-segment rows are amortised over many records.
const segmentRows = 65536

var errCorrupt = errors.New("usage segment is corrupt")

func corrupt(what string) error { return fmt.Errorf("%w: %s", errCorrupt, what) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segDict maps the global dictionary indices of the rows being encoded to a segment
// dictionary of the strings they use, in order of first use.
type segDict struct {
	sc   *segScratch
	b    *Batch
	dict []string
}

func (d *segDict) loc(g uint32) uint32 {
	if l := d.sc.remap[g]; l != 0 {
		return l - 1
	}
	l := uint32(len(d.dict))
	d.sc.remap[g] = l + 1
	d.sc.touched = append(d.sc.touched, g)
	d.dict = append(d.dict, d.b.Dict[g])
	return l
}

// column returns column c of the rows of order in segment indices, in out's memory when it
// is large enough.
func (d *segDict) column(c int, order []int32, out []uint32) []uint32 {
	out = slices.Grow(out[:0], len(order))[:len(order)]
	src := d.b.Str[c]
	prevG, prevL := ^uint32(0), uint32(0)
	for j, i := range order {
		g := src[i]
		if g != prevG {
			prevG, prevL = g, d.loc(g)
		}
		out[j] = prevL
	}
	return out
}

func newSegDict(b *Batch, sc *segScratch) *segDict {
	if len(sc.remap) < len(b.Dict) {
		sc.remap = make([]uint32, len(b.Dict))
	}
	return &segDict{sc: sc, b: b}
}

func (d *segDict) release() {
	for _, g := range d.sc.touched {
		d.sc.remap[g] = 0
	}
	d.sc.touched = d.sc.touched[:0]
}

// encodeSegment encodes rows order of b in format version 2. sc may be nil (scratch is then
// allocated).
func encodeSegment(b *Batch, order []int32, sc *segScratch) []byte {
	if sc == nil {
		sc = &segScratch{}
	}
	d := newSegDict(b, sc)
	defer d.release()
	cols := &sc.cols
	for c := range cols {
		cols[c] = d.column(c, order, cols[c][:0])
	}
	n := len(order)
	// The sections are encoded one after the other into the scratch (used again for every
	// segment: they were most of an import's garbage), then copied once into a segment of its
	// exact size: a day's segments wait in memory for their write, so no spare capacity should
	// wait too.
	secs := sc.secs[:0]
	buf := sc.sections[:0]
	add := func(id int, flags byte, body []byte) {
		secs = append(secs, segSection{id, flags, len(buf), len(body)})
		buf = body
	}
	add(secDict, flagCritical, appendDict(buf, d.dict))
	add(secKeys, flagCritical, appendKeys(buf, b, order))
	add(secTimes, flagCritical, appendTimes(buf, b, order))
	add(secCost, flagCritical, appendCosts(buf, b, order))
	if raw, k := appendRawCosts(buf, b, order); k > 0 {
		add(secRawCost, flagCritical, raw)
	}
	for c := range cols {
		// A column every row of which is empty is left out: it reads as empty.
		if !allEmpty(cols[c], d.dict) {
			add(secString0+c, 0, appendRuns(buf, cols[c]))
		}
	}
	if b.qty != nil {
		if q, any := appendQuantities(buf, b, order); any {
			add(secQuantity, 0, q)
		}
	}
	for k := range b.Amounts {
		if b.Amounts[k] == nil {
			continue
		}
		if a, any := appendAmounts(buf, b, k, order); any {
			add(secAmount0+k, 0, a)
		}
	}
	sc.secs, sc.sections = secs[:0], buf[:0] // kept for the next segment (secs and buf are read below)
	size := len(segMagicV2) + 2*binary.MaxVarintLen64 + 4
	for _, x := range secs {
		size += 2*binary.MaxVarintLen64 + 1 + x.hi - x.lo
	}
	out := make([]byte, 0, size)
	out = append(out, segMagicV2...)
	out = binary.AppendUvarint(out, uint64(n))
	out = binary.AppendUvarint(out, uint64(len(secs)))
	for _, x := range secs {
		out = binary.AppendUvarint(out, uint64(x.id))
		out = append(out, x.flags)
		out = binary.AppendUvarint(out, uint64(x.hi-x.lo))
		out = append(out, buf[x.lo:x.hi]...)
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// segSection is a section encodeSegment has written into its scratch.
type segSection struct {
	id     int
	flags  byte
	lo, hi int // in segScratch.sections
}

func allEmpty(col []uint32, dict []string) bool {
	for j, v := range col {
		if (j == 0 || v != col[j-1]) && dict[v] != "" {
			return false
		}
	}
	return true
}

// decodeSegment decodes a segment of any supported version. The batch's strings point into
// one new allocation, not into data, so data may be reused.
func decodeSegment(data []byte) (*Batch, error) {
	switch {
	case len(data) >= 4 && string(data[:4]) == segMagicV2:
		return decodeV2(data, false)
	case len(data) >= 4 && string(data[:4]) == segMagicV1:
		return decodeV1(data)
	case len(data) >= 4 && string(data[:3]) == "PLU":
		return nil, corrupt(fmt.Sprintf("format version %d is newer than this partnerlink reads (1 and 2): upgrade partnerlink", data[3]))
	}
	return nil, corrupt("not a usage segment (no PLU magic)")
}

// decodeV2 decodes a version 2 segment. lean skips what attribution does not read (keys, raw
// cost texts, quantities, amounts: see StreamLean).
func decodeV2(data []byte, lean bool) (*Batch, error) {
	n, secs, err := parseV2(data)
	if err != nil {
		return nil, err
	}
	return buildV2(data, n, secs, lean)
}

// parseV2 checks a version 2 segment's checksum and returns its record count and the bodies
// of the sections this partnerlink knows.
func parseV2(data []byte) (int, map[int][]byte, error) {
	if len(data) < len(segMagicV2)+4 {
		return 0, nil, corrupt("shorter than its header and checksum")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return 0, nil, corrupt(fmt.Sprintf("checksum mismatch (CRC32C stored %08x, computed %08x): the segment's bytes are damaged", sum, got))
	}
	r := varint.NewReader(body[len(segMagicV2):], errCorrupt)
	n := r.Count("record count", maxSegRows)
	// Every record takes at least a few bytes, so a count beyond the data is corruption (and
	// must not size allocations).
	if r.Err == nil && n > r.Len() {
		return 0, nil, corrupt("record count larger than the segment")
	}
	nsec := r.Count("section count", uint64(r.Len()))
	secs := map[int][]byte{}
	for k := 0; k < nsec && r.Err == nil; k++ {
		id := r.Count("section id", 1<<20)
		flags := r.Byte("section flags")
		body := r.Bytes(r.Count("section length", uint64(r.Len())), "section")
		if r.Err != nil {
			break
		}
		if _, dup := secs[id]; dup {
			return 0, nil, corrupt(fmt.Sprintf("section %d appears twice", id))
		}
		if !knownSection(id) {
			if flags&flagCritical != 0 {
				return 0, nil, corrupt(fmt.Sprintf("section %d is one this partnerlink does not know and must not skip: upgrade partnerlink", id))
			}
			continue
		}
		secs[id] = body
	}
	if r.Err != nil {
		return 0, nil, r.Err
	}
	if r.Len() != 0 {
		return 0, nil, corrupt(fmt.Sprintf("%d bytes after the last section", r.Len()))
	}
	for _, id := range []int{secDict, secKeys, secTimes, secCost} {
		if _, ok := secs[id]; !ok {
			return 0, nil, corrupt(fmt.Sprintf("required section %d is missing", id))
		}
	}
	return n, secs, nil
}

// buildV2 decodes the sections of a version 2 segment of n records (see decodeV2).
func buildV2(data []byte, n int, secs map[int][]byte, lean bool) (*Batch, error) {
	sub := func(id int) *varint.Reader { return varint.NewReader(secs[id], errCorrupt) }
	done := func(sr *varint.Reader, what string) error {
		if sr.Err == nil && sr.Len() != 0 {
			sr.Fail(fmt.Sprintf("%d bytes after the %s", sr.Len(), what))
		}
		return sr.Err
	}
	b := &Batch{}
	sr := sub(secDict)
	b.Dict = readDict(sr, len(data))
	if err := done(sr, "dictionary"); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		id   int
		what string
		read func(*varint.Reader)
	}{
		{secKeys, "keys", func(sr *varint.Reader) { readKeys(sr, b, n) }},
		{secTimes, "times", func(sr *varint.Reader) { readTimes(sr, b, n) }},
		{secCost, "costs", func(sr *varint.Reader) { readCosts(sr, b, n) }},
		{secRawCost, "raw costs", func(sr *varint.Reader) { readRawCosts(sr, b, n) }},
		{secQuantity, "quantities", func(sr *varint.Reader) { readQuantities(sr, b, n) }},
	} {
		if _, ok := secs[s.id]; !ok || (lean && s.id != secTimes && s.id != secCost) {
			continue
		}
		sr := sub(s.id)
		s.read(sr)
		if err := done(sr, s.what); err != nil {
			return nil, err
		}
	}
	empty := -1 // the dictionary index of "", added if a column needs it
	for c := range b.Str {
		if _, ok := secs[secString0+c]; !ok {
			if empty < 0 {
				empty = slices.Index(b.Dict, "")
				if empty < 0 {
					empty = len(b.Dict)
					b.Dict = append(b.Dict, "")
				}
			}
			b.Str[c] = constColumn(n, uint32(empty))
			continue
		}
		sr := sub(secString0 + c)
		b.Str[c] = readRuns(sr, n, len(b.Dict))
		if err := done(sr, "string column"); err != nil {
			return nil, err
		}
	}
	if lean { // every key reads as ""
		b.keyOff = make([]uint32, n+1)
		b.keyBuf = bytes.Repeat([]byte{keyText}, n)
		for i := range b.keyOff {
			b.keyOff[i] = uint32(i)
		}
		return b, nil
	}
	for k := range b.Amounts {
		b.Amounts[k] = make([]Amount, n) // null unless the section says otherwise
		if _, ok := secs[secAmount0+k]; ok {
			sr := sub(secAmount0 + k)
			readAmounts(sr, b, k, n)
			if err := done(sr, "amounts"); err != nil {
				return nil, err
			}
		}
	}
	if b.qty == nil {
		b.qty = make([]quantity, n)
		for i := range b.qty {
			b.qty[i].scale = qtyNull
		}
	}
	return b, nil
}

func knownSection(id int) bool {
	switch {
	case id >= secDict && id <= secRawCost, id >= secString0 && id < secString0+NumStringCols,
		id == secQuantity, id >= secAmount0 && id < secAmount0+numAmounts:
		return true
	}
	return false
}

func constColumn(n int, v uint32) []uint32 {
	col := make([]uint32, n)
	if v != 0 {
		for i := range col {
			col[i] = v
		}
	}
	return col
}

// encodeV1 encodes rows order of b in format version 1 (the first v1StringCols columns only).
func encodeV1(b *Batch, order []int32, sc *segScratch) []byte {
	if sc == nil {
		sc = &segScratch{}
	}
	d := newSegDict(b, sc)
	defer d.release()
	var cols [v1StringCols][]uint32
	for c := range cols {
		cols[c] = d.column(c, order, nil)
	}
	out := make([]byte, 0, 64+len(order)*64)
	out = append(out, segMagicV1...)
	out = binary.AppendUvarint(out, uint64(len(order)))
	out = appendDict(out, d.dict)
	out = appendKeys(out, b, order)
	out = appendTimes(out, b, order)
	out = appendCosts(out, b, order)
	out, _ = appendRawCosts(out, b, order)
	for c := range cols {
		out = appendRuns(out, cols[c])
	}
	return out
}

// decodeV1 decodes format version 1. Columns version 1 does not have read as empty (null),
// and the provider ID as NormalizeProvider of the provider's name.
func decodeV1(data []byte) (*Batch, error) {
	r := varint.NewReader(data[len(segMagicV1):], errCorrupt)
	n := r.Count("record count", maxSegRows)
	if r.Err == nil && n > r.Len() {
		return nil, corrupt("record count larger than the segment")
	}
	b := &Batch{Dict: readDict(r, len(data))}
	if r.Err != nil {
		return nil, r.Err
	}
	readKeys(r, b, n)
	readTimes(r, b, n)
	readCosts(r, b, n)
	readRawCosts(r, b, n)
	for c := 0; c < v1StringCols; c++ {
		b.Str[c] = readRuns(r, n, len(b.Dict))
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if r.Len() != 0 {
		return nil, corrupt(fmt.Sprintf("%d bytes after the last column", r.Len()))
	}
	// The provider ID of each provider name the segment holds, as new dictionary entries.
	ids := map[uint32]uint32{}
	at := map[string]uint32{}
	for i, s := range b.Dict {
		at[s] = uint32(i)
	}
	index := func(s string) uint32 {
		if i, ok := at[s]; ok {
			return i
		}
		i := uint32(len(b.Dict))
		b.Dict = append(b.Dict, s)
		at[s] = i
		return i
	}
	prov := make([]uint32, n)
	for i, p := range b.Str[ColProvider] {
		id, ok := ids[p]
		if !ok {
			id = index(NormalizeProvider(b.Dict[p]))
			ids[p] = id
		}
		prov[i] = id
	}
	b.Str[ColProviderID] = prov
	empty := index("")
	for c := ColProviderID + 1; c < NumStringCols; c++ {
		b.Str[c] = constColumn(n, empty)
	}
	for k := range b.Amounts {
		b.Amounts[k] = make([]Amount, n)
	}
	b.qty = make([]quantity, n)
	for i := range b.qty {
		b.qty[i].scale = qtyNull
	}
	return b, nil
}

// EncodeRows encodes rows of b (in that order) in format version 1: how result segments keep
// the records they refer to (they need none of version 2's columns).
func EncodeRows(b *Batch, rows []int32) []byte { return encodeV1(b, rows, nil) }

// DecodeRows decodes what EncodeRows wrote.
func DecodeRows(data []byte) (*Batch, error) {
	if len(data) < 4 || string(data[:4]) != segMagicV1 {
		return nil, corrupt("records are not in usage segment format version 1")
	}
	return decodeV1(data)
}

// appendDict writes the dictionary front-coded: count, then per entry the length of the
// prefix it shares with the previous entry, the suffix's length and the suffix.
func appendDict(out []byte, dict []string) []byte {
	out = binary.AppendUvarint(out, uint64(len(dict)))
	prev := ""
	for _, s := range dict {
		shared := commonPrefix(s, prev)
		out = binary.AppendUvarint(out, uint64(shared))
		out = binary.AppendUvarint(out, uint64(len(s)-shared))
		out = append(out, s[shared:]...)
		prev = s
	}
	return out
}

// readDict reads a front-coded dictionary of a segment of size bytes. Its strings share one
// new allocation.
func readDict(r *varint.Reader, size int) []string {
	nd := r.Count("dictionary size", uint64(r.Len()))
	// Rebuild into one arena, then cut strings out of it. A first pass over the lengths sizes
	// the arena exactly: grown by appending, it was up to twice the strings, and the arena
	// lives as long as the batch (on the bench estate, 6 to 12 MB a segment).
	total, prevLen := 0, 0
	for pre, i := *r, 0; i < nd && pre.Err == nil; i++ {
		shared := pre.Count("dictionary prefix", uint64(prevLen))
		prevLen = shared + len(pre.Bytes(pre.Count("dictionary entry", uint64(pre.Len())), "dictionary entry"))
		if total += prevLen; total > 64*size {
			break // the second pass says what is wrong
		}
	}
	type span struct{ off, n int }
	spans := make([]span, 0, nd)
	arena := make([]byte, 0, min(total, 64*size))
	prev := span{}
	for i := 0; i < nd && r.Err == nil; i++ {
		shared := r.Count("dictionary prefix", uint64(prev.n))
		suffix := r.Bytes(r.Count("dictionary entry", uint64(r.Len())), "dictionary entry")
		off := len(arena)
		// Front coding can describe strings far longer than itself; real dictionaries
		// decode to a few times their size, so a larger one is damage, not data.
		if len(arena)+shared+len(suffix) > 64*size {
			r.Fail("dictionary larger than its segment can hold")
			return nil
		}
		arena = append(arena, arena[prev.off:prev.off+shared]...)
		arena = append(arena, suffix...)
		prev = span{off, shared + len(suffix)}
		spans = append(spans, prev)
	}
	if r.Err != nil {
		return nil
	}
	dict := make([]string, nd)
	if len(arena) > 0 {
		base := unsafe.String(&arena[0], len(arena)) // arena is never written again
		for i, s := range spans {
			dict[i] = base[s.off : s.off+s.n]
		}
	}
	return dict
}

// appendKeys writes the keys: mode 0 when every key is a row hash (16 bytes each follow),
// else mode 1 and per row a kind byte and 16 bytes or a length and the text.
func appendKeys(out []byte, b *Batch, order []int32) []byte {
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
		return out
	}
	out = append(out, 1)
	for _, i := range order {
		k := b.keyBuf[b.keyOff[i]:b.keyOff[i+1]]
		out = append(out, k[0])
		if k[0] == keyText {
			out = binary.AppendUvarint(out, uint64(len(k)-1))
		}
		out = append(out, k[1:]...)
	}
	return out
}

func readKeys(r *varint.Reader, b *Batch, n int) {
	b.keyOff = make([]uint32, n+1)
	switch mode := r.Byte("key mode"); mode {
	case 0:
		raw := r.Bytes(16*n, "keys")
		if r.Err != nil {
			return
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
}

// appendTimes writes the charge periods: the time unit (0: nanoseconds, 9: seconds, when
// every time is a whole second), the first start and n-1 differences (zig-zag), and the
// lengths (End-Start) as runs of (value, run length).
func appendTimes(out []byte, b *Batch, order []int32) []byte {
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
	return out
}

// readTimeUnit reads the charge periods section's unit: 0 for nanoseconds, 9 for seconds.
func readTimeUnit(r *varint.Reader) int64 {
	switch u := r.Byte("time unit"); u {
	case 0:
		return 1
	case 9:
		return 1_000_000_000
	default:
		r.Fail(fmt.Sprintf("time unit %d", u))
		return 0
	}
}

func readTimes(r *varint.Reader, b *Batch, n int) {
	unit := readTimeUnit(r)
	if r.Err != nil {
		return
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
}

// appendCosts writes the n costs in nano-units (zig-zag).
func appendCosts(out []byte, b *Batch, order []int32) []byte {
	for _, i := range order {
		out = binary.AppendVarint(out, int64(b.Cost[i]))
	}
	return out
}

func readCosts(r *varint.Reader, b *Batch, n int) {
	b.Cost = make([]money.Nanos, n)
	for i := 0; i < n; i++ {
		b.Cost[i] = money.Nanos(r.Varint("cost"))
	}
}

// appendRawCosts writes the cost texts that differ from their amount's canonical text: count,
// then (row difference, length, text). It also returns the count.
func appendRawCosts(out []byte, b *Batch, order []int32) ([]byte, int) {
	var nraw int
	var part []byte
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
		part = binary.AppendUvarint(part, uint64(j-prevRow))
		part = binary.AppendUvarint(part, uint64(len(t)))
		part = append(part, t...)
		prevRow = j
		nraw++
	}
	out = binary.AppendUvarint(out, uint64(nraw))
	return append(out, part...), nraw
}

func readRawCosts(r *varint.Reader, b *Batch, n int) {
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
}

// appendRuns writes a string column as runs of (dictionary index, run length).
func appendRuns(out []byte, col []uint32) []byte {
	runs := 0
	for j := range col {
		if j == 0 || col[j] != col[j-1] {
			runs++
		}
	}
	out = binary.AppendUvarint(out, uint64(runs))
	for j := 0; j < len(col); {
		k := j + 1
		for k < len(col) && col[k] == col[j] {
			k++
		}
		out = binary.AppendUvarint(out, uint64(col[j]))
		out = binary.AppendUvarint(out, uint64(k-j))
		j = k
	}
	return out
}

func readRuns(r *varint.Reader, n, nd int) []uint32 {
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
	return col
}

// appendQuantities writes a quantity per row: 0 null, 1 and a length and text, or 2+scale and
// the zig-zag mantissa (quantity). It also reports whether any quantity is not null.
func appendQuantities(out []byte, b *Batch, order []int32) ([]byte, bool) {
	any := false
	for _, i := range order {
		q := b.qty[i]
		switch q.scale {
		case qtyNull:
			out = append(out, 0)
			continue
		case qtyText:
			t := b.qtyText[q.m]
			out = append(out, 1)
			out = binary.AppendUvarint(out, uint64(len(t)))
			out = append(out, t...)
		default:
			out = append(out, byte(2+q.scale))
			out = binary.AppendVarint(out, q.m)
		}
		any = true
	}
	return out, any
}

func readQuantities(r *varint.Reader, b *Batch, n int) {
	b.qty = make([]quantity, n)
	for i := 0; i < n && r.Err == nil; i++ {
		switch h := r.Byte("quantity"); {
		case h == 0:
			b.qty[i].scale = qtyNull
		case h == 1:
			t := r.Bytes(r.Count("quantity length", uint64(r.Len())), "quantity")
			b.qty[i] = quantity{m: int64(len(b.qtyText)), scale: qtyText}
			b.qtyText = append(b.qtyText, string(t))
		case h-2 <= maxQtyScale:
			b.qty[i] = quantity{m: r.Varint("quantity"), scale: int8(h - 2)}
		default:
			r.Fail(fmt.Sprintf("quantity kind %d", h))
		}
	}
}

// Amount runs: (kind, run length), kind 0 null, 1 equal to the row's cost, 2 values follow
// (zig-zag nano-units, one per row of the run).
func appendAmounts(out []byte, b *Batch, k int, order []int32) ([]byte, bool) {
	col := b.Amounts[k]
	kind := func(i int32) uint64 {
		switch a := col[i]; {
		case !a.Valid:
			return 0
		case a.Nanos == b.Cost[i]:
			return 1
		}
		return 2
	}
	var runs []byte
	nruns, any := 0, false
	for j := 0; j < len(order); {
		kd := kind(order[j])
		e := j + 1
		for e < len(order) && kind(order[e]) == kd {
			e++
		}
		runs = binary.AppendUvarint(runs, kd)
		runs = binary.AppendUvarint(runs, uint64(e-j))
		if kd == 2 {
			for _, i := range order[j:e] {
				runs = binary.AppendVarint(runs, int64(col[i].Nanos))
			}
		}
		any = any || kd != 0
		nruns++
		j = e
	}
	out = binary.AppendUvarint(out, uint64(nruns))
	return append(out, runs...), any
}

func readAmounts(r *varint.Reader, b *Batch, k, n int) {
	col := b.Amounts[k]
	runs := r.Count("amount runs", uint64(n))
	at := 0
	for x := 0; x < runs && r.Err == nil; x++ {
		kd := r.Uvarint("amount kind")
		m := r.Count("amount run", uint64(n-at))
		for j := at; j < at+m && r.Err == nil; j++ {
			switch kd {
			case 0:
			case 1:
				col[j] = Some(b.Cost[j])
			case 2:
				col[j] = Some(money.Nanos(r.Varint("amount")))
			default:
				r.Fail(fmt.Sprintf("amount kind %d", kd))
			}
		}
		at += m
	}
	if r.Err == nil && at != n {
		r.Fail("amount runs do not cover every record")
	}
}

// quantity is an exact decimal as written: m×10^-scale when formatting that gives back the
// text (the usual case, stored in a few bytes), else the text (in the batch's qtyText).
type quantity struct {
	m     int64
	scale int8
}

const (
	qtyNull     = -1
	qtyText     = -2
	maxQtyScale = 18
)

// quantity returns the stored form of a quantity's text, keeping texts it cannot hold as
// numbers in the batch.
func (bb *BatchBuilder) quantity(s string) quantity {
	if s == "" {
		return quantity{scale: qtyNull}
	}
	if q, ok := compactQuantity(s); ok {
		return q
	}
	bb.b.qtyText = append(bb.b.qtyText, s)
	return quantity{m: int64(len(bb.b.qtyText) - 1), scale: qtyText}
}

// compactQuantity reads s as m×10^-scale if formatQuantity gives s back.
func compactQuantity(s string) (quantity, bool) {
	var m uint64
	scale, digits, point := 0, 0, false
	neg := len(s) > 0 && s[0] == '-'
	t := s
	if neg {
		t = s[1:]
	}
	if t == "" {
		return quantity{}, false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.' && !point && i > 0 && i < len(t)-1:
			point = true
		case c >= '0' && c <= '9':
			if digits == 18 {
				return quantity{}, false
			}
			m = m*10 + uint64(c-'0')
			digits++
			if point {
				scale++
			}
		default:
			return quantity{}, false
		}
	}
	v := int64(m)
	if neg {
		v = -v
	}
	q := quantity{m: v, scale: int8(scale)}
	if formatQuantity(q) != s {
		return quantity{}, false // leading zeros, -0
	}
	return q, true
}

func formatQuantity(q quantity) string {
	u := q.m
	neg := u < 0
	if neg {
		u = -u
	}
	d := strconv.FormatInt(u, 10)
	if q.scale > 0 {
		for len(d) <= int(q.scale) {
			d = "0" + d
		}
		d = d[:len(d)-int(q.scale)] + "." + d[len(d)-int(q.scale):]
	}
	if neg {
		d = "-" + d
	}
	return d
}

// text is a quantity's text (qtyText quantities are read through the batch).
func (b *Batch) quantityText(q quantity) string {
	switch q.scale {
	case qtyNull:
		return ""
	case qtyText:
		return b.qtyText[q.m]
	}
	return formatQuantity(q)
}
