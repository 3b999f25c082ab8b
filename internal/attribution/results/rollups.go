package results

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// Rollups are the runs' rows added up at the grains the reports read, per UTC day of the
// charge start:
//
//   - rollup_days: per day, location, association and currency (one row each): the partner
//     report by month, the operator report, totals;
//   - rollup_groups: per day and location, one rollup segment of the location's sums per
//     association, customer tenant, subscription, service, admin role and currency: the
//     partner report's breakdowns;
//   - rollup_tenants: per day and customer tenant, one rollup segment of its sums per
//     location, association, admin role and currency: the customer report;
//   - rollup_provider_daily: per day, location, association, provider and currency (version 2:
//     the reports by provider);
//   - rollup_incentives_daily: per day, location, program and currency.
//
// A run adds a day's rows up in memory and writes a few rows per day and location, instead of
// a row per (day, location, association, tenant, subscription, service, role, currency): at
// the bench scale that grain held about as many rows as there were usage records, each into a
// table with five indexes, and writing them was most of a run.

// RollupRow is one sum at the finest grain the rollups keep.
type RollupRow struct {
	Day                                                                                    int64
	LocationID, OrgID, Association, TenantID, SubscriptionID, Service, AdminRole, Currency string
	Provider                                                                               string // "" when unknown (rollups of schemas before 0670)
	Amount, OrgAmount, Records                                                             int64
}

type rollVal struct{ amount, orgAmount, records int64 }

type incKey struct {
	day                         int64
	loc, org, program, currency string
}

type incVal struct {
	amount, records int64
	key             incKey // as the rollups hold it
}

// rollups adds up rows the way the reports read them: per record's (day, tenant,
// subscription, service, currency), which all its rows share and which is looked up once per
// record, then per (location, organisation, association, admin role) among the few of it.
type rollups struct {
	recs map[recKey]*recSums
	keys []*recSums // recs in the order first met
	inc  map[incKey]*incVal
	strs interner // shared by the days of a run
	// Consecutive records mostly share their key (a segment is sorted by subscription and
	// resource) and have the same rows in the same order, as have their incentives: the last
	// record's key and sums, and where each of its rows and incentives was added, are tried
	// before the maps (at the bench scale the maps' hashing was a fifth of a run's CPU). The
	// keys kept hold the interner's strings, never a batch's.
	last    recKey
	lastVs  *recSums
	rowAt   []int
	lastInc []incHint
}

// recSums are a record key's sums, with the key as the rollups hold it.
type recSums struct {
	vals []locVal
	key  recKey
}

type incHint struct {
	k incKey
	v *incVal
}

type recKey struct {
	day                                      int64
	tenant, sub, service, currency, provider string
}

type locVal struct {
	loc, org, assoc, role string
	rollVal
}

func newRollups(strs interner) *rollups {
	return &rollups{recs: map[recKey]*recSums{}, inc: map[incKey]*incVal{}, strs: strs}
}

func (ru *rollups) empty() bool { return len(ru.recs) == 0 && len(ru.inc) == 0 }

// vals returns the sums of a record's key.
func (ru *rollups) vals(k recKey) *recSums {
	v := ru.recs[k]
	if v == nil {
		// The strings may be a batch's (the service, currency and provider are): copies are kept.
		k.tenant, k.sub = ru.strs.get(k.tenant), ru.strs.get(k.sub)
		k.service, k.currency, k.provider = ru.strs.get(k.service), ru.strs.get(k.currency), ru.strs.get(k.provider)
		v = &recSums{key: k}
		ru.recs[k] = v
		ru.keys = append(ru.keys, v)
	}
	return v
}

func (v *rollVal) addRow(r *Row) {
	v.amount += int64(r.Amount)
	if !r.DuplicateAtOrg {
		v.orgAmount += int64(r.Amount)
	}
	v.records++
}

