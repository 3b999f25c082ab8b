package attribution

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/extsort"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// A result segment holds one run's attribution and incentive rows for the records of one
// usage batch that have any, and those records, so that it reads back without the usage:
//
//	"PLR" 0x01
//	records     length, then the records in the usage segment format (usage.EncodeRows)
//	dictionary  count, then strings (length and bytes): locations, organisations, roles, ...
//	per record  tenant and subscription (dictionary indices)
//	rows        count, then per row: record (difference from the previous row's), location,
//	            organisation, association, admin role (dictionary indices), 1e9 - coverage,
//	            cost - amount (zig-zag), duplicate_at_org (0 or 1)
//	incentives  count, then per row: record (difference), location, organisation, program,
//	            program version (dictionary indices), amount (zig-zag)
//
// Coverage is usually 1 and the amount the cost, so most numbers take one byte.
const resultMagic = "PLR\x01"

var errResultCorrupt = errors.New("attribution result segment is corrupt")

// resultBuilder collects the rows of one batch's records. Rows and incentives are encoded as
// they arrive, a few bytes each instead of a 40-byte struct: on the bench estate with 1,000,000
// usage rows, one batch's rows held as structs were the largest thing alive during a run
// (227 MB of a 1.1 GB heap profile).
type resultBuilder struct {
	b        *usage.Batch
	records  []int32 // rows of b that have results, in order
	tenants  []uint32
	subs     []uint32
	rows     []byte // the rows section after its count
	incs     []byte // the incentives section after its count
	nRows    int
	nIncs    int
	lastRow  int32 // record of the last row encoded
	lastInc  int32
	dict     []string
	idx      map[string]uint32
	minStart int64
	maxStart int64
}

// A run bounds the results it holds by bytes, not by batches, because a batch can hold up to
// 65,536 records and the bench estate gives each about 16 rows: a result segment holds the
// rows of at most about resultSegmentBytes (a batch's records may take several), and the
// segments are handed to the database in groups of at most about resultWriteBytes. At most
// three groups are alive: being filled, queued and being written. (resultSegmentBytes is a
// variable so that a test can cut a batch's results into many segments.)
var resultSegmentBytes = 4 << 20

const resultWriteBytes = 16 << 20

func newResultBuilder(b *usage.Batch) *resultBuilder {
	return &resultBuilder{b: b, idx: map[string]uint32{}}
}

func (rb *resultBuilder) str(s string) uint32 {
	if i, ok := rb.idx[s]; ok {
		return i
	}
	i := uint32(len(rb.dict))
	rb.dict = append(rb.dict, s)
	rb.idx[s] = i
	return i
}

// add records the rows of row i of the batch.
func (rb *resultBuilder) add(i int, rows []Row, incs []Incentive) {
	if len(rows) == 0 && len(incs) == 0 {
		return
	}
	rec := int32(len(rb.records))
	start := rb.b.Start[i]
	if rec == 0 || start < rb.minStart {
		rb.minStart = start
	}
	if rec == 0 || start > rb.maxStart {
		rb.maxStart = start
	}
	rb.records = append(rb.records, int32(i))
	tenant, sub := "", ""
	if len(rows) > 0 {
		tenant, sub = rows[0].TenantID, rows[0].SubscriptionID
	}
	rb.tenants = append(rb.tenants, rb.str(tenant))
	rb.subs = append(rb.subs, rb.str(sub))
	cost := rb.b.Cost[i]
	for k := range rows {
		r := &rows[k]
		out := binary.AppendUvarint(rb.rows, uint64(rec-rb.lastRow))
		rb.lastRow = rec
		for _, s := range [...]string{r.LocationID, r.OrgID, r.Association, r.AdminRole} {
			out = binary.AppendUvarint(out, uint64(rb.str(s)))
		}
		out = binary.AppendUvarint(out, uint64(money.Scale-r.Coverage))
		out = binary.AppendVarint(out, int64(cost-r.Amount))
		if r.DuplicateAtOrg {
			out = append(out, 1)
		} else {
			out = append(out, 0)
		}
		rb.rows = out
	}
	rb.nRows += len(rows)
	for k := range incs {
		x := &incs[k]
		out := binary.AppendUvarint(rb.incs, uint64(rec-rb.lastInc))
		rb.lastInc = rec
		for _, s := range [...]string{x.LocationID, x.OrgID, x.Program, x.ProgramVersion} {
			out = binary.AppendUvarint(out, uint64(rb.str(s)))
		}
		rb.incs = binary.AppendVarint(out, int64(x.Amount))
	}
	rb.nIncs += len(incs)
}

