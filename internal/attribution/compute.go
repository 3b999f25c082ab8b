package attribution

import (
	"context"
	"errors"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Association types.
const (
	AssocCSP  = "CSP"
	AssocDPOR = "DPOR"
	AssocCUA  = "CUA"
	AssocPAL  = "PAL"
)

// Row is one attribution row (formats.md). Coverage is ×1e9, half-even.
type Row struct {
	RecordKey      string
	LocationID     string
	Association    string
	OrgID          string
	Start, End     int64
	TenantID       string
	SubscriptionID string
	ResourceID     string
	Service        string
	Currency       string
	Cost           money.Nanos
	Coverage       int64
	Amount         money.Nanos
	AdminRole      string
	DuplicateAtOrg bool
}

// Incentive is one incentive row.
type Incentive struct {
	RecordKey      string
	LocationID     string
	Program        string
	OrgID          string
	ProgramVersion string
	Start          int64
	Currency       string
	Amount         money.Nanos
}

// Stats counts what the engine saw. Unknown subscriptions are a data-quality warning.
type Stats struct {
	Records             int64 `json:"records"`
	OutsidePeriod       int64 `json:"outside_period"`
	NotConsumption      int64 `json:"not_consumption"`
	UnknownSubscription int64 `json:"unknown_subscription"`
	EmptyPeriod         int64 `json:"empty_period"`
	Rows                int64 `json:"attribution_rows"`
	Incentives          int64 `json:"incentive_rows"`
	// UnknownSubscriptions names up to 20 of them, sorted.
	UnknownSubscriptions []string `json:"unknown_subscriptions,omitempty"`
}

// Sink receives the rows of each record, in the order the records were given, from one
// goroutine at a time.
type Sink func(rec *usage.Record, rows []Row, incs []Incentive) error

// Records yields usage records to the engine (usage.Stream and usage.ReadFiles fit it).
type Records func(yield func(*usage.Record) error) error

const batchSize = 512

// Compute is the pure engine: it attributes every record whose charge period starts in period
// against the snapshot and programs (nil = shipped default), calling out for each record in
// input order. Work is spread over GOMAXPROCS workers; memory holds the index plus a bounded
// number of in-flight batches, never the whole usage.
func Compute(ctx context.Context, s *facts.Snapshot, progs *Programs, period timeline.Window, each Records, out Sink) (*Stats, error) {
	if progs == nil {
		progs = DefaultPrograms()
	}
	e := &engine{ix: build(s), progs: progs}
	workers := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		recs []*usage.Record
		rows [][]Row
		incs [][]Incentive
		st   Stats
	}
	type job struct {
		recs []*usage.Record
		res  chan *result
	}
	jobs := make(chan *job, workers*2)
	order := make(chan *job, workers*4)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r := &result{recs: j.recs, rows: make([][]Row, len(j.recs)), incs: make([][]Incentive, len(j.recs))}
				for k, rec := range j.recs {
					r.rows[k], r.incs[k] = e.record(rec, &r.st)
				}
				j.res <- r
			}
		}()
	}
	var total Stats
	unknown := map[string]bool{}
	consumeErr := make(chan error, 1)
	go func() {
		var err error
		for j := range order {
			r := <-j.res
			if err != nil {
				continue // drain
			}
			addStats(&total, &r.st)
			for k, rec := range r.recs {
				if r.st.UnknownSubscription > 0 && len(r.rows[k]) == 0 {
					if _, ok := e.ix.subs[lower(rec.SubscriptionID)]; !ok && len(unknown) < 20 && isUsage(rec) && period.Contains(rec.Start) {
						unknown[lower(rec.SubscriptionID)] = true
					}
				}
				if out != nil {
					if err = out(rec, r.rows[k], r.incs[k]); err != nil {
						cancel()
						break
					}
				}
			}
		}
		consumeErr <- err
	}()

	var batch []*usage.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		j := &job{recs: batch, res: make(chan *result, 1)}
		batch = nil
		select {
		case order <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			// The consumer waits for every ordered job: answer this one empty.
			j.res <- &result{}
			return ctx.Err()
		}
		return nil
	}
	prodErr := each(func(rec *usage.Record) error {
		if !period.Contains(rec.Start) {
			total.OutsidePeriod++
			return nil
		}
		batch = append(batch, rec)
		if len(batch) >= batchSize {
			return flush()
		}
		return ctx.Err()
	})
	if prodErr == nil {
		prodErr = flush()
	}
	close(jobs)
	wg.Wait()
	close(order)
	cerr := <-consumeErr
	if cerr != nil {
		return nil, cerr
	}
	if prodErr != nil {
		if errors.Is(prodErr, context.Canceled) && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, prodErr
	}
	total.UnknownSubscriptions = sortedKeys(unknown)
	return &total, nil
}

