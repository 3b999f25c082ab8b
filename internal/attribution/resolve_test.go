package attribution

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

// The engine must give the reference's rows also when its per-worker cache of resolved
// resources starts over at every new resource.
func TestEngineMatchesReferenceWithTinyCache(t *testing.T) {
	saved := maxCachedResources
	maxCachedResources = 1
	defer func() { maxCachedResources = saved }()
	rapid.Check(t, func(t *rapid.T) {
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

// Two resources whose IDs hash alike still get their own entries.
func TestWorkerEntryHashCollision(t *testing.T) {
	e := newEngine(build(baseEstate()), DefaultPrograms())
	wk := e.newWorker(1)
	a := wk.entry(42, "sub-a", "/subscriptions/sub-a/resourceGroups/rg/providers/p/vm/a")
	b := wk.entry(42, "sub-b", "/subscriptions/sub-b/resourceGroups/rg/providers/p/vm/b")
	if a == b || a.res != "/subscriptions/sub-a/resourceGroups/rg/providers/p/vm/a" || b.res != "/subscriptions/sub-b/resourceGroups/rg/providers/p/vm/b" {
		t.Fatalf("colliding hashes share an entry: %+v %+v", a, b)
	}
	if wk.entry(42, "sub-a", a.res) != a || wk.entry(42, "sub-b", b.res) != b {
		t.Fatal("a second lookup does not find the same entries")
	}
	// The same resource ID under another subscription is another resource.
	if c := wk.entry(42, "sub-c", a.res); c == a || c.rawSub != "sub-c" {
		t.Fatalf("entry for sub-c = %+v", c)
	}
}

// fullDays keeps exactly the whole UTC days that lie inside the set.
func TestFullDaysMatchesDayByDay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var ws []timeline.Window
		for n := rapid.IntRange(0, 4).Draw(t, "n"); n > 0; n-- {
			ws = append(ws, genWindow(t, "w"))
		}
		s := timeline.Union(ws...)
		full := fullDays(s)
		for d := floorDay(h(-48)); d < h(200); d += day {
			whole := s.Clip(timeline.Window{From: d, To: d + day}).Length() == day
			if got := full.Clip(timeline.Window{From: d, To: d + day}).Length(); (got == day) != whole || (got != 0 && got != day) {
				t.Fatalf("day %s: set %v, full days %v", timeline.Format(d), s, full)
			}
		}
	})
	if got := fullDays(timeline.Set{timeline.Always()}); !reflect.DeepEqual(got, timeline.Set{timeline.Always()}) {
		t.Errorf("fullDays(always) = %v", got)
	}
	if got := fullDays(timeline.Set{{From: timeline.Min + 1, To: timeline.Min + day/2}, {From: timeline.Max - day/2, To: timeline.Max - 1}}); len(got) != 0 {
		t.Errorf("fullDays near the sentinels = %v, want none", got)
	}
}

// mulDiv2 is money.MulDiv2, also when the products do not fit in 64 bits.
func TestMulDiv2MatchesMoney(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := money.Nanos(rapid.Int64Range(-5_000_000_000_000, 5_000_000_000_000).Draw(t, "n"))
		// Rates and shares in [0, 1], as PEC uses it: the result never exceeds |n|.
		c := rapid.SampledFrom([]int64{money.Scale, 3, 1}).Draw(t, "c")
		a := rapid.Int64Range(0, c).Draw(t, "a")
		d := rapid.Int64Range(1, math.MaxInt64/2).Draw(t, "d")
		b := rapid.Int64Range(0, d).Draw(t, "b")
		if rapid.Bool().Draw(t, "hours") {
			d = rapid.Int64Range(1, 24*60).Draw(t, "dh") * hour
			b = rapid.Int64Range(0, d/hour).Draw(t, "bh") * hour
		}
		if got, want := mulDiv2(n, a, c, b, d), money.MulDiv2(n, a, c, b, d); got != want {
			t.Fatalf("mulDiv2(%d, %d/%d, %d/%d) = %d, money.MulDiv2 = %d", n, a, c, b, d, got, want)
		}
	})
}

