package usage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/money"
)

// The string columns of a Batch.
const (
	ColSubscription = iota
	ColResource
	ColService
	ColServiceCategory
	ColChargeCategory
	ColPricingCategory
	ColCommitmentDiscount
	ColProvider
	ColPublisher
	ColCurrency
	// Since segment format version 2.
	ColProviderID
	ColHostProvider
	ColInvoiceIssuer
	ColBillingAccount
	ColSubAccountType
	ColRegion
	ColUnit
	ColTags
	NumStringCols

	// v1StringCols are the string columns of segment format version 1.
	v1StringCols = ColCurrency + 1
)

// Optional amount columns (Batch.Amounts).
const (
	AmountList = iota
	AmountBilled
	AmountEffective
	numAmounts
)

// Batch holds usage records by column, with every string stored once in Dict and named by
// index. It is how usage is stored (one segment decodes into one Batch), streamed to the
// engine and held in memory: the engine resolves each distinct resource of a batch once, by
// its index, instead of hashing a resource ID per record.
//
// A Batch is immutable once built; its strings may share memory with its decoded segment.
type Batch struct {
	Start, End []int64 // charge period [Start, End), Unix ns
	Cost       []money.Nanos
	Str        [NumStringCols][]uint32 // Str[col][i] indexes Dict
	Dict       []string
	// keyBuf holds the keys back to back, each a kind byte and its bytes: keyHex and the 16
	// bytes of a 32-digit lower-case hex key (the row hashes), or keyText and the key's text.
	keyBuf []byte
	keyOff []uint32 // row i's key is keyBuf[keyOff[i]:keyOff[i+1]]
	raw    []rawCost
	// Amounts[AmountList][i] ... are row i's list, billed and effective cost.
	Amounts [numAmounts][]Amount
	qty     []quantity
	qtyText []string // quantities kept as text (see quantity)
	// Source identifies a stored batch's content: its segment's SHA-256 (and the window its
	// rows were cut to, if they were). Empty for batches built from records.
	Source string
	// Segment is a stored batch's segment ID ("" for a batch read from a file): a stored run
	// records the segments it read, so that its rows can be reproduced from them (StreamSegments).
	Segment string
	bufs    *leanBufs // the memory a masked stored batch was decoded into (see Release)
}

const (
	keyHex  = 0
	keyText = 1
)

// rawCost is the cost text of a row whose text differs from Cost[row].String() (trailing
// zeros, more than nine fraction digits, an exponent): only those are stored.
type rawCost struct {
	row  int32
	text string
}

// Len is the number of records.
func (b *Batch) Len() int { return len(b.Start) }

// S returns the string of column col of row i.
func (b *Batch) S(col, i int) string { return b.Dict[b.Str[col][i]] }

// Key returns the record key of row i.
func (b *Batch) Key(i int) string {
	k := b.keyBuf[b.keyOff[i]:b.keyOff[i+1]]
	if k[0] == keyHex {
		return hex.EncodeToString(k[1:])
	}
	return string(k[1:])
}

// keyIs reports whether row i's key is key, without allocating.
func (b *Batch) keyIs(i int, key string) bool {
	k := b.keyBuf[b.keyOff[i]:b.keyOff[i+1]]
	if k[0] == keyText {
		return string(k[1:]) == key
	}
	var d [16]byte
	return len(key) == 32 && hexDecode16(&d, key) && string(d[:]) == string(k[1:])
}

// Digest is the 16-byte identity of row i's key: the key's own bytes for a row hash,
// otherwise the first 16 bytes of its SHA-256. Together with the charge start it identifies a
// record for de-duplication.
func (b *Batch) Digest(i int) (d [16]byte) {
	k := b.keyBuf[b.keyOff[i]:b.keyOff[i+1]]
	if k[0] == keyHex {
		copy(d[:], k[1:])
		return d
	}
	return textDigest(k[1:])
}

func textDigest(text []byte) (d [16]byte) {
	s := sha256.Sum256(text)
	copy(d[:], s[:16])
	return d
}

// KeyDigest is the digest Batch.Digest gives a record with this key.
func KeyDigest(key string) [16]byte {
	var d [16]byte
	if len(key) == 32 && hexDecode16(&d, key) {
		return d
	}
	return textDigest([]byte(key))
}

