package usage

import (
	"context"
	"io"
	"runtime"
	"sync"
)

// Each calls fn for every row of the file in order: a record, or a bad row. CSV splitting runs
// in one goroutine and mapping (times, money, keys) in one goroutine per core, so parsing uses
// the whole machine; batches are handed back in file order, so line numbers, rejects and
// results are exactly those of calling Next in a loop. fn may keep rec.
func (r *Reader) Each(ctx context.Context, fn func(rec *Record, bad *RowError) error) error {
	const batchSize = 512
	type batch struct {
		rows []row
		recs []Record
		bads []*RowError
		err  error // the read error that ended the file (io.EOF at the end)
		done chan struct{}
	}
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *batch, workers)
	order := make(chan *batch, 2*workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	go func() { // split
		defer close(work)
		defer close(order)
		for {
			// The CSV reader reuses its field slice and the tee its buffer, so each batch
			// copies them: the fields into one array, the bytes as read in one piece (the tee
			// keeps the batch's bytes meanwhile). Two allocations per batch, not per row.
			b := &batch{done: make(chan struct{}), rows: make([]row, 0, batchSize)}
			fields := make([]string, 0, batchSize*len(r.header))
			spans := make([][2]int, 0, batchSize) // each row's bytes within the batch's copy
			r.src.pinBatch()
			for len(b.rows) < batchSize {
				rw, err := r.readRow()
				if err != nil {
					b.err = err
					break
				}
				if len(fields)+len(rw.fields) > cap(fields) { // bad rows may have more fields than the header
					fields = make([]string, 0, max(cap(fields), len(rw.fields)))
				}
				n := len(fields)
				fields = append(fields, rw.fields...)
				rw.fields = fields[n:len(fields):len(fields)]
				off := r.src.lastOffset()
				spans = append(spans, [2]int{off, off + len(rw.raw)})
				b.rows = append(b.rows, rw)
			}
			raw := r.src.unpinBatch()
			for j, sp := range spans {
				b.rows[j].raw = raw[sp[0]:sp[1]:sp[1]]
			}
			select {
			case order <- b:
			case <-ctx.Done():
				return
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(m mapper) { // map
			defer wg.Done()
			for {
				var b *batch
				select {
				case b = <-work:
				case <-ctx.Done():
					return
				}
				if b == nil {
					return
				}
				b.recs = make([]Record, len(b.rows))
				b.bads = make([]*RowError, len(b.rows))
				for j := range b.rows {
					if b.rows[j].bad != nil {
						b.bads[j] = b.rows[j].bad
					} else {
						b.bads[j] = r.mapRow(m, &b.rows[j], &b.recs[j])
					}
				}
				close(b.done)
			}
		}(r.m.clone())
	}
	defer wg.Wait()
	defer cancel()

	for b := range order { // deliver in file order
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		for j := range b.rows {
			var err error
			if b.bads[j] != nil {
				err = fn(nil, b.bads[j])
			} else {
				err = fn(&b.recs[j], nil)
			}
			if err != nil {
				return err
			}
		}
		if b.err == io.EOF {
			return nil
		}
		if b.err != nil {
			return b.err
		}
	}
	return ctx.Err()
}
