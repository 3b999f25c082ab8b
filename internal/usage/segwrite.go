package usage

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"io"
	"maps"
	"math"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// How an import writes usage, in two passes, so that memory stays bounded whatever the
// file's size or order:
//
//  1. Every good row is appended, compactly encoded (strings as indices into the import's
//     dictionary), to the buffer of its charge day. When the buffers hold spillBudget bytes
//     they are appended to an unlinked temporary file, so a file larger than memory costs
//     disk, not memory. Nothing is written to the database in this pass, so a file with a
//     bad row (without --skip-bad) writes nothing at all.
//  2. Day by day, on every core: the day's rows are read back in file order, de-duplicated
//     against the keys stored for that day and against each other (the first wins), sorted
//     by subscription and resource, cut into segments of at most segmentRows and written
//     with their keys, in the import's one transaction.
//
// Memory holds the buffers, the dictionary (the distinct strings: bounded by the estate's
// subscriptions and resources, not by the number of rows) and the days being written.

// spillBudget is how many bytes of encoded rows pass 1 keeps before it writes them to the
// temporary file (a variable so that tests can make every import spill).
var spillBudget = 32 << 20

// keyEntrySize is the size of one stored key: the 16-byte digest and the charge start, both
// big-endian so that entries sort as bytes.
const keyEntrySize = 24

// maxKeyBits bounds a segment's key buckets at 256; a segment gets about one bucket per
// keysPerBucket records, so that small segments do not write hundreds of tiny rows.
const (
	maxKeyBits    = 8
	keysPerBucket = 256
)

func keyBits(records int) int {
	b := 0
	for b < maxKeyBits && records>>(b+1) >= keysPerBucket {
		b++
	}
	return b
}

// strTable interns strings without pointers (byte chunks, locations and an index), so that
// the garbage collector never scans an import's hundreds of thousands of resource IDs. Chunks
// never move or change once written, so views of them (unsafe.String) stay valid.
type strTable struct {
	chunks [][]byte
	loc    []strLoc
	// slots: open addressing; the hash's upper half << 32 | entry index + 1, 0 is empty. A
	// slot that is not the string's is passed over by its hash, without reading the entry and
	// its bytes (two cache misses in a table of hundreds of thousands of resource IDs).
	slots []uint64
	seed  maphash.Seed
	bytes int // of strings held
}

// dictBudget bounds the bytes of strings an import's dictionary holds. Usage names the estate's
// subscriptions and resources, so a dictionary stays far below it; a file whose strings are
// new on every row (a unique ID in a mapped column) has the rest written inline instead, so
// memory stays bounded anyway (a variable so that tests can lower it).
var dictBudget = 64 << 20

type strLoc struct{ chunk, off, n uint32 }

const strChunk = 1 << 20

func newStrTable() *strTable {
	return &strTable{slots: make([]uint64, 1024), seed: maphash.MakeSeed()}
}

func (t *strTable) len() int { return len(t.loc) }

func (t *strTable) at(i uint32) []byte {
	l := t.loc[i]
	return t.chunks[l.chunk][l.off : l.off+l.n]
}

// intern returns s's index, adding s unless the table holds dictBudget bytes (then ok is
// false).
func (t *strTable) intern(s string) (i uint32, ok bool) {
	if 2*(t.len()+1) > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	hash := maphash.String(t.seed, s)
	tag := hash >> 32 << 32
	for h := hash & mask; ; h = (h + 1) & mask {
		e := t.slots[h]
		if e == 0 {
			if t.bytes+len(s) > dictBudget {
				return 0, false
			}
			i := uint32(t.len())
			t.loc = append(t.loc, t.store(s))
			t.bytes += len(s)
			t.slots[h] = tag | uint64(i+1)
			return i, true
		}
		if e&^0xffffffff == tag && string(t.at(uint32(e)-1)) == s {
			return uint32(e) - 1, true
		}
	}
}

// store copies s into the current chunk, or a new one when it does not fit.
func (t *strTable) store(s string) strLoc {
	k := len(t.chunks) - 1
	if k < 0 || len(t.chunks[k])+len(s) > cap(t.chunks[k]) {
		t.chunks = append(t.chunks, make([]byte, 0, max(strChunk, len(s))))
		k++
	}
	c := t.chunks[k]
	off := len(c)
	t.chunks[k] = append(c, s...)
	return strLoc{uint32(k), uint32(off), uint32(len(s))}
}

func (t *strTable) grow() {
	t.slots = make([]uint64, 2*len(t.slots))
	mask := uint64(len(t.slots) - 1)
	for i := 0; i < t.len(); i++ {
		hash := maphash.Bytes(t.seed, t.at(uint32(i)))
		h := hash & mask
		for t.slots[h] != 0 {
			h = (h + 1) & mask
		}
		t.slots[h] = hash>>32<<32 | uint64(i+1)
	}
}

// strings returns the entries as strings that share the chunks.
func (t *strTable) strings() []string {
	out := make([]string, t.len())
	for i := range out {
		if b := t.at(uint32(i)); len(b) > 0 {
			out[i] = unsafe.String(&b[0], len(b))
		}
	}
	return out
}