// hexDecode16 decodes 32 lower-case hex digits (the only spelling a row hash has, so that one
// key has one representation).
func hexDecode16(d *[16]byte, s string) bool {
	// By table, without a branch per digit: row hashes are random, so branches on their
	// digits were mispredicted about every other time.
	bad := byte(0)
	for i := range d {
		hi, lo := unhex[s[2*i]], unhex[s[2*i+1]]
		bad |= hi | lo
		d[i] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0
}

// unhex maps a lower-case hex digit to its value and every other byte to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// appendKey appends a key in keyBuf's form.
func appendKey(buf []byte, key string) []byte {
	var d [16]byte
	if len(key) == 32 && hexDecode16(&d, key) {
		buf = append(buf, keyHex)
		return append(buf, d[:]...)
	}
	buf = append(buf, keyText)
	return append(buf, key...)
}

// CostRaw is the cost as the input wrote it.
func (b *Batch) CostRaw(i int) string {
	j := sort.Search(len(b.raw), func(j int) bool { return b.raw[j].row >= int32(i) })
	if j < len(b.raw) && b.raw[j].row == int32(i) {
		return b.raw[j].text
	}
	return b.Cost[i].String()
}

// Quantity is row i's quantity as written ("" when null).
func (b *Batch) Quantity(i int) string { return b.quantityText(b.qty[i]) }

// Record fills r with row i.
func (b *Batch) Record(i int, r *Record) {
	*r = Record{Key: b.Key(i), Start: b.Start[i], End: b.End[i],
		SubscriptionID: b.S(ColSubscription, i), ResourceID: b.S(ColResource, i), Service: b.S(ColService, i),
		ServiceCategory: b.S(ColServiceCategory, i), ChargeCategory: b.S(ColChargeCategory, i),
		PricingCategory: b.S(ColPricingCategory, i), CommitmentDiscountID: b.S(ColCommitmentDiscount, i),
		Provider: b.S(ColProvider, i), Publisher: b.S(ColPublisher, i), Currency: b.S(ColCurrency, i),
		Cost: b.Cost[i], CostRaw: b.CostRaw(i),
		ProviderID: b.S(ColProviderID, i), HostProvider: b.S(ColHostProvider, i), InvoiceIssuer: b.S(ColInvoiceIssuer, i),
		BillingAccountID: b.S(ColBillingAccount, i), SubAccountType: b.S(ColSubAccountType, i), Region: b.S(ColRegion, i),
		Unit: b.S(ColUnit, i), Quantity: b.Quantity(i), Tags: b.S(ColTags, i),
		ListCost: b.Amounts[AmountList][i], BilledCost: b.Amounts[AmountBilled][i], EffectiveCost: b.Amounts[AmountEffective][i]}
}

// strings returns r's string columns in column order.
func (r *Record) strings() [NumStringCols]string {
	id := r.ProviderID
	if id == "" {
		id = NormalizeProvider(r.Provider) // records made by programs and tests
	}
	return [NumStringCols]string{r.SubscriptionID, r.ResourceID, r.Service, r.ServiceCategory,
		r.ChargeCategory, r.PricingCategory, r.CommitmentDiscountID, r.Provider, r.Publisher, r.Currency,
		id, r.HostProvider, r.InvoiceIssuer, r.BillingAccountID, r.SubAccountType, r.Region, r.Unit, r.Tags}
}

// amounts returns r's optional amounts in column order.
func (r *Record) amounts() [numAmounts]Amount {
	return [numAmounts]Amount{r.ListCost, r.BilledCost, r.EffectiveCost}
}

// Records returns every row as a Record.
func (b *Batch) Records() []Record {
	out := make([]Record, b.Len())
	for i := range out {
		b.Record(i, &out[i])
	}
	return out
}

// BatchBuilder collects records into a Batch.
type BatchBuilder struct {
	b     Batch
	idx   map[string]uint32
	dict  []string // grows by appending only, so the batches' views of it stay valid
	bytes int      // of the dictionary's strings
	empty uint32   // the index of "" + 1 (0: not yet interned)
}

// NewBatchBuilder returns an empty builder.
func NewBatchBuilder() *BatchBuilder {
	return &BatchBuilder{idx: map[string]uint32{}, b: Batch{keyOff: []uint32{0}}}
}

// Len is the number of records added since the last Batch.
func (bb *BatchBuilder) Len() int { return bb.b.Len() }

func (bb *BatchBuilder) intern(s string) uint32 {
	// Most of a record's columns are empty: "" is found without hashing.
	if s == "" && bb.empty > 0 {
		return bb.empty - 1
	}
	if i, ok := bb.idx[s]; ok {
		return i
	}
	i := uint32(len(bb.dict))
	s = strings.Clone(s) // s may point into a whole CSV row
	bb.dict = append(bb.dict, s)
	bb.idx[s] = i
	bb.bytes += len(s)
	if s == "" {
		bb.empty = i + 1
	}
	return i
}

// DictBytes is the size of the strings the builder's dictionary holds.
func (bb *BatchBuilder) DictBytes() int { return bb.bytes }

// Add appends a copy of r.
func (bb *BatchBuilder) Add(r *Record) {
	b := &bb.b
	b.Start = append(b.Start, r.Start)
	b.End = append(b.End, r.End)
	b.Cost = append(b.Cost, r.Cost)
	for col, s := range r.strings() {
		b.Str[col] = append(b.Str[col], bb.intern(s))
	}
	for k, a := range r.amounts() {
		b.Amounts[k] = append(b.Amounts[k], a)
	}
	b.qty = append(b.qty, bb.quantity(r.Quantity))
	b.keyBuf = appendKey(b.keyBuf, r.Key)
	b.keyOff = append(b.keyOff, uint32(len(b.keyBuf)))
	if r.CostRaw != "" && !r.Cost.IsText(r.CostRaw) {
		b.raw = append(b.raw, rawCost{int32(len(b.Start) - 1), strings.Clone(r.CostRaw)})
	}
}

// Batch returns the records added so far and starts a new batch. The dictionary carries
// over: a builder fed one file's rows stores each string once, and its batches share one
// dictionary (each sees a prefix of it), which lets the engine keep what it resolved per
// dictionary index from batch to batch.
func (bb *BatchBuilder) Batch() *Batch {
	out := bb.b
	out.Dict = bb.dict[:len(bb.dict):len(bb.dict)]
	bb.b = Batch{keyOff: []uint32{0}}
	return &out
}

// LeanBatch is a batch of the charge periods, costs and string columns given (indices into
// dict; a nil column reads as ""), with every record key "", as StreamLean reads stored
// batches: for a caller that makes many records of few strings, without a builder's hashing
// of every column of every record. The slices must all be as long as start; the batch keeps
// them.
func LeanBatch(dict []string, start, end []int64, cost []money.Nanos, str [NumStringCols][]uint32) *Batch {
	n := len(start)
	if len(end) != n || len(cost) != n {
		panic(fmt.Sprintf("usage.LeanBatch: %d starts, %d ends and %d costs", n, len(end), len(cost)))
	}
	b := &Batch{Dict: dict, Start: start, End: end, Cost: cost, Str: str}
	var empty []uint32 // one column of "" for every column not given (nobody writes a batch's columns)
	for c := range b.Str {
		switch {
		case b.Str[c] == nil:
			if empty == nil {
				e := slices.Index(b.Dict, "")
				if e < 0 {
					e = len(b.Dict)
					b.Dict = append(b.Dict, "")
				}
				empty = constColumn(n, uint32(e))
			}
			b.Str[c] = empty
		case len(b.Str[c]) != n:
			panic(fmt.Sprintf("usage.LeanBatch: string column %d has %d rows, not %d", c, len(b.Str[c]), n))
		}
	}
	b.keyOff = make([]uint32, n+1)
	b.keyBuf = bytes.Repeat([]byte{keyText}, n)
	for i := range b.keyOff {
		b.keyOff[i] = uint32(i)
	}
	return b
}

// BatchOf builds one batch of recs.
func BatchOf(recs []Record) *Batch {
	bb := NewBatchBuilder()
	for i := range recs {
		bb.Add(&recs[i])
	}
	return bb.Batch()
}
