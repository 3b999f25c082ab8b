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
	Amount, OrgAmount, Records                                                             int64
}

// rollKey is one sum's key at the finest grain.
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

// rollups adds up rows the way the reports read them.
type rollups struct {
	att  map[rollKey]*rollVal
	inc  map[incKey]*incVal
	strs interner // shared by the days of a run
}

func newRollups(strs interner) *rollups {
	return &rollups{att: map[rollKey]*rollVal{}, inc: map[incKey]*incVal{}, strs: strs}
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

// add adds a sum at the finest grain.
func (ru *rollups) add(r *RollupRow) {
	k := rollKey{r.Day, r.LocationID, r.OrgID, r.Association, r.TenantID, r.SubscriptionID, r.Service, r.AdminRole, r.Currency}
	v := ru.att[k]
	if v == nil {
		v = &rollVal{}
		ru.att[k] = v
	}
	v.amount += r.Amount
	v.orgAmount += r.OrgAmount
	v.records += r.Records
}

var (
	dayCols        = []string{"day", "location_id", "org_id", "association", "currency", "amount_nanos", "org_amount_nanos", "records"}
	groupCols      = []string{"day", "location_id", "org_id", "data"}
	tenantCols     = []string{"day", "tenant_id", "data"}
	incRollupCols  = []string{"day", "location_id", "org_id", "program", "currency", "amount_nanos", "records"}
	rollupInsertAt = 5000
)

// write inserts the rollups. Their days must hold no rollups yet.
func (ru *rollups) write(ctx context.Context, l store.Loader) error {
	keys := make([]rollKey, 0, len(ru.att))
	for k := range ru.att {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rollKey) int {
		if a.day != b.day {
			return cmp.Compare(a.day, b.day)
		}
		for _, p := range [...][2]string{{a.loc, b.loc}, {a.assoc, b.assoc}, {a.currency, b.currency}, {a.tenant, b.tenant}, {a.sub, b.sub},
			{a.service, b.service}, {a.role, b.role}} {
			if c := strings.Compare(p[0], p[1]); c != 0 {
				return c
			}
		}
		return 0
	})
	type dayKey struct {
		day                  int64
		loc, assoc, currency string
	}
	type tenantKey struct {
		day    int64
		tenant string
	}
	var days, groups [][]any
	dayAt := map[dayKey]int{}
	tenants := map[tenantKey]*rollupSeg{}
	var group *rollupSeg
	groupLoc, groupDay, groupOrg := "", int64(0), ""
	endGroup := func() {
		if group != nil {
			groups = append(groups, []any{groupDay, groupLoc, groupOrg, group.encode()})
		}
		group = nil
	}
	for _, k := range keys {
		v := ru.att[k]
		dk := dayKey{k.day, k.loc, k.assoc, k.currency}
		if i, ok := dayAt[dk]; ok {
			row := days[i]
			row[5], row[6], row[7] = row[5].(int64)+v.amount, row[6].(int64)+v.orgAmount, row[7].(int64)+v.records
		} else {
			dayAt[dk] = len(days)
			days = append(days, []any{k.day, k.loc, k.org, k.assoc, k.currency, v.amount, v.orgAmount, v.records})
		}
		if group == nil || k.loc != groupLoc || k.day != groupDay {
			endGroup()
			group, groupLoc, groupDay, groupOrg = newRollupSeg(6, 3), k.loc, k.day, k.org
		}
		group.add([]string{k.assoc, k.tenant, k.sub, k.service, k.role, k.currency}, v.amount, v.orgAmount, v.records)
		tk := tenantKey{k.day, k.tenant}
		ts := tenants[tk]
		if ts == nil {
			ts = newRollupSeg(4, 2)
			tenants[tk] = ts
		}
		ts.add([]string{k.loc, k.assoc, k.role, k.currency}, v.amount, v.records)
	}
	endGroup()
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
		trows = append(trows, []any{k.day, k.tenant, tenants[k].encode()})
	}
	var incs [][]any
	for k, v := range ru.inc {
		incs = append(incs, []any{k.day, k.loc, k.org, k.program, k.currency, v.amount, v.records})
	}
	for _, t := range []struct {
		name string
		cols []string
		rows [][]any
	}{{"rollup_days", dayCols, days}, {"rollup_groups", groupCols, groups}, {"rollup_tenants", tenantCols, trows},
		{"rollup_incentives_daily", incRollupCols, incs}} {
		for lo := 0; lo < len(t.rows); lo += rollupInsertAt {
			if _, err := l.Insert(ctx, t.name, t.cols, t.rows[lo:min(lo+rollupInsertAt, len(t.rows))], false); err != nil {
				return err
			}
		}
	}
	return nil
}

// rollupTables are the tables of the rollups, all keyed by day.
var rollupTables = []string{"rollup_days", "rollup_groups", "rollup_tenants", "rollup_incentives_daily"}

// deleteRollups deletes the rollups of the days in [from, to).
func deleteRollups(ctx context.Context, l store.Loader, from, to int64) error {
	for _, t := range rollupTables {
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
	k, m int
	dict []string
	idx  map[string]uint64
	rows []byte
	n    int
}

func newRollupSeg(k, m int) *rollupSeg {
	return &rollupSeg{k: k, m: m, idx: map[string]uint64{}}
}

func (s *rollupSeg) add(strs []string, nums ...int64) {
	for _, v := range strs {
		i, ok := s.idx[v]
		if !ok {
			i = uint64(len(s.dict))
			s.dict = append(s.dict, v)
			s.idx[v] = i
		}
		s.rows = binary.AppendUvarint(s.rows, i)
	}
	for _, n := range nums {
		s.rows = binary.AppendVarint(s.rows, n)
	}
	s.n++
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
	return db.Load(ctx, func(l store.Loader) error { return ru.write(ctx, l) })
}

// WriteIncentiveRollups adds incentive sums (day, location, org, program, currency, amount,
// records) to the stored rollups (for tests and fixtures).
func WriteIncentiveRollups(ctx context.Context, db *store.DB, day int64, loc, org, program, currency string, amount, records int64) error {
	ru := newRollups(interner{})
	ru.inc[incKey{day, loc, org, program, currency}] = &incVal{amount, records}
	return db.Load(ctx, func(l store.Loader) error { return ru.write(ctx, l) })
}
