package table_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/store/table"
)

var (
	tenants = &table.Table{Name: "tenants", Key: []string{"id"}, Values: []string{"name"}}
	groups  = &table.Table{Name: "management_groups", Key: []string{"tenant_id", "id"}, Values: []string{"parent_id"}, Windowed: true}
)

// rows lists t's rows as Rows gives them, one string each.
func rows(t *testing.T, db *store.DB, tb *table.Table) []string {
	t.Helper()
	var out []string
	if err := tb.Rows(context.Background(), db, func(cols []string, from, to int64) error {
		out = append(out, fmt.Sprint(cols, from, to))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// The generic reads and writes, through both kinds of Loader: an ordinary transaction's
// (TxLoad) and a bulk load's.
func TestTableReadsAndWrites(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if empty, err := tenants.Empty(ctx, db); err != nil || !empty {
			t.Fatalf("Empty = %v, %v on a fresh database", empty, err)
		}
		err := db.TxLoad(ctx, func(_ store.Querier, ld store.Loader) error {
			if err := tenants.Upsert(ctx, ld, "t2", "Fabrikam"); err != nil {
				return err
			}
			if err := tenants.Upsert(ctx, ld, "t1", "Contoso"); err != nil {
				return err
			}
			if err := tenants.Upsert(ctx, ld, "t1", "Contoso Ltd"); err != nil { // replaces the value
				return err
			}
			n, err := tenants.Insert(ctx, ld, [][]any{{"t1", "dup"}, {"t3", "Northwind"}}, true) // skips t1
			if n != 1 {
				return fmt.Errorf("Insert skipping conflicts inserted %d rows, want 1", n)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rows(t, db, tenants), []string{"[t1 Contoso Ltd] 0 0", "[t2 Fabrikam] 0 0", "[t3 Northwind] 0 0"}; !slices.Equal(got, want) {
			t.Fatalf("tenants = %v, want %v (in key order)", got, want)
		}
		err = db.Load(ctx, func(ld store.Loader) error {
			if _, err := groups.Insert(ctx, ld, [][]any{{"t1", "mg", "", int64(20), int64(30)}, {"t1", "mg", "root", int64(10), int64(20)}, {"t2", "mg", "", int64(5), int64(40)}}, false); err != nil {
				return err
			}
			return groups.Delete(ctx, ld, []string{"t2", "mg"})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rows(t, db, groups), []string{"[t1 mg root] 10 20", "[t1 mg ] 20 30"}; !slices.Equal(got, want) {
			t.Fatalf("management groups = %v, want %v (versions in the order of their start, t2's deleted)", got, want)
		}
		if empty, err := groups.Empty(ctx, db); err != nil || empty {
			t.Fatalf("Empty = %v, %v with rows", empty, err)
		}
	})
}
