// Package extsort sorts more items than memory should hold: items are byte strings, sorted in
// memory in runs of a bounded size, written to unlinked temporary files and merged. The usage
// export and the reports of attribution rows use it to give every row in the order formats.md
// fixes, whatever the period's size.
package extsort

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// Sorter collects items and gives them back sorted by cmp. The zero value is not usable; use
// New.
type Sorter struct {
	cmp    func(a, b []byte) int
	budget int
	items  [][]byte
	held   int
	runs   []*os.File
}

// New returns a sorter that keeps up to budget bytes of items in memory.
func New(cmp func(a, b []byte) int, budget int) *Sorter {
	return &Sorter{cmp: cmp, budget: budget}
}

// Add adds a copy of item.
func (s *Sorter) Add(item []byte) error {
	s.items = append(s.items, append([]byte(nil), item...))
	s.held += len(item) + 48 // the slice header and allocation overhead
	if s.held >= s.budget {
		return s.spill()
	}
	return nil
}

func (s *Sorter) spill() error {
	slices.SortStableFunc(s.items, s.cmp)
	f, err := os.CreateTemp("", "partnerlink-sort-*.run")
	if err != nil {
		return fmt.Errorf("creating a temporary file to sort rows: %w (set TMPDIR to a directory with free space)", err)
	}
	os.Remove(f.Name()) // unlinked: the space is returned however the process ends
	s.runs = append(s.runs, f)
	bw := bufio.NewWriterSize(f, 1<<20)
	var n [binary.MaxVarintLen64]byte
	for _, it := range s.items {
		bw.Write(n[:binary.PutUvarint(n[:], uint64(len(it)))])
		bw.Write(it)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing a temporary file to sort rows: %w (set TMPDIR to a directory with free space)", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.items, s.held = s.items[:0], 0
	if len(s.runs) >= maxRuns {
		return s.compact()
	}
	return nil
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
	if len(s.runs) == 0 {
		slices.SortStableFunc(s.items, s.cmp)
		for _, it := range s.items {
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.items) > 0 {
		if err := s.spill(); err != nil {
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
	for _, f := range s.runs {
		f.Close()
	}
	s.runs, s.items = nil, nil
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
