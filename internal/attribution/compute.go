package attribution

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
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
// goroutine at a time. rows and incs are valid only during the call: the engine reuses their
// memory for later records, so a sink copies what it keeps (append(dst, rows...) does).
type Sink func(rec *usage.Record, rows []Row, incs []Incentive) error

// Records yields usage records to the engine (usage.Stream and usage.ReadFiles fit it).
type Records func(yield func(*usage.Record) error) error

// chunkSize is how many consecutive input records travel together from the reader to the
// workers and on to the sink: large enough that handing a chunk over costs little per record,
// small enough that the chunks in flight hold a few megabytes.
const chunkSize = 512

// chunk is a run of consecutive input records and the results of computing them. Each worker
// computes the records it owns into its own part; the consumer then calls the sink in input
// order. Chunks are recycled, so their buffers are reused and memory stays bounded.
type chunk struct {
	recs    []*usage.Record
	hash    []uint64 // hash of recs[i]'s resource ID (engine.seed): its worker and cache slot
	owner   []uint8  // the worker that computes recs[i]
	unknown []bool   // recs[i] names a subscription the estate does not know
	parts   []chunkPart
	done    sync.WaitGroup
}

// chunkPart holds one worker's results for a chunk: the rows and incentives of its records
// back to back, and where each record's end.
type chunkPart struct {
	rows   []Row
	incs   []Incentive
	rowEnd []int32
	incEnd []int32
	st     Stats
}

// Compute is the pure engine: it attributes every record whose charge period starts in period
// against the snapshot and programs (nil = shipped default), calling out for each record in
// input order.
//
// Work is spread over GOMAXPROCS workers. Records are dealt to workers by a hash of their
// resource ID, so each worker resolves a resource once (see worker) and keeps it; memory holds
// the index, those resolutions (bounded by the estate's resources and a cap) and a fixed number
// of in-flight chunks, never the whole usage.
func Compute(ctx context.Context, s *facts.Snapshot, progs *Programs, period timeline.Window, each Records, out Sink) (*Stats, error) {
	if progs == nil {
		progs = DefaultPrograms()
	}
	e := newEngine(build(s), progs)
	nw := min(runtime.GOMAXPROCS(0), 64)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Every chunk is always in exactly one place: free, or queued for the workers and the
	// consumer. The queues can hold every chunk, so only taking a free chunk ever waits.
	nchunks := 4 * nw
	free := make(chan *chunk, nchunks)
	for i := 0; i < nchunks; i++ {
		free <- &chunk{parts: make([]chunkPart, nw)}
	}
	order := make(chan *chunk, nchunks)
	inbox := make([]chan *chunk, nw)
	var wg sync.WaitGroup
	for w := range inbox {
		inbox[w] = make(chan *chunk, nchunks)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wk := e.newWorker()
			for c := range inbox[w] {
				wk.compute(c, uint8(w))
				c.done.Done()
			}
		}(w)
	}

	var total Stats
	unknown := map[string]bool{}
	consumeErr := make(chan error, 1)
	go func() {
		var err error
		var cur [64]int
		for c := range order {
			c.done.Wait()
			if err == nil {
				clear(cur[:nw])
				for w := range c.parts {
					addStats(&total, &c.parts[w].st)
				}
				for i, rec := range c.recs {
					w := c.owner[i]
					p := &c.parts[w]
					k := cur[w]
					cur[w]++
					r0, i0 := int32(0), int32(0)
					if k > 0 {
						r0, i0 = p.rowEnd[k-1], p.incEnd[k-1]
					}
					r1, i1 := p.rowEnd[k], p.incEnd[k]
					if c.unknown[i] {
						if sub := lower(rec.SubscriptionID); !unknown[sub] && len(unknown) < 20 {
							unknown[sub] = true
						}
					}
					if out != nil {
						// Capacity-limited, so a sink that appends cannot overwrite the next record's rows.
						if err = out(rec, p.rows[r0:r1:r1], p.incs[i0:i1:i1]); err != nil {
							cancel()
							break
						}
					}
				}
			}
			free <- c
		}
		consumeErr <- err
	}()

	var outside int64
	var c *chunk
	dispatch := func() {
		c.done.Add(nw)
		for w := range inbox {
			inbox[w] <- c
		}
		order <- c
		c = nil
	}
	prodErr := each(func(rec *usage.Record) error {
		if !period.Contains(rec.Start) {
			outside++
			return nil
		}
		if c == nil {
			select {
			case c = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			c.recs, c.hash, c.owner, c.unknown = c.recs[:0], c.hash[:0], c.owner[:0], c.unknown[:0]
		}
		h := maphash.String(e.seed, rec.ResourceID)
		c.recs = append(c.recs, rec)
		c.hash = append(c.hash, h)
		c.owner = append(c.owner, uint8(h%uint64(nw)))
		c.unknown = append(c.unknown, false)
		if len(c.recs) >= chunkSize {
			dispatch()
		}
		return ctx.Err()
	})
	if c != nil {
		if prodErr == nil {
			dispatch()
		} else {
			free <- c
		}
	}
	for w := range inbox {
		close(inbox[w])
	}
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
	total.OutsidePeriod = outside
	total.UnknownSubscriptions = sortedKeys(unknown)
	return &total, nil
}

