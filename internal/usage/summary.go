package usage

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// A segment's summary is its consumption added up per subscription, charge period, currency
// and provider: what a reader that only adds consumption up by subscription needs (the
// coverage audit, which reads a whole month of a partner's tenants). It is written beside the
// segment (usage_summaries), in the import's transaction, and is a few percent of its size:
// at the bench scale a month's 8.8 million Usage records are 234 thousand entries.
//
// An entry counts the records of charge category Usage with a charge period that is not empty
// (the records the audit counts), each of whose resource lies in its subscription (an empty
// resource is the subscription's, as the engine reads it). A subscription with any such
// record whose resource lies elsewhere is not summarized at all: it is listed as raw, and its
// rows must be read. An entry keeps its sum, the costliest record's resource, and every
// record's cost (records covered for part of their charge period are credited each on its
// own, rounded), length-prefixed so that a reader that needs only the sum skips them.

const summaryMagic = "PLS\x01"

var errSummaryCorrupt = errors.New("usage summary is corrupt")

// Summary is a segment's summary, or the part of it a reader asked for.
type Summary struct {
	Entries []SummaryEntry
	// Raw lists the subscriptions (as spelled) with a Usage record whose resource lies
	// outside them: none of their records is summarized.
	Raw []string
}

// SummaryEntry is the Usage records of one subscription (as spelled), charge period,
// currency and provider.
type SummaryEntry struct {
	Subscription, Currency, Provider string
	Start, End                       int64
	Records                          int
	Sum                              money.Nanos
	TopCost                          money.Nanos // the largest record cost
	TopResource                      string      // the resource of a record of cost TopCost (ties: the least ID)
	costs                            []byte      // each record's cost, a varint, in the segment's order
}

// AppendCosts appends each record's cost to dst. Most readers need only the sum, so the
// costs are decoded only when asked for.
func (e *SummaryEntry) AppendCosts(dst []money.Nanos) ([]money.Nanos, error) {
	r := varint.NewReader(e.costs, errSummaryCorrupt)
	for range e.Records {
		dst = append(dst, money.Nanos(r.Varint("cost")))
	}
	if r.Err == nil && r.Len() != 0 {
		r.Fail("bytes after an entry's costs")
	}
	return dst, r.Err
}

// sumScratch is summarize's reusable memory (a pass-2 goroutine's, in segScratch).
type sumScratch struct {
	index   map[sumKey]int32
	entries []sumEntry
	rowEnt  []int32 // per row: its entry, or -1
	at      []int32 // per entry: where its rows go in order
	order   []int32 // the entries' rows, entry after entry
	remap   []uint32
	touched []uint32
	table   []uint32 // the string table, as dictionary indices
	body    []byte
}

type sumKey struct {
	sub, cur, prov uint32
	start, end     int64
}

type sumEntry struct {
	sumKey
	records int32
	top     int32 // its costliest row
	sum     money.Nanos
}

