package attribution

import (
	"context"
	"reflect"
	"testing"

	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

// encodeAll computes recs and encodes their results as one segment, returning the rows and
// incentives as Compute gave them too.
func encodeAll(t *rapid.T) ([]byte, []Row, []Incentive) {
	s := genSnapshot(t)
	recs := genRecords(t)
	b := usage.BatchOf(derefAll(recs))
	rb := newResultBuilder(b)
	var rows []Row
	var incs []Incentive
	_, err := Compute(context.Background(), s, DefaultPrograms(), wide, func(yield func(*usage.Batch) error) error { return yield(b) },
		func(_ *usage.Batch, i int, rs []Row, is []Incentive) error {
			rb.add(i, rs, is)
			rows = append(rows, rs...)
			incs = append(incs, is...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return rb.encode(), rows, incs
}

func derefAll(recs []*usage.Record) []usage.Record {
	out := make([]usage.Record, len(recs))
	for i, r := range recs {
		out[i] = *r
	}
	return out
}

// A result segment gives back exactly the rows and incentives that went in, in order.
func TestResultSegmentRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data, rows, incs := encodeAll(t)
		var gotRows []Row
		var gotIncs []Incentive
		err := decodeResults(data, func(r *Row) error { gotRows = append(gotRows, *r); return nil },
			func(x *Incentive) error { gotIncs = append(gotIncs, *x); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotRows, rows) || !reflect.DeepEqual(gotIncs, incs) {
			t.Fatalf("decoded\n%+v\n%+v\nwant\n%+v\n%+v", gotRows, gotIncs, rows, incs)
		}
		// Any cut of it is an error, never a panic.
		for _, cut := range []int{0, 3, len(data) / 3, len(data) - 1} {
			if cut < len(data) {
				if err := decodeResults(data[:cut], nil, nil); err == nil {
					t.Fatalf("a result segment cut at %d of %d bytes decoded", cut, len(data))
				}
			}
		}
	})
}

// FuzzDecodeResults: whatever the bytes, decoding returns rows or an error and never panics.
func FuzzDecodeResults(f *testing.F) {
	f.Add([]byte(resultMagic))
	f.Add([]byte("PLR\x01\x04PLU\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = decodeResults(data, func(*Row) error { return nil }, func(*Incentive) error { return nil })
	})
}
