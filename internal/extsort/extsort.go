// Package extsort sorts more items than memory should hold: items are byte strings, sorted in
// memory in runs of a bounded size, written to unlinked temporary files and merged. The usage
// export and the reports of attribution rows use it to give every row in the order formats.md
// fixes, whatever the period's size.
package extsort

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// Sorter collects items and gives them back sorted by cmp. The zero value is not usable; use
// New.
//
// Items are copied into large chunks rather than allocated one by one (a report adds millions,
// and the collector would otherwise trace each), and a full buffer is sorted and written on a
// goroutine of its own while the caller fills the next: the caller's work (producing the
// items) and the sorter's overlap. At most two buffers are held, so memory stays within about
// twice the budget.
type Sorter struct {
	cmp    func(a, b []byte) int
	budget int
	buf    buffer
	held   int
	runs   []*os.File
	seq    uint32
	// spilling is non-nil while a buffer is being written; it delivers the run (or the error)
	// and the buffer's chunks back for reuse.
	spilling chan spilled
	spare    [][]byte
}

// buffer is one run's items before they are written: entries point into chunks.
type buffer struct {
	entries []entry
	chunks  [][]byte
}

// entry is an item and the order it was added in (equal items keep that order).
type entry struct {
	item []byte
	seq  uint32
}

type spilled struct {
	f      *os.File
	chunks [][]byte
	err    error
}

// chunkSize is the size of the chunks items are copied into.
const chunkSize = 1 << 20

// New returns a sorter that keeps up to budget bytes of items in memory (and as much again
// while a full buffer is written).
func New(cmp func(a, b []byte) int, budget int) *Sorter {
	return &Sorter{cmp: cmp, budget: budget}
}

// Add adds a copy of item.
func (s *Sorter) Add(item []byte) error {
	b := &s.buf
	var last []byte
	if n := len(b.chunks); n > 0 {
		last = b.chunks[n-1]
	}
	if cap(last)-len(last) < len(item) {
		size := max(chunkSize, len(item))
		if n := len(s.spare); n > 0 && size == chunkSize {
			last, s.spare = s.spare[n-1][:0], s.spare[:n-1]
		} else {
			last = make([]byte, 0, size)
		}
		b.chunks = append(b.chunks, last)
	}
	off := len(last)
	last = append(last, item...)
	b.chunks[len(b.chunks)-1] = last
	b.entries = append(b.entries, entry{last[off:len(last):len(last)], s.seq})
	s.seq++
	s.held += len(item) + 32 // the entry
	if s.held >= s.budget {
		return s.spill()
	}
	return nil
}

// spill hands the buffer to a goroutine that sorts it and writes it as a run, after the
// previous one is written.
func (s *Sorter) spill() error {
	if err := s.wait(); err != nil {
		return err
	}
	if len(s.runs) >= maxRuns {
		if err := s.compact(); err != nil {
			return err
		}
	}
	b := s.buf
	s.buf, s.held = buffer{entries: make([]entry, 0, len(b.entries))}, 0
	s.spilling = make(chan spilled, 1)
	go func(out chan<- spilled) {
		f, err := s.write(b.entries)
		out <- spilled{f, b.chunks, err}
	}(s.spilling)
	return nil
}

// wait waits for the run being written, if any, and keeps it.
func (s *Sorter) wait() error {
	if s.spilling == nil {
		return nil
	}
	sp := <-s.spilling
	s.spilling = nil
	for _, c := range sp.chunks {
		if cap(c) == chunkSize {
			s.spare = append(s.spare, c[:0])
		}
	}
	if sp.err != nil {
		return sp.err
	}
	s.runs = append(s.runs, sp.f)
	return nil
}