// summarize encodes the summary of a segment's rows b (sorted by subscription and resource),
// in sc's memory (nil: allocated).
func summarize(b *Batch, sc *sumScratch) []byte {
	if sc == nil {
		sc = &sumScratch{}
	}
	if sc.index == nil {
		sc.index = map[sumKey]int32{}
	}
	n := b.Len()
	subs, ress, cats := b.Str[ColSubscription], b.Str[ColResource], b.Str[ColChargeCategory]
	curs, provs := b.Str[ColCurrency], b.Str[ColProviderID]
	entries, rowEnt := sc.entries[:0], slices.Grow(sc.rowEnt[:0], n)[:n]
	var raw map[uint32]bool
	// A resource is looked at once per run of its rows, its subscription's key once per run
	// of the subscription's; an entry is found among the last few first (a resource's rows
	// are its charge periods, which its neighbours share).
	lastSub, lastRes, lastIn, subKey := ^uint32(0), ^uint32(0), false, ""
	var recent [8]int32
	for k := range recent {
		recent[k] = -1
	}
	next := 0
	for i := 0; i < n; i++ {
		rowEnt[i] = -1
		if b.End[i] <= b.Start[i] || b.Dict[cats[i]] != CategoryUsage {
			continue
		}
		s, r := subs[i], ress[i]
		if s != lastSub {
			subKey = "/subscriptions/" + strings.ToLower(strings.TrimSpace(b.Dict[s]))
			lastRes = ^uint32(0)
		}
		if s != lastSub || r != lastRes {
			lastSub, lastRes, lastIn = s, r, within(b.Dict[r], subKey)
		}
		if !lastIn {
			if raw == nil {
				raw = map[uint32]bool{}
			}
			raw[s] = true
			continue
		}
		k := sumKey{s, curs[i], provs[i], b.Start[i], b.End[i]}
		e := int32(-1)
		for _, x := range recent {
			if x >= 0 && entries[x].sumKey == k {
				e = x
				break
			}
		}
		if e < 0 {
			var ok bool
			if e, ok = sc.index[k]; !ok {
				e = int32(len(entries))
				sc.index[k] = e
				entries = append(entries, sumEntry{sumKey: k, top: int32(i)})
			}
			recent[next], next = e, (next+1)%len(recent)
		}
		rowEnt[i] = e
		x := &entries[e]
		x.records++
		x.sum += b.Cost[i]
		if c, t := b.Cost[i], b.Cost[x.top]; c > t || (c == t && b.Dict[r] < b.Dict[ress[x.top]]) {
			x.top = int32(i)
		}
	}
	clear(sc.index)
	// The entries' rows, entry after entry (a counting sort).
	at, order := slices.Grow(sc.at[:0], len(entries))[:len(entries)], slices.Grow(sc.order[:0], n)
	pos := int32(0)
	for e := range entries {
		at[e], pos = pos, pos+entries[e].records
	}
	order = order[:pos]
	for i, e := range rowEnt {
		if e >= 0 {
			order[at[e]] = int32(i)
			at[e]++
		}
	}
	if len(sc.remap) < len(b.Dict) {
		sc.remap = make([]uint32, len(b.Dict))
	}
	table := sc.table[:0]
	str := func(x uint32) uint64 {
		if id := sc.remap[x]; id != 0 {
			return uint64(id - 1)
		}
		table = append(table, x)
		sc.remap[x] = uint32(len(table))
		sc.touched = append(sc.touched, x)
		return uint64(len(table) - 1)
	}
	body := sc.body[:0]
	rawSubs := make([]uint32, 0, len(raw))
	for s := range raw {
		rawSubs = append(rawSubs, s)
	}
	slices.SortFunc(rawSubs, func(x, y uint32) int { return cmp.Compare(b.Dict[x], b.Dict[y]) })
	body = binary.AppendUvarint(body, uint64(len(rawSubs)))
	for _, s := range rawSubs {
		body = binary.AppendUvarint(body, str(s))
	}
	kept := 0
	for e := range entries {
		if !raw[entries[e].sub] {
			kept++
		}
	}
	body = binary.AppendUvarint(body, uint64(kept))
	prev, lo := int64(0), int32(0)
	var costs [binary.MaxVarintLen64]byte
	for e := range entries {
		x := &entries[e]
		rows := order[lo : lo+x.records]
		lo += x.records
		if raw[x.sub] {
			continue
		}
		body = binary.AppendUvarint(body, str(x.sub))
		body = binary.AppendUvarint(body, str(x.cur))
		body = binary.AppendUvarint(body, str(x.prov))
		body = binary.AppendVarint(body, x.start-prev)
		body = binary.AppendUvarint(body, uint64(x.end-x.start))
		prev = x.start
		body = binary.AppendUvarint(body, uint64(x.records))
		body = binary.AppendVarint(body, int64(x.sum))
		body = binary.AppendVarint(body, int64(b.Cost[x.top]))
		body = binary.AppendUvarint(body, str(ress[x.top]))
		size := 0
		for _, i := range rows {
			size += binary.PutVarint(costs[:], int64(b.Cost[i]))
		}
		body = binary.AppendUvarint(body, uint64(size))
		for _, i := range rows {
			body = binary.AppendVarint(body, int64(b.Cost[i]))
		}
	}
	size := len(summaryMagic) + binary.MaxVarintLen64 + len(body) + 4
	for _, x := range table {
		size += binary.MaxVarintLen64 + len(b.Dict[x])
	}
	out := make([]byte, 0, size)
	out = append(out, summaryMagic...)
	out = binary.AppendUvarint(out, uint64(len(table)))
	for _, x := range table {
		out = binary.AppendUvarint(out, uint64(len(b.Dict[x])))
		out = append(out, b.Dict[x]...)
	}
	out = append(out, body...)
	for _, x := range sc.touched {
		sc.remap[x] = 0
	}
	sc.touched, sc.table, sc.body, sc.entries, sc.rowEnt, sc.at, sc.order = sc.touched[:0], table[:0], body[:0], entries[:0], rowEnt[:0], at[:0], order[:0]
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// withinSubscription reports whether resource res lies in subscription sub, as the audit and
// the engine compare them: canonical keys (scope.Key), by ARM-ID prefix on a segment boundary.
// A resource without an ID is its subscription's.
func withinSubscription(res, sub string) bool {
	return within(res, "/subscriptions/"+strings.ToLower(strings.TrimSpace(sub)))
}

// within is withinSubscription of the subscription's scope key.
func within(res, subKey string) bool {
	r := strings.TrimRight(strings.TrimSpace(res), "/")
	if r == "" {
		return true
	}
	if r[0] == '/' {
		if in, ok := scope.FoldedPrefix(r, subKey, 0); ok {
			return in
		}
	}
	return scope.PrefixCovers(subKey, scope.Key(res))
}

// decodeSummary decodes a summary. The strings point into one new allocation, not into data;
// the entries' costs point into data.
func decodeSummary(data []byte) (*Summary, error) {
	if len(data) < len(summaryMagic)+4 || string(data[:len(summaryMagic)]) != summaryMagic {
		if len(data) >= 4 && string(data[:3]) == summaryMagic[:3] {
			return nil, fmt.Errorf("%w: format version %d is newer than this partnerlink reads (1): upgrade partnerlink", errSummaryCorrupt, data[3])
		}
		return nil, fmt.Errorf("%w: not a usage summary (no PLS magic)", errSummaryCorrupt)
	}
	body := data[:len(data)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(data[len(data)-4:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, expected %08x", errSummaryCorrupt, got, want)
	}
	r := varint.NewReader(body[len(summaryMagic):], errSummaryCorrupt)
	// Every count is bounded by the bytes left, so that a damaged count cannot allocate
	// beyond the summary's size.
	nt := r.Count("string count", uint64(r.Len()))
	lens := make([]int, nt)
	total := 0
	start := r.Len()
	for j := range lens {
		lens[j] = r.Count("string length", uint64(r.Len()))
		r.Bytes(lens[j], "string")
		total += lens[j]
	}
	if r.Err != nil {
		return nil, r.Err
	}
	// Once more, into one string.
	r = varint.NewReader(body[len(body)-start:], errSummaryCorrupt)
	var sb strings.Builder
	sb.Grow(total)
	for _, l := range lens {
		r.Uvarint("string length")
		sb.Write(r.Bytes(l, "string"))
	}
	all := sb.String()
	table := make([]string, nt)
	at := 0
	for j, l := range lens {
		table[j], at = all[at:at+l], at+l
	}
	str := func(what string) string {
		x := r.Count(what, uint64(nt))
		if r.Err == nil && x >= nt {
			r.Fail(what + " out of range")
		}
		if r.Err != nil {
			return ""
		}
		return table[x]
	}
	s := &Summary{}
	for j, nr := 0, r.Count("raw subscriptions", uint64(r.Len())); j < nr && r.Err == nil; j++ {
		s.Raw = append(s.Raw, str("raw subscription"))
	}
	ne := r.Count("entries", uint64(r.Len()))
	if r.Err != nil {
		return nil, r.Err
	}
	s.Entries = make([]SummaryEntry, 0, ne)
	prev := int64(0)
	for j := 0; j < ne && r.Err == nil; j++ {
		e := SummaryEntry{Subscription: str("subscription"), Currency: str("currency"), Provider: str("provider")}
		e.Start = prev + r.Varint("charge start")
		e.End = e.Start + int64(r.Uvarint("charge period length"))
		prev = e.Start
		// Each cost takes a byte at least.
		e.Records = r.Count("records", uint64(r.Len()))
		if r.Err == nil && (e.Records == 0 || e.End <= e.Start) {
			r.Fail("an entry with no records or an empty charge period")
		}
		e.Sum, e.TopCost = money.Nanos(r.Varint("sum")), money.Nanos(r.Varint("top cost"))
		e.TopResource = str("resource")
		e.costs = r.Bytes(r.Count("costs' length", uint64(r.Len())), "costs")
		if r.Err == nil && len(e.costs) < e.Records {
			r.Fail("fewer cost bytes than records")
		}
		s.Entries = append(s.Entries, e)
	}
	if r.Err == nil && r.Len() != 0 {
		r.Fail("bytes after the last entry")
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return s, nil
}