// record adds the rows of one record (they share its day, tenant, subscription, service
// and currency).
func (ru *rollups) record(rows []Row) {
	if len(rows) == 0 {
		return
	}
	r0 := &rows[0]
	k := recKey{floorDay(r0.Start), r0.TenantID, r0.SubscriptionID, r0.Service, r0.Currency, r0.ProviderOf()}
	vs := ru.lastVs
	if vs == nil || k != ru.last {
		vs = ru.vals(k)
		if vs.vals == nil {
			// Sized for this record's rows: a key's records mostly have the same rows, and
			// growing each key's slice from empty was a quarter of a run's allocation.
			vs.vals = make([]locVal, 0, len(rows)+len(rows)/4)
		}
		ru.last, ru.lastVs = vs.key, vs
	}
	for len(ru.rowAt) < len(rows) {
		ru.rowAt = append(ru.rowAt, 0)
	}
	// A row's sum is tried where the last record's row at its place went, then after the
	// previous row's sum (records of one key whose rows differ, such as two resources under
	// different role assignments, mostly keep their rows' relative order: at the bench scale
	// this caught two thirds of the first try's misses), then among all the key's sums.
	prev := -1
	for j := range rows {
		r := &rows[j]
		i := ru.rowAt[j]
		if i >= len(vs.vals) || !vs.vals[i].is(r) {
			i = prev + 1
			if i >= len(vs.vals) || !vs.vals[i].is(r) {
				i = vs.find(r)
			}
		}
		vs.vals[i].addRow(r)
		ru.rowAt[j], prev = i, i
	}
}

// find is the index of r's sum among vs's, appended when it has none.
func (vs *recSums) find(r *Row) int {
	for i := range vs.vals {
		if vs.vals[i].is(r) {
			return i
		}
	}
	vs.vals = append(vs.vals, locVal{loc: r.LocationID, org: r.OrgID, assoc: r.Association, role: r.AdminRole})
	return len(vs.vals) - 1
}

// is reports whether r is summed in v: of the same location, association, admin role and
// organisation.
func (v *locVal) is(r *Row) bool {
	return same(v.loc, r.LocationID) && same(v.assoc, r.Association) && same(v.role, r.AdminRole) && same(v.org, r.OrgID)
}

// same is a == b, mostly decided without calling the runtime's comparison: a row's strings
// are mostly the very strings a sum holds (the same address), and a location ID that is not
// the sum's mostly differs in its last digit. The runtime's call for each of the four strings
// of every row was a tenth of a run's CPU at the bench scale.
func same(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || unsafe.StringData(a) == unsafe.StringData(b) {
		return true
	}
	return a[len(a)-1] == b[len(a)-1] && a == b
}

func (ru *rollups) row(r *Row) { ru.record([]Row{*r}) }

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

func (ru *rollups) incentive(x *Incentive) {
	ru.incentiveVal(incKey{floorDay(x.Start), x.LocationID, x.OrgID, x.Program, x.Currency}).add(x)
}

func (ru *rollups) incentiveVal(k incKey) *incVal {
	v := ru.inc[k]
	if v == nil {
		// Only the currency is copied: it may be a usage batch's. A run's locations,
		// organisations and programs are its facts' strings and constants, which outlive the
		// day's rollups (when rollups are rebuilt from stored rows, they are the day's decoded
		// strings, read for these rollups alone); kept as they are, they compare equal to the
		// next records' by address, not byte by byte.
		k.currency = ru.strs.get(k.currency)
		v = &incVal{key: k}
		ru.inc[k] = v
	}
	return v
}

func (v *incVal) add(x *Incentive) {
	v.amount += int64(x.Amount)
	v.records++
}

// incentives adds the incentives of one record, trying first where the last record's were
// added.
func (ru *rollups) incentives(incs []Incentive) {
	for j := range incs {
		x := &incs[j]
		k := incKey{floorDay(x.Start), x.LocationID, x.OrgID, x.Program, x.Currency}
		if j < len(ru.lastInc) && ru.lastInc[j].k == k {
			ru.lastInc[j].v.add(x)
			continue
		}
		v := ru.incentiveVal(k)
		v.add(x)
		if j < len(ru.lastInc) {
			ru.lastInc[j] = incHint{v.key, v}
		} else {
			ru.lastInc = append(ru.lastInc, incHint{v.key, v})
		}
	}
}

