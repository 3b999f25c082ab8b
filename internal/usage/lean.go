package usage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// StreamLean calls fn with the stored records whose charge period starts in w, a segment at a
// time, as Stream does, but reads only what attribution reads: charge periods, costs and the
// string columns. Keys read as "", and raw cost texts, quantities and the list, billed and
// effective amounts are absent (Record, CostRaw, Quantity must not be called on its batches).
// It reads the segments in the order of the (day, min_sub) index, which SQLite reads without
// sorting the segments' bytes: the coverage audit and the what-if add up what they read, so
// the order is theirs to ignore. A damaged segment is an error naming it, as in Stream.
//
// Reading (SQLite stepping), decoding and fn run at the same time, each on its own goroutine,
// a segment or two apart; fn is called in the segments' order.
func StreamLean(ctx context.Context, q store.Querier, w timeline.Window, fn func(b *Batch) error) error {
	return streamLean(ctx, q, w, nil, nil, nil, false, fn)
}

// StreamLeanSubscriptions is StreamLean restricted to the records of the subscriptions subs
// (lower-case IDs; a record's subscription is compared lower-cased and trimmed, as the
// audit and the engine's facts compare them). A segment whose
// [min_sub, max_sub] range (stored beside it) can hold none of them is not read at all; of
// the others only the rows of those subscriptions are decoded (decodeV2SubsInto: a segment's rows
// are sorted by subscription). The coverage audit of a partner reads only the tenants where
// it is present, and the what-if only the tenants its changes touch. Batches may be empty of
// some dictionary entries (they read as ""): only the rows' strings are decoded. The
// directory and the segments are read by separate statements: segments are never changed or
// deleted once written, so a segment imported in between is simply not read, as if the read
// had started earlier.
func StreamLeanSubscriptions(ctx context.Context, q store.Querier, w timeline.Window, subs map[string]bool, fn func(b *Batch) error) error {
	if subs == nil {
		subs = map[string]bool{} // none
	}
	return StreamLeanColumns(ctx, q, w, subs, nil, fn)
}

// StreamLeanColumns is StreamLeanSubscriptions (subs nil: every subscription) reading only
// the string columns cols (nil: every one): the others may be nil in the batches, and only
// the dictionary entries the columns read are decoded. The coverage audit reads five of the
// eighteen columns.
func StreamLeanColumns(ctx context.Context, q store.Querier, w timeline.Window, subs map[string]bool, cols []int, fn func(b *Batch) error) error {
	var mask *[NumStringCols]bool
	if cols != nil {
		mask = new([NumStringCols]bool)
		for _, c := range cols {
			mask[c] = true
		}
	}
	return streamLean(ctx, q, w, subs, nil, mask, false, fn)
}

// mayHold reports whether a segment whose subscriptions lie in [minSub, maxSub] (byte-wise:
// how a segment's rows are sorted) may hold one of subs (lower-case IDs), in any spelling
// whose lower case, trimmed, is the ID: a spelling of a letter's case (variantIn), or with
// white space after it (imports trim it; records built otherwise may not) or before it (it
// then sorts first). Non-ASCII IDs, whose case mappings do not pair bytes, are always read,
// and so is a segment whose bounds are not ASCII. (Left out: a spelling of an ASCII ID with a
// non-ASCII letter that lower-cases to ASCII, such as the Kelvin sign, amid ASCII neighbours;
// subscription IDs are GUIDs and account numbers.)
func mayHold(subs []string, minSub, maxSub string) bool {
	if minSub == "" || minSub[0] <= ' ' || !scope.ASCII(minSub) || !scope.ASCII(maxSub) {
		return true
	}
	for _, w := range subs {
		if !scope.ASCII(w) || variantIn(w, minSub, maxSub) ||
			(len(minSub) > len(w) && strings.EqualFold(minSub[:len(w)], w) && minSub[len(w)] <= ' ') {
			return true
		}
	}
	return false
}