// colCache remembers a column's last few strings: most columns have few values, and
// comparing a short string is cheaper than hashing it. A column whose values change from row
// to row (resource IDs, in a file in no particular order) would only pay for the comparisons
// (long shared prefixes): each window of cacheWindow lookups starts with cacheProbe through
// the cache, and the rest skip it unless half of those hit.
type colCache struct {
	s     [4]string // views of the dictionary's arena
	i     [4]uint32
	valid int
	next  int
	tries int // lookups in the current window
	hits  int
	skip  bool
}

const (
	cacheWindow = 1 << 16
	cacheProbe  = 1 << 10
)

// shapeCols are the string columns that take few values in a file (service, categories,
// provider, currency, region, ...). Pass 1 interns each row's combination of them, its shape,
// and keeps one number per row for all fifteen: pass 2 holds a day's rows in memory, and
// fifteen indices a row would have made it half as large again.
var shapeCols = [...]int{ColService, ColServiceCategory, ColChargeCategory, ColPricingCategory, ColCommitmentDiscount,
	ColProvider, ColPublisher, ColCurrency, ColProviderID, ColHostProvider, ColInvoiceIssuer, ColBillingAccount,
	ColSubAccountType, ColRegion, ColUnit}

type shape [len(shapeCols)]uint32

// maxShapes bounds the shapes an import keeps; rows of further shapes carry their strings.
var maxShapes = 1 << 16

// segWriter is one import's writer state.
type segWriter struct {
	dict  *strTable
	cache [NumStringCols]colCache
	// shapes[k] is shape k+1's dictionary indices; shape 0 means the row carries its own.
	shapes    []shape
	shapeIdx  map[shape]uint32
	lastShape shape
	lastID    uint32
	days      map[int64]*dayRows
	held      int // bytes in the days' buffers
	spill     *os.File
	size      int64 // bytes in the spill file
	rows      int64
}

// dayRows are one charge day's rows of pass 1.
type dayRows struct {
	buf    []byte
	blocks [][2]int64 // (offset, length) of the day's spilled rows, in file order
	n      int
}

func newSegWriter() *segWriter {
	return &segWriter{dict: newStrTable(), days: map[int64]*dayRows{}, shapeIdx: map[shape]uint32{}}
}

func (w *segWriter) close() {
	if w.spill != nil {
		w.spill.Close()
		w.spill = nil
	}
}

// intern returns s's dictionary index, or false when the dictionary is full and s not in it.
func (w *segWriter) intern(col int, s string) (uint32, bool) {
	c := &w.cache[col]
	switch c.tries++; c.tries {
	case cacheProbe:
		c.skip = 2*c.hits < cacheProbe
	case cacheWindow:
		c.tries, c.hits, c.skip = 0, 0, false
	}
	if !c.skip {
		for k := 0; k < c.valid; k++ {
			if c.s[k] == s {
				c.hits++
				return c.i[k], true
			}
		}
	}
	i, ok := w.dict.intern(s)
	if !ok || c.skip {
		return i, ok
	}
	// A view of the table's chunk, not s: s may point into a whole CSV row.
	e := w.dict.at(i)
	view := ""
	if len(e) > 0 {
		view = unsafe.String(&e[0], len(e))
	}
	c.s[c.next], c.i[c.next] = view, i
	c.next = (c.next + 1) % len(c.s)
	c.valid = min(c.valid+1, len(c.s))
	return i, true
}

// add appends a good record to its day (pass 1). A row is: its key (kind, then 16 bytes or
// length and text), start, length, cost, raw cost text (length and text, or 0), subscription,
// resource and tags (dictionary index + 1, or 0 and the string), shape (index + 1, or 0 and
// each shape column as a string is), quantity (as in a segment) and the amounts (a byte of
// 2-bit kinds, then the values of kind 2; see appendAmounts).
func (w *segWriter) add(r *Record) error {
	day := floorDay(r.Start)
	d := w.days[day]
	if d == nil {
		d = &dayRows{}
		w.days[day] = d
	}
	before := len(d.buf)
	b := d.buf
	var hexKey [16]byte
	if len(r.Key) == 32 && hexDecode16(&hexKey, r.Key) {
		b = append(b, keyHex)
		b = append(b, hexKey[:]...)
	} else {
		// Text keys carry their length; hex keys are always 16 bytes.
		b = append(b, keyText)
		b = binary.AppendUvarint(b, uint64(len(r.Key)))
		b = append(b, r.Key...)
	}
	b = binary.AppendVarint(b, r.Start)
	b = binary.AppendUvarint(b, uint64(r.End-r.Start))
	b = binary.AppendVarint(b, int64(r.Cost))
	if r.CostRaw != "" && !r.Cost.IsText(r.CostRaw) {
		b = binary.AppendUvarint(b, uint64(len(r.CostRaw)))
		b = append(b, r.CostRaw...)
	} else {
		b = append(b, 0)
	}
	strs := r.strings()
	for _, col := range [...]int{ColSubscription, ColResource, ColTags} {
		b = w.appendString(b, col, strs[col])
	}
	b = w.appendShape(b, &strs)
	b = appendQuantity(b, r.Quantity)
	b = appendRowAmounts(b, r)
	d.buf = b
	d.n++
	w.rows++
	w.held += len(b) - before
	if w.held >= spillBudget {
		return w.spillAll()
	}
	return nil
}