// ComputeSums adds up exactly the rows and incentives Compute writes out, also when the
// workers' caches start over (and hand their interval sums on) at every new resource, and
// whether the records come in day order or not (past intervals are retired).
func TestComputeSumsMatchesRows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if rapid.Bool().Draw(t, "tiny cache") {
			saved := maxCachedResources
			maxCachedResources = 1
			defer func() { maxCachedResources = saved }()
		}
		s := genSnapshot(t)
		recs := genRecords(t)
		if rapid.Bool().Draw(t, "day order") { // as stored usage comes: the workers retire past intervals
			slices.SortStableFunc(recs, func(a, b *usage.Record) int { return cmp.Compare(floorDay(a.Start), floorDay(b.Start)) })
		}
		progs := DefaultPrograms()
		if rapid.Bool().Draw(t, "two program versions") {
			progs = splitPrograms(progs, h(rapid.IntRange(0, 72).Draw(t, "version change")))
		}
		rows, incs, st := computeAll(t, s, progs, wide, recs)
		want, count := rowTotals(rows, incs)
		st2, sums, err := ComputeSums(context.Background(), s, progs, wide, FromRecords(recs))
		if err != nil {
			t.Fatal(err)
		}
		got := totaller{}
		for _, x := range sums {
			got.add(x.LocationID, x.Association, x.Currency, x.Amount)
			if n := count[[3]string{x.LocationID, x.Association, x.Currency}]; n != x.Rows {
				t.Fatalf("%+v: %d rows written out", x, n)
			}
		}
		if !reflect.DeepEqual(got.strings(), want.strings()) {
			t.Fatalf("sums %v\nrows %v", got.strings(), want.strings())
		}
		if !reflect.DeepEqual(st, st2) {
			t.Fatalf("stats %+v vs %+v", st, st2)
		}
	})
}

// rowTotals adds rows and incentives up as ComputeSums does, and counts them per total.
func rowTotals(rows []Row, incs []Incentive) (totaller, map[[3]string]int64) {
	want, count := totaller{}, map[[3]string]int64{}
	for _, r := range rows {
		want.add(r.LocationID, r.Association, r.Currency, r.Amount)
		count[[3]string{r.LocationID, r.Association, r.Currency}]++
	}
	for _, i := range incs {
		want.add(i.LocationID, "incentive:"+i.Program, i.Currency, i.Amount)
		count[[3]string{i.LocationID, "incentive:" + i.Program, i.Currency}]++
	}
	return want, count
}