func (rb *resultBuilder) encode() []byte {
	recs := usage.EncodeRows(rb.b, rb.records)
	out := make([]byte, 0, len(recs)+len(rb.rows)+len(rb.incs)+64)
	out = append(out, resultMagic...)
	out = binary.AppendUvarint(out, uint64(len(recs)))
	out = append(out, recs...)
	out = binary.AppendUvarint(out, uint64(len(rb.dict)))
	for _, s := range rb.dict {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	for k := range rb.records {
		out = binary.AppendUvarint(out, uint64(rb.tenants[k]))
		out = binary.AppendUvarint(out, uint64(rb.subs[k]))
	}
	out = binary.AppendUvarint(out, uint64(rb.nRows))
	out = append(out, rb.rows...)
	out = binary.AppendUvarint(out, uint64(rb.nIncs))
	return append(out, rb.incs...)
}

// decodeResults calls row and inc for every row of a result segment, in the order stored.
// The rows are valid only during the calls.
func decodeResults(data []byte, row func(*Row) error, inc func(*Incentive) error) error {
	if !bytes.HasPrefix(data, []byte(resultMagic)) {
		return fmt.Errorf("%w: unknown format (this partnerlink may be older than the one that wrote it)", errResultCorrupt)
	}
	r := varint.NewReader(data[len(resultMagic):], errResultCorrupt)
	recData := r.Bytes(r.Count("records length", uint64(r.Len())), "records")
	if r.Err != nil {
		return r.Err
	}
	b, err := usage.DecodeRows(recData)
	if err != nil {
		return fmt.Errorf("%w: %v", errResultCorrupt, err)
	}
	nd := r.Count("dictionary size", uint64(r.Len()))
	dict := make([]string, 0, nd)
	for k := 0; k < nd && r.Err == nil; k++ {
		dict = append(dict, string(r.Bytes(r.Count("string length", uint64(r.Len())), "string")))
	}
	n := uint64(b.Len())
	ds := uint64(len(dict))
	tenants := make([]string, n)
	subs := make([]string, n)
	for k := uint64(0); k < n && r.Err == nil; k++ {
		t := uint64(r.Count("tenant", ds))
		s := uint64(r.Count("subscription", ds))
		if r.Err == nil && (t >= ds || s >= ds) {
			r.Fail("dictionary index out of range")
		}
		if r.Err == nil {
			tenants[k], subs[k] = dict[t], dict[s]
		}
	}
	str := func(what string) string {
		i := uint64(r.Count(what, ds))
		if r.Err != nil || i >= ds {
			r.Fail(what + " index out of range")
			return ""
		}
		return dict[i]
	}
	var key string
	keyOf := -1
	recKey := func(rec int) string {
		if rec != keyOf {
			key, keyOf = b.Key(rec), rec
		}
		return key
	}
	rows := r.Count("row count", uint64(r.Len()))
	rec := uint64(0)
	var x Row
	for k := 0; k < rows && r.Err == nil; k++ {
		rec += uint64(r.Count("row record", n))
		if rec >= n {
			r.Fail("row record out of range")
			break
		}
		i := int(rec)
		x = Row{RecordKey: recKey(i), Start: b.Start[i], End: b.End[i], TenantID: tenants[i], SubscriptionID: subs[i],
			ResourceID: b.S(usage.ColResource, i), Service: b.S(usage.ColService, i), Currency: b.S(usage.ColCurrency, i), Cost: b.Cost[i],
			Provider: b.S(usage.ColProviderID, i)}
		x.LocationID, x.OrgID, x.Association, x.AdminRole = str("location"), str("organisation"), str("association"), str("admin role")
		x.Coverage = money.Scale - int64(r.Count("coverage", uint64(money.Scale)))
		x.Amount = b.Cost[i] - money.Nanos(r.Varint("amount"))
		dup := r.Byte("duplicate_at_org")
		if r.Err != nil {
			break
		}
		x.DuplicateAtOrg = dup == 1
		if row != nil {
			if err := row(&x); err != nil {
				return err
			}
		}
	}
	incs := r.Count("incentive count", uint64(r.Len()))
	rec = 0
	var y Incentive
	for k := 0; k < incs && r.Err == nil; k++ {
		rec += uint64(r.Count("incentive record", n))
		if rec >= n {
			r.Fail("incentive record out of range")
			break
		}
		i := int(rec)
		y = Incentive{RecordKey: recKey(i), Start: b.Start[i], Currency: b.S(usage.ColCurrency, i)}
		y.LocationID, y.OrgID, y.Program, y.ProgramVersion = str("location"), str("organisation"), str("program"), str("program version")
		y.Amount = money.Nanos(r.Varint("incentive amount"))
		if r.Err != nil {
			break
		}
		if inc != nil {
			if err := inc(&y); err != nil {
				return err
			}
		}
	}
	if r.Err == nil && r.Len() != 0 {
		r.Fail(fmt.Sprintf("%d bytes after the last row", r.Len()))
	}
	return r.Err
}

// rollKey is one rollup_daily row's key.
type rollKey struct {
	day                                                   int64
	loc, org, assoc, tenant, sub, service, role, currency string
}

type rollVal struct{ amount, orgAmount, records int64 }

type incKey struct {
	day                         int64
	loc, org, program, currency string
}

type incVal struct{ amount, records int64 }

// rollups adds up rows per day the way the reports read them.
type rollups struct {
	att  map[rollKey]*rollVal
	prov map[provKey]*rollVal // version 2: per provider
	inc  map[incKey]*incVal
	strs interner // shared by the days of a run
}

func newRollups(strs interner) *rollups {
	return &rollups{att: map[rollKey]*rollVal{}, prov: map[provKey]*rollVal{}, inc: map[incKey]*incVal{}, strs: strs}
}

// interner holds one copy of each string it is given. A usage batch's strings share one
// allocation with its whole dictionary, so a key that keeps one of them keeps that alive.
type interner map[string]string

func (in interner) get(s string) string {
	if c, ok := in[s]; ok {
		return c
	}
	c := strings.Clone(s)
	in[c] = c
	return c
}

func (ru *rollups) row(r *Row) {
	k := rollKey{floorDay(r.Start), r.LocationID, r.OrgID, r.Association, r.TenantID, r.SubscriptionID, r.Service, r.AdminRole, r.Currency}
	v := ru.att[k]
	if v == nil {
		// The service and currency are the batch's; the other strings are the estate's.
		k.service, k.currency = ru.strs.get(k.service), ru.strs.get(k.currency)
		v = &rollVal{}
		ru.att[k] = v
	}
	v.amount += int64(r.Amount)
	if !r.DuplicateAtOrg {
		v.orgAmount += int64(r.Amount)
	}
	v.records++
	pk := provKey{k.day, r.LocationID, r.OrgID, r.Association, r.ProviderOf(), r.Currency}
	pv := ru.prov[pk]
	if pv == nil {
		pk.provider, pk.currency = ru.strs.get(pk.provider), ru.strs.get(pk.currency)
		pv = &rollVal{}
		ru.prov[pk] = pv
	}
	pv.amount += int64(r.Amount)
	if !r.DuplicateAtOrg {
		pv.orgAmount += int64(r.Amount)
	}
	pv.records++
}

// provKey is a rollup_provider_daily row's key.
type provKey struct {
	day                                 int64
	loc, org, assoc, provider, currency string
}

func (ru *rollups) incentive(x *Incentive) {
	k := incKey{floorDay(x.Start), x.LocationID, x.OrgID, x.Program, x.Currency}
	v := ru.inc[k]
	if v == nil {
		k.currency = ru.strs.get(k.currency)
		v = &incVal{}
		ru.inc[k] = v
	}
	v.amount += int64(x.Amount)
	v.records++
}

var (
	rollupCols     = []string{"day", "location_id", "org_id", "association", "tenant_id", "subscription_id", "service", "admin_role", "currency", "amount_nanos", "org_amount_nanos", "records"}
	incRollupCols  = []string{"day", "location_id", "org_id", "program", "currency", "amount_nanos", "records"}
	provRollupCols = []string{"day", "location_id", "org_id", "association", "provider", "currency", "amount_nanos", "org_amount_nanos", "records"}
	resultSegCols  = []string{"id", "run_id", "day", "min_start", "max_start", "records", "attributions", "incentives", "data"}
	rollupInsertAt = 5000
)

// write inserts the rollups, in the order of the table's primary key: B-trees then grow at
// their ends instead of taking every row at a random page (measured on SQLite at a tenth of
// the bench scale, 492,095 rows: random order ran at about 10,000 rows/s).
func (ru *rollups) write(ctx context.Context, l store.Loader) error {
	rows := make([][]any, 0, min(len(ru.att), rollupInsertAt))
	flush := func(table string, cols []string) error {
		if len(rows) == 0 {
			return nil
		}
		// The keys are unique (they come from a map): skipping conflicts changes nothing, and on
		// SQLite it spares every statement its journal (see store/sqlite insertSQL).
		_, err := l.Insert(ctx, table, cols, rows, true)
		rows = rows[:0]
		return err
	}
	keys := make([]rollKey, 0, len(ru.att))
	for k := range ru.att {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rollKey) int {
		if a.day != b.day {
			return cmp.Compare(a.day, b.day)
		}
		for _, p := range [...][2]string{{a.loc, b.loc}, {a.assoc, b.assoc}, {a.tenant, b.tenant}, {a.sub, b.sub},
			{a.service, b.service}, {a.role, b.role}, {a.currency, b.currency}} {
			if c := strings.Compare(p[0], p[1]); c != 0 {
				return c
			}
		}
		return 0
	})
	for _, k := range keys {
		v := ru.att[k]
		rows = append(rows, []any{k.day, k.loc, k.org, k.assoc, k.tenant, k.sub, k.service, k.role, k.currency, v.amount, v.orgAmount, v.records})
		if len(rows) == rollupInsertAt {
			if err := flush("rollup_daily", rollupCols); err != nil {
				return err
			}
		}
	}
	if err := flush("rollup_daily", rollupCols); err != nil {
		return err
	}
	for k, v := range ru.prov {
		rows = append(rows, []any{k.day, k.loc, k.org, k.assoc, k.provider, k.currency, v.amount, v.orgAmount, v.records})
		if len(rows) == rollupInsertAt {
			if err := flush("rollup_provider_daily", provRollupCols); err != nil {
				return err
			}
		}
	}
	if err := flush("rollup_provider_daily", provRollupCols); err != nil {
		return err
	}
	for k, v := range ru.inc {
		rows = append(rows, []any{k.day, k.loc, k.org, k.program, k.currency, v.amount, v.records})
		if len(rows) == rollupInsertAt {
			if err := flush("rollup_incentives_daily", incRollupCols); err != nil {
				return err
			}
		}
	}
	return flush("rollup_incentives_daily", incRollupCols)
}