// variantIn reports whether some spelling of ASCII w, each letter in either case, lies in
// [lo, hi] byte-wise. It walks w once: while the spelling can still equal both bounds' prefix
// it follows them; once above lo (or below hi) only the other bound constrains it, and the
// smallest (or largest) spelling of the rest decides.
func variantIn(w, lo, hi string) bool {
	opts := func(c byte) (byte, byte) { // smallest, largest
		if 'a' <= c && c <= 'z' {
			return c - 'a' + 'A', c
		}
		if 'A' <= c && c <= 'Z' {
			return c, c - 'A' + 'a'
		}
		return c, c
	}
	// belowHi: the smallest spelling of w[i:] is at most hi[i:]; aboveLo: the largest at least lo[i:].
	belowHi := func(i int) bool {
		for ; i < len(w); i++ {
			if i >= len(hi) {
				return false
			}
			small, _ := opts(w[i])
			if small != hi[i] {
				return small < hi[i]
			}
		}
		return true
	}
	aboveLo := func(i int) bool {
		for ; i < len(w); i++ {
			if i >= len(lo) {
				return true
			}
			_, large := opts(w[i])
			if large != lo[i] {
				return large > lo[i]
			}
		}
		return len(lo) <= len(w)
	}
	for i := 0; i < len(w); i++ {
		// The spelling so far equals both bounds' first i bytes.
		if i >= len(lo) {
			return belowHi(i) // above lo from here on
		}
		if i >= len(hi) {
			return false // longer than hi, which it equals so far
		}
		small, large := opts(w[i])
		for _, o := range []byte{small, large} {
			switch {
			case o > lo[i] && o < hi[i]:
				return true
			case o == lo[i] && o == hi[i]:
				// follow both: decided below
			case o == lo[i] && o < hi[i]:
				if aboveLo(i + 1) {
					return true
				}
			case o > lo[i] && o == hi[i]:
				if belowHi(i + 1) {
					return true
				}
			}
		}
		if (small != lo[i] || small != hi[i]) && (large != lo[i] || large != hi[i]) {
			return false // no spelling follows both bounds further
		}
	}
	// w's spelling equals both bounds' prefixes of its length: it is at most hi, and at least
	// lo only if lo is no longer.
	return len(lo) <= len(w)
}

// StreamAttribution calls fn with what an attribution run reads of the stored records whose
// charge period starts in w (StreamLean's columns), in Stream's order (by day, then segment
// ID: a run's inputs hash lists the segments in that order) and with each batch naming its
// segment, of the rows whose sub-account want accepts (nil: every row; a sharded run keeps
// its shard's). Reading, decoding and fn overlap as in StreamLean: a run waits neither for
// the database while it computes nor for the engine while it reads.
func StreamAttribution(ctx context.Context, q store.Querier, w timeline.Window, want func(sub string) bool, fn func(b *Batch) error) error {
	return streamLean(ctx, q, w, nil, want, nil, true, fn)
}