// The rows do not depend on how records are cut into batches, nor on whether the batches
// share a dictionary (the engine's per-dictionary caches must start over exactly when a
// batch brings its own).
func TestRowsDoNotDependOnBatches(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSnapshot(t)
		recs := genRecords(t)
		progs := DefaultPrograms()
		want, wantIncs, _ := computeAll(t, s, progs, wide, recs)
		var batches []*usage.Batch
		bb := usage.NewBatchBuilder()
		for i, r := range recs {
			bb.Add(r)
			if i == len(recs)-1 || rapid.Bool().Draw(t, "cut") {
				batches = append(batches, bb.Batch())
				if rapid.Bool().Draw(t, "fresh dictionary") {
					bb = usage.NewBatchBuilder()
				}
			}
		}
		var rows []Row
		var incs []Incentive
		_, err := Compute(context.Background(), s, progs, wide, func(yield func(*usage.Batch) error) error {
			for _, b := range batches {
				if err := yield(b); err != nil {
					return err
				}
			}
			return nil
		}, func(_ *usage.Batch, _ int, rs []Row, is []Incentive) error {
			rows = append(rows, rs...)
			incs = append(incs, is...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sortRows(rows)
		sortIncs(incs)
		if !reflect.DeepEqual(rows, want) || !reflect.DeepEqual(incs, wantIncs) {
			t.Fatalf("rows differ by batching\nsplit: %+v\nwhole: %+v", rows, want)
		}
	})
}

// splitPrograms ends each program's version at t and starts a second one with other rates.
func splitPrograms(p *Programs, t int64) *Programs {
	out := *p
	split := func(vs []ProgramVersion) []ProgramVersion {
		var res []ProgramVersion
		for _, v := range vs {
			a, b := v, v
			a.Window.To, b.Window.From = t, t
			b.Version += "-b"
			b.Rate, b.RateSingle, b.RateMulti = b.Rate/3, b.RateSingle*2, b.RateMulti+1
			res = append(res, a, b)
		}
		return res
	}
	out.PEC, out.PAL = split(p.PEC), split(p.PAL)
	return &out
}

// A record of a day the worker has passed (a file out of day order) lands in an interval whose
// plan was retired: its plan is built again and its sums still reach the totals.
func TestComputeSumsRecordsOutOfDayOrder(t *testing.T) {
	s := pecEstate() // instants at noon of day 0 and at midnights: several intervals
	var recs []*usage.Record
	for i, d := range []int{0, 3, 0, 1, 3, 1} {
		recs = append(recs, dailyRecord(fmt.Sprint("r", i), d, resVM, int64(100+i)*1_000_000_000))
	}
	rows, incs, _ := computeAll(t, s, nil, wide, recs)
	want, _ := rowTotals(rows, incs)
	_, sums, err := ComputeSums(context.Background(), s, nil, wide, FromRecords(recs))
	if err != nil {
		t.Fatal(err)
	}
	got := totaller{}
	for _, x := range sums {
		got.add(x.LocationID, x.Association, x.Currency, x.Amount)
	}
	if !reflect.DeepEqual(got.strings(), want.strings()) {
		t.Fatalf("sums %v\nrows %v", got.strings(), want.strings())
	}
}

// Records in day order: when a worker meets a day's first record it retires the intervals
// that ended before it, so it holds the plans of the current day only, however many days the
// usage spans (memory bounded by the estate, not by the usage).
func TestRetireKeepsOnlyTheCurrentDaysPlans(t *testing.T) {
	s := baseEstate()
	// u3 activates Owner from 06:00 to 08:00 every day: two instants a day.
	var acts []timeline.Window
	for d := 0; d < 10; d++ {
		acts = append(acts, timeline.Window{From: h(24*d + 6), To: h(24*d + 8)})
	}
	s.Assignments = append(s.Assignments, access.RoleAssignment{ID: "pim", TenantID: "t1", PrincipalID: "u3",
		RoleDefinitionID: roleOwner.ID, Scope: "/subscriptions/" + subA, Kind: access.Eligible, Valid: timeline.Always(), Activations: acts})
	s.Links = append(s.Links, link.Span{TenantID: "t1", ObjectID: "u3", LocationID: "2", Valid: timeline.Always()})
	e := newEngine(build(s), DefaultPrograms())
	wk := e.newWorker(1)
	ent := wk.entry(maphash.String(e.seed, resVM), subA, resVM)
	var st Stats
	for d := 0; d < 10; d++ {
		// Records inside an interval (00:00-05:00), across both instants (05:00-09:00), and in
		// the interval that lasts until 06:00 the next day (20:00-23:00).
		for _, w := range [][2]int{{0, 5}, {5, 9}, {20, 23}} {
			r := rowIn{start: h(24*d + w[0]), end: h(24*d + w[1]), cost: 1_000_000_000, currency: "USD", category: usage.CategoryUsage}
			wk.reach(r.start) // as worker.compute does
			wk.sumFast(&r, wk.info(ent, timeline.Window{From: r.start, To: r.end}), &st)
		}
		p := ent.infos[0].sums
		if p.pending != 3 || len(p.cross) != 1 || len(wk.live) != 1 {
			t.Fatalf("day %d: %d plans pending, %d runs, %d plans live; want the day's 3, 1 and 1", d, p.pending, len(p.cross), len(wk.live))
		}
		for k := 0; k < p.retired; k++ {
			if p.ivs[k].built {
				t.Fatalf("day %d: interval %d is retired (below %d) and still has its plan", d, k, p.retired)
			}
		}
	}
}

// A record that crosses the start of the reseller's whole days of access earns PEC for the
// part inside them only, in ComputeSums as in Compute: 6 of its 12 hours here.
func TestComputeSumsPECForPartOfRecord(t *testing.T) {
	s := pecEstate() // access from noon on day 0: whole days from day 1
	r := dailyRecord("r", 0, resVM, 100_000_000_000)
	r.Start, r.End = h(18), h(30)
	_, incs, _ := computeAll(t, s, nil, wide, []*usage.Record{r})
	if len(incs) != 1 || incs[0].Program != ProgramPEC || incs[0].Amount != 7_500_000_000 {
		t.Fatalf("Compute: %+v", incs)
	}
	_, sums, err := ComputeSums(context.Background(), s, nil, wide, FromRecords([]*usage.Record{r}))
	if err != nil {
		t.Fatal(err)
	}
	var pec []Sum
	for _, x := range sums {
		if x.Association == "incentive:"+ProgramPEC {
			pec = append(pec, x)
		}
	}
	if len(pec) != 1 || pec[0].Amount != incs[0].Amount || pec[0].Rows != 1 {
		t.Fatalf("ComputeSums: %+v", pec)
	}
}

// mayDeploy may only skip a resource when no deployment is on it or on a scope above it,
// whatever the deployment's depth.
func TestMayDeploy(t *testing.T) {
	res := "/subscriptions/s1/resourcegroups/rg/providers/p/vm/v1"
	for _, tc := range []struct {
		deploy string
		want   bool
	}{
		{res, true},
		{"/subscriptions/s1/resourcegroups/rg", true},
		{"/subscriptions/s1", true},
		{"/subscriptions", true},
		{"/subscriptions/s2/resourcegroups/rg", false},
		{"/subscriptions/s1/resourcegroups/rg2", true}, // same root: walked, and found not to match
	} {
		ix := &index{deployRoots: map[string]bool{idRoot(tc.deploy): true}}
		if got := ix.mayDeploy(res); got != tc.want {
			t.Errorf("deployment on %s: mayDeploy(%s) = %v", tc.deploy, res, got)
		}
	}
}
