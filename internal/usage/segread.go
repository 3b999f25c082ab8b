package usage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/extsort"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// Stream calls fn with the stored records whose charge period starts in w, a segment at a
// time, by day. fn must not keep b after it returns unless it copies what it needs (the
// engine does not keep it).
func Stream(ctx context.Context, q store.Querier, w timeline.Window, fn func(b *Batch) error) error {
	return StreamSegments(ctx, q, w, nil, fn)
}

// StreamSegments is Stream restricted to the segments whose ID keep accepts (nil: every
// segment): what a stored attribution run read, when its rows are reproduced.
func StreamSegments(ctx context.Context, q store.Querier, w timeline.Window, keep func(id string) bool, fn func(b *Batch) error) error {
	if w.Empty() {
		return nil
	}
	// The directory first, then each segment by ID: SQLite sorted by (day, id) by passing
	// every segment's bytes through its sorter, and segments keep rejects are not read.
	type entry struct {
		id, sum string
		lo, hi  int64
	}
	var dir []entry
	err := store.Each(ctx, q, `SELECT id, min_start, max_start, sha256 FROM usage_segments
		WHERE day >= $1 AND day < $2 AND max_start >= $3 AND min_start < $4 ORDER BY day, id`,
		[]any{dayBound(w.From), w.To, w.From, w.To}, func(r *sql.Rows) error {
			var e entry
			if err := r.Scan(&e.id, &e.lo, &e.hi, &e.sum); err != nil {
				return err
			}
			if keep == nil || keep(e.id) {
				dir = append(dir, e)
			}
			return nil
		})
	if err != nil {
		return err
	}
	for _, e := range dir {
		id, sum, lo, hi := e.id, e.sum, e.lo, e.hi
		var data []byte
		if err := q.QueryRowContext(ctx, `SELECT data FROM usage_segments WHERE id = $1`, id).Scan(&data); err != nil {
			return fmt.Errorf("usage segment %s: %w", id, err)
		}
		b, err := decodeStored(id, sum, data)
		if err != nil {
			return err
		}
		b.Source, b.Segment = sum, id
		if lo < w.From || hi >= w.To {
			b = b.filter(func(i int) bool { return w.Contains(b.Start[i]) })
			b.Source, b.Segment = fmt.Sprintf("%s[%d,%d)", sum, w.From, w.To), id
		}
		if b.Len() == 0 {
			continue
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// decodeStored decodes the stored segment id after checking it: version 2 carries its own
// CRC32C; version 1 is checked against the SHA-256 stored beside it. A damaged segment is an
// error naming it, never records with wrong money.
func decodeStored(id, sum string, data []byte) (*Batch, error) {
	if len(data) >= 4 && string(data[:4]) == segMagicV1 {
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			return nil, fmt.Errorf("usage segment %s: %w", id, corrupt(fmt.Sprintf("its SHA-256 is %x, not the %s stored with it: the segment's bytes are damaged", got, sum)))
		}
	}
	b, err := decodeSegment(data)
	if err != nil {
		return nil, fmt.Errorf("usage segment %s: %w (restore the database from a backup)", id, err)
	}
	return b, nil
}

// filter returns the rows for which keep is true, in order.
// Filter returns the rows of b that keep accepts, as a new batch over the same dictionary
// (b itself when it keeps every row): a sharded attribution run keeps its subscriptions'.
func (b *Batch) Filter(keep func(i int) bool) *Batch { return b.filter(keep) }

func (b *Batch) filter(keep func(i int) bool) *Batch {
	var rows []int32
	for i := 0; i < b.Len(); i++ {
		if keep(i) {
			rows = append(rows, int32(i))
		}
	}
	return b.take(rows)
}

// take returns the given rows of b as a new batch over the same dictionary.
func (b *Batch) take(rows []int32) *Batch {
	out := &Batch{Dict: b.Dict, keyOff: make([]uint32, 1, len(rows)+1)}
	out.Start = make([]int64, len(rows))
	out.End = make([]int64, len(rows))
	out.Cost = make([]money.Nanos, len(rows))
	for c := range out.Str {
		out.Str[c] = make([]uint32, len(rows))
	}
	for k := range out.Amounts {
		out.Amounts[k] = make([]Amount, len(rows))
	}
	out.qty, out.qtyText = make([]quantity, len(rows)), b.qtyText
	for j, i := range rows {
		out.Start[j], out.End[j], out.Cost[j] = b.Start[i], b.End[i], b.Cost[i]
		for c := range out.Str {
			out.Str[c][j] = b.Str[c][i]
		}
		for k := range out.Amounts {
			out.Amounts[k][j] = b.Amounts[k][i]
		}
		out.qty[j] = b.qty[i]
		out.keyBuf = append(out.keyBuf, b.keyBuf[b.keyOff[i]:b.keyOff[i+1]]...)
		out.keyOff = append(out.keyOff, uint32(len(out.keyBuf)))
		if k, ok := slices.BinarySearchFunc(b.raw, i, func(r rawCost, row int32) int { return int(r.row - row) }); ok {
			out.raw = append(out.raw, rawCost{int32(j), b.raw[k].text})
		}
	}
	return out
}

// exportRunBytes bounds the records an export sorts in memory before it writes them, sorted,
// to temporary files and merges those (a variable for tests).
var exportRunBytes = 64 << 20

// Records calls fn for every stored record whose charge period starts in w, ordered by record
// key (then charge start): the order of `partnerlink export usage`. Memory is bounded:
// beyond exportRunBytes the records are sorted in runs on disk and merged.
func Records(ctx context.Context, q store.Querier, w timeline.Window, fn func(*Record) error) error {
	sorter := extsort.New(compareSortItems, exportRunBytes)
	defer sorter.Close()
	var r Record
	var item []byte
	err := Stream(ctx, q, w, func(b *Batch) error {
		for i := 0; i < b.Len(); i++ {
			b.Record(i, &r)
			item = appendSortItem(item[:0], &r)
			if err := sorter.Add(item); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	return sorter.Each(func(item []byte) error {
		if err := decodeSortItem(item, &r); err != nil {
			return err
		}
		return fn(&r)
	})
}

// A sort item is the key (length-prefixed), the charge start (8 bytes, big-endian with the
// sign bit flipped, so that the bytes sort as the numbers) and the record.
func appendSortItem(dst []byte, r *Record) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
	dst = append(dst, r.Key...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Start)^(1<<63))
	return encodeRecord(dst, r)
}

func compareSortItems(a, b []byte) int {
	ka, na := binary.Uvarint(a)
	kb, nb := binary.Uvarint(b)
	ea, eb := na+int(ka), nb+int(kb)
	if c := bytes.Compare(a[na:ea], b[nb:eb]); c != 0 {
		return c
	}
	return bytes.Compare(a[ea:ea+8], b[eb:eb+8])
}

// encodeRecord appends r, length-prefixed, for the export's temporary files.
func encodeRecord(dst []byte, r *Record) []byte {
	var body []byte
	strs := r.strings()
	for _, s := range append(strs[:], r.Key, r.CostRaw, r.Quantity) {
		body = binary.AppendUvarint(body, uint64(len(s)))
		body = append(body, s...)
	}
	body = binary.AppendVarint(body, r.Start)
	body = binary.AppendVarint(body, r.End)
	body = binary.AppendVarint(body, int64(r.Cost))
	for _, a := range r.amounts() {
		if !a.Valid {
			body = append(body, 0)
			continue
		}
		body = append(body, 1)
		body = binary.AppendVarint(body, int64(a.Nanos))
	}
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// decodeRecord reads one record written by encodeRecord.
func decodeRecord(b []byte, r *Record) (int, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return 0, corrupt("export record")
	}
	sr := varint.NewReader(b[k:k+int(n)], errCorrupt)
	var s [NumStringCols + 3]string
	for i := range s {
		s[i] = string(sr.Bytes(sr.Count("field", uint64(sr.Len())), "field"))
	}
	*r = Record{SubscriptionID: s[ColSubscription], ResourceID: s[ColResource], Service: s[ColService],
		ServiceCategory: s[ColServiceCategory], ChargeCategory: s[ColChargeCategory], PricingCategory: s[ColPricingCategory],
		CommitmentDiscountID: s[ColCommitmentDiscount], Provider: s[ColProvider], Publisher: s[ColPublisher],
		Currency: s[ColCurrency], ProviderID: s[ColProviderID], HostProvider: s[ColHostProvider],
		InvoiceIssuer: s[ColInvoiceIssuer], BillingAccountID: s[ColBillingAccount], SubAccountType: s[ColSubAccountType],
		Region: s[ColRegion], Unit: s[ColUnit], Tags: s[ColTags],
		Key: s[NumStringCols], CostRaw: s[NumStringCols+1], Quantity: s[NumStringCols+2]}
	r.Start, r.End, r.Cost = sr.Varint("start"), sr.Varint("end"), money.Nanos(sr.Varint("cost"))
	for k := range numAmounts {
		if sr.Byte("amount") == 1 {
			r.setAmount(k, Some(money.Nanos(sr.Varint("amount"))))
		}
	}
	return k + int(n), sr.Err
}

func decodeSortItem(item []byte, r *Record) error {
	k, n := binary.Uvarint(item)
	if n <= 0 || uint64(len(item)-n) < k+8 {
		return corrupt("export sort item")
	}
	_, err := decodeRecord(item[n+int(k)+8:], r)
	return err
}

// Find returns the stored record with key whose charge starts in within (the earliest, if
// several have that key), or an error wrapping store.ErrNotFound.
func Find(ctx context.Context, q store.Querier, key string, within timeline.Window) (*Record, error) {
	d := KeyDigest(key)
	type hit struct {
		segment string
		start   int64
	}
	var hits []hit
	// A segment's keys are in 2^bits buckets by the first bits of the digest: ask for the one
	// bucket that can hold d under each split.
	cond := make([]string, 0, maxKeyBits+1)
	args := []any{dayBound(within.From), within.To}
	for b := 0; b <= maxKeyBits; b++ {
		args = append(args, int64(d[0])>>(maxKeyBits-b))
		cond = append(cond, fmt.Sprintf("(bits = %d AND bucket = $%d)", b, len(args)))
	}
	rows, err := q.QueryContext(ctx, `SELECT segment_id, data FROM usage_keys WHERE day >= $1 AND day < $2 AND (`+
		strings.Join(cond, " OR ")+`)`, args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var seg string
		var data []byte
		if err := rows.Scan(&seg, &data); err != nil {
			rows.Close()
			return nil, err
		}
		// Binary search over the fixed-size entries for the first with this digest.
		n := len(data) / keyEntrySize
		lo, hi := 0, n
		for lo < hi {
			m := (lo + hi) / 2
			if bytes.Compare(data[m*keyEntrySize:m*keyEntrySize+16], d[:]) < 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		for j := lo; j < n && bytes.Equal(data[j*keyEntrySize:j*keyEntrySize+16], d[:]); j++ {
			s := int64(binary.BigEndian.Uint64(data[j*keyEntrySize+16:]))
			if within.Contains(s) {
				hits = append(hits, hit{seg, s})
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(a.start, b.start) })
	for _, h := range hits {
		var sum string
		var data []byte
		if err := q.QueryRowContext(ctx, `SELECT sha256, data FROM usage_segments WHERE id = $1`, h.segment).Scan(&sum, &data); err != nil {
			return nil, err
		}
		b, err := decodeStored(h.segment, sum, data)
		if err != nil {
			return nil, err
		}
		for i := 0; i < b.Len(); i++ {
			if b.Start[i] == h.start && b.keyIs(i, key) {
				var r Record
				b.Record(i, &r)
				return &r, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: usage record %q is not stored with a charge start between %s and %s",
		store.ErrNotFound, key, timeline.Format(within.From), timeline.Format(within.To))
}

// ReadFileBatches parses files without storing them (for what-if engine runs) and calls fn
// with their records in batches of up to batchSize, in file order. Any bad row stops it with
// the row's error.
func ReadFileBatches(ctx context.Context, paths []string, opts ReadOptions, batchSize int, fn func(*Batch) error) error {
	bb := NewBatchBuilder()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("opening usage file: %w", err)
		}
		err = readAll(ctx, f, filepath.Base(p), opts, func(r *Record) error {
			bb.Add(r)
			if bb.Len() >= batchSize {
				if err := fn(bb.Batch()); err != nil {
					return err
				}
				// A dictionary shared by every batch is what lets the engine resolve a
				// resource once per run; past the budget a new one starts, so memory stays
				// bounded whatever the file holds.
				if bb.DictBytes() > dictBudget {
					bb = NewBatchBuilder()
				}
			}
			return nil
		})
		f.Close()
		if err != nil {
			return err
		}
	}
	if bb.Len() > 0 {
		return fn(bb.Batch())
	}
	return nil
}

// UpgradeLegacy moves records of the row-per-record usage table that databases created before
// schema 300 hold into segments, in one transaction; it does nothing when that table is empty.
// `partnerlink migrate` (engines.Migrate) calls it on a database of an older schema, after the
// migrations before 0600 and before 0600 drops the table.
func UpgradeLegacy(ctx context.Context, db *store.DB) error {
	var one int
	err := db.QueryRowContext(ctx, `SELECT 1 FROM usage_records LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return db.Translate(err)
	}
	return db.Load(ctx, func(l store.Loader) error {
		type group struct{ importID, measure string }
		writers := map[group]*segWriter{}
		defer func() {
			for _, w := range writers {
				w.close()
			}
		}()
		var order []group
		err := l.Query(ctx, `SELECT record_key, charge_start, charge_end, subscription_id, resource_id, service,
			service_category, charge_category, pricing_category, commitment_discount_id, provider, publisher,
			currency, cost_nanos, cost_raw, import_id, measure FROM usage_records ORDER BY import_id, charge_start, record_key`, nil,
			func(scan func(...any) error) error {
				var r Record
				var g group
				var cost int64
				if err := scan(&r.Key, &r.Start, &r.End, &r.SubscriptionID, &r.ResourceID, &r.Service, &r.ServiceCategory,
					&r.ChargeCategory, &r.PricingCategory, &r.CommitmentDiscountID, &r.Provider, &r.Publisher, &r.Currency,
					&cost, &r.CostRaw, &g.importID, &g.measure); err != nil {
					return err
				}
				r.Cost = money.Nanos(cost)
				w := writers[g]
				if w == nil {
					w = newSegWriter()
					writers[g] = w
					order = append(order, g)
				}
				return w.add(&r)
			})
		if err != nil {
			return fmt.Errorf("reading usage_records: %w", err)
		}
		for _, g := range order {
			if _, err := writers[g].finish(ctx, l, g.importID, g.measure); err != nil {
				return err
			}
		}
		_, err = l.Exec(ctx, `DELETE FROM usage_records`)
		return err
	})
}

// SubscriptionUsage is how many records name an Azure subscription, and since when.
type SubscriptionUsage struct {
	SubscriptionID string
	Records        int64
	FirstStart     int64
}

// Subscriptions sums the stored microsoft records per subscription (from the segments' own
// counts, not their records), sorted by subscription. Sub-accounts of other providers are not
// subscriptions: an unknown AWS account is no data-quality finding.
func Subscriptions(ctx context.Context, q store.Querier) ([]SubscriptionUsage, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, subs FROM usage_segments`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	at := map[string]int{}
	var out []SubscriptionUsage
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, err
		}
		r := varint.NewReader(data, errCorrupt)
		n := r.Count("subscriptions", uint64(len(data)))
		for k := 0; k < n && r.Err == nil; k++ {
			sub := string(r.Bytes(r.Count("subscription", uint64(r.Len())), "subscription"))
			recs, first := int64(r.Uvarint("records")), r.Varint("first start")
			i, ok := at[sub]
			if !ok {
				i = len(out)
				at[sub] = i
				out = append(out, SubscriptionUsage{SubscriptionID: sub, FirstStart: first})
			}
			out[i].Records += recs
			out[i].FirstStart = min(out[i].FirstStart, first)
		}
		if r.Err != nil {
			return nil, fmt.Errorf("usage segment %s: %w", id, r.Err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b SubscriptionUsage) int { return strings.Compare(a.SubscriptionID, b.SubscriptionID) })
	return out, nil
}