// add adds a sum at the finest grain.
func (ru *rollups) add(r *RollupRow) {
	vs := ru.vals(recKey{r.Day, r.TenantID, r.SubscriptionID, r.Service, r.Currency, r.Provider})
	for i := range vs.vals {
		if v := &vs.vals[i]; v.loc == r.LocationID && v.assoc == r.Association && v.role == r.AdminRole && v.org == r.OrgID {
			v.amount, v.orgAmount, v.records = v.amount+r.Amount, v.orgAmount+r.OrgAmount, v.records+r.Records
			return
		}
	}
	vs.vals = append(vs.vals, locVal{loc: r.LocationID, org: r.OrgID, assoc: r.Association, role: r.AdminRole, rollVal: rollVal{r.Amount, r.OrgAmount, r.Records}})
}

// totals adds the rollups' sums to t, per location, association (or incentive program) and
// currency.
func (ru *rollups) totals(t totaller) {
	for k, vs := range ru.recs {
		for _, v := range vs.vals {
			t.add(v.loc, v.assoc, k.currency, money.Nanos(v.amount))
		}
	}
	for k, v := range ru.inc {
		t.add(k.loc, "incentive:"+k.program, k.currency, money.Nanos(v.amount))
	}
}

var (
	dayCols        = []string{"day", "location_id", "org_id", "association", "currency", "amount_nanos", "org_amount_nanos", "records"}
	provCols       = []string{"day", "location_id", "org_id", "association", "provider", "currency", "amount_nanos", "org_amount_nanos", "records"}
	groupCols      = []string{"day", "location_id", "org_id", "data", "data_hash"}
	tenantCols     = []string{"day", "tenant_id", "data", "data_hash"}
	incRollupCols  = []string{"day", "location_id", "org_id", "program", "currency", "amount_nanos", "records"}
	rollupInsertAt = 5000
)

// orgSum is the sum of a rollup table's row, with the organisation of its location.
type orgSum struct {
	org                        string
	amount, orgAmount, records int64
}

// sumAt returns where k's sum is in sums, adding it (for org) when k is new.
func sumAt[K comparable](at map[K]int, keys *[]K, sums *[]orgSum, k K, org string) int {
	i, ok := at[k]
	if !ok {
		i = len(*sums)
		at[k] = i
		*keys, *sums = append(*keys, k), append(*sums, orgSum{org: org})
	}
	return i
}

// write inserts the rollups. Their days must hold no rollups yet but, with st, the segments
// st lists: those stored with the same bytes are kept, the others replaced (stale.keep).
func (ru *rollups) write(ctx context.Context, l store.Loader, st stale) error {
	for _, t := range ru.tables() {
		for i, s := range segTables {
			if s.name == t.name {
				var err error
				if t.rows, err = st.keep(ctx, l, i, t.rows); err != nil {
					return err
				}
			}
		}
		for lo := 0; lo < len(t.rows); lo += rollupInsertAt {
			if _, err := l.Insert(ctx, t.name, t.cols, t.rows[lo:min(lo+rollupInsertAt, len(t.rows))], false); err != nil {
				return err
			}
		}
	}
	return nil
}

// rollupTable is the rows of one rollup table.
type rollupTable struct {
	name string
	cols []string
	rows [][]any
}