// compute attributes the records of c that worker w owns into c.parts[w].
func (wk *worker) compute(c *chunk, w uint8) {
	p := &c.parts[w]
	p.rows, p.incs, p.rowEnd, p.incEnd, p.st = p.rows[:0], p.incs[:0], p.rowEnd[:0], p.incEnd[:0], Stats{}
	for i, rec := range c.recs {
		if c.owner[i] != w {
			continue
		}
		var unknown bool
		p.rows, p.incs, unknown = wk.record(rec, c.hash[i], &p.st, p.rows, p.incs)
		c.unknown[i] = unknown
		p.rowEnd = append(p.rowEnd, int32(len(p.rows)))
		p.incEnd = append(p.incEnd, int32(len(p.incs)))
	}
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
	seed  maphash.Seed // hashes resource IDs (worker choice and cache)
}

func newEngine(ix *index, progs *Programs) *engine {
	return &engine{ix: ix, progs: progs, seed: maphash.MakeSeed()}
}

// record attributes one record with a fresh worker (explain's single probes).
func (e *engine) record(r *usage.Record, st *Stats) ([]Row, []Incentive) {
	rows, incs, _ := e.newWorker().record(r, maphash.String(e.seed, r.ResourceID), st, nil, nil)
	return rows, incs
}

// record attributes one record, appending its rows and incentives; unknown reports a record
// whose subscription the estate does not know. It is the hot path: everything that depends
// only on the resource is resolved once (resolve) and per record only the charge period is
// measured against those sets, without allocating beyond the appended rows.
// h is maphash.String(engine.seed, r.ResourceID).
func (wk *worker) record(r *usage.Record, h uint64, st *Stats, rows []Row, incs []Incentive) (_ []Row, _ []Incentive, unknown bool) {
	st.Records++
	if !isUsage(r) {
		st.NotConsumption++
		return rows, incs, false
	}
	ent := wk.entry(h, r.SubscriptionID, r.ResourceID)
	if len(ent.vs) == 0 {
		st.UnknownSubscription++
		return rows, incs, true
	}
	if r.End <= r.Start {
		st.EmptyPeriod++
		return rows, incs, false
	}
	info := wk.info(ent, timeline.Window{From: r.Start, To: r.End})
	a, b := r.Start, r.End
	length := b - a
	if cap(wk.seen) < info.groups {
		wk.seen = make([]bool, info.groups)
	}
	seen := wk.seen[:info.groups]
	clear(seen)
	base := len(rows)
	for i := range info.cands {
		c := &info.cands[i]
		covered := c.time.in(a, b)
		if covered <= 0 {
			continue
		}
		row := Row{RecordKey: r.Key, LocationID: c.li.id, Association: c.assoc, OrgID: c.li.org,
			Start: a, End: b, TenantID: info.tenant, SubscriptionID: info.sub, ResourceID: r.ResourceID,
			Service: r.Service, Currency: r.Currency, Cost: r.Cost, Coverage: money.Scale, Amount: r.Cost,
			DuplicateAtOrg: seen[c.group]}
		if covered != length {
			row.Coverage, row.Amount = money.Ratio(covered, length), money.MulDiv(r.Cost, covered, length)
		}
		if c.pal {
			row.AdminRole = c.adminRole(a, b, covered)
		}
		seen[c.group] = true
		rows = append(rows, row)
	}
	st.Rows += int64(len(rows) - base)
	n := len(incs)
	incs = wk.e.incentives(r, info, rows[base:], incs)
	st.Incentives += int64(len(incs) - n)
	return rows, incs, false
}

// coveredIn is |s ∩ [a, b)| for a normalised set.
func coveredIn(s timeline.Set, a, b int64) int64 {
	var n int64
	for _, w := range s {
		if w.To <= a {
			continue
		}
		if w.From >= b {
			break
		}
		n += min(w.To, b) - max(w.From, a)
	}
	return n
}

