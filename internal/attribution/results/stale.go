package results

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/partnerlink/partnerlink/internal/store"
)

// A run that replaces a period used to delete the period's rollup segments and write them all
// again. Most of a month's rollups are often the same bytes again (a restatement after a late
// fact changes the locations and tenants it touches), and on PostgreSQL deleting a month of
// segments (hundreds of megabytes stored out of line) took about 0.8 s of the server's CPU at
// the bench scale, on the cores the run uses, besides writing them again. So the segments of the days a run replaces are listed
// first with a hash of their bytes (stale), a segment computed again with the same hash is
// left where it is, one whose bytes differ is deleted and written again, and those the run
// does not compute again are deleted once it has written all of its own (stale.drop). The
// small rollup tables (a few numbers per row) are still cleared and written whole.

// segHash is the hash a rollup segment is stored with (rollup_groups.data_hash and
// rollup_tenants.data_hash, migration 0750).
func segHash(data []byte) int64 { return int64(xxhash.Sum64(data)) }

// segTable is a rollup table of segments: its name and the column naming a segment's owner.
type segTable struct{ name, owner string }

var segTables = [...]segTable{{"rollup_groups", "location_id"}, {"rollup_tenants", "tenant_id"}}

type staleKey struct {
	table int // in segTables
	owner string
	day   int64
}

// stale is the stored rollup segments of the days a run replaces, with their hashes (a
// segment stored before migration 0750 has none and is never taken as unchanged).
type stale map[staleKey]sql.NullInt64

// loadStale lists the rollup segments of the days in [from, to).
func loadStale(ctx context.Context, l store.Loader, from, to int64) (stale, error) {
	st := stale{}
	for i, t := range segTables {
		err := l.Query(ctx, `SELECT `+t.owner+`, day, data_hash FROM `+t.name+` WHERE day >= $1 AND day < $2`, []any{from, to},
			func(scan func(...any) error) error {
				k := staleKey{table: i}
				var h sql.NullInt64
				if err := scan(&k.owner, &k.day, &h); err != nil {
					return err
				}
				st[k] = h
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return st, nil
}

// keep removes from rows (of segment table i: day, owner, ..., data_hash last) those stored
// already with the same hash, and deletes the stored segments that rows replace. Every row
// it sees leaves st.
func (st stale) keep(ctx context.Context, l store.Loader, i int, rows [][]any) ([][]any, error) {
	if st == nil {
		return rows, nil
	}
	out := rows[:0:0]
	var replaced []staleKey
	for _, r := range rows {
		k := staleKey{table: i, owner: r[1].(string), day: r[0].(int64)}
		h, ok := st[k]
		if ok {
			delete(st, k)
			if h.Valid && h.Int64 == r[len(r)-1].(int64) {
				continue
			}
			replaced = append(replaced, k)
		}
		out = append(out, r)
	}
	return out, deleteSegs(ctx, l, replaced)
}

// drop deletes the stored segments no row has replaced or kept.
func (st stale) drop(ctx context.Context, l store.Loader) error {
	keys := make([]staleKey, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	clear(st)
	return deleteSegs(ctx, l, keys)
}

// deleteSegs deletes the segments keys names, a day and table at a time.
func deleteSegs(ctx context.Context, l store.Loader, keys []staleKey) error {
	slices.SortFunc(keys, func(a, b staleKey) int {
		return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.day, b.day), strings.Compare(a.owner, b.owner))
	})
	const at = 400 // owners per statement, as store's inserts bound their variables
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && hi-lo < at && keys[hi].table == keys[lo].table && keys[hi].day == keys[lo].day {
			hi++
		}
		t := segTables[keys[lo].table]
		var q strings.Builder
		q.WriteString(`DELETE FROM ` + t.name + ` WHERE day = $1 AND ` + t.owner + ` IN (`)
		args := []any{keys[lo].day}
		for j, k := range keys[lo:hi] {
			if j > 0 {
				q.WriteString(", ")
			}
			args = append(args, k.owner)
			q.WriteString("$" + strconv.Itoa(len(args)))
		}
		q.WriteString(")")
		if _, err := l.Exec(ctx, q.String(), args...); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}