// appendString appends s as its dictionary index + 1, or 0 and s itself when the dictionary
// is full.
func (w *segWriter) appendString(b []byte, col int, s string) []byte {
	if i, ok := w.intern(col, s); ok {
		return binary.AppendUvarint(b, uint64(i)+1)
	}
	b = append(b, 0)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendShape appends the row's shape.
func (w *segWriter) appendShape(b []byte, strs *[NumStringCols]string) []byte {
	var sh shape
	for k, col := range shapeCols {
		i, ok := w.intern(col, strs[col])
		if !ok {
			return w.appendOwnShape(b, strs)
		}
		sh[k] = i
	}
	if w.lastID != 0 && sh == w.lastShape {
		return binary.AppendUvarint(b, uint64(w.lastID))
	}
	id, ok := w.shapeIdx[sh]
	if !ok {
		if len(w.shapes) >= maxShapes {
			return w.appendOwnShape(b, strs)
		}
		w.shapes = append(w.shapes, sh)
		id = uint32(len(w.shapes))
		w.shapeIdx[sh] = id
	}
	w.lastShape, w.lastID = sh, id
	return binary.AppendUvarint(b, uint64(id))
}

func (w *segWriter) appendOwnShape(b []byte, strs *[NumStringCols]string) []byte {
	b = append(b, 0)
	for _, col := range shapeCols {
		b = w.appendString(b, col, strs[col])
	}
	return b
}

// appendQuantity appends a quantity as a segment stores it (appendQuantities).
func appendQuantity(b []byte, s string) []byte {
	if s == "" {
		return append(b, 0)
	}
	if q, ok := compactQuantity(s); ok {
		b = append(b, byte(2+q.scale))
		return binary.AppendVarint(b, q.m)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendRowAmounts(b []byte, r *Record) []byte {
	as := r.amounts()
	var kinds byte
	for k, a := range as {
		switch {
		case !a.Valid:
		case a.Nanos == r.Cost:
			kinds |= 1 << (2 * k)
		default:
			kinds |= 2 << (2 * k)
		}
	}
	b = append(b, kinds)
	for k, a := range as {
		if kinds>>(2*k)&3 == 2 {
			b = binary.AppendVarint(b, int64(a.Nanos))
		}
	}
	return b
}

// spillAll appends every day's buffer to the temporary file.
func (w *segWriter) spillAll() error {
	if w.spill == nil {
		f, err := os.CreateTemp("", "partnerlink-usage-*.spill")
		if err != nil {
			return fmt.Errorf("creating a temporary file for a large usage import: %w (set TMPDIR to a directory with free space)", err)
		}
		// Unlinked at once: the space is returned when the import ends, however it ends.
		os.Remove(f.Name())
		w.spill = f
	}
	for _, d := range w.days {
		if len(d.buf) == 0 {
			continue
		}
		if _, err := w.spill.WriteAt(d.buf, w.size); err != nil {
			return fmt.Errorf("writing the usage import's temporary file: %w (set TMPDIR to a directory with free space)", err)
		}
		d.blocks = append(d.blocks, [2]int64{w.size, int64(len(d.buf))})
		w.size += int64(len(d.buf))
		d.buf = d.buf[:0] // the capacity is reused: the buffers together stay near the budget
	}
	w.held = 0
	return nil
}

// segRow is one row of a day in pass 2, its fields together. Building segments reads the
// rows in sorted order, that is at random; with the fields in columns each row cost a cache
// miss per column, and that gather was half of pass 2 at 10,000,000 rows.
type segRow struct {
	digest        [16]byte
	start, end    int64
	cost          money.Nanos
	sub, res, tag uint32
	shape         uint32 // index into the day's shapes
	keyOff        uint32 // text keys: the key is text[keyOff:keyOff+keyLen-1]; keyLen 0: a hex key (the digest)
	keyLen        uint32
	raw           int32 // index + 1 of the row's cost text in the day's raw texts; 0: none
	// The row's amounts that are neither null nor its cost, and its quantity, are in the
	// day's extras (most rows have none): amounts at extra[amounts:], one per kind-2 amount in
	// column order, and the quantity at qtys[qty-1] (0: null).
	amounts     int32
	qty         int32
	amountKinds uint8 // 2 bits per amount: 0 null, 1 the cost, 2 in extra
}

// dayRows decodes one day's rows (pass 2) into sc.rows, in file order, and returns the
// dictionary and shapes they index (dict and shapes, and strings and shapes of the day's own
// that the full dictionary or shape table could not take). sc.buf is scratch for reading the
// temporary file.
func (w *segWriter) dayRows(d *dayRows, dict []string, shapes []shape, sc *segScratch) ([]string, []shape, error) {
	if cap(sc.rows) < d.n {
		sc.rows = make([]segRow, 0, d.n)
	}
	rows := sc.rows[:0]
	sc.text, sc.rawText, sc.rawEnd, sc.qtys, sc.qtyList, sc.extra = sc.text[:0], sc.rawText[:0], sc.rawEnd[:0], sc.qtys[:0], sc.qtyList[:0], sc.extra[:0]
	extra := map[string]uint32{}
	var extras []string
	var ownShapes []shape
	str := func(r *varint.Reader) uint32 {
		i := r.Count("string", uint64(len(dict)))
		if i > 0 {
			return uint32(i - 1)
		}
		// A string the full dictionary could not take: this day's own.
		s := string(r.Bytes(r.Count("string length", uint64(r.Len())), "string"))
		k, ok := extra[s]
		if !ok {
			k = uint32(len(dict) + len(extras))
			extra[s] = k
			extras = append(extras, s)
		}
		return k
	}
	decode := func(data []byte) error {
		r := varint.NewReader(data, errCorrupt)
		for r.Len() > 0 && r.Err == nil {
			var row segRow
			if kind := r.Byte("key kind"); kind == keyHex {
				copy(row.digest[:], r.Bytes(16, "key"))
			} else {
				k := r.Bytes(r.Count("key length", uint64(r.Len())), "key")
				row.digest = textDigest(k)
				row.keyOff, row.keyLen = uint32(len(sc.text)), uint32(len(k))+1
				sc.text = append(sc.text, k...)
			}
			row.start = r.Varint("start")
			row.end = row.start + int64(r.Uvarint("length"))
			row.cost = money.Nanos(r.Varint("cost"))
			if n := r.Count("raw cost", uint64(r.Len())); n > 0 {
				sc.rawText = append(sc.rawText, r.Bytes(n, "raw cost")...)
				sc.rawEnd = append(sc.rawEnd, uint32(len(sc.rawText)))
				row.raw = int32(len(sc.rawEnd))
			}
			row.sub, row.res, row.tag = str(r), str(r), str(r)
			if id := r.Count("shape", uint64(len(shapes))); id > 0 {
				row.shape = uint32(id - 1)
			} else {
				var sh shape
				for k := range sh {
					sh[k] = str(r)
				}
				row.shape = uint32(len(shapes) + len(ownShapes))
				ownShapes = append(ownShapes, sh)
			}
			switch h := r.Byte("quantity"); {
			case h == 0:
			case h == 1:
				t := r.Bytes(r.Count("quantity length", uint64(r.Len())), "quantity")
				sc.qtyList = append(sc.qtyList, quantity{m: int64(len(sc.qtys)), scale: qtyText})
				sc.qtys = append(sc.qtys, string(t))
				row.qty = int32(len(sc.qtyList))
			default:
				sc.qtyList = append(sc.qtyList, quantity{m: r.Varint("quantity"), scale: int8(h - 2)})
				row.qty = int32(len(sc.qtyList))
			}
			row.amountKinds = r.Byte("amount kinds")
			row.amounts = int32(len(sc.extra))
			for k := range numAmounts {
				if row.amountKinds>>(2*k)&3 == 2 {
					sc.extra = append(sc.extra, money.Nanos(r.Varint("amount")))
				}
			}
			rows = append(rows, row)
		}
		return r.Err
	}
	for _, bl := range d.blocks {
		if cap(sc.buf) < int(bl[1]) {
			sc.buf = make([]byte, bl[1])
		}
		data := sc.buf[:bl[1]]
		if _, err := w.spill.ReadAt(data, bl[0]); err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("reading the usage import's temporary file: %w", err)
		}
		if err := decode(data); err != nil {
			return nil, nil, err
		}
	}
	if err := decode(d.buf); err != nil {
		return nil, nil, err
	}
	sc.rows = rows
	if len(extras) > 0 {
		dict = append(dict[:len(dict):len(dict)], extras...)
	}
	if len(ownShapes) > 0 {
		shapes = append(shapes[:len(shapes):len(shapes)], ownShapes...)
	}
	return dict, shapes, nil
}

// keySet is a set of (digest, start) for de-duplication: open addressing over the digest's
// first 8 bytes (already uniformly random). A day of a large import holds hundreds of
// thousands of keys, so the table itself holds only 8 bytes a slot (a tag from other bytes of
// the digest, and the entry's index): with the entries in the table, 40 bytes a slot, nearly
// every insert missed the processor's caches and de-duplication took a quarter of the import.
// The entries are appended in order; only a matching tag reads one.
type keySet struct {
	slots   []uint64 // tag<<32 | index+1; 0 is empty
	digests [][16]byte
	starts  []int64
}

func newKeySet(hint int) *keySet {
	size := 16
	for size < 2*hint {
		size *= 2
	}
	return &keySet{slots: make([]uint64, size), digests: make([][16]byte, 0, hint), starts: make([]int64, 0, hint)}
}

func keyHash(d *[16]byte, s int64) (home uint64, tag uint64) {
	home = binary.LittleEndian.Uint64(d[:8]) ^ uint64(s)*0x9e3779b97f4a7c15
	tag = uint64(binary.LittleEndian.Uint32(d[8:12])) ^ uint64(uint32(s))
	return home, tag
}

// add inserts (d, s) and reports whether it was new.
func (k *keySet) add(d [16]byte, s int64) bool {
	if 2*(len(k.digests)+1) > len(k.slots) {
		k.slots = make([]uint64, 2*len(k.slots))
		mask := uint64(len(k.slots) - 1)
		for i := range k.digests {
			home, tag := keyHash(&k.digests[i], k.starts[i])
			h := home & mask
			for k.slots[h] != 0 {
				h = (h + 1) & mask
			}
			k.slots[h] = tag<<32 | uint64(i+1)
		}
	}
	mask := uint64(len(k.slots) - 1)
	home, tag := keyHash(&d, s)
	for h := home & mask; ; h = (h + 1) & mask {
		e := k.slots[h]
		if e == 0 {
			k.slots[h] = tag<<32 | uint64(len(k.digests)+1)
			k.digests = append(k.digests, d)
			k.starts = append(k.starts, s)
			return true
		}
		if e>>32 == tag {
			if i := uint32(e) - 1; k.digests[i] == d && k.starts[i] == s {
				return false
			}
		}
	}
}

// storedKeys adds every key stored for day to ks.
func storedKeys(ctx context.Context, l store.Loader, day int64, ks *keySet) error {
	return l.Query(ctx, `SELECT data FROM usage_keys WHERE day = $1`, []any{day}, func(scan func(...any) error) error {
		var data []byte
		if err := scan(&data); err != nil {
			return err
		}
		if len(data)%keyEntrySize != 0 {
			return corrupt(fmt.Sprintf("key bucket of %d bytes", len(data)))
		}
		for off := 0; off < len(data); off += keyEntrySize {
			var d [16]byte
			copy(d[:], data[off:off+16])
			ks.add(d, int64(binary.BigEndian.Uint64(data[off+16:off+24])))
		}
		return nil
	})
}

// segment is one encoded segment ready to be written.
type segment struct {
	id, importID, measure string
	day                   int64
	records               int
	minStart, maxStart    int64
	minSub, maxSub        string
	subs                  []byte // see encodeSubs
	data                  []byte
	sum                   [32]byte // data's SHA-256
	bits                  int
	keys                  [][]byte // 1 << bits buckets of sorted key entries
}

// segScratch is one pass-2 goroutine's reusable memory.
type segScratch struct {
	remap   []uint32 // global dictionary index -> segment index + 1 (0: not in this segment)
	touched []uint32
	buf     []byte
	// A day's rows (see dayRows), their key texts, raw cost texts, quantities (and the texts of
	// those kept as text) and amounts other than null or the cost.
	rows    []segRow
	text    []byte
	rawText []byte   // the raw cost texts back to back (one allocation, not one a row)
	rawEnd  []uint32 // raw cost k+1 ends at rawText[rawEnd[k]]
	qtyList []quantity
	qtys    []string
	extra   []money.Nanos
	// orderDay's: subscription ranks by dictionary index, the day's subscriptions, counts and
	// the rows between its two passes.
	rank     []uint32
	subs     []uint32
	counts   []uint32
	orderTmp []int32
	seg      Batch   // one segment's rows, in order
	ident    []int32 // 0, 1, 2, ...
	ents     []keyEntry
	sortTmp  []keyEntry // sortEntries' scratch
	// encodeSegment's: the string columns in segment indices, and the sections' bytes.
	cols     [NumStringCols][]uint32
	secs     []segSection
	sections []byte
}

// keyEntry is a stored key as numbers: digest and start, each compared as unsigned, sort as
// their big-endian bytes do.
type keyEntry struct{ a, b, s uint64 }

// buildSegments de-duplicates a day's rows (sc.rows, in file order; the first of equal keys
// wins) against stored and returns its new rows as segments, and how many rows were new.
func buildSegments(sc *segScratch, dict []string, shapes []shape, day int64, stored *keySet, importID, measure string) ([]*segment, int) {
	rows := sc.rows
	keep := make([]int32, 0, len(rows))
	for i := range rows {
		if stored.add(rows[i].digest, rows[i].start) {
			keep = append(keep, int32(i))
		}
	}
	if len(keep) == 0 {
		return nil, 0
	}
	sc.orderDay(rows, keep, dict)

	var out []*segment
	for lo := 0; lo < len(keep); lo += segmentRows {
		order := keep[lo:min(lo+segmentRows, len(keep))]
		b := sc.gather(order, dict, shapes)
		n := len(order)
		subs := b.Str[ColSubscription]
		sg := &segment{id: store.NewID(), importID: importID, measure: measure, day: day, records: n,
			minStart: slices.Min(b.Start), maxStart: slices.Max(b.Start), minSub: dict[subs[0]], maxSub: dict[subs[n-1]]}
		for len(sc.ident) < n {
			sc.ident = append(sc.ident, int32(len(sc.ident)))
		}
		sg.data = encodeSegment(b, sc.ident[:n], sc)
		// Hashed here, not by the writer: the one connection's work is the end of pass 2's
		// critical path, and the goroutines building days can share the hashing.
		sg.sum = sha256.Sum256(sg.data)
		sg.bits = keyBits(n)
		// One sort of the segment's keys: a bucket is the first bits of the digest, so the
		// sorted keys fall into their buckets in order.
		ents := sc.ents[:0]
		var subList []subCount
		for j, i := range order {
			d := &rows[i].digest
			s := b.Start[j]
			ents = append(ents, keyEntry{binary.BigEndian.Uint64(d[:8]), binary.BigEndian.Uint64(d[8:]), uint64(s)})
			if !IsMicrosoft(dict[b.Str[ColProviderID][j]]) {
				continue // the counts are of Azure subscriptions (Subscriptions)
			}
			if m := len(subList); m == 0 || subList[m-1].idx != subs[j] {
				subList = append(subList, subCount{idx: subs[j], first: s})
			}
			c := &subList[len(subList)-1]
			c.records++
			c.first = min(c.first, s)
		}
		sc.sortTmp = sortEntries(ents, sc.sortTmp)
		sg.keys = make([][]byte, 1<<sg.bits)
		for e := 0; e < len(ents); {
			k := ents[e].a >> (64 - sg.bits) // 0 when bits is 0
			f := e + 1
			for f < len(ents) && ents[f].a>>(64-sg.bits) == k {
				f++
			}
			sg.keys[k] = encodeEntries(ents[e:f])
			e = f
		}
		sc.ents = ents
		sg.subs = encodeSubs(dict, subList)
		out = append(out, sg)
	}
	return out, len(keep)
}

// orderDay sorts keep (indices of rows, in file order) by subscription (by name), resource
// (dictionary index: first seen in the file), start and file order, so that segments hold few
// subscriptions each and their string columns are long runs. Two stable counting sorts (by
// resource, then by the subscription's rank) leave each resource's rows in file order, and
// only those runs are then sorted by start: a comparison sort of a day's hundreds of
// thousands of rows was a tenth of pass 2. A day far smaller than the import's dictionary (a
// file of many days) is sorted by comparison, so that no count array is larger than the day.
func (sc *segScratch) orderDay(rows []segRow, keep []int32, dict []string) {
	n := len(keep)
	if len(dict) > 4*n+4096 {
		orderByComparison(rows, keep, dict)
		return
	}
	if len(sc.rank) < len(dict) {
		sc.rank = make([]uint32, len(dict))
	}
	rank := sc.rank // the subscription's rank + 1; 0 for other strings
	subs := sc.subs[:0]
	for _, i := range keep {
		if s := rows[i].sub; rank[s] == 0 {
			rank[s] = 1
			subs = append(subs, s)
		}
	}
	slices.SortFunc(subs, func(x, y uint32) int { return strings.Compare(dict[x], dict[y]) })
	for r, s := range subs {
		rank[s] = uint32(r) + 1
	}
	defer func() {
		for _, s := range subs {
			rank[s] = 0
		}
		sc.subs = subs[:0]
	}()
	tmp := slices.Grow(sc.orderTmp[:0], n)[:n]
	sc.orderTmp = tmp
	count := slices.Grow(sc.counts[:0], len(dict)+1)[:len(dict)+1]
	sc.counts = count
	clear(count)
	for _, i := range keep {
		count[rows[i].res+1]++
	}
	for k := 1; k < len(count); k++ {
		count[k] += count[k-1]
	}
	for _, i := range keep {
		r := rows[i].res
		tmp[count[r]] = i
		count[r]++
	}
	count = slices.Grow(count[:0], len(subs)+2)[:len(subs)+2]
	sc.counts = count
	clear(count)
	for _, i := range tmp {
		count[rank[rows[i].sub]]++ // ranks are 1 to len(subs): count[rank] is rank-1's count
	}
	for k := 1; k < len(count); k++ {
		count[k] += count[k-1]
	}
	for _, i := range tmp {
		r := rank[rows[i].sub] - 1
		keep[count[r]] = i
		count[r]++
	}
	// Each resource's rows (of one subscription) by start: a stable sort keeps file order
	// among equal starts.
	for lo := 0; lo < n; {
		a := &rows[keep[lo]]
		hi, sorted := lo+1, true
		for ; hi < n; hi++ {
			b := &rows[keep[hi]]
			if b.res != a.res || b.sub != a.sub {
				break
			}
			if b.start < rows[keep[hi-1]].start {
				sorted = false
			}
		}
		if !sorted {
			slices.SortStableFunc(keep[lo:hi], func(x, y int32) int { return cmp.Compare(rows[x].start, rows[y].start) })
		}
		lo = hi
	}
}

// orderByComparison is orderDay's order by one comparison sort.
func orderByComparison(rows []segRow, keep []int32, dict []string) {
	rank := map[uint32]int{}
	for _, i := range keep {
		rank[rows[i].sub] = 0
	}
	subs := slices.Collect(maps.Keys(rank))
	slices.SortFunc(subs, func(x, y uint32) int { return strings.Compare(dict[x], dict[y]) })
	for r, s := range subs {
		rank[s] = r
	}
	slices.SortFunc(keep, func(x, y int32) int {
		a, b := &rows[x], &rows[y]
		switch {
		case a.sub != b.sub:
			return cmp.Compare(rank[a.sub], rank[b.sub])
		case a.res != b.res:
			return cmp.Compare(a.res, b.res)
		case a.start != b.start:
			return cmp.Compare(a.start, b.start)
		}
		return cmp.Compare(x, y)
	})
}

// gather copies the rows of order into sc.seg, in that order, and returns it.
func (sc *segScratch) gather(order []int32, dict []string, shapes []shape) *Batch {
	b := &sc.seg
	n := len(order)
	b.Dict = dict
	b.Start, b.End, b.Cost = slices.Grow(b.Start[:0], n)[:n], slices.Grow(b.End[:0], n)[:n], slices.Grow(b.Cost[:0], n)[:n]
	for c := range b.Str {
		b.Str[c] = slices.Grow(b.Str[c][:0], n)[:n]
	}
	for k := range b.Amounts {
		b.Amounts[k] = slices.Grow(b.Amounts[k][:0], n)[:n]
	}
	b.qty, b.qtyText = slices.Grow(b.qty[:0], n)[:n], sc.qtys
	b.keyBuf, b.keyOff, b.raw = b.keyBuf[:0], append(b.keyOff[:0], 0), b.raw[:0]
	rows := sc.rows
	for j, i := range order {
		r := &rows[i]
		b.Start[j], b.End[j], b.Cost[j] = r.start, r.end, r.cost
		b.Str[ColSubscription][j], b.Str[ColResource][j], b.Str[ColTags][j] = r.sub, r.res, r.tag
		sh := &shapes[r.shape]
		for k, c := range shapeCols {
			b.Str[c][j] = sh[k]
		}
		x := r.amounts
		for k := range b.Amounts {
			var a Amount
			switch r.amountKinds >> (2 * k) & 3 {
			case 1:
				a = Some(r.cost)
			case 2:
				a = Some(sc.extra[x])
				x++
			}
			b.Amounts[k][j] = a
		}
		q := quantity{scale: qtyNull}
		if r.qty > 0 {
			q = sc.qtyList[r.qty-1]
		}
		b.qty[j] = q
		if r.keyLen == 0 {
			b.keyBuf = append(append(b.keyBuf, keyHex), r.digest[:]...)
		} else {
			b.keyBuf = append(append(b.keyBuf, keyText), sc.text[r.keyOff:r.keyOff+r.keyLen-1]...)
		}
		b.keyOff = append(b.keyOff, uint32(len(b.keyBuf)))
		if r.raw > 0 {
			b.raw = append(b.raw, rawCost{int32(j), sc.rawCost(r.raw)})
		}
	}
	return b
}

// rawCost is the day's raw cost text k (a segRow's raw), a view of sc.rawText: the batch
// gather makes is encoded before the next day is decoded into the same memory.
func (sc *segScratch) rawCost(k int32) string {
	lo := uint32(0)
	if k > 1 {
		lo = sc.rawEnd[k-2]
	}
	t := sc.rawText[lo:sc.rawEnd[k-1]]
	if len(t) == 0 {
		return ""
	}
	return unsafe.String(&t[0], len(t))
}

// sortEntries sorts keys as their 24-byte big-endian entries sort, using tmp (grown as needed
// and returned) as scratch. Digests are uniformly random, so the keys are first distributed
// by the top bits of their digest into about one bucket per key (a counting sort), and each
// bucket is then sorted by comparison; a large bucket (keys of one record at many charge
// starts) falls back to pdqsort. Sorting 65,536 keys by comparison alone was a tenth of
// building a segment.
func sortEntries(es, tmp []keyEntry) []keyEntry {
	if len(es) < 256 {
		slices.SortFunc(es, compareEntries)
		return tmp
	}
	nb := min(bits.Len(uint(len(es)))-1, 16)
	shift := 64 - nb
	counts := make([]int32, 1<<nb+1)
	for i := range es {
		counts[es[i].a>>shift+1]++
	}
	for k := 1; k < len(counts); k++ {
		counts[k] += counts[k-1]
	}
	tmp = slices.Grow(tmp[:0], len(es))[:len(es)]
	next := slices.Clone(counts[:len(counts)-1])
	for i := range es {
		k := es[i].a >> shift
		tmp[next[k]] = es[i]
		next[k]++
	}
	copy(es, tmp)
	for k := 0; k+1 < len(counts); k++ {
		b := es[counts[k]:counts[k+1]]
		if len(b) > 12 {
			slices.SortFunc(b, compareEntries)
			continue
		}
		for i := 1; i < len(b); i++ { // insertion sort
			for j := i; j > 0 && compareEntries(b[j], b[j-1]) < 0; j-- {
				b[j], b[j-1] = b[j-1], b[j]
			}
		}
	}
	return tmp
}

func compareEntries(x, y keyEntry) int {
	switch {
	case x.a != y.a:
		return cmp.Compare(x.a, y.a)
	case x.b != y.b:
		return cmp.Compare(x.b, y.b)
	}
	return cmp.Compare(x.s, y.s)
}

// encodeEntries writes sorted keys as 24-byte big-endian entries.
func encodeEntries(es []keyEntry) []byte {
	out := make([]byte, 0, len(es)*keyEntrySize)
	for _, e := range es {
		out = binary.BigEndian.AppendUint64(out, e.a)
		out = binary.BigEndian.AppendUint64(out, e.b)
		out = binary.BigEndian.AppendUint64(out, e.s)
	}
	return out
}

type subCount struct {
	idx     uint32
	records int64
	first   int64
}

// encodeSubs writes a segment's per-subscription counts: for each Azure subscription (in the
// segment's order; records of other providers are not counted), its ID, its records and its
// first charge start.
func encodeSubs(dict []string, subs []subCount) []byte {
	var out []byte
	out = binary.AppendUvarint(out, uint64(len(subs)))
	for _, s := range subs {
		id := dict[s.idx]
		out = binary.AppendUvarint(out, uint64(len(id)))
		out = append(out, id...)
		out = binary.AppendUvarint(out, uint64(s.records))
		out = binary.AppendVarint(out, s.first)
	}
	return out
}

var (
	segmentCols = []string{"id", "day", "import_id", "measure", "records", "min_start", "max_start", "min_sub", "max_sub",
		"subs", "sha256", "data"}
	keyCols = []string{"segment_id", "bits", "bucket", "day", "data"}
)

// writeSegments writes segments with their keys.
func writeSegments(ctx context.Context, l store.Loader, segs []*segment) error {
	var srows, krows [][]any
	for _, sg := range segs {
		srows = append(srows, []any{sg.id, sg.day, sg.importID, sg.measure, int64(sg.records), sg.minStart, sg.maxStart,
			sg.minSub, sg.maxSub, sg.subs, hex.EncodeToString(sg.sum[:]), sg.data})
		for k, data := range sg.keys {
			if len(data) > 0 {
				krows = append(krows, []any{sg.id, int64(sg.bits), int64(k), sg.day, data})
			}
		}
	}
	if _, err := l.Insert(ctx, "usage_segments", segmentCols, srows, false); err != nil {
		return fmt.Errorf("writing usage segments: %w", err)
	}
	if _, err := l.Insert(ctx, "usage_keys", keyCols, krows, false); err != nil {
		return fmt.Errorf("writing usage keys: %w", err)
	}
	return nil
}

// finish runs pass 2 in the load's transaction and returns how many rows were new.
func (w *segWriter) finish(ctx context.Context, l store.Loader, importID, measure string) (int64, error) {
	if w.rows == 0 {
		return 0, nil
	}
	if w.spill != nil {
		// A large import: the rest of pass 1 joins the temporary file, and its buffers (up to
		// twice the spill budget, with their spare capacity) are freed before pass 2 needs
		// the memory.
		if err := w.spillAll(); err != nil {
			return 0, err
		}
		for _, d := range w.days {
			d.buf = nil
		}
	}
	days := make([]int64, 0, len(w.days))
	for d := range w.days {
		days = append(days, d)
	}
	slices.Sort(days)
	// Which days already hold usage: the others need no key lookup.
	known := map[int64]bool{}
	err := l.Query(ctx, `SELECT DISTINCT day FROM usage_segments WHERE day >= $1 AND day <= $2`, []any{days[0], days[len(days)-1]},
		func(scan func(...any) error) error {
			var d int64
			if err := scan(&d); err != nil {
				return err
			}
			known[d] = true
			return nil
		})
	if err != nil {
		return 0, err
	}
	dict := w.dict.strings()
	shapes := w.shapes
	// The loader is one connection: its work runs in order on one goroutine, while the others
	// decode, de-duplicate and encode days, one day each at a time.
	q := store.NewQueue()
	work := make(chan int64)
	var added int64
	var mu sync.Mutex
	var failed error
	fail := func(err error) {
		mu.Lock()
		if failed == nil {
			failed = err
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 4) {
		wg.Go(func() {
			sc := &segScratch{}
			for day := range work {
				d := w.days[day]
				dayDict, dayShapes, err := w.dayRows(d, dict, shapes, sc)
				if err != nil {
					fail(err)
					continue
				}
				stored := newKeySet(d.n)
				if known[day] {
					if err := q.Wait(func() error { return storedKeys(ctx, l, day, stored) }); err != nil {
						fail(err)
						continue
					}
				}
				segs, n := buildSegments(sc, dayDict, dayShapes, day, stored, importID, measure)
				mu.Lock()
				added += int64(n)
				mu.Unlock()
				d.buf, d.blocks = nil, nil
				// Waiting for the write bounds the days in memory to one a goroutine: with
				// writes queued, a slow connection left up to four days of segments waiting.
				// A day is one write: written a segment at a time (one COPY each), the same
				// segments took the server about a third longer.
				if len(segs) > 0 {
					if err := q.Wait(func() error {
						return writeSegments(ctx, l, segs)
					}); err != nil {
						fail(err)
					}
				}
			}
		})
	}
	for _, day := range days {
		mu.Lock()
		stop := failed != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		work <- day
	}
	close(work)
	wg.Wait()
	if failed == nil {
		failed = ctx.Err()
	}
	if err := q.Stop(failed); err != nil {
		return 0, err
	}
	return added, nil
}

const dayNanos = int64(86400) * 1_000_000_000

// dayBound is floorDay for a query's lower bound: it saturates instead of overflowing.
func dayBound(t int64) int64 {
	if t < math.MinInt64+dayNanos {
		return math.MinInt64
	}
	return floorDay(t)
}

func floorDay(t int64) int64 {
	d := t / dayNanos * dayNanos
	if d > t {
		d -= dayNanos
	}
	return d
}

// commonPrefix is the length of the common prefix of a and b, compared 8 bytes at a time.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	if n == 0 {
		return 0
	}
	x, y := unsafe.Slice(unsafe.StringData(a), len(a)), unsafe.Slice(unsafe.StringData(b), len(b))
	i := 0
	for i+8 <= n {
		if d := binary.LittleEndian.Uint64(x[i:]) ^ binary.LittleEndian.Uint64(y[i:]); d != 0 {
			return i + bits.TrailingZeros64(d)/8
		}
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}
