package usage

import (
	"context"
	"io"
	"runtime"
	"slices"
	"sync"
)

// Each calls fn for every row of the file in order: a record, or a bad row. One goroutine
// cuts the file into chunks of whole records and one goroutine per core splits each chunk
// into fields and maps them (times, money, keys), so parsing uses the whole machine (see
// chunks.go; from a record whose quotes encoding/csv rejects on, encoding/csv splits in the
// first goroutine, as it did for the whole file before). A Parquet file's rows are read by
// parquetSource.each (row groups on goroutines of their own), as text fields (charge times and
// amounts as numbers), and mapped alike. Batches are handed back in file order, so line
// numbers, rejects and results are exactly those of calling Next in a loop.
// fn may keep rec (its strings share the bytes of their chunk, about 256 KiB, which a kept
// record keeps alive), unless the Reader is transient (see there).
func (r *Reader) Each(ctx context.Context, fn func(rec *Record, bad *RowError) error) error {
	const batchSize = 512
	type batch struct {
		split    bool   // chunk is to be split into rows (else rows are split already)
		chunk    []byte // whole records
		line     int    // the line chunk starts on
		rows     []row
		all      []string // the array the rows' fields were split into last (split reuses it)
		recs     []Record
		bads     []*RowError
		err      error // the read error that ended the file (io.EOF at the end)
		splitErr error // set by the mapping goroutine
		done     chan struct{}
	}
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *batch, workers)
	order := make(chan *batch, 2*workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A transient reader's batches, once delivered, are used again, with their chunk's buffer
	// (spare and buffers hold them): a batch's chunk, fields, rows and records were 18 GB of
	// garbage at ten million rows, and the collector ran about 600 times over the import.
	var spare chan *batch
	var buffers chan []byte
	if r.transient {
		spare = make(chan *batch, 2*workers+2)
		buffers = make(chan []byte, 2*workers+2)
	}
	newBatch := func() *batch {
		select {
		case b := <-spare:
			b.done = make(chan struct{})
			return b
		default:
			return &batch{done: make(chan struct{})}
		}
	}
	release := func(b *batch) {
		if spare == nil {
			return
		}
		if b.split {
			select {
			case buffers <- b.chunk[:0:cap(b.chunk)]:
			default:
			}
		}
		*b = batch{rows: b.rows[:0], all: b.all, recs: b.recs[:0], bads: b.bads[:0]}
		select {
		case spare <- b:
		default:
		}
	}

	send := func(b *batch) bool {
		select {
		case order <- b:
		case <-ctx.Done():
			return false
		}
		select {
		case work <- b:
		case <-ctx.Done():
			return false
		}
		return true
	}
	go func() { // cut (and split, once encoding/csv has taken over), or read Parquet rows
		defer close(work)
		defer close(order)
		if r.pq != nil {
			err := r.pq.each(func(rows []row) bool {
				b := newBatch()
				b.rows = rows
				return send(b)
			})
			end := &batch{err: io.EOF, done: make(chan struct{})}
			if err != nil {
				end.splitErr = err // a Parquet error names its file and row itself
			}
			send(end)
			return
		}
		if r.dataLine > 0 {
			// What the csv reader read ahead after the header is where the chunks start.
			cr := &chunkReader{r: r.src.r, carry: r.src.buf[r.src.start:], line: r.dataLine, limit: r.src.limit, free: buffers}
			for {
				chunk, line, tail, err := cr.next()
				b := newBatch()
				b.split, b.chunk, b.line, b.err = true, chunk, line, err
				if !send(b) || err != nil {
					return
				}
				if tail {
					r.resumeCSV(cr.rest(), cr.line)
					break
				}
			}
		}
		for {
			// The CSV reader reuses its field slice and the tee its buffer, so each batch
			// copies them: the fields into one array, the bytes as read in one piece (the tee
			// keeps the batch's bytes meanwhile). Two allocations per batch, not per row.
			b := &batch{done: make(chan struct{}), rows: make([]row, 0, batchSize)}
			fields := make([]string, 0, batchSize*len(r.header))
			spans := make([][2]int, 0, batchSize) // each row's bytes within the batch's copy
			r.src.pinBatch()
			var err error
			for len(b.rows) < batchSize {
				var rw row
				rw, err = r.readRow()
				if err != nil {
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
			b.err = err
			raw := r.src.unpinBatch()
			for j, sp := range spans {
				b.rows[j].raw = raw[sp[0]:sp[1]:sp[1]]
			}
			if !send(b) || err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(m mapper) { // split and map
			defer wg.Done()
			sp := &splitter{header: len(r.header)}
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
				if b.split {
					b.rows, b.all, b.splitErr = r.split(sp, b.chunk, b.line, b.rows[:0], b.all)
				}
				// Cleared: a record of a batch used before is mapped over its zero value.
				b.recs = slices.Grow(b.recs[:0], len(b.rows))[:len(b.rows)]
				clear(b.recs)
				b.bads = slices.Grow(b.bads[:0], len(b.rows))[:len(b.rows)] // every one set below
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

	// Deliver in file order. last is the line of the last row the CSV layer accepted, which a
	// read error names.
	last := 0
	for b := range order {
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		for j := range b.rows {
			if b.rows[j].bad == nil {
				last = b.rows[j].line
			}
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
		switch {
		case b.splitErr != nil:
			return b.splitErr
		case b.err == io.EOF:
			return nil
		case b.err != nil:
			return r.readError(last, b.err)
		}
		release(b) // every record delivered: nothing refers to its memory now
	}
	return ctx.Err()
}