// clearPeriod removes the stored results of records whose charge starts in p: segments
// wholly inside are deleted, segments that straddle p's ends are rewritten without those
// records' rows. It returns the days whose rollups must be computed again from the stored
// segments (days p cuts), and deletes the rollups of the days inside p.
func clearPeriod(ctx context.Context, l store.Loader, p timeline.Window) ([]int64, error) {
	from, to := floorDay(p.From), floorDay(p.To-1)+day
	type seg struct {
		id, run     string
		day, lo, hi int64
		data        []byte
	}
	var straddle []seg
	err := l.Query(ctx, `SELECT id, run_id, day, min_start, max_start, data FROM attribution_segments
		WHERE day >= $1 AND day < $2 AND (min_start < $3 OR max_start >= $4)`, []any{from, to, p.From, p.To},
		func(scan func(...any) error) error {
			var s seg
			if err := scan(&s.id, &s.run, &s.day, &s.lo, &s.hi, &s.data); err != nil {
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
		seg, err := keepOutside(s.data, p)
		if err != nil {
			return nil, fmt.Errorf("attribution result segment %s: %w", s.id, err)
		}
		if seg == nil {
			continue
		}
		seg.id, seg.run = s.id, s.run
		if err := writeResultSegments(ctx, l, []*resultSeg{seg}); err != nil {
			return nil, err
		}
	}
	var cut []int64
	if p.From != from {
		cut = append(cut, from)
	}
	if last := floorDay(p.To - 1); p.To != last+day && (len(cut) == 0 || cut[0] != last) {
		cut = append(cut, last)
	}
	inside := func(d int64) bool {
		for _, c := range cut {
			if c == d {
				return false
			}
		}
		return true
	}
	for d := from; d < to; d += day {
		if !inside(d) {
			continue
		}
		for _, t := range []string{"rollup_daily", "rollup_provider_daily", "rollup_incentives_daily"} {
			if _, err := l.Exec(ctx, "DELETE FROM "+t+" WHERE day = $1", d); err != nil {
				return nil, err
			}
		}
	}
	return cut, nil
}

// recordResults collects rows and incentives by record (and run), in the order first met, to
// write them as result segments again.
type recordResults struct {
	by    map[recID]*recResults
	order []recID
}

type recID struct {
	run, key string
	start    int64
}

type recResults struct {
	rec  usage.Record
	rows []Row
	incs []Incentive
}

func (c *recordResults) get(id recID) *recResults {
	if c.by == nil {
		c.by = map[recID]*recResults{}
	}
	rr := c.by[id]
	if rr == nil {
		rr = &recResults{}
		c.by[id] = rr
		c.order = append(c.order, id)
	}
	return rr
}

func (c *recordResults) row(run string, r *Row) {
	rr := c.get(recID{run, r.RecordKey, r.Start})
	rr.rec = usage.Record{Key: r.RecordKey, Start: r.Start, End: r.End, SubscriptionID: r.SubscriptionID, ResourceID: r.ResourceID,
		Service: r.Service, Currency: r.Currency, Cost: r.Cost, ChargeCategory: usage.CategoryUsage}
	rr.rows = append(rr.rows, *r)
}

func (c *recordResults) incentive(run string, x *Incentive) {
	rr := c.get(recID{run, x.RecordKey, x.Start})
	if rr.rec.Key == "" { // no row of this record: keep what the incentive knows of it
		rr.rec = usage.Record{Key: x.RecordKey, Start: x.Start, End: x.Start + 1, Currency: x.Currency, ChargeCategory: usage.CategoryUsage}
	}
	rr.incs = append(rr.incs, *x)
}

// segments returns one result segment per run, in the order the runs were first met.
func (c *recordResults) segments() []*resultSeg {
	var out []*resultSeg
	ids := slices.Clone(c.order)
	slices.SortStableFunc(ids, func(a, b recID) int { return strings.Compare(a.run, b.run) })
	for lo := 0; lo < len(ids); {
		hi := lo
		for hi < len(ids) && ids[hi].run == ids[lo].run {
			hi++
		}
		bb := usage.NewBatchBuilder()
		for _, id := range ids[lo:hi] {
			bb.Add(&c.by[id].rec)
		}
		rb := newResultBuilder(bb.Batch())
		for i, id := range ids[lo:hi] {
			rb.add(i, c.by[id].rows, c.by[id].incs)
		}
		out = append(out, rb.segment(ids[lo].run))
		lo = hi
	}
	return out
}

// keepOutside rebuilds a result segment with only the rows of records that start outside p
// (nil when none is left).
func keepOutside(data []byte, p timeline.Window) (*resultSeg, error) {
	var c recordResults
	err := decodeResults(data, func(r *Row) error {
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

func (rb *resultBuilder) segment(run string) *resultSeg {
	return &resultSeg{id: store.NewID(), run: run, day: floorDay(rb.minStart), lo: rb.minStart, hi: rb.maxStart,
		records: len(rb.records), rows: rb.nRows, incs: rb.nIncs, data: rb.encode()}
}

func writeResultSegments(ctx context.Context, l store.Loader, segs []*resultSeg) error {
	rows := make([][]any, 0, len(segs))
	for _, s := range segs {
		rows = append(rows, []any{s.id, s.run, s.day, s.lo, s.hi, int64(s.records), int64(s.rows), int64(s.incs), s.data})
	}
	_, err := l.Insert(ctx, "attribution_segments", resultSegCols, rows, false)
	return err
}

// recomputeRollups computes the rollups of days from every stored result segment of those
// days (the days a run's period cuts: other periods' rows share them).
func recomputeRollups(ctx context.Context, l store.Loader, days []int64) error {
	for _, d := range days {
		for _, t := range []string{"rollup_daily", "rollup_provider_daily", "rollup_incentives_daily"} {
			if _, err := l.Exec(ctx, "DELETE FROM "+t+" WHERE day = $1", d); err != nil {
				return err
			}
		}
		ru := newRollups(interner{})
		var datas [][]byte
		err := l.Query(ctx, `SELECT data FROM attribution_segments WHERE day = $1`, []any{d}, func(scan func(...any) error) error {
			var data []byte
			if err := scan(&data); err != nil {
				return err
			}
			datas = append(datas, data)
			return nil
		})
		if err != nil {
			return err
		}
		for _, data := range datas {
			if err := decodeResults(data, func(r *Row) error { ru.row(r); return nil }, func(x *Incentive) error { ru.incentive(x); return nil }); err != nil {
				return err
			}
		}
		if err := ru.write(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// storedSegments calls fn with every result segment holding records that start in p.
func storedSegments(ctx context.Context, q store.Querier, p timeline.Window, fn func(data []byte) error) error {
	rows, err := q.QueryContext(ctx, `SELECT data FROM attribution_segments WHERE day >= $1 AND day < $2 AND max_start >= $3 AND min_start < $4
		ORDER BY day, id`, dayBound(p.From), p.To, p.From, p.To)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		if err := fn(data); err != nil {
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

// sortBudget bounds the rows a report sorts in memory before it sorts on disk.
var sortBudget = 64 << 20

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

// sortedRows gives the rows in formats.md's order (record key, location, association).
func sortedRows(ctx context.Context, q store.Querier, f RowFilter, fn func(*Row) error) error {
	s := extsort.New(compareFirst3, sortBudget)
	defer s.Close()
	var item []byte
	err := storedSegments(ctx, q, f.Period, func(data []byte) error {
		return decodeResults(data, func(r *Row) error {
			if !f.Period.Contains(r.Start) || !f.matches(r.LocationID, r.OrgID) || (f.Tenant != "" && r.TenantID != f.Tenant) {
				return nil
			}
			dup := "0"
			if r.DuplicateAtOrg {
				dup = "1"
			}
			item = appendFields(item[:0], r.RecordKey, r.LocationID, r.Association, r.OrgID, r.TenantID, r.SubscriptionID, r.ResourceID,
				r.Service, r.Currency, r.AdminRole, dup, r.Provider)
			for _, n := range [...]int64{r.Start, r.End, int64(r.Cost), r.Coverage, int64(r.Amount)} {
				item = binary.AppendVarint(item, n)
			}
			return s.Add(item)
		}, nil)
	})
	if err != nil {
		return err
	}
	return s.Each(func(item []byte) error {
		r := varint.NewReader(item, errResultCorrupt)
		fs := readFields(r, 12)
		var nums [5]int64
		for k := range nums {
			nums[k] = r.Varint("sort item number")
		}
		if r.Err != nil {
			return r.Err
		}
		row := Row{RecordKey: fs[0], LocationID: fs[1], Association: fs[2], OrgID: fs[3], TenantID: fs[4], SubscriptionID: fs[5],
			ResourceID: fs[6], Service: fs[7], Currency: fs[8], AdminRole: fs[9], DuplicateAtOrg: fs[10] == "1", Provider: fs[11],
			Start: nums[0], End: nums[1], Cost: money.Nanos(nums[2]), Coverage: nums[3], Amount: money.Nanos(nums[4])}
		return fn(&row)
	})
}

// sortedIncentives gives the incentive rows in formats.md's order (record key, location,
// program).
func sortedIncentives(ctx context.Context, q store.Querier, f RowFilter, fn func(*Incentive) error) error {
	s := extsort.New(compareFirst3, sortBudget)
	defer s.Close()
	var item []byte
	err := storedSegments(ctx, q, f.Period, func(data []byte) error {
		return decodeResults(data, nil, func(x *Incentive) error {
			if !f.Period.Contains(x.Start) || !f.matches(x.LocationID, x.OrgID) {
				return nil
			}
			item = appendFields(item[:0], x.RecordKey, x.LocationID, x.Program, x.OrgID, x.ProgramVersion, x.Currency)
			item = binary.AppendVarint(item, x.Start)
			item = binary.AppendVarint(item, int64(x.Amount))
			return s.Add(item)
		})
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
