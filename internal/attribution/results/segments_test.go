package results

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

var writeGolden = flag.Bool("write-golden", false, "write the current result segment version's golden files")

// encodeAll computes recs and encodes their results as one segment, returning the rows and
// incentives as Compute gave them too.
func encodeAll(t *rapid.T) ([]byte, []Row, []Incentive) {
	s := genSnapshot(t)
	recs := genRecords(t)
	b := usage.BatchOf(derefAll(recs))
	var c recordResults
	var rows []Row
	var incs []Incentive
	_, err := attribution.Compute(context.Background(), s, attribution.DefaultPrograms(), wide, func(yield func(*usage.Batch) error) error { return yield(b) },
		func(_ *usage.Batch, i int, rs []Row, is []Incentive) error {
			for k := range rs {
				c.row("", &rs[k])
			}
			for k := range is {
				c.incentive("", &is[k])
			}
			rows = append(rows, rs...)
			incs = append(incs, is...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.order) == 0 {
		return encodeResults(nil), nil, nil
	}
	return c.segments()[0].data, rows, incs
}

func derefAll(recs []*usage.Record) []usage.Record {
	out := make([]usage.Record, len(recs))
	for i, r := range recs {
		out[i] = *r
	}
	return out
}

// decodeAll decodes a segment into its rows and incentives.
func decodeAll(data []byte) ([]Row, []Incentive, error) {
	var rows []Row
	var incs []Incentive
	err := decodeResults(data, func(r *Row) error { rows = append(rows, *r); return nil },
		func(x *Incentive) error { incs = append(incs, *x); return nil })
	return rows, incs, err
}

// A result segment gives back exactly the rows and incentives that went in, in order.
func TestResultSegmentRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data, rows, incs := encodeAll(t)
		gotRows, gotIncs, err := decodeAll(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotRows, rows) || !reflect.DeepEqual(gotIncs, incs) {
			t.Fatalf("decoded\n%+v\n%+v\nwant\n%+v\n%+v", gotRows, gotIncs, rows, incs)
		}
		// Any cut of it, and any changed byte, is an error, never a panic or other rows.
		for _, cut := range []int{0, 3, len(data) / 3, len(data) - 1} {
			if cut < len(data) {
				if err := decodeResults(data[:cut], nil, nil); err == nil {
					t.Fatalf("a result segment cut at %d of %d bytes decoded", cut, len(data))
				}
			}
		}
		i := rapid.IntRange(0, len(data)-1).Draw(t, "byte")
		bad := append([]byte(nil), data...)
		bad[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "flip"))
		if err := decodeResults(bad, nil, nil); err == nil {
			t.Fatalf("a segment with byte %d of %d changed decoded", i, len(data))
		}
	})
}

// goldenText prints a segment's rows one per line, every field.
func goldenText(rows []Row, incs []Incentive) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "row %s\n", strings.Join(r.Fields(), ","))
	}
	for _, x := range incs {
		fmt.Fprintf(&b, "incentive %s %d\n", strings.Join(x.Fields(), ","), x.Start)
	}
	return b.String()
}

// Every supported version of the result segment format decodes from its golden bytes to the
// rows it held (testdata/result-vN.seg and .txt). Version 1 was written by runs until rows
// were reproduced; version 2 by the rewriting of cut segments and the legacy upgrade.
// `go test ./internal/attribution/results -run TestResultGolden -write-golden` writes the
// current version's files; the older ones are never written again.
func TestResultGolden(t *testing.T) {
	if *writeGolden {
		res := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/p/vm/v"
		recs := []*usage.Record{dailyRecord("r1", 0, res+"1", 1000000000), dailyRecord("r2", 1, res+"2", 2500000001), dailyRecord("r3", 1, "/subscriptions/"+subA, 7)}
		recs[2].Currency = "EUR"
		recs[1].End = recs[1].Start + 7*3600e9
		var c recordResults
		_, err := attribution.Compute(context.Background(), baseEstate(), attribution.DefaultPrograms(), wide, attribution.FromRecords(recs),
			func(_ *usage.Batch, _ int, rs []Row, is []Incentive) error {
				for k := range rs {
					c.row("", &rs[k])
				}
				for k := range is {
					c.incentive("", &is[k])
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		data := c.segments()[0].data
		rows, incs, err := decodeAll(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/result-v2.seg", data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/result-v2.txt", []byte(goldenText(rows, incs)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "result-"+v+".seg"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "result-"+v+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			rows, incs, err := decodeAll(data)
			if err != nil {
				t.Fatal(err)
			}
			if got := goldenText(rows, incs); got != string(want) {
				t.Fatalf("decoded\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// A damaged stored segment is an error naming it, never rows.
func TestDamagedResultSegmentIsNamed(t *testing.T) {
	data, err := os.ReadFile("testdata/result-v2.seg")
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	err = decodeSegment("seg-42", data, func(*Row) error { t.Fatal("a row of a damaged segment"); return nil }, nil)
	if err == nil || !errors.Is(err, errResultCorrupt) || !strings.Contains(err.Error(), "seg-42") || !strings.Contains(err.Error(), "CRC32C") {
		t.Fatalf("got %v, want a damage error naming segment seg-42 and its checksum", err)
	}
	if err := decodeResults([]byte("PLR\x07xxxxxxxx"), nil, nil); err == nil || !strings.Contains(err.Error(), "upgrade partnerlink") {
		t.Fatalf("a newer version: %v", err)
	}
}

// FuzzDecodeResults: whatever the bytes, decoding returns rows or an error and never panics.
func FuzzDecodeResults(f *testing.F) {
	f.Add([]byte(resultMagicV1))
	f.Add([]byte("PLR\x01\x04PLU\x01\x00\x00\x00"))
	if data, err := os.ReadFile("testdata/result-v2.seg"); err == nil {
		f.Add(data)
	}
	if data, err := os.ReadFile("testdata/result-v1.seg"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = decodeResults(data, func(*Row) error { return nil }, func(*Incentive) error { return nil })
	})
}

// A damaged rollup segment, or one of another shape, is an error naming it, never sums.
func TestDamagedRollupSegmentIsNamed(t *testing.T) {
	n := newStrNums()
	s := newRollupSeg(n, 2, 1)
	s.add([]int32{n.of("PAL"), n.of("USD")}, 5)
	s.add([]int32{n.of("CSP"), n.of("USD")}, -7)
	data := s.encode()
	var got []string
	if err := decodeRollup("x", data, 2, 1, func(strs []string, nums []int64) { got = append(got, fmt.Sprint(strs, nums)) }); err != nil ||
		!reflect.DeepEqual(got, []string{"[PAL USD] [5]", "[CSP USD] [-7]"}) {
		t.Fatalf("decoded %v (%v)", got, err)
	}
	if err := decodeRollup("x", data, 3, 1, func([]string, []int64) {}); err == nil {
		t.Fatal("a segment of 2 strings per row decoded as 3")
	}
	for i := range data {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x10
		err := decodeRollup("rollup segment of location L1 on 2026-03-01", bad, 2, 1, func([]string, []int64) { t.Fatal("a row of a damaged segment") })
		if err == nil || !errors.Is(err, errRollupCorrupt) || !strings.Contains(err.Error(), "L1") {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
}