// tables returns the rows of the rollup tables.
func (ru *rollups) tables() []rollupTable {
	// Grouped by maps, not sorted: the rows of a rollup segment are in no particular order
	// (sorting every key took an eighth of a run's CPU); the tables' rows are sorted.
	type dayKey struct {
		day                  int64
		loc, assoc, currency string
	}
	type provKey struct {
		day                            int64
		loc, assoc, provider, currency string
	}
	type tenantKey struct {
		day    int64
		tenant string
	}
	type groupKey struct {
		day int64
		loc string
	}
	type group struct {
		org string
		seg *rollupSeg
	}
	add := func(s *orgSum, v *locVal) {
		s.amount, s.orgAmount, s.records = s.amount+v.amount, s.orgAmount+v.orgAmount, s.records+v.records
	}
	var dayKeys []dayKey
	var daySums []orgSum
	var provKeys []provKey
	var provSums []orgSum
	dayAt := map[dayKey]int{}
	provAt := map[provKey]int{}
	tenants := map[tenantKey]*rollupSeg{}
	byLoc := map[groupKey]*group{}
	// Record keys mostly have the same sums in the same order (see rollups): where the last
	// one's sum at each position went is tried before the maps.
	type hint struct {
		dk dayKey
		di int
		pk provKey
		pi int
		gk groupKey
		g  *group
	}
	var hints []hint
	nums := newStrNums()
	// In the order the keys were first met, neighbours mostly have their sums in the same
	// order (a subscription's services, one after the other), so the hints mostly hold.
	for _, vs := range ru.keys {
		k := vs.key
		tk := tenantKey{k.day, k.tenant}
		ts := tenants[tk]
		if ts == nil {
			ts = newRollupSeg(nums, 4, 2)
			tenants[tk] = ts
		}
		kt, ks, kv, kc := nums.of(k.tenant), nums.of(k.sub), nums.of(k.service), nums.of(k.currency)
		for j := range vs.vals {
			v := &vs.vals[j]
			if j == len(hints) {
				hints = append(hints, hint{di: -1, pi: -1})
			}
			h := &hints[j]
			if dk := (dayKey{k.day, v.loc, v.assoc, k.currency}); h.di < 0 || h.dk != dk {
				h.dk, h.di = dk, sumAt(dayAt, &dayKeys, &daySums, dk, v.org)
			}
			add(&daySums[h.di], v)
			if k.provider != "" { // rollups moved from before schema 0670 keep the provider rows they had
				if pk := (provKey{k.day, v.loc, v.assoc, k.provider, k.currency}); h.pi < 0 || h.pk != pk {
					h.pk, h.pi = pk, sumAt(provAt, &provKeys, &provSums, pk, v.org)
				}
				add(&provSums[h.pi], v)
			}
			if gk := (groupKey{k.day, v.loc}); h.g == nil || h.gk != gk {
				g := byLoc[gk]
				if g == nil {
					g = &group{org: v.org, seg: newRollupSeg(nums, 6, 3)}
					byLoc[gk] = g
				}
				h.gk, h.g = gk, g
			}
			va, vr := nums.of(v.assoc), nums.of(v.role)
			h.g.seg.add([]int32{va, kt, ks, kv, vr, kc}, v.amount, v.orgAmount, v.records)
			ts.add([]int32{nums.of(v.loc), va, vr, kc}, v.amount, v.records)
		}
	}
	var days, groups, provs [][]any
	for i, k := range dayKeys {
		s := &daySums[i]
		days = append(days, []any{k.day, k.loc, s.org, k.assoc, k.currency, s.amount, s.orgAmount, s.records})
	}
	for i, k := range provKeys {
		s := &provSums[i]
		provs = append(provs, []any{k.day, k.loc, s.org, k.assoc, k.provider, k.currency, s.amount, s.orgAmount, s.records})
	}
	slices.SortFunc(days, func(a, b []any) int {
		if c := cmp.Compare(a[0].(int64), b[0].(int64)); c != 0 {
			return c
		}
		for _, i := range [...]int{1, 3, 4} {
			if c := strings.Compare(a[i].(string), b[i].(string)); c != 0 {
				return c
			}
		}
		return 0
	})
	gks := make([]groupKey, 0, len(byLoc))
	for k := range byLoc {
		gks = append(gks, k)
	}
	slices.SortFunc(gks, func(a, b groupKey) int {
		if a.day != b.day {
			return cmp.Compare(a.day, b.day)
		}
		return strings.Compare(a.loc, b.loc)
	})
	for _, k := range gks {
		g := byLoc[k]
		data := g.seg.encode()
		groups = append(groups, []any{k.day, k.loc, g.org, data, segHash(data)})
	}
	tks := make([]tenantKey, 0, len(tenants))
	for k := range tenants {
		tks = append(tks, k)
	}
	slices.SortFunc(tks, func(a, b tenantKey) int {
		if a.day != b.day {
			return cmp.Compare(a.day, b.day)
		}
		return strings.Compare(a.tenant, b.tenant)
	})
	var trows [][]any
	for _, k := range tks {
		data := tenants[k].encode()
		trows = append(trows, []any{k.day, k.tenant, data, segHash(data)})
	}
	var incs [][]any
	for k, v := range ru.inc {
		incs = append(incs, []any{k.day, k.loc, k.org, k.program, k.currency, v.amount, v.records})
	}
	return []rollupTable{{"rollup_days", dayCols, days}, {"rollup_provider_daily", provCols, provs}, {"rollup_groups", groupCols, groups},
		{"rollup_tenants", tenantCols, trows}, {"rollup_incentives_daily", incRollupCols, incs}}
}

