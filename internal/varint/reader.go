// Package varint reads the varint-encoded segments partnerlink stores (usage segments, result
// segments) with bounds checks: damaged bytes become an error, never a panic or a huge
// allocation.
package varint

import (
	"encoding/binary"
	"fmt"
)

// Reader consumes its bytes from the front. After the first failure every read returns zero
// values and Err keeps that failure, so a decoder may check Err once after a group of reads.
//
// It keeps an offset, not a shrinking slice: a slice is a pointer, and writing one into a
// Reader on the heap while the garbage collector marks costs a write barrier on every read
// (at 10 M usage rows that was 2 s of CPU in the import's second pass).
type Reader struct {
	b    []byte
	off  int
	Err  error
	base error // what every failure wraps, so callers can test it with errors.Is
}

// NewReader reads b; its failures wrap base.
func NewReader(b []byte, base error) *Reader { return &Reader{b: b, base: base} }

// Len is the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Fail records a failure (the first one wins).
func (r *Reader) Fail(what string) {
	if r.Err == nil {
		r.Err = fmt.Errorf("%w: %s", r.base, what)
	}
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint(what string) uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.Fail("bad " + what)
		return 0
	}
	r.off += n
	return v
}

// Varint reads a signed (zig-zag) varint, as binary.Varint decodes one.
func (r *Reader) Varint(what string) int64 {
	u := r.Uvarint(what)
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// Count reads a count or index that must not exceed limit.
func (r *Reader) Count(what string, limit uint64) int {
	v := r.Uvarint(what)
	if r.Err == nil && v > limit {
		r.Fail(fmt.Sprintf("%s %d exceeds %d", what, v, limit))
		return 0
	}
	return int(v)
}

// Bytes reads n bytes; the slice points into the Reader's bytes.
func (r *Reader) Bytes(n int, what string) []byte {
	if r.Err != nil {
		return nil
	}
	if n < 0 || n > r.Len() {
		r.Fail("truncated " + what)
		return nil
	}
	out := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return out
}

// Byte reads one byte.
func (r *Reader) Byte(what string) byte {
	b := r.Bytes(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}