// adminRole is the eligible role that gave the most of the covered time (ties: the
// alphabetically first; roles are sorted by name, and none can give more than covered).
func (c *cand) adminRole(a, b, covered int64) string {
	if c.fixed != "" {
		return c.fixed
	}
	if len(c.roles) == 1 {
		return c.roles[0].role
	}
	best, bestLen := "", int64(-1)
	for i := range c.roles {
		rt := &c.roles[i]
		n := rt.time.in(a, b)
		if n == covered {
			return rt.role
		}
		if n > bestLen {
			best, bestLen = rt.role, n
		}
	}
	return best
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

// incentives appends the record's incentive rows (rows are its attribution rows), sorted by
// location and program.
func (e *engine) incentives(r *usage.Record, info *resInfo, rows []Row, out []Incentive) []Incentive {
	base := len(out)
	pec := false
	if info.pec != nil {
		if i := atIndex(e.progs.PEC, r.Start); i >= 0 && info.pecOffer[i] && pecExcluded(r) == "" {
			if q := coveredIn(info.pecSet, r.Start, r.End); q > 0 {
				v := &e.progs.PEC[i]
				out = append(out, Incentive{RecordKey: r.Key, LocationID: info.pec.id, Program: ProgramPEC, OrgID: info.pec.org,
					ProgramVersion: v.Version, Start: r.Start, Currency: r.Currency,
					Amount: mulDiv2(r.Cost, int64(v.Rate), money.Scale, q, r.End-r.Start)})
				pec = true
			}
		}
	}
	if i := atIndex(e.progs.PAL, r.Start); i >= 0 && info.palOffer[i] {
		v := &e.progs.PAL[i]
		orgs, first := 0, ""
		for i := range rows {
			if row := &rows[i]; row.Association == AssocPAL && row.OrgID != first {
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
		for i := range rows {
			if row := &rows[i]; row.Association == AssocPAL && !row.DuplicateAtOrg {
				out = append(out, Incentive{RecordKey: r.Key, LocationID: row.LocationID, Program: ProgramPAL, OrgID: row.OrgID,
					ProgramVersion: v.Version, Start: r.Start, Currency: r.Currency,
					Amount: money.MulDiv(row.Amount, int64(rate), money.Scale)})
			}
		}
	}
	// PAL incentives follow the rows, which are sorted by location with one PAL row per
	// location: only a PEC row ahead of them may be out of place. Insertion sort moves it.
	if incs := out[base:]; pec && len(incs) > 1 {
		for i := 1; i < len(incs); i++ {
			for j := i; j > 0 && lessIncentive(&incs[j], &incs[j-1]); j-- {
				incs[j], incs[j-1] = incs[j-1], incs[j]
			}
		}
	}
	return out
}

// atIndex is the index of the version effective at t, or -1.
func atIndex(vs []ProgramVersion, t int64) int {
	for i := range vs {
		if vs[i].Window.Contains(t) {
			return i
		}
	}
	return -1
}

func lessIncentive(a, b *Incentive) bool {
	if a.LocationID != b.LocationID {
		return lessLocation(a.LocationID, b.LocationID)
	}
	return a.Program < b.Program
}

// mulDiv2 is money.MulDiv2 (round_half_even(n × a/c × b/d), one rounding) without its
// big-integer detour in the common case: it first cancels the common factors of the two
// fractions, which leaves the same rational number, so the result is identical.
func mulDiv2(n money.Nanos, a, c, b, d int64) money.Nanos {
	if a >= 0 && b >= 0 && c > 0 && d > 0 {
		g := gcd(a, c)
		a, c = a/g, c/g
		g = gcd(b, d)
		b, d = b/g, d/g
		g = gcd(a, d)
		a, d = a/g, d/g
		g = gcd(b, c)
		b, c = b/g, c/g
		hi, num := bits.Mul64(uint64(a), uint64(b))
		hi2, den := bits.Mul64(uint64(c), uint64(d))
		if hi == 0 && hi2 == 0 && num <= math.MaxInt64 && den <= math.MaxInt64 {
			return money.MulDiv(n, int64(num), int64(den))
		}
	}
	return money.MulDiv2(n, a, c, b, d)
}

// gcd of a ≥ 0 and b > 0 (or a > 0 and b ≥ 0).
func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
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

// fullDays is the union of the whole UTC days [d, d+24h) that lie inside the normalised set s.
// PEC pays for the part of a record's period in such days; a whole day lies inside one window
// of s because its windows are separated by gaps.
func fullDays(s timeline.Set) timeline.Set {
	var out timeline.Set
	for _, w := range s {
		from, to := w.From, w.To
		if from != timeline.Min {
			d := from / day * day // rounds toward zero: up for instants before 1970, down after
			if d < from {
				if d > timeline.Max-day {
					continue
				}
				d += day
			}
			from = d
		}
		if to != timeline.Max {
			if to < timeline.Min+day {
				continue
			}
			to = floorDay(to)
		}
		if from < to {
			out = append(out, timeline.Window{From: from, To: to})
		}
	}
	return out
}
