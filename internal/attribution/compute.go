package attribution

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Stats counts what the engine saw. Unknown subscriptions are a data-quality warning.
type Stats struct {
	Records             int64 `json:"records"`
	OutsidePeriod       int64 `json:"outside_period"`
	NotConsumption      int64 `json:"not_consumption"`
	UnknownSubscription int64 `json:"unknown_subscription"`
	OtherProviders      int64 `json:"other_providers"` // consumption of other providers: PAL, CSP, DPOR and CUA do not apply
	EmptyPeriod         int64 `json:"empty_period"`
	Rows                int64 `json:"attribution_rows"`
	Incentives          int64 `json:"incentive_rows"`
	// UnknownSubscriptions names up to 20 of them, sorted.
	UnknownSubscriptions []string `json:"unknown_subscriptions,omitempty"`
	// TagWarnings (version 2) are the tag values that name no location: data-quality
	// warnings, the most frequent first (at most 50).
	TagWarnings []TagWarning `json:"tag_warnings,omitempty"`
}

// Sink receives the rows of each record (row i of batch b), in the order the records were
// given, from one goroutine at a time. rows and incs are valid only during the call: the engine
// reuses their memory for later records, so a sink copies what it keeps (append(dst, rows...)
// does).
type Sink func(b *usage.Batch, i int, rows []Row, incs []Incentive) error

// Usage yields usage to the engine a batch at a time (usage.Stream and
// usage.ReadFileBatches fit it). The engine does not keep a batch after it has attributed it.
type Usage func(yield func(*usage.Batch) error) error

// FromRecords is Usage over records held as structs (tests, small callers): one batch.
func FromRecords(recs []*usage.Record) Usage {
	return func(yield func(*usage.Batch) error) error {
		if len(recs) == 0 {
			return nil
		}
		bb := usage.NewBatchBuilder()
		for _, r := range recs {
			bb.Add(r)
		}
		return yield(bb.Batch())
	}
}

// chunkSize is how many consecutive input records travel together from the reader to the
// workers and on to the sink: large enough that handing a chunk over costs little per record,
// small enough that the chunks in flight hold a few megabytes.
const chunkSize = 1024

