package results

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/varint"
)

// sortDict numbers the strings of the sort items a report writes to disk. Every field of a
// record but its key repeats across records and rows (tenants, subscriptions, resources on
// every day of the month, locations, associations, roles), so an item carries small numbers
// instead of the texts: about a quarter of the bytes to sort, write and read back, and
// decoding is an index instead of a lookup. The dictionary lives in this process only (the
// items never outlive the report) and is bounded: past dictBytes of text, new strings are
// written out in full (number 0 and the text), so memory does not grow with the period.
type sortDict struct {
	ids   map[string]uint32
	strs  []string // strs[id]; strs[0] unused (0 means the text follows)
	bytes int
	// recent remembers the last string seen at a slot chosen by its address: the same string
	// (a tenant, location or role shared by every row) then costs a comparison instead of a
	// map lookup. Slots hold the dictionary's copies: the strings given may be slices of a
	// whole decoded usage segment, which must not be kept alive.
	recent [1024]struct {
		s  string
		id uint32
	}
}

// dictBytes bounds the text the dictionary holds.
var dictBytes = 64 << 20 // a variable for tests

func newSortDict() *sortDict {
	return &sortDict{ids: make(map[string]uint32), strs: []string{""}}
}

// appendString appends s's number, or 0 and s itself once the dictionary is full.
func (d *sortDict) appendString(dst []byte, s string) []byte {
	slot := &d.recent[(uintptr(unsafe.Pointer(unsafe.StringData(s)))>>4^uintptr(len(s)))&(uintptr(len(d.recent))-1)]
	if slot.id != 0 && slot.s == s {
		return binary.AppendUvarint(dst, uint64(slot.id))
	}
	id, ok := d.ids[s]
	if !ok {
		if d.bytes+len(s) > dictBytes {
			dst = binary.AppendUvarint(dst, 0)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			return append(dst, s...)
		}
		id = uint32(len(d.strs))
		s = strings.Clone(s)
		d.strs = append(d.strs, s)
		d.ids[s] = id
		d.bytes += len(s)
	}
	slot.s, slot.id = d.strs[id], id
	return binary.AppendUvarint(dst, uint64(id))
}

// readStrings reads len(dst) strings written by appendString.
func (d *sortDict) readStrings(r *varint.Reader, dst []string) {
	for k := range dst {
		id := r.Uvarint("sort item string")
		switch {
		case id == 0:
			dst[k] = string(r.Bytes(r.Count("sort item field", uint64(r.Len())), "sort item field"))
		case id < uint64(len(d.strs)):
			dst[k] = d.strs[id]
		default:
			r.Fail("sort item string")
		}
	}
}
