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

// summarize encodes the summary of a segment's rows b.
func summarize(b *Batch) []byte {
	n := b.Len()
	subs, ress, cats := b.Str[ColSubscription], b.Str[ColResource], b.Str[ColChargeCategory]
	curs, provs := b.Str[ColCurrency], b.Str[ColProviderID]
	type key struct {
		sub, cur, prov uint32
		start, end     int64
	}
	type acc struct {
		key
		rows []int32
		top  int32
	}
	var entries []*acc
	byKey := map[key]*acc{}
	raw := map[uint32]bool{}
	lastSub, lastRes, lastIn := ^uint32(0), ^uint32(0), false
	for i := 0; i < n; i++ {
		if b.End[i] <= b.Start[i] || b.Dict[cats[i]] != CategoryUsage {
			continue
		}
		s, r := subs[i], ress[i]
		if s != lastSub || r != lastRes { // rows come sorted by subscription and resource
			lastSub, lastRes, lastIn = s, r, withinSubscription(b.Dict[r], b.Dict[s])
		}
		if !lastIn {
			raw[s] = true
			continue
		}
		k := key{s, curs[i], provs[i], b.Start[i], b.End[i]}
		a := byKey[k]
		if a == nil {
			a = &acc{key: k, top: int32(i)}
			byKey[k] = a
			entries = append(entries, a)
		}
		a.rows = append(a.rows, int32(i))
		if c, t := b.Cost[i], b.Cost[a.top]; c > t || (c == t && b.Dict[r] < b.Dict[ress[a.top]]) {
			a.top = int32(i)
		}
	}
	strs := map[uint32]uint64{}
	var table []string
	str := func(x uint32) uint64 {
		id, ok := strs[x]
		if !ok {
			id = uint64(len(table))
			strs[x], table = id, append(table, b.Dict[x])
		}
		return id
	}
	var body []byte
	rawSubs := make([]uint32, 0, len(raw))
	for s := range raw {
		rawSubs = append(rawSubs, s)
	}
	slices.SortFunc(rawSubs, func(x, y uint32) int { return cmp.Compare(b.Dict[x], b.Dict[y]) })
	body = binary.AppendUvarint(body, uint64(len(rawSubs)))
	for _, s := range rawSubs {
		body = binary.AppendUvarint(body, str(s))
	}
	kept := entries[:0]
	for _, a := range entries {
		if !raw[a.sub] {
			kept = append(kept, a)
		}
	}
	body = binary.AppendUvarint(body, uint64(len(kept)))
	prev := int64(0)
	var costs []byte
	for _, a := range kept {
		body = binary.AppendUvarint(body, str(a.sub))
		body = binary.AppendUvarint(body, str(a.cur))
		body = binary.AppendUvarint(body, str(a.prov))
		body = binary.AppendVarint(body, a.start-prev)
		body = binary.AppendUvarint(body, uint64(a.end-a.start))
		prev = a.start
		body = binary.AppendUvarint(body, uint64(len(a.rows)))
		sum := money.Nanos(0)
		costs = costs[:0]
		for _, i := range a.rows {
			sum += b.Cost[i]
			costs = binary.AppendVarint(costs, int64(b.Cost[i]))
		}
		body = binary.AppendVarint(body, int64(sum))
		body = binary.AppendVarint(body, int64(b.Cost[a.top]))
		body = binary.AppendUvarint(body, str(ress[a.top]))
		body = binary.AppendUvarint(body, uint64(len(costs)))
		body = append(body, costs...)
	}
	out := append([]byte(summaryMagic), binary.AppendUvarint(nil, uint64(len(table)))...)
	for _, s := range table {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	out = append(out, body...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// withinSubscription reports whether resource res lies in subscription sub, as the audit and
// the engine compare them: canonical keys (scope.Key), by ARM-ID prefix on a segment boundary.
// A resource without an ID is its subscription's.
func withinSubscription(res, sub string) bool {
	r := strings.TrimRight(strings.TrimSpace(res), "/")
	if r == "" {
		return true
	}
	subKey := "/subscriptions/" + strings.ToLower(strings.TrimSpace(sub))
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