// rollupTables are the tables of the rollups, all keyed by day: those of sums and those of
// segments (segTables).
var (
	sumTables    = []string{"rollup_days", "rollup_provider_daily", "rollup_incentives_daily"}
	rollupTables = append(slices.Clone(sumTables), segTables[0].name, segTables[1].name)
)

// deleteRollups deletes the rollups of the days in [from, to).
func deleteRollups(ctx context.Context, l store.Loader, from, to int64) error {
	return deleteRollupTables(ctx, l, rollupTables, from, to)
}

func deleteRollupTables(ctx context.Context, l store.Loader, tables []string, from, to int64) error {
	for _, t := range tables {
		if _, err := l.Exec(ctx, "DELETE FROM "+t+" WHERE day >= $1 AND day < $2", from, to); err != nil {
			return err
		}
	}
	return nil
}

// A rollup segment holds the sums of one day and location (rollup_groups) or tenant
// (rollup_tenants): rows of k strings and m integers (docs/formats.md, "Rollup segments").
//
//	"PLG" 0x01, k uvarint, m uvarint, dictionary (count, strings), rows (count, then per row k
//	dictionary indices and m zig-zag varints), CRC32C of every byte before it (little-endian).
const rollupMagic = "PLG\x01"

var errRollupCorrupt = errors.New("rollup segment is corrupt")

type rollupSeg struct {
	k, m  int
	nums  *strNums
	dict  []string
	local []uint32 // by string number: the string's index in dict + 1 (0: not in it yet)
	rows  []byte
	n     int
}

func newRollupSeg(nums *strNums, k, m int) *rollupSeg {
	return &rollupSeg{k: k, m: m, nums: nums}
}

// add adds a row of k strings, given by their numbers, and m integers.
func (s *rollupSeg) add(strs []int32, nums ...int64) {
	for _, x := range strs {
		if int(x) >= len(s.local) {
			s.local = append(s.local, make([]uint32, len(s.nums.strs)-len(s.local))...)
		}
		i := s.local[x]
		if i == 0 {
			s.dict = append(s.dict, s.nums.strs[x])
			i = uint32(len(s.dict))
			s.local[x] = i
		}
		s.rows = binary.AppendUvarint(s.rows, uint64(i-1))
	}
	for _, n := range nums {
		s.rows = binary.AppendVarint(s.rows, n)
	}
	s.n++
}

// strNums numbers the strings of the rollup segments written together, so that a segment
// finds a string in its dictionary by an index instead of hashing it: at the bench scale,
// hashing every string of every segment row was a tenth of a run's CPU. A number is looked up
// once per record key or location sum, mostly in recent.
type strNums struct {
	at   map[string]int32
	strs []string
	// recent remembers the number (+1) of the last string at a slot chosen by its address:
	// the strings are shared by many sums, so the same one costs a comparison.
	recent [1024]struct {
		s string
		n int32
	}
}