// sortEntries sorts by cmp and then by the order added, which makes the (faster) unstable
// sort stable.
func (s *Sorter) sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		if c := s.cmp(a.item, b.item); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// write sorts entries and writes them to a new unlinked temporary file, positioned at its start.
func (s *Sorter) write(es []entry) (*os.File, error) {
	s.sortEntries(es)
	f, err := os.CreateTemp("", "partnerlink-sort-*.run")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file to sort rows: %w (set TMPDIR to a directory with free space)", err)
	}
	os.Remove(f.Name()) // unlinked: the space is returned however the process ends
	bw := bufio.NewWriterSize(f, 1<<20)
	var n [binary.MaxVarintLen64]byte
	for _, e := range es {
		bw.Write(n[:binary.PutUvarint(n[:], uint64(len(e.item)))])
		bw.Write(e.item)
	}
	err = bw.Flush()
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writing a temporary file to sort rows: %w (set TMPDIR to a directory with free space)", err)
	}
	return f, nil
}

// maxRuns bounds the open temporary files: at that many, the runs are merged into one.
const maxRuns = 64

// compact merges every run into one.
func (s *Sorter) compact() error {
	f, err := os.CreateTemp("", "partnerlink-sort-*.run")
	if err != nil {
		return fmt.Errorf("creating a temporary file to sort rows: %w (set TMPDIR to a directory with free space)", err)
	}
	os.Remove(f.Name())
	bw := bufio.NewWriterSize(f, 1<<20)
	var n [binary.MaxVarintLen64]byte
	err = s.merge(func(it []byte) error {
		bw.Write(n[:binary.PutUvarint(n[:], uint64(len(it)))])
		_, err := bw.Write(it)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	for _, r := range s.runs {
		r.Close()
	}
	s.runs = []*os.File{f}
	if err != nil {
		return fmt.Errorf("merging temporary sort files: %w (set TMPDIR to a directory with free space)", err)
	}
	return nil
}

// Each calls fn with every item in order (items that compare equal keep the order they were
// added in) and releases the sorter's files. item is valid only during the call.
func (s *Sorter) Each(fn func(item []byte) error) error {
	defer s.Close()
	if err := s.wait(); err != nil {
		return err
	}
	if len(s.runs) == 0 {
		s.sortEntries(s.buf.entries)
		for _, e := range s.buf.entries {
			if err := fn(e.item); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.buf.entries) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
		if err := s.wait(); err != nil {
			return err
		}
	}
	return s.merge(fn)
}

// merge calls fn with the items of every run in order.
func (s *Sorter) merge(fn func(item []byte) error) error {
	h := &runHeap{cmp: s.cmp}
	for i, f := range s.runs {
		r := &run{br: bufio.NewReaderSize(f, 256<<10), seq: i}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			h.runs = append(h.runs, r)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		r := h.runs[0]
		if err := fn(r.item); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

// Close releases the temporary files (Each does it too).
func (s *Sorter) Close() {
	if s.spilling != nil {
		if sp := <-s.spilling; sp.f != nil {
			sp.f.Close()
		}
		s.spilling = nil
	}
	for _, f := range s.runs {
		f.Close()
	}
	s.runs, s.buf, s.spare = nil, buffer{}, nil
}

type run struct {
	br   *bufio.Reader
	item []byte
	seq  int // runs hold earlier items first: ties go to the lower run
}

func (r *run) next() (bool, error) {
	n, err := binary.ReadUvarint(r.br)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading a temporary sort file: %w", err)
	}
	if cap(r.item) < int(n) {
		r.item = make([]byte, n)
	}
	r.item = r.item[:n]
	if _, err := io.ReadFull(r.br, r.item); err != nil {
		return false, fmt.Errorf("reading a temporary sort file: %w", err)
	}
	return true, nil
}

type runHeap struct {
	runs []*run
	cmp  func(a, b []byte) int
}

func (h *runHeap) Len() int { return len(h.runs) }
func (h *runHeap) Less(i, j int) bool {
	if c := h.cmp(h.runs[i].item, h.runs[j].item); c != 0 {
		return c < 0
	}
	return h.runs[i].seq < h.runs[j].seq
}
func (h *runHeap) Swap(i, j int) { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *runHeap) Push(x any)    { h.runs = append(h.runs, x.(*run)) }
func (h *runHeap) Pop() any {
	x := h.runs[len(h.runs)-1]
	h.runs = h.runs[:len(h.runs)-1]
	return x
}
