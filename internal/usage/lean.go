package usage

import (
	"context"
	"fmt"

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
	if w.Empty() {
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT id, min_start, max_start, sha256, data FROM usage_segments
		WHERE day >= $1 AND day < $2 AND max_start >= $3 AND min_start < $4 ORDER BY day, min_sub`,
		dayBound(w.From), w.To, w.From, w.To)
	if err != nil {
		return err
	}
	defer rows.Close()
	type stored struct {
		id, sum string
		lo, hi  int64
		data    []byte
	}
	type decoded struct {
		b   *Batch
		err error
	}
	done := make(chan struct{})
	defer close(done)
	raw := make(chan stored, 2)
	out := make(chan decoded, 2)
	readErr := make(chan error, 1)
	go func() { // read
		defer close(raw)
		for rows.Next() {
			var s stored
			if err := rows.Scan(&s.id, &s.lo, &s.hi, &s.sum, &s.data); err != nil {
				readErr <- err
				return
			}
			select {
			case raw <- s:
			case <-done:
				readErr <- nil
				return
			}
		}
		readErr <- rows.Err()
	}()
	go func() { // decode
		defer close(out)
		for s := range raw {
			b, err := decodeLean(s.id, s.sum, s.data)
			if err == nil {
				b.Source = s.sum
				if s.lo < w.From || s.hi >= w.To {
					b = b.filterLean(w)
					b.Source = fmt.Sprintf("%s[%d,%d)", s.sum, w.From, w.To)
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
			continue
		}
		if err := fn(d.b); err != nil {
			return err
		}
	}
	return <-readErr
}

// decodeLean is decodeStored without what StreamLean leaves out (version 1 segments, which
// only old databases hold, are decoded whole).
func decodeLean(id, sum string, data []byte) (*Batch, error) {
	if len(data) >= 4 && string(data[:4]) == segMagicV2 {
		b, err := decodeV2(data, true)
		if err != nil {
			return nil, fmt.Errorf("usage segment %s: %w (restore the database from a backup)", id, err)
		}
		return b, nil
	}
	return decodeStored(id, sum, data)
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
			out.Str[c] = append(out.Str[c], b.Str[c][i])
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