// streamLean is StreamLean, restricted to the subscriptions subs when it is not nil (read
// from the segments that may hold them), else to those want accepts when it is not nil, and
// to the string columns cols marks when it is not nil; byID reads in Stream's order.
func streamLean(ctx context.Context, q store.Querier, w timeline.Window, subs map[string]bool, want func(string) bool,
	cols *[NumStringCols]bool, byID bool, fn func(b *Batch) error) error {
	if w.Empty() {
		return nil
	}
	type stored struct {
		id, sum string
		lo, hi  int64
		data    []byte
	}
	// Restricted, the segments' directory is read first (without their data), and only the
	// segments that may hold a wanted subscription are read, by ID. In Stream's order too:
	// SQLite sorts by (day, id) by passing every segment's bytes through its sorter (1.4 CPU s
	// of a month at the bench scale), so the directory is sorted instead.
	var dir []stored
	if subs != nil || byID {
		rs := make([]string, 0, len(subs))
		for s := range subs {
			rs = append(rs, s)
		}
		order := "day, min_sub"
		if byID {
			order = "day, id"
		}
		rows, err := q.QueryContext(ctx, `SELECT id, min_start, max_start, sha256, min_sub, max_sub FROM usage_segments
			WHERE day >= $1 AND day < $2 AND max_start >= $3 AND min_start < $4 ORDER BY `+order,
			dayBound(w.From), w.To, w.From, w.To)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s stored
			var minSub, maxSub string
			if err := rows.Scan(&s.id, &s.lo, &s.hi, &s.sum, &minSub, &maxSub); err != nil {
				rows.Close()
				return err
			}
			if subs == nil || mayHold(rs, minSub, maxSub) {
				dir = append(dir, s)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if subs != nil {
		want = func(sub string) bool { return subs[strings.ToLower(strings.TrimSpace(sub))] }
	}
	var rows *sql.Rows
	if subs == nil && !byID {
		var err error
		rows, err = q.QueryContext(ctx, `SELECT id, min_start, max_start, sha256, data FROM usage_segments
			WHERE day >= $1 AND day < $2 AND max_start >= $3 AND min_start < $4 ORDER BY day, min_sub`,
			dayBound(w.From), w.To, w.From, w.To)
		if err != nil {
			return err
		}
	}
	type decoded struct {
		b   *Batch
		err error
	}
	// The reading goroutine owns rows and closes them; streamLean returns only after it has
	// stopped: a row scanned as sql.RawBytes holds the rows' lock until the next Next or
	// Close, which must therefore come from the same goroutine.
	done := make(chan struct{})
	readDone := make(chan struct{})
	defer func() {
		close(done)
		<-readDone
	}()
	raw := make(chan stored, 2)
	out := make(chan decoded, 2)
	readErr := make(chan error, 1)
	// The segments' bytes are copied from the driver's (sql.RawBytes) into buffers the decoder
	// hands back once decoded (a decoded batch keeps nothing of them): a month's segments
	// were otherwise allocated twice over (database/sql clones a []byte), about 1.2 GB at the
	// bench scale for the collector to follow.
	free := make(chan []byte, 4)
	// The masked batches' memory (StreamLeanColumns), handed back by Batch.Release: enough for
	// the batches a reader, the decoder and the caller's stages hold at once.
	pool := make(chan *leanBufs, 8)
	buffer := func(b sql.RawBytes) []byte {
		var buf []byte
		select {
		case buf = <-free:
		default:
		}
		return append(buf[:0], b...)
	}
	go func() { // read
		defer close(readDone)
		defer close(raw)
		if rows != nil {
			defer rows.Close()
		}
		send := func(s stored) bool {
			select {
			case raw <- s:
				return true
			case <-done:
				readErr <- nil
				return false
			}
		}
		if rows == nil {
			for _, s := range dir {
				err := func() error {
					one, err := q.QueryContext(ctx, `SELECT data FROM usage_segments WHERE id = $1`, s.id)
					if err != nil {
						return err
					}
					defer one.Close()
					if !one.Next() {
						if err := one.Err(); err != nil {
							return err
						}
						return sql.ErrNoRows // deleted since the directory was read
					}
					var data sql.RawBytes
					if err := one.Scan(&data); err != nil {
						return err
					}
					s.data = buffer(data)
					return one.Close()
				}()
				if err != nil {
					readErr <- fmt.Errorf("usage segment %s: %w", s.id, err)
					return
				}
				if !send(s) {
					return
				}
			}
			readErr <- nil
			return
		}
		for rows.Next() {
			var s stored
			var data sql.RawBytes
			if err := rows.Scan(&s.id, &s.lo, &s.hi, &s.sum, &data); err != nil {
				readErr <- err
				return
			}
			s.data = buffer(data)
			if !send(s) {
				return
			}
		}
		readErr <- rows.Err()
	}()
	go func() { // decode
		defer close(out)
		for s := range raw {
			var lb *leanBufs
			if cols != nil {
				select {
				case lb = <-pool:
				default:
					lb = &leanBufs{pool: pool}
				}
			}
			b, err := decodeLean(s.id, s.sum, s.data, want, cols, lb)
			if lb != nil && (err != nil || b.bufs != lb) { // not used: the next segment's
				select {
				case pool <- lb:
				default:
				}
			}
			select {
			case free <- s.data:
			default:
			}
			if err == nil {
				b.Source, b.Segment = s.sum, s.id
				if s.lo < w.From || s.hi >= w.To {
					bufs := b.bufs
					b = b.filterLean(w)
					b.bufs = bufs // its dictionary is the one decoded into them
					b.Source, b.Segment = fmt.Sprintf("%s[%d,%d)", s.sum, w.From, w.To), s.id
				}
			}
			select {
			case out <- decoded{b, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for d := range out {
		if d.err != nil {
			return d.err
		}
		if d.b.Len() == 0 {
			d.b.Release()
			continue
		}
		if err := fn(d.b); err != nil {
			return err
		}
	}
	return <-readErr
}

// decodeLean is decodeStored without what StreamLean leaves out, of the rows whose
// subscription want accepts (nil: every row) and the string columns cols marks (nil: every
// one). Version 1 segments, which only old databases hold, are decoded whole, then cut to
// the rows (with every column).
func decodeLean(id, sum string, data []byte, want func(sub string) bool, cols *[NumStringCols]bool, lb *leanBufs) (*Batch, error) {
	if len(data) >= 4 && string(data[:4]) == segMagicV2 {
		b, err := decodeV2SubsInto(data, want, cols, lb)
		if err != nil {
			return nil, fmt.Errorf("usage segment %s: %w (restore the database from a backup)", id, err)
		}
		return b, nil
	}
	b, err := decodeStored(id, sum, data)
	if err != nil || want == nil {
		return b, err
	}
	subs := b.Str[ColSubscription]
	return b.filter(func(i int) bool { return want(b.Dict[subs[i]]) }), nil
}

// filterLean keeps the rows of a lean batch that start in w.
func (b *Batch) filterLean(w timeline.Window) *Batch {
	out := &Batch{Dict: b.Dict}
	for i := 0; i < b.Len(); i++ {
		if !w.Contains(b.Start[i]) {
			continue
		}
		out.Start = append(out.Start, b.Start[i])
		out.End = append(out.End, b.End[i])
		out.Cost = append(out.Cost, b.Cost[i])
		for c := range out.Str {
			if b.Str[c] != nil { // a column not read (StreamLeanColumns) stays unread
				out.Str[c] = append(out.Str[c], b.Str[c][i])
			}
		}
	}
	n := len(out.Start)
	out.keyOff = make([]uint32, n+1)
	out.keyBuf = make([]byte, n)
	for i := range out.keyOff {
		out.keyOff[i] = uint32(i)
	}
	for i := range out.keyBuf {
		out.keyBuf[i] = keyText
	}
	return out
}