// chunk is a run of consecutive records of one batch and the results of computing them. Each
// worker computes the records it owns into its own part; the consumer then calls the sink in
// input order. Chunks are recycled, so their buffers are reused and memory stays bounded.
type chunk struct {
	b       *usage.Batch
	rows    []int32 // the records: rows of b
	owner   []uint8 // the worker that computes rows[k]
	unknown []bool  // rows[k] names a subscription the estate does not know
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
// Work is spread over GOMAXPROCS workers. Records are dealt to workers by subscription, so
// each resource is resolved by one worker, once (see worker), and kept; memory holds
// the index, those resolutions (bounded by the estate's resources and a cap) and a fixed number
// of in-flight chunks, never the whole usage.
func Compute(ctx context.Context, s *facts.Snapshot, progs *Programs, period timeline.Window, each Usage, out Sink) (*Stats, error) {
	if progs == nil {
		progs = DefaultPrograms()
	}
	st, _, err := newEngine(build(s), progs).run(ctx, period, each, out, false)
	return st, err
}

// Sum is the total of one location, association and currency over a period's rows, with the
// number of rows; incentive rows are summed under association "incentive:PEC" and
// "incentive:PAL".
type Sum struct {
	LocationID, Association, Currency string
	Amount                            money.Nanos
	Rows                              int64
}

// ComputeSums is Compute for callers that need only totals (a dry run, the benchmark): it
// computes every row's amount exactly as Compute does, but adds it up where it is computed
// instead of writing the row out, and skips what no total needs (coverage as a ratio, admin
// role). Sums are sorted by location, association and currency.
func ComputeSums(ctx context.Context, s *facts.Snapshot, progs *Programs, period timeline.Window, each Usage) (*Stats, []Sum, error) {
	if progs == nil {
		progs = DefaultPrograms()
	}
	e := newEngine(build(s), progs)
	if len(progs.Flat) > 0 {
		// Flat-rate programs (none ships) pay on rows of any type: add up the rows instead.
		return e.sumRows(ctx, period, each)
	}
	st, workers, err := e.run(ctx, period, each, nil, true)
	if err != nil {
		return nil, nil, err
	}
	return st, e.mergeSums(workers), nil
}

// The slots of the sums: per location, one per association and incentive program.
var sumAssocs = []string{AssocCSP, AssocDPOR, AssocCUA, AssocPAL, "incentive:" + ProgramPEC, "incentive:" + ProgramPAL,
	AssocTag, AssocResale, AssocMarketplace}

const (
	slotPEC = 4
	slotPAL = 5
)

func sumSlot(li *locInfo, assoc string) int {
	for i, a := range sumAssocs {
		if a == assoc {
			return li.idx*len(sumAssocs) + i
		}
	}
	panic("attribution: no sum slot for association " + assoc)
}

// curSum is a slot's total in one currency.
type curSum struct {
	cur    string
	amount money.Nanos
	rows   int64
}

func (wk *worker) add(slot int, cur string, amount money.Nanos) { wk.addN(slot, cur, amount, 1) }

// addN adds n rows totalling amount.
func (wk *worker) addN(slot int, cur string, amount money.Nanos, n int64) {
	if wk.sums == nil {
		wk.sums = make([][]curSum, len(wk.e.ix.locList)*len(sumAssocs))
	}
	cs := wk.sums[slot]
	for i := range cs {
		if cs[i].cur == cur {
			cs[i].amount += amount
			cs[i].rows += n
			return
		}
	}
	wk.sums[slot] = append(cs, curSum{wk.strs.get(cur), amount, n}) // kept for the whole run
}

// sum adds one record's rows and incentives to the worker's sums.
func (wk *worker) sum(r *rowIn, ent *resEntry, st *Stats) (unknown bool) {
	info, unknown := wk.prelude(r, ent, st)
	if info == nil {
		return unknown
	}
	wk.sumFast(r, info, st)
	return false
}

func (e *engine) mergeSums(workers []*worker) []Sum {
	type k struct {
		slot int
		cur  string
	}
	at := map[k]int{}
	var out []Sum
	for _, wk := range workers {
		for slot, cs := range wk.sums {
			for _, c := range cs {
				i, ok := at[k{slot, c.cur}]
				if !ok {
					li := e.ix.locList[slot/len(sumAssocs)]
					i = len(out)
					at[k{slot, c.cur}] = i
					out = append(out, Sum{LocationID: li.id, Association: sumAssocs[slot%len(sumAssocs)], Currency: c.cur})
				}
				out[i].Amount += c.amount
				out[i].Rows += c.rows
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.LocationID != b.LocationID {
			return a.LocationID < b.LocationID
		}
		if a.Association != b.Association {
			return a.Association < b.Association
		}
		return a.Currency < b.Currency
	})
	return out
}

// run is the pipeline of Compute and ComputeSums; in sums mode workers add up instead of
// writing rows, and it returns them.
func (e *engine) run(ctx context.Context, period timeline.Window, each Usage, out Sink, sums bool) (*Stats, []*worker, error) {
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
	workers := make([]*worker, nw)
	var wg sync.WaitGroup
	for w := range inbox {
		inbox[w] = make(chan *chunk, nchunks)
		workers[w] = e.newWorker(nw)
		wg.Add(1)
		go func(wk *worker, w uint8) {
			defer wg.Done()
			for c := range inbox[w] {
				wk.compute(c, w, sums)
				c.done.Done()
			}
			if sums {
				wk.flushPlans() // each worker its own, at once
			}
		}(workers[w], uint8(w))
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
				var st Stats
				for w := range c.parts {
					addStats(&st, &c.parts[w].st)
				}
				addStats(&total, &st)
				if st.UnknownSubscription > 0 {
					for k, row := range c.rows {
						if c.unknown[k] {
							if sub := lower(c.b.S(usage.ColSubscription, int(row))); !unknown[sub] && len(unknown) < 20 {
								unknown[sub] = true
							}
						}
					}
				}
				if out != nil { // totals only need nothing more
					for k, row := range c.rows {
						w := c.owner[k]
						p := &c.parts[w]
						j := cur[w]
						cur[w]++
						r0, i0 := int32(0), int32(0)
						if j > 0 {
							r0, i0 = p.rowEnd[j-1], p.incEnd[j-1]
						}
						r1, i1 := p.rowEnd[j], p.incEnd[j]
						// Capacity-limited, so a sink that appends cannot overwrite the next record's rows.
						if err = out(c.b, int(row), p.rows[r0:r1:r1], p.incs[i0:i1:i1]); err != nil {
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
	// Records are dealt to workers by subscription; a batch names each subscription by its
	// dictionary index, so the worker of each index is worked out once per batch (or once
	// for batches that share one dictionary).
	var deal dictCache[uint8]
	prodErr := each(func(b *usage.Batch) error {
		deal.use(b.Dict)
		subs := b.Str[usage.ColSubscription]
		for i := 0; i < b.Len(); i++ {
			if !period.Contains(b.Start[i]) {
				outside++
				continue
			}
			if c == nil {
				select {
				case c = <-free:
				case <-ctx.Done():
					return ctx.Err()
				}
				c.b, c.rows, c.owner, c.unknown = b, c.rows[:0], c.owner[:0], c.unknown[:0]
			}
			si := subs[i]
			w, ok := deal.get(si)
			if !ok {
				w = uint8(dealKey(b.Dict[si]) % uint64(nw))
				deal.set(si, w)
			}
			c.rows = append(c.rows, int32(i))
			c.owner = append(c.owner, w)
			c.unknown = append(c.unknown, false)
			if len(c.rows) >= chunkSize {
				dispatch()
			}
		}
		if c != nil {
			dispatch() // a chunk never spans batches: the batch may be released after it
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
		return nil, nil, cerr
	}
	if prodErr != nil {
		if errors.Is(prodErr, context.Canceled) && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, prodErr
	}
	total.OutsidePeriod = outside
	total.UnknownSubscriptions = sortedKeys(unknown)
	total.TagWarnings = mergeWarnings(workers)
	return &total, workers, nil
}

// dealKey decides which worker computes a record: by subscription, so that the same resource
// always goes to the same worker, which resolves it once.
func dealKey(sub string) uint64 {
	x := uint64(14695981039346656037)
	for i := 0; i < len(sub); i++ {
		x = (x ^ uint64(sub[i])) * 1099511628211
	}
	// splitmix64 finaliser: spreads the bits so that x % workers is balanced.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// dictCache maps a batch's dictionary indices to values worked out from their strings. It
// survives from batch to batch while they share one dictionary (batches of one builder or of
// one file), and starts over when a batch brings its own (every stored segment does).
type dictCache[T any] struct {
	dict []string // the dictionary the values are for
	gen  []uint32 // gen[i] == cur: vals[i] is set
	vals []T
	cur  uint32
}

// use prepares the cache for a batch with dictionary d.
func (c *dictCache[T]) use(d []string) {
	same := len(c.dict) > 0 && len(d) >= len(c.dict) && unsafe.SliceData(d) == unsafe.SliceData(c.dict)
	if !same {
		c.reset()
	}
	c.dict = d
	if len(c.gen) < len(d) {
		n := max(len(d), 2*len(c.gen))
		c.gen = append(c.gen, make([]uint32, n-len(c.gen))...)
		c.vals = append(c.vals, make([]T, n-len(c.vals))...)
	}
}

// reset forgets every value.
func (c *dictCache[T]) reset() {
	c.cur++
	if c.cur == 0 { // wrapped: clear, so no stale generation can match
		clear(c.gen)
		c.cur = 1
	}
}

func (c *dictCache[T]) get(i uint32) (T, bool) {
	if c.gen[i] == c.cur {
		return c.vals[i], true
	}
	var zero T
	return zero, false
}

func (c *dictCache[T]) set(i uint32, v T) {
	c.gen[i], c.vals[i] = c.cur, v
}

// compute attributes the records of c that worker w owns into c.parts[w] (in sums mode, into
// the worker's sums: the part then holds no rows).
func (wk *worker) compute(c *chunk, w uint8, sums bool) {
	p := &c.parts[w]
	// Rows left beyond the new ones are zeroed at the end: their strings are an older batch's,
	// and would keep its dictionary alive (see retain_test.go).
	rowsWere, incsWere := len(p.rows), len(p.incs)
	defer func() {
		clear(p.rows[len(p.rows):max(rowsWere, len(p.rows))])
		clear(p.incs[len(p.incs):max(incsWere, len(p.incs))])
	}()
	p.rows, p.incs, p.rowEnd, p.incEnd, p.st = p.rows[:0], p.incs[:0], p.rowEnd[:0], p.incEnd[:0], Stats{}
	b := c.b
	wk.res.use(b.Dict)
	wk.tags.use(b.Dict)
	subs, ress := b.Str[usage.ColSubscription], b.Str[usage.ColResource]
	var r rowIn
	for k, row := range c.rows {
		if c.owner[k] != w {
			continue
		}
		i := int(row)
		r.fill(b, i)
		// The resource's entry, by its dictionary index: a string hash and map lookup only
		// the first time a worker meets the index (for a shared dictionary, once per run).
		ri, si := ress[i], subs[i]
		x, ok := wk.res.get(ri)
		if !ok || x.sub != si {
			res := b.Dict[ri]
			x = resRef{ent: wk.entry(maphash.String(wk.e.seed, res), b.Dict[si], res), sub: si}
			wk.res.set(ri, x)
		}
		var unknown bool
		if sums {
			wk.reach(r.start)
			// A subscription with one version has one resolution per resource: the cache
			// keeps it, so the usual record goes straight to its interval sums.
			if inf := x.info; inf != nil && r.category == usage.CategoryUsage && r.end > r.start && r.microsoft {
				p.st.Records++
				wk.sumFast(&r, inf, &p.st)
			} else {
				unknown = wk.sum(&r, x.ent, &p.st)
				if len(x.ent.vs) == 1 && x.ent.infos[0] != nil {
					x.info = x.ent.infos[0]
					wk.res.set(ri, x)
				}
			}
			if (!r.microsoft && wk.e.v2.hasSales || r.publisher != "" || r.host != "" || b.S(usage.ColTags, i) != "") &&
				r.category == usage.CategoryUsage && r.end > r.start {
				wk.sumV2(&r, b, i, &p.st)
			}
		} else {
			p.rows, p.incs, unknown = wk.record(&r, b, i, x.ent, &p.st, p.rows, p.incs)
		}
		if unknown {
			c.unknown[k] = true // false as dealt: the workers share the array, so write little
		}
		if !sums {
			p.rowEnd = append(p.rowEnd, int32(len(p.rows)))
			p.incEnd = append(p.incEnd, int32(len(p.incs)))
		}
	}
}

// resRef is a worker's resolved entry for a resource's dictionary index, with the
// subscription index it was resolved under (a resource named under two spellings of a
// subscription is two entries).
type resRef struct {
	ent  *resEntry
	sub  uint32
	info *resInfo // the resolution, when the subscription has one version (sums mode)
}

// rowIn is what the rules read of one usage record.
type rowIn struct {
	start, end                               int64
	cost                                     money.Nanos
	currency, category                       string
	pricing, commitment, publisher, provider string
	providerID, host                         string // version 2: the provider ID, FOCUS 1.3 HostProviderName
	microsoft                                bool   // the Azure rules apply
}

func (r *rowIn) fill(b *usage.Batch, i int) {
	*r = rowIn{start: b.Start[i], end: b.End[i], cost: b.Cost[i], currency: b.S(usage.ColCurrency, i),
		category: b.S(usage.ColChargeCategory, i), pricing: b.S(usage.ColPricingCategory, i),
		commitment: b.S(usage.ColCommitmentDiscount, i), publisher: b.S(usage.ColPublisher, i), provider: b.S(usage.ColProvider, i),
		providerID: b.S(usage.ColProviderID, i), host: b.S(usage.ColHostProvider, i)}
	r.microsoft = usage.IsMicrosoft(r.providerID)
}

func addStats(a, b *Stats) {
	a.Records += b.Records
	a.NotConsumption += b.NotConsumption
	a.UnknownSubscription += b.UnknownSubscription
	a.OtherProviders += b.OtherProviders
	a.EmptyPeriod += b.EmptyPeriod
	a.Rows += b.Rows
	a.Incentives += b.Incentives
}

type engine struct {
	ix    *index
	v2    *v2index
	progs *Programs
	seed  maphash.Seed // hashes resource IDs (worker choice and cache)
}

func newEngine(ix *index, progs *Programs) *engine {
	return &engine{ix: ix, v2: ix.v2, progs: progs, seed: maphash.MakeSeed()}
}

// record attributes one record with a fresh worker (explain's single probes).
func (e *engine) record(r *usage.Record, st *Stats) ([]Row, []Incentive) {
	b := usage.BatchOf([]usage.Record{*r})
	wk := e.newWorker(1)
	wk.tags.use(b.Dict)
	var in rowIn
	in.fill(b, 0)
	ent := wk.entry(maphash.String(e.seed, r.ResourceID), r.SubscriptionID, r.ResourceID)
	rows, incs, _ := wk.record(&in, b, 0, ent, st, nil, nil)
	return rows, incs
}

// hit is one attribution row of a record before it is written out (or added up).
type hit struct {
	c       int32 // the candidate (index in resInfo.cands and .hot)
	dup     bool
	covered int64
	amount  money.Nanos
}

// incHit is one incentive row of a record before it is written out (or added up).
type incHit struct {
	c       int32 // PAL: the candidate of the PAL row; PEC: -1 (the reseller location)
	version string
	amount  money.Nanos
}

// loc is the location an incentive row credits.
func (x *incHit) loc(info *resInfo) *locInfo {
	if x.c < 0 {
		return info.pec
	}
	return info.cands[x.c].li
}

// hits computes the attribution rows of a record (in output order) and its incentive rows,
// into the worker's scratch slices, counting both in st. info is nil when the record yields
// nothing; unknown reports a record whose subscription the estate does not know.
//
// It is the hot path: everything that depends only on the resource is resolved once
// (resolve), and per record only the charge period is measured against prepared sets,
// without allocating. ent is the record's resource entry (worker.entry).
func (wk *worker) hits(r *rowIn, ent *resEntry, st *Stats) (info *resInfo, hs []hit, is []incHit, unknown bool) {
	if info, unknown = wk.prelude(r, ent, st); info == nil {
		return nil, nil, nil, unknown
	}
	hs, is = wk.hitsOf(r, info)
	st.Rows += int64(len(hs))
	st.Incentives += int64(len(is))
	return info, hs, is, false
}

// prelude counts the record and returns its resolution, or nil when the record yields no row
// (unknown reports a subscription the estate does not know).
func (wk *worker) prelude(r *rowIn, ent *resEntry, st *Stats) (info *resInfo, unknown bool) {
	st.Records++
	if r.category != usage.CategoryUsage {
		st.NotConsumption++
		return nil, false
	}
	if !r.microsoft {
		st.OtherProviders++
		return nil, false
	}
	if len(ent.vs) == 0 {
		st.UnknownSubscription++
		return nil, true
	}
	if r.end <= r.start {
		st.EmptyPeriod++
		return nil, false
	}
	return wk.info(ent, timeline.Window{From: r.start, To: r.end}), false
}

// hitsOf is hits after the prelude.
func (wk *worker) hitsOf(r *rowIn, info *resInfo) (hs []hit, is []incHit) {
	a, b := r.start, r.end
	length := b - a
	if cap(wk.seen) < info.groups {
		wk.seen = make([]bool, info.groups)
	}
	seen := wk.seen[:info.groups]
	clear(seen)
	hs = wk.hitBuf[:0]
	for i := range info.hot {
		c := &info.hot[i]
		covered := c.in(a, b)
		if covered <= 0 {
			continue
		}
		x := hit{c: int32(i), covered: covered, amount: r.cost, dup: seen[c.group]}
		if covered != length {
			x.amount = money.MulDiv(r.cost, covered, length)
		}
		seen[c.group] = true
		hs = append(hs, x)
	}
	wk.hitBuf = hs
	is = wk.e.incentives(r, info, hs, wk.incBuf[:0])
	wk.incBuf = is
	return hs, is
}

// record attributes one record (row i of b), appending its rows and incentives: version 1's
// (from the resource's resolution) and version 2's (from the record's own fields), sorted by
// location and association.
func (wk *worker) record(r *rowIn, b *usage.Batch, i int, ent *resEntry, st *Stats, rows []Row, incs []Incentive) (_ []Row, _ []Incentive, unknown bool) {
	info, hs, is, unknown := wk.hits(r, ent, st)
	var v2 []v2hit
	// The usual Azure record (no tags, no seller, no resale) skips version 2 here, inline.
	if (!r.microsoft && wk.e.v2.hasSales || r.publisher != "" || r.host != "" || b.S(usage.ColTags, i) != "") &&
		r.category == usage.CategoryUsage && r.end > r.start {
		v2 = wk.v2hits(r, b, i)
	}
	if info == nil && len(v2) == 0 {
		return rows, incs, unknown
	}
	key := b.Key(i)
	a, e := r.start, r.end
	r0, i0 := len(rows), len(incs)
	var tenant, sub string
	if info != nil {
		tenant, sub = info.tenant, info.sub
		for k := range hs {
			x := &hs[k]
			c := &info.cands[x.c]
			row := Row{RecordKey: key, LocationID: c.li.id, Association: c.assoc, OrgID: c.li.org,
				Start: a, End: e, TenantID: info.tenant, SubscriptionID: info.sub, ResourceID: ent.res,
				Service: b.S(usage.ColService, i), Currency: r.currency, Cost: r.cost, Coverage: money.Scale, Amount: x.amount,
				DuplicateAtOrg: x.dup, Provider: r.providerID}
			if x.covered != e-a {
				row.Coverage = money.Ratio(x.covered, e-a)
			}
			if c.pal {
				row.AdminRole = c.adminRole(a, e, x.covered)
			}
			rows = append(rows, row)
		}
		for k := range is {
			x := &is[k]
			p := ProgramPEC
			if x.c >= 0 {
				p = ProgramPAL
			}
			li := x.loc(info)
			incs = append(incs, Incentive{RecordKey: key, LocationID: li.id, Program: p, OrgID: li.org,
				ProgramVersion: x.version, Start: a, Currency: r.currency, Amount: x.amount})
		}
	} else if !r.microsoft {
		sub = b.S(usage.ColSubscription, i)
	} else {
		sub = lowerFast(b.S(usage.ColSubscription, i))
	}
	if len(v2) > 0 {
		for k := range v2 {
			x := &v2[k]
			row := Row{RecordKey: key, LocationID: x.li.id, Association: x.assoc, OrgID: x.li.org,
				Start: a, End: e, TenantID: tenant, SubscriptionID: sub, ResourceID: b.S(usage.ColResource, i),
				Service: b.S(usage.ColService, i), Currency: r.currency, Cost: r.cost, Coverage: money.Scale, Amount: x.amount,
				DuplicateAtOrg: x.dup, Provider: r.providerID}
			if x.covered != e-a {
				row.Coverage = money.Ratio(x.covered, e-a)
			}
			rows = append(rows, row)
		}
		st.Rows += int64(len(v2))
		if r0 < len(rows)-len(v2) { // version 1 rows too: one order for the record
			sortRecordRows(rows[r0:], wk.e.ix)
		}
	}
	if len(wk.e.progs.Flat) > 0 {
		n := len(incs)
		incs = wk.e.flatIncentives(r, key, rows[r0:], incs)
		st.Incentives += int64(len(incs) - n)
		if len(incs)-i0 > 1 && len(incs) > n {
			sortRecordIncs(incs[i0:], wk.e.ix)
		}
	}
	return rows, incs, unknown
}

// sortRecordRows orders one record's rows by location (lessLocation) and association.
func sortRecordRows(rows []Row, ix *index) {
	sort.SliceStable(rows, func(x, y int) bool {
		if rows[x].LocationID != rows[y].LocationID {
			return rankOf(ix, rows[x].LocationID) < rankOf(ix, rows[y].LocationID)
		}
		return rows[x].Association < rows[y].Association
	})
}

// sortRecordIncs orders one record's incentive rows by location and program.
func sortRecordIncs(incs []Incentive, ix *index) {
	sort.SliceStable(incs, func(x, y int) bool {
		if incs[x].LocationID != incs[y].LocationID {
			return rankOf(ix, incs[x].LocationID) < rankOf(ix, incs[y].LocationID)
		}
		return incs[x].Program < incs[y].Program
	})
}

func rankOf(ix *index, id string) int {
	if li := ix.locs[id]; li != nil {
		return li.rank
	}
	return -1
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

// incentives appends the record's incentive rows (hs are its attribution rows), sorted by
// location and program.
func (e *engine) incentives(r *rowIn, info *resInfo, hs []hit, out []incHit) []incHit {
	pec := false
	if info.pec != nil {
		if i := atIndex(e.progs.PEC, r.start); i >= 0 && info.pecOffer[i] && pecExclusion(r.pricing, r.commitment, r.publisher, r.provider) == "" {
			if q := coveredIn(info.pecSet, r.start, r.end); q > 0 {
				v := &e.progs.PEC[i]
				out = append(out, incHit{c: -1, version: v.Version, amount: mulDiv2(r.cost, int64(v.Rate), money.Scale, q, r.end-r.start)})
				pec = true
			}
		}
	}
	if i := atIndex(e.progs.PAL, r.start); i >= 0 && info.palOffer[i] {
		v := &e.progs.PAL[i]
		orgs, first := 0, int32(-1)
		for i := range hs {
			if c := &info.hot[hs[i].c]; c.pal && c.org != first {
				if orgs == 0 {
					first = c.org
				}
				orgs++
			}
		}
		rate := v.RateMulti
		if orgs == 1 {
			rate = v.RateSingle
		}
		for i := range hs {
			if x := &hs[i]; info.hot[x.c].pal && !x.dup {
				out = append(out, incHit{c: x.c, version: v.Version, amount: money.MulDiv(x.amount, int64(rate), money.Scale)})
			}
		}
	}
	// PAL incentives follow the rows, which are sorted by location with one PAL row per
	// location: only a PEC row ahead of them may be out of place. Insertion sort moves it.
	if pec && len(out) > 1 {
		for i := 1; i < len(out); i++ {
			for j := i; j > 0 && lessIncHit(info, &out[j], &out[j-1]); j-- {
				out[j], out[j-1] = out[j-1], out[j]
			}
		}
	}
	return out
}

func lessIncHit(info *resInfo, a, b *incHit) bool {
	if la, lb := a.loc(info).id, b.loc(info).id; la != lb {
		return lessLocation(la, lb)
	}
	return a.c >= 0 && b.c < 0 // by program name: "PAL" before "PEC"
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
