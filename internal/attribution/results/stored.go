package results

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/extsort"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
	"github.com/partnerlink/partnerlink/internal/varint"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// RowFilter selects stored rows: charge start in Period; Partner, when set, is a location ID
// or an organisation ID; Tenant, when set, limits rows to one customer tenant.
type RowFilter struct {
	Period  timeline.Window
	Partner string
	Tenant  string
}

// StoredRows calls fn for each stored attribution row, sorted by record key, location and
// association (the order of formats.md): the rows of the runs that cover the period,
// reproduced from their inputs, and those of result segments stored before runs were
// reproduced; sorted on disk beyond a few tens of megabytes, so memory stays bounded.
func StoredRows(ctx context.Context, q store.Querier, f RowFilter, fn func(*Row) error) error {
	return sortedRows(ctx, q, f, fn)
}

// StoredIncentives calls fn for each stored incentive row, sorted by record key, location and
// program. A Tenant filter is not supported for incentives (they carry no tenant).
func StoredIncentives(ctx context.Context, q store.Querier, f RowFilter, fn func(*Incentive) error) error {
	return sortedIncentives(ctx, q, f, fn)
}

// eachStored calls row and inc (either may be nil) for every stored row whose charge starts
// in w, unsorted.
func eachStored(ctx context.Context, q store.Querier, w timeline.Window, row func(*Row) error, inc func(*Incentive) error) error {
	err := storedSegments(ctx, q, w, func(id string, data []byte) error {
		return decodeSegment(id, data, func(r *Row) error {
			if row == nil || !w.Contains(r.Start) {
				return nil
			}
			return row(r)
		}, func(x *Incentive) error {
			if inc == nil || !w.Contains(x.Start) {
				return nil
			}
			return inc(x)
		})
	})
	if err != nil {
		return err
	}
	return reproduce(ctx, querierReader{q}, q, w, map[string]*inputs{}, func(_ *usage.Batch, _ int, rows []Row, incs []Incentive) error {
		if row != nil {
			for k := range rows {
				if err := row(&rows[k]); err != nil {
					return err
				}
			}
		}
		if inc != nil {
			for k := range incs {
				if err := inc(&incs[k]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// cutDays returns the UTC days p covers in part, whose rollups a run of p computes again
// from every run's results.
func cutDays(p timeline.Window) []int64 {
	from := floorDay(p.From)
	var cut []int64
	if p.From != from {
		cut = append(cut, from)
	}
	if last := floorDay(p.To - 1); p.To != last+day {
		if len(cut) == 0 || cut[0] != last {
			cut = append(cut, last)
		}
	}
	return cut
}

// clearPeriod makes room for a run of p: p leaves every earlier run's coverage, result
// segments wholly inside p are deleted and those that straddle its ends are written again
// (as version 2) without the rows of records that start in p, and the rollups of the days
// inside p are cleared (those of cutDays(p) are left to be computed again): the rows of sums
// deleted, the segments listed as stale, for the run to keep, replace or drop.
func clearPeriod(ctx context.Context, l store.Loader, p timeline.Window) (stale, error) {
	if err := cutCoverage(ctx, l, p); err != nil {
		return nil, err
	}
	from, to := floorDay(p.From), floorDay(p.To-1)+day
	type seg struct {
		id, run string
		data    []byte
	}
	var straddle []seg
	err := l.Query(ctx, `SELECT id, run_id, data FROM attribution_segments
		WHERE day >= $1 AND day < $2 AND (min_start < $3 OR max_start >= $4)`, []any{from, to, p.From, p.To},
		func(scan func(...any) error) error {
			var s seg
			if err := scan(&s.id, &s.run, &s.data); err != nil {
				return err
			}
			straddle = append(straddle, s)
			return nil
		})
	if err != nil {
		return nil, err
	}
	if _, err := l.Exec(ctx, `DELETE FROM attribution_segments WHERE day >= $1 AND day < $2`, from, to); err != nil {
		return nil, err
	}
	for _, s := range straddle {
		seg, err := keepOutside(s.id, s.data, p)
		if err != nil {
			return nil, err
		}
		if seg == nil {
			continue
		}
		seg.id, seg.run = s.id, s.run
		if err := writeResultSegments(ctx, l, []*resultSeg{seg}); err != nil {
			return nil, err
		}
	}
	lo, hi := from, to // the days inside p
	if p.From != from {
		lo += day
	}
	if p.To != to {
		hi -= day
	}
	if lo >= hi {
		return nil, nil
	}
	if err := deleteRollupTables(ctx, l, sumTables, lo, hi); err != nil {
		return nil, err
	}
	return loadStale(ctx, l, lo, hi)
}

// recordResults collects rows and incentives by record (and run), in the order first met, to
// write them as result segments again.
type recordResults struct {
	by    map[recID]*resultRecord
	order []recID
}

type recID struct {
	run, key string
	start    int64
}

func (c *recordResults) get(id recID) *resultRecord {
	if c.by == nil {
		c.by = map[recID]*resultRecord{}
	}
	rr := c.by[id]
	if rr == nil {
		rr = &resultRecord{key: id.key, start: id.start}
		c.by[id] = rr
		c.order = append(c.order, id)
	}
	return rr
}

func (c *recordResults) row(run string, r *Row) {
	rr := c.get(recID{run, r.RecordKey, r.Start})
	rr.end, rr.resource, rr.service, rr.currency, rr.cost = r.End, r.ResourceID, r.Service, r.Currency, r.Cost
	rr.tenant, rr.subscription = r.TenantID, r.SubscriptionID
	rr.rows = append(rr.rows, *r)
}

func (c *recordResults) incentive(run string, x *Incentive) {
	rr := c.get(recID{run, x.RecordKey, x.Start})
	if len(rr.rows) == 0 { // no row of this record: keep what the incentive knows of it
		rr.end, rr.currency = x.Start+1, x.Currency
	}
	rr.incs = append(rr.incs, *x)
}

// segments returns one result segment per run, in the order of the runs' IDs.
func (c *recordResults) segments() []*resultSeg {
	var out []*resultSeg
	ids := slices.Clone(c.order)
	slices.SortStableFunc(ids, func(a, b recID) int { return strings.Compare(a.run, b.run) })
	for lo := 0; lo < len(ids); {
		hi := lo
		for hi < len(ids) && ids[hi].run == ids[lo].run {
			hi++
		}
		recs := make([]*resultRecord, 0, hi-lo)
		seg := &resultSeg{id: store.NewID(), run: ids[lo].run}
		for k, id := range ids[lo:hi] {
			r := c.by[id]
			recs = append(recs, r)
			if k == 0 || r.start < seg.lo {
				seg.lo = r.start
			}
			if k == 0 || r.start > seg.hi {
				seg.hi = r.start
			}
			seg.rows += len(r.rows)
			seg.incs += len(r.incs)
		}
		seg.day, seg.records, seg.data = floorDay(seg.lo), len(recs), encodeResults(recs)
		out = append(out, seg)
		lo = hi
	}
	return out
}

// keepOutside rebuilds a result segment with only the rows of records that start outside p
// (nil when none is left).
func keepOutside(id string, data []byte, p timeline.Window) (*resultSeg, error) {
	var c recordResults
	err := decodeSegment(id, data, func(r *Row) error {
		if !p.Contains(r.Start) {
			c.row("", r)
		}
		return nil
	}, func(x *Incentive) error {
		if !p.Contains(x.Start) {
			c.incentive("", x)
		}
		return nil
	})
	if err != nil || len(c.order) == 0 {
		return nil, err
	}
	return c.segments()[0], nil
}

// resultSeg is an encoded result segment ready to be written.
type resultSeg struct {
	id, run             string
	day, lo, hi         int64
	records, rows, incs int
	data                []byte
}

var resultSegCols = []string{"id", "run_id", "day", "min_start", "max_start", "records", "attributions", "incentives", "data"}

func writeResultSegments(ctx context.Context, l store.Loader, segs []*resultSeg) error {
	rows := make([][]any, 0, len(segs))
	for _, s := range segs {
		rows = append(rows, []any{s.id, s.run, s.day, s.lo, s.hi, int64(s.records), int64(s.rows), int64(s.incs), s.data})
	}
	_, err := l.Insert(ctx, "attribution_segments", resultSegCols, rows, false)
	return err
}

// recomputeRollups computes the rollups of days from every run's results of those days (the
// days a run's period cuts: other periods' rows share them): stored result segments and
// reproduced runs. cache holds inputs already at hand (the run being stored).
func recomputeRollups(ctx context.Context, l store.Loader, usageQ store.Querier, days []int64, cache map[string]*inputs) error {
	for _, d := range days {
		if err := deleteRollups(ctx, l, d, d+day); err != nil {
			return err
		}
		ru := newRollups(interner{})
		type seg struct {
			id   string
			data []byte
		}
		var segs []seg
		err := l.Query(ctx, `SELECT id, data FROM attribution_segments WHERE day = $1`, []any{d}, func(scan func(...any) error) error {
			var s seg
			if err := scan(&s.id, &s.data); err != nil {
				return err
			}
			segs = append(segs, s)
			return nil
		})
		if err != nil {
			return err
		}
		for _, s := range segs {
			if err := decodeSegment(s.id, s.data, func(r *Row) error { ru.row(r); return nil }, func(x *Incentive) error { ru.incentive(x); return nil }); err != nil {
				return err
			}
		}
		err = reproduce(ctx, loaderReader{l}, usageQ, timeline.Window{From: d, To: d + day}, cache, func(_ *usage.Batch, _ int, rows []Row, incs []Incentive) error {
			for k := range rows {
				ru.row(&rows[k])
			}
			ru.incentives(incs)
			return nil
		})
		if err != nil {
			return err
		}
		if err := ru.write(ctx, l, nil); err != nil {
			return err
		}
	}
	return nil
}

// storedSegments calls fn with every result segment holding records that start in p.
func storedSegments(ctx context.Context, q store.Querier, p timeline.Window, fn func(id string, data []byte) error) error {
	rows, err := q.QueryContext(ctx, `SELECT id, data FROM attribution_segments WHERE day >= $1 AND day < $2 AND max_start >= $3 AND min_start < $4
		ORDER BY day, id`, dayBound(p.From), p.To, p.From, p.To)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return err
		}
		if err := fn(id, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

func dayBound(t int64) int64 {
	if t < timeline.Min+day {
		return timeline.Min
	}
	return floorDay(t)
}

// sortBudget bounds the rows a report sorts in memory before it sorts on disk (twice that is
// held while a run is written, see extsort).
var sortBudget = 32 << 20

// matches reports whether a row's location or organisation is f.Partner (when set).
func (f RowFilter) matches(loc, org string) bool {
	return f.Partner == "" || loc == f.Partner || org == f.Partner
}

// appendFields appends strings, each length-prefixed.
func appendFields(dst []byte, fields ...string) []byte {
	for _, s := range fields {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// readFields reads n strings written by appendFields.
func readFields(r *varint.Reader, n int) []string {
	out := make([]string, n)
	for k := range out {
		out[k] = string(r.Bytes(r.Count("sort item field", uint64(r.Len())), "sort item field"))
	}
	return out
}

// compareFirst3 orders items by their first three fields (record key, location, association
// or program), as formats.md sorts rows.
func compareFirst3(a, b []byte) int {
	for k := 0; k < 3; k++ {
		la, na := binary.Uvarint(a)
		lb, nb := binary.Uvarint(b)
		sa, sb := a[na:na+int(la)], b[nb:nb+int(lb)]
		if c := bytes.Compare(sa, sb); c != 0 {
			return c
		}
		a, b = a[na+int(la):], b[nb+int(lb):]
	}
	return 0
}

// sortedRows gives the rows in formats.md's order (record key, location, association). It
// sorts records, not rows: an item is one record's key, its fields and its rows (sorted by
// location and association), strings numbered by a sortDict, about a seventh of the items of
// a row each at the bench scale. Records that share a key (at different charge starts) have
// their rows merged in order.
func sortedRows(ctx context.Context, q store.Querier, f RowFilter, fn func(*Row) error) error {
	s := extsort.New(compareFirst1, sortBudget)
	defer s.Close()
	dict := newSortDict()
	var item []byte
	var keep []Row
	err := eachStoredRecord(ctx, q, f.Period, func(rows []Row) error {
		keep = keep[:0]
		for k := range rows {
			r := &rows[k]
			if f.matches(r.LocationID, r.OrgID) && (f.Tenant == "" || r.TenantID == f.Tenant) {
				keep = append(keep, *r)
			}
		}
		if len(keep) == 0 {
			return nil
		}
		if !slices.IsSortedFunc(keep, compareLocAssoc) {
			slices.SortStableFunc(keep, compareLocAssoc)
		}
		r := &keep[0]
		item = appendFields(item[:0], r.RecordKey)
		for _, s := range [...]string{r.TenantID, r.SubscriptionID, r.ResourceID, r.Service, r.Currency, r.Provider} {
			item = dict.appendString(item, s)
		}
		for _, n := range [...]int64{r.Start, r.End, int64(r.Cost)} {
			item = binary.AppendVarint(item, n)
		}
		item = binary.AppendUvarint(item, uint64(len(keep)))
		for k := range keep {
			x := &keep[k]
			for _, s := range [...]string{x.LocationID, x.Association, x.OrgID, x.AdminRole} {
				item = dict.appendString(item, s)
			}
			dup := int64(0)
			if x.DuplicateAtOrg {
				dup = 1
			}
			for _, n := range [...]int64{x.Coverage, int64(x.Amount), dup} {
				item = binary.AppendVarint(item, n)
			}
		}
		return s.Add(item)
	})
	if err != nil {
		return err
	}
	// The sorted rows are handed to fn on a goroutine of their own, in batches, while this one
	// merges and decodes the next: writing them out (CSV) costs about as much as the rest.
	out := newRowPipe(ctx, fn)
	defer out.stop()
	var group []Row // the rows of records that share a key
	emit := func() error {
		if len(group) == 0 {
			return nil
		}
		slices.SortStableFunc(group, compareLocAssoc)
		for k := range group {
			if err := out.send(&group[k]); err != nil {
				return err
			}
		}
		group = group[:0]
		return nil
	}
	var rec Row
	fs, rs := make([]string, 7), make([]string, 4)
	err = s.Each(func(item []byte) error {
		r := varint.NewReader(item, errResultCorrupt)
		fs[0] = string(r.Bytes(r.Count("sort item key", uint64(r.Len())), "sort item key"))
		dict.readStrings(r, fs[1:])
		start, end, cost := r.Varint("sort item start"), r.Varint("sort item end"), r.Varint("sort item cost")
		n := r.Count("sort item rows", uint64(r.Len()))
		if r.Err != nil {
			return r.Err
		}
		if len(group) > 0 && group[0].RecordKey != fs[0] {
			if err := emit(); err != nil {
				return err
			}
		}
		rec = Row{RecordKey: fs[0], TenantID: fs[1], SubscriptionID: fs[2], ResourceID: fs[3], Service: fs[4], Currency: fs[5],
			Provider: fs[6], Start: start, End: end, Cost: money.Nanos(cost)}
		for k := 0; k < n; k++ {
			x := rec
			dict.readStrings(r, rs)
			cov, amount, dup := r.Varint("sort item coverage"), r.Varint("sort item amount"), r.Varint("sort item duplicate")
			if r.Err != nil {
				return r.Err
			}
			x.LocationID, x.Association, x.OrgID, x.AdminRole = rs[0], rs[1], rs[2], rs[3]
			x.Coverage, x.Amount, x.DuplicateAtOrg = cov, money.Nanos(amount), dup == 1
			group = append(group, x)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := emit(); err != nil {
		return err
	}
	return out.close()
}

// rowPipe calls fn with rows on a goroutine of its own, in order, a batch at a time.
type rowPipe struct {
	ctx    context.Context
	cancel context.CancelFunc
	batch  []Row
	full   chan []Row
	free   chan []Row
	done   chan error
}

const rowPipeBatch = 4096

func newRowPipe(ctx context.Context, fn func(*Row) error) *rowPipe {
	ctx, cancel := context.WithCancel(ctx)
	p := &rowPipe{ctx: ctx, cancel: cancel, full: make(chan []Row, 3), free: make(chan []Row, 4), done: make(chan error, 1)}
	for i := 0; i < 4; i++ {
		p.free <- make([]Row, 0, rowPipeBatch)
	}
	p.batch = <-p.free
	full := p.full // p.full is set to nil when closed
	go func() {
		var err error
		for b := range full {
			for k := 0; k < len(b) && err == nil; k++ {
				err = fn(&b[k])
			}
			if err != nil {
				cancel() // the producer stops at its next batch
			}
			p.free <- b[:0]
		}
		p.done <- err
	}()
	return p
}

// send queues a copy of r.
func (p *rowPipe) send(r *Row) error {
	p.batch = append(p.batch, *r)
	if len(p.batch) < rowPipeBatch {
		return nil
	}
	return p.flush()
}

func (p *rowPipe) flush() error {
	if len(p.batch) == 0 {
		return nil
	}
	select {
	case p.full <- p.batch:
	case <-p.ctx.Done():
		return p.fail()
	}
	select {
	case p.batch = <-p.free:
	case <-p.ctx.Done():
		return p.fail()
	}
	return nil
}

// fail ends the goroutine after a cancellation and returns fn's error, or else the context's.
func (p *rowPipe) fail() error {
	err := p.ctx.Err()
	if p.full != nil {
		close(p.full)
		p.full = nil
		if ferr := <-p.done; ferr != nil {
			err = ferr
		}
	}
	return err
}

// close hands over the last batch and waits for fn to finish, returning its error.
func (p *rowPipe) close() error {
	ferr := p.flush()
	if p.full == nil {
		return ferr
	}
	close(p.full)
	p.full = nil
	err := <-p.done
	p.cancel()
	if err != nil {
		return err
	}
	return ferr
}

// stop ends the goroutine if close was not called (an error on the way).
func (p *rowPipe) stop() {
	if p.full == nil {
		return
	}
	p.cancel()
	close(p.full)
	p.full = nil
	<-p.done
}

func compareLocAssoc(a, b Row) int {
	if c := strings.Compare(a.LocationID, b.LocationID); c != 0 {
		return c
	}
	return strings.Compare(a.Association, b.Association)
}

// compareFirst1 orders items by their first field (the record key).
func compareFirst1(a, b []byte) int {
	la, na := binary.Uvarint(a)
	lb, nb := binary.Uvarint(b)
	return bytes.Compare(a[na:na+int(la)], b[nb:nb+int(lb)])
}

// eachStoredRecord calls fn with the rows of each stored record whose charge starts in w
// (records without rows are skipped), unsorted.
func eachStoredRecord(ctx context.Context, q store.Querier, w timeline.Window, fn func(rows []Row) error) error {
	var cur []Row
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		err := fn(cur)
		cur = cur[:0]
		return err
	}
	err := storedSegments(ctx, q, w, func(id string, data []byte) error {
		err := decodeSegment(id, data, func(r *Row) error {
			if !w.Contains(r.Start) {
				return nil
			}
			if len(cur) > 0 && (cur[0].RecordKey != r.RecordKey || cur[0].Start != r.Start) {
				if err := flush(); err != nil {
					return err
				}
			}
			cur = append(cur, *r)
			return nil
		}, nil)
		if err != nil {
			return err
		}
		return flush()
	})
	if err != nil {
		return err
	}
	return reproduce(ctx, querierReader{q}, q, w, map[string]*inputs{}, func(_ *usage.Batch, _ int, rows []Row, _ []Incentive) error {
		if len(rows) == 0 {
			return nil
		}
		return fn(rows)
	})
}

// sortedIncentives gives the incentive rows in formats.md's order (record key, location,
// program).
func sortedIncentives(ctx context.Context, q store.Querier, f RowFilter, fn func(*Incentive) error) error {
	s := extsort.New(compareFirst3, sortBudget)
	defer s.Close()
	var item []byte
	err := eachStored(ctx, q, f.Period, nil, func(x *Incentive) error {
		if !f.matches(x.LocationID, x.OrgID) {
			return nil
		}
		item = appendFields(item[:0], x.RecordKey, x.LocationID, x.Program, x.OrgID, x.ProgramVersion, x.Currency)
		item = binary.AppendVarint(item, x.Start)
		item = binary.AppendVarint(item, int64(x.Amount))
		return s.Add(item)
	})
	if err != nil {
		return err
	}
	return s.Each(func(item []byte) error {
		r := varint.NewReader(item, errResultCorrupt)
		fs := readFields(r, 6)
		start, amount := r.Varint("sort item start"), r.Varint("sort item amount")
		if r.Err != nil {
			return r.Err
		}
		x := Incentive{RecordKey: fs[0], LocationID: fs[1], Program: fs[2], OrgID: fs[3], ProgramVersion: fs[4], Currency: fs[5],
			Start: start, Amount: money.Nanos(amount)}
		return fn(&x)
	})
}