func addStats(a, b *Stats) {
	a.Records += b.Records
	a.NotConsumption += b.NotConsumption
	a.UnknownSubscription += b.UnknownSubscription
	a.EmptyPeriod += b.EmptyPeriod
	a.Rows += b.Rows
	a.Incentives += b.Incentives
}

func isUsage(r *usage.Record) bool { return r.ChargeCategory == usage.CategoryUsage }

type engine struct {
	ix    *index
	progs *Programs
}

// palAcc accumulates one location's PAL time on a record.
type palAcc struct {
	loc   string
	set   timeline.Set
	roles []roleTime
}

type roleTime struct {
	role string
	set  timeline.Set
}

// record attributes one record. It is the hot path: per-record work avoids maps and keeps
// allocations to the rows themselves and the few time sets that need building.
func (e *engine) record(r *usage.Record, st *Stats) ([]Row, []Incentive) {
	st.Records++
	if !isUsage(r) {
		st.NotConsumption++
		return nil, nil
	}
	sub := lowerFast(r.SubscriptionID)
	sv, ok := e.ix.subscriptionAt(sub, timeline.Window{From: r.Start, To: r.End})
	if !ok {
		st.UnknownSubscription++
		return nil, nil
	}
	if r.End <= r.Start {
		st.EmptyPeriod++
		return nil, nil
	}
	per := timeline.Window{From: r.Start, To: r.End}
	length := r.End - r.Start
	tenant := lowerFast(sv.TenantID)
	rk := resourceRef(r.ResourceID, sub)
	var rows []Row
	emit := func(assoc, loc string, set timeline.Set, role string) {
		li := e.ix.locs[loc]
		if li == nil {
			return
		}
		covered := coveredLen(set, per, li.active)
		if covered <= 0 {
			return
		}
		rows = append(rows, Row{RecordKey: r.Key, LocationID: loc, Association: assoc, OrgID: li.org,
			Start: r.Start, End: r.End, TenantID: tenant, SubscriptionID: sub, ResourceID: r.ResourceID,
			Service: r.Service, Currency: r.Currency, Cost: r.Cost,
			Coverage: money.Ratio(covered, length), Amount: money.MulDiv(r.Cost, covered, length), AdminRole: role})
	}
	csp := sv.Offer == "csp" && sv.CSPLocationID != ""
	cspOrg := ""
	if csp {
		if li := e.ix.locs[sv.CSPLocationID]; li != nil {
			cspOrg = li.org
		}
		emit(AssocCSP, sv.CSPLocationID, timeline.Set{per}, "")
	}
	for _, d := range e.ix.dporList[sub] {
		emit(AssocDPOR, d.loc, d.set, "")
	}
	if len(e.ix.deploys) > 0 {
		var cua map[string]timeline.Set
		for k := key(rk); ; {
			for _, d := range e.ix.deploys[k] {
				if cua == nil {
					cua = map[string]timeline.Set{}
				}
				cua[d.loc] = cua[d.loc].Add(timeline.Since(d.at))
			}
			i := strings.LastIndexByte(k, '/')
			if i <= 0 {
				break
			}
			k = k[:i]
		}
		for _, loc := range sortedKeys(cua) {
			emit(AssocCUA, loc, cua[loc], "")
		}
	}
	var pal []palAcc
	e.ix.covering(tenant, sub, rk, func(g *grant, set timeline.Set) {
		if g.kind != grantPAL {
			return
		}
		set = set.Clip(per)
		if len(set) == 0 {
			return
		}
		k := -1
		for i := range pal {
			if pal[i].loc == g.loc {
				k = i
				break
			}
		}
		if k < 0 {
			pal = append(pal, palAcc{loc: g.loc})
			k = len(pal) - 1
		}
		a := &pal[k]
		a.set = unionInto(a.set, set)
		for i := range a.roles {
			if a.roles[i].role == g.role {
				a.roles[i].set = unionInto(a.roles[i].set, set)
				return
			}
		}
		a.roles = append(a.roles, roleTime{g.role, set})
	})
	for i := range pal {
		a := &pal[i]
		li := e.ix.locs[a.loc]
		if li == nil || (cspOrg != "" && li.org == cspOrg) {
			continue // CSP precedence: the reseller's organisation is credited as CSP
		}
		best, bestLen := "", int64(-1)
		for _, rt := range a.roles {
			n := coveredLen(rt.set, per, li.active)
			if n > bestLen || (n == bestLen && rt.role < best) {
				best, bestLen = rt.role, n
			}
		}
		emit(AssocPAL, a.loc, a.set, best)
	}
	markDuplicates(rows)
	st.Rows += int64(len(rows))
	incs := e.incentives(r, string(sv.Offer), sv.CSPLocationID, tenant, sub, rk, rows)
	st.Incentives += int64(len(incs))
	return rows, incs
}

// unionInto returns a ∪ b; a may be reused.
func unionInto(a, b timeline.Set) timeline.Set {
	if len(a) == 0 {
		return append(timeline.Set(nil), b...)
	}
	return timeline.Union(append(a, b...)...)
}

