package results

import (
	"fmt"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/money"
	"pgregory.net/rapid"
)

// The rollups find a row's sum by hints (the last record's position, the sum after the
// previous row's) before scanning; records of a key whose rows change in number, order and
// content, keys that come back, and incentives that shift must still add up as a map would.
// Strings are built afresh for some rows, so that equal strings at other addresses compare
// equal too.
func TestRollupsAddUpAsAMapWould(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		fresh := func(s string) string { return strings.Clone(s) }
		locs := []string{"L1", "L2", "L3", "L12"}
		assocs := []string{"PAL", "CSP", "DPOR"}
		roles := []string{"", "Owner", "Contributor"}
		services := []string{"vm", "sql"}
		type rowKey struct{ day, tenant, sub, service, currency, provider, loc, org, assoc, role string }
		type incKeyT struct{ day, loc, org, program, currency string }
		type sums struct{ amount, orgAmount, records int64 }
		want := map[rowKey]sums{}
		wantInc := map[incKeyT]sums{}
		ru := newRollups(interner{})
		for r, n := 0, rapid.IntRange(1, 60).Draw(t, "records"); r < n; r++ {
			day := rapid.IntRange(0, 1).Draw(t, "day")
			sub := rapid.SampledFrom([]string{"s1", "s2"}).Draw(t, "sub")
			service := rapid.SampledFrom(services).Draw(t, "service")
			var rows []Row
			for k, m := 0, rapid.IntRange(1, 6).Draw(t, "rows"); k < m; k++ {
				row := Row{Start: h(24*day + 1), TenantID: "t1", SubscriptionID: sub, Service: service, Currency: "USD", Provider: "microsoft",
					LocationID: rapid.SampledFrom(locs).Draw(t, "loc"), Association: rapid.SampledFrom(assocs).Draw(t, "assoc"),
					AdminRole: rapid.SampledFrom(roles).Draw(t, "role"), Amount: money.Nanos(rapid.Int64Range(-1000, 1000).Draw(t, "amount")),
					DuplicateAtOrg: rapid.Bool().Draw(t, "dup")}
				row.OrgID = "O" + row.LocationID[1:2]
				if rapid.Bool().Draw(t, "fresh strings") {
					row.LocationID, row.OrgID, row.Association, row.AdminRole = fresh(row.LocationID), fresh(row.OrgID), fresh(row.Association), fresh(row.AdminRole)
				}
				rows = append(rows, row)
				k := rowKey{fmt.Sprint(floorDay(row.Start)), row.TenantID, row.SubscriptionID, row.Service, row.Currency, row.Provider,
					row.LocationID, row.OrgID, row.Association, row.AdminRole}
				s := want[k]
				s.amount += int64(row.Amount)
				if !row.DuplicateAtOrg {
					s.orgAmount += int64(row.Amount)
				}
				s.records++
				want[k] = s
			}
			ru.record(rows)
			var incs []Incentive
			for k, m := 0, rapid.IntRange(0, 3).Draw(t, "incentives"); k < m; k++ {
				x := Incentive{Start: h(24*day + 1), LocationID: rapid.SampledFrom(locs).Draw(t, "inc loc"), Program: rapid.SampledFrom([]string{"PEC", "PAL"}).Draw(t, "program"),
					Currency: "USD", Amount: money.Nanos(rapid.Int64Range(0, 100).Draw(t, "inc amount"))}
				x.OrgID = "O" + x.LocationID[1:2]
				incs = append(incs, x)
				k := incKeyT{fmt.Sprint(floorDay(x.Start)), x.LocationID, x.OrgID, x.Program, x.Currency}
				s := wantInc[k]
				s.amount += int64(x.Amount)
				s.records++
				wantInc[k] = s
			}
			ru.incentives(incs)
		}
		got := map[rowKey]sums{}
		for _, vs := range ru.keys {
			k := vs.key
			for _, v := range vs.vals {
				rk := rowKey{fmt.Sprint(k.day), k.tenant, k.sub, k.service, k.currency, k.provider, v.loc, v.org, v.assoc, v.role}
				if _, dup := got[rk]; dup {
					t.Fatalf("%v is summed twice", rk)
				}
				got[rk] = sums{v.amount, v.orgAmount, v.records}
			}
		}
		if len(ru.keys) != len(ru.recs) {
			t.Fatalf("%d keys in order, %d in the map", len(ru.keys), len(ru.recs))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("rollups:\n%v\nwant:\n%v", got, want)
		}
		gotInc := map[incKeyT]sums{}
		for k, v := range ru.inc {
			gotInc[incKeyT{fmt.Sprint(k.day), k.loc, k.org, k.program, k.currency}] = sums{v.amount, 0, v.records}
		}
		if fmt.Sprint(gotInc) != fmt.Sprint(wantInc) {
			t.Fatalf("incentive rollups:\n%v\nwant:\n%v", gotInc, wantInc)
		}
	})
}