func newStrNums() *strNums { return &strNums{at: map[string]int32{}} }

func (t *strNums) of(s string) int32 {
	slot := &t.recent[(uintptr(unsafe.Pointer(unsafe.StringData(s)))>>4^uintptr(len(s)))&(uintptr(len(t.recent))-1)]
	if slot.n != 0 && slot.s == s {
		return slot.n - 1
	}
	n, ok := t.at[s]
	if !ok {
		n = int32(len(t.strs))
		t.at[s], t.strs = n, append(t.strs, s)
	}
	slot.s, slot.n = s, n+1
	return n
}

func (s *rollupSeg) encode() []byte {
	out := []byte(rollupMagic)
	out = binary.AppendUvarint(out, uint64(s.k))
	out = binary.AppendUvarint(out, uint64(s.m))
	out = binary.AppendUvarint(out, uint64(len(s.dict)))
	for _, v := range s.dict {
		out = appendString(out, v)
	}
	out = binary.AppendUvarint(out, uint64(s.n))
	out = append(out, s.rows...)
	s.local = nil // the segment is complete: its numbers are no longer needed
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// decodeRollup calls fn with each row of a rollup segment of k strings and m integers. The
// slices are reused between calls.
func decodeRollup(what string, data []byte, k, m int, fn func(strs []string, nums []int64)) error {
	fail := func(why string) error {
		return fmt.Errorf("%s: %w: %s (run `partnerlink attribute` for the day's period again)", what, errRollupCorrupt, why)
	}
	if !bytes.HasPrefix(data, []byte(rollupMagic)) || len(data) < len(rollupMagic)+4 {
		return fail("unknown format")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return fail(fmt.Sprintf("its CRC32C is %08x, not the %08x it carries: the segment's bytes are damaged", got, sum))
	}
	r := varint.NewReader(body[len(rollupMagic):], errRollupCorrupt)
	if gk, gm := r.Count("strings", 64), r.Count("integers", 64); r.Err == nil && (gk != k || gm != m) {
		return fail(fmt.Sprintf("rows of %d strings and %d integers, not %d and %d", gk, gm, k, m))
	}
	dict := readDict(r)
	ds := uint64(len(dict))
	n := r.Count("rows", uint64(r.Len()))
	strs, nums := make([]string, k), make([]int64, m)
	for i := 0; i < n && r.Err == nil; i++ {
		for j := range strs {
			x := uint64(r.Count("string", ds))
			if r.Err == nil && x >= ds {
				r.Fail("string index out of range")
			}
			if r.Err != nil {
				break
			}
			strs[j] = dict[x]
		}
		for j := range nums {
			nums[j] = r.Varint("integer")
		}
		if r.Err != nil {
			break
		}
		fn(strs, nums)
	}
	if r.Err == nil && r.Len() != 0 {
		r.Fail(fmt.Sprintf("%d bytes after the last row", r.Len()))
	}
	if r.Err != nil {
		return fmt.Errorf("%s: %w", what, r.Err)
	}
	return nil
}

// WriteRollups adds rows to the stored rollups of their days, which must hold none yet (for
// tests and fixtures: runs write their own).
func WriteRollups(ctx context.Context, db *store.DB, rows []RollupRow) error {
	ru := newRollups(interner{})
	for i := range rows {
		ru.add(&rows[i])
	}
	return db.Load(ctx, func(l store.Loader) error { return ru.write(ctx, l, nil) })
}

// WriteIncentiveRollups adds incentive sums (day, location, org, program, currency, amount,
// records) to the stored rollups (for tests and fixtures).
func WriteIncentiveRollups(ctx context.Context, db *store.DB, day int64, loc, org, program, currency string, amount, records int64) error {
	ru := newRollups(interner{})
	k := incKey{day, loc, org, program, currency}
	ru.inc[k] = &incVal{amount: amount, records: records, key: k}
	return db.Load(ctx, func(l store.Loader) error { return ru.write(ctx, l, nil) })
}