// coveredLen is |a ∩ w ∩ b| without allocating (a and b are normalised sets).
func coveredLen(a timeline.Set, w timeline.Window, b timeline.Set) int64 {
	var n int64
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x := a[i].Intersect(b[j]).Intersect(w)
		if !x.Empty() {
			n += x.Length()
		}
		if a[i].To < b[j].To {
			i++
		} else {
			j++
		}
	}
	return n
}

// markDuplicates sets duplicate_at_org on all but the lowest location per organisation and
// association, and sorts rows by location and association for stable output.
func markDuplicates(rows []Row) {
	if len(rows) < 2 {
		return
	}
	less := func(a, b *Row) bool {
		if a.LocationID != b.LocationID {
			return lessLocation(a.LocationID, b.LocationID)
		}
		return a.Association < b.Association
	}
	// Insertion sort: a record has a handful of rows, and sort.Slice allocates.
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && less(&rows[j], &rows[j-1]); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
	for i := range rows {
		for j := 0; j < i; j++ {
			if rows[j].OrgID == rows[i].OrgID && rows[j].Association == rows[i].Association {
				rows[i].DuplicateAtOrg = true
				break
			}
		}
	}
}

const day = int64(86400) * 1_000_000_000

func floorDay(t int64) int64 {
	d := t / day * day
	if d > t {
		d -= day
	}
	return d
}

// pecExcluded reports why a record earns no PEC, "" if it may.
func pecExcluded(r *usage.Record) string {
	switch {
	case strings.EqualFold(r.PricingCategory, "Dynamic"):
		return "PricingCategory is Dynamic (spot)"
	case r.CommitmentDiscountID != "":
		return "the record is covered by a commitment discount (reservation or savings plan)"
	case r.Publisher != "" && !strings.EqualFold(r.Publisher, r.Provider):
		return "the publisher differs from the provider (marketplace or third party)"
	}
	return ""
}

func (e *engine) incentives(r *usage.Record, off string, cspLoc, tenant, sub, rk string, rows []Row) []Incentive {
	var out []Incentive
	if v := at(e.progs.PEC, r.Start); v != nil && v.Offers[off] && cspLoc != "" && pecExcluded(r) == "" {
		if li := e.ix.locs[cspLoc]; li != nil {
			if q := e.pecTime(r, li, tenant, sub, rk); q > 0 {
				out = append(out, Incentive{RecordKey: r.Key, LocationID: cspLoc, Program: ProgramPEC, OrgID: li.org,
					ProgramVersion: v.Version, Start: r.Start, Currency: r.Currency,
					Amount: money.MulDiv2(r.Cost, int64(v.Rate), money.Scale, q, r.End-r.Start)})
			}
		}
	}
	if v := at(e.progs.PAL, r.Start); v != nil && v.Offers[off] {
		orgs, first := 0, ""
		for _, row := range rows {
			if row.Association == AssocPAL && row.OrgID != first {
				if orgs == 0 {
					first = row.OrgID
				}
				orgs++
			}
		}
		rate := v.RateMulti
		if orgs == 1 {
			rate = v.RateSingle
		}
		for _, row := range rows {
			if row.Association == AssocPAL && !row.DuplicateAtOrg {
				out = append(out, Incentive{RecordKey: r.Key, LocationID: row.LocationID, Program: ProgramPAL, OrgID: row.OrgID,
					ProgramVersion: v.Version, Start: r.Start, Currency: r.Currency,
					Amount: money.MulDiv(row.Amount, int64(rate), money.Scale)})
			}
		}
	}
	if len(out) < 2 {
		return out
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].LocationID != out[j].LocationID {
			return lessLocation(out[i].LocationID, out[j].LocationID)
		}
		return out[i].Program < out[j].Program
	})
	return out
}

// orgAccess is the time the organisation holds an eligible role on a scope covering the
// resource: AOBO, Lighthouse, or a principal PAL-linked to any of its locations.
func (e *engine) orgAccess(org, tenant, sub, rk string) timeline.Set {
	var acc timeline.Set
	e.ix.covering(tenant, sub, rk, func(g *grant, set timeline.Set) {
		if g.org == org {
			acc = append(acc, set...)
		}
	})
	return timeline.Union(acc...)
}

// pecTime is the time of the record's period, while the reseller location is active, that lies
// in whole UTC days on which the organisation had admin access for the entire day.
func (e *engine) pecTime(r *usage.Record, li *locInfo, tenant, sub, rk string) int64 {
	acc := e.orgAccess(li.org, tenant, sub, rk)
	if len(acc) == 0 {
		return 0
	}
	var full timeline.Set
	for d := floorDay(r.Start); d < r.End; d += day {
		w := timeline.Window{From: d, To: d + day}
		if acc.Clip(w).Length() == day {
			full = append(full, w)
		}
	}
	return timeline.Union(full...).Clip(timeline.Window{From: r.Start, To: r.End}).Intersect(li.active).Length()
}
