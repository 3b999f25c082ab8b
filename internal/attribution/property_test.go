package attribution

import (
	"context"
	"reflect"
	"testing"

	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

// The random estates and usage come from factstest (shared with the audit's properties).
const hour = factstest.Hour

func h(n int) int64 { return factstest.H(n) }

func genWindow(t *rapid.T, label string) timeline.Window { return factstest.GenWindow(t, label) }

var roleOwner, roleReader, roleCustom = factstest.RoleOwner, factstest.RoleReader, factstest.RoleCustom

func genSnapshot(t *rapid.T) *facts.Snapshot { return factstest.GenSnapshot(t) }

func genRecords(t *rapid.T) []*usage.Record { return factstest.GenRecords(t) }

func computeAll(tb interface{ Fatal(...any) }, s *facts.Snapshot, progs *Programs, period timeline.Window, recs []*usage.Record) ([]Row, []Incentive, *Stats) {
	var rows []Row
	var incs []Incentive
	st, err := Compute(context.Background(), s, progs, period, FromRecords(recs), func(_ *usage.Batch, _ int, rs []Row, is []Incentive) error {
		rows = append(rows, rs...)
		incs = append(incs, is...)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	sortRows(rows)
	sortIncs(incs)
	return rows, incs, st
}

var wide = timeline.Window{From: h(-1000), To: h(1000)}

func TestEngineMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if rapid.Bool().Draw(t, "links in parts") { // the index works through them in parallel
			saved := linksPerPart
			linksPerPart = 1
			defer func() { linksPerPart = saved }()
		}
		s := genSnapshot(t)
		recs := genRecords(t)
		progs := DefaultPrograms()
		rows, incs, _ := computeAll(t, s, progs, wide, recs)
		x := &ref{s: s, progs: progs}
		var wantRows []Row
		var wantIncs []Incentive
		for _, r := range recs {
			rs, is := x.record(r)
			wantRows = append(wantRows, rs...)
			wantIncs = append(wantIncs, is...)
		}
		sortRows(wantRows)
		sortIncs(wantIncs)
		if !reflect.DeepEqual(rows, wantRows) {
			t.Fatalf("rows differ\nengine:    %+v\nreference: %+v", rows, wantRows)
		}
		if !reflect.DeepEqual(incs, wantIncs) {
			t.Fatalf("incentives differ\nengine:    %+v\nreference: %+v", incs, wantIncs)
		}
	})
}
