package results

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRollups adds up a day of rows the shape of the bench scale's (records of a few
// services in many subscriptions, each credited to a dozen locations through four
// associations, the PAL ones with an incentive) and builds the rollup tables' rows, as a run
// does for each day:
//
//	go test -run '^$' -bench Rollups -count 6 ./internal/attribution/results/ > new.txt
//	benchstat old.txt new.txt
func BenchmarkRollups(b *testing.B) {
	const subs, services, perKey, locs = 400, 8, 6, 12
	assocs := []string{"PAL", "CSP", "DPOR", "CUA"}
	roles := []string{"Owner", "Contributor", ""}
	var locIDs []string
	for l := range locs {
		locIDs = append(locIDs, fmt.Sprint(4100000+l))
	}
	var records [][]Row
	var incentives [][]Incentive
	for s := range subs {
		tenant, sub := fmt.Sprintf("t-%03d", s/20), fmt.Sprintf("00000000-0000-0000-0000-%012d", s)
		// A subscription's records come resource by resource, each of one service: records of
		// one key (day, subscription, service, ...) are interleaved with the others'.
		for r := range perKey {
			for v := range services {
				var rows []Row
				// The locations credited vary with the record, as the resources' coverage does.
				for l := range locs - r%3 {
					rows = append(rows, Row{LocationID: locIDs[(l+s)%locs], OrgID: "4100000", Association: assocs[l%len(assocs)],
						AdminRole: roles[l%len(roles)], TenantID: tenant, SubscriptionID: sub, Service: fmt.Sprint("svc-", v),
						Currency: "USD", Provider: "microsoft", Start: h(2), End: h(3), Amount: 1_000_000})
				}
				records = append(records, rows)
				// Each PAL row's location earns an incentive on the record.
				var incs []Incentive
				for _, r := range rows {
					if r.Association == "PAL" {
						incs = append(incs, Incentive{LocationID: r.LocationID, OrgID: r.OrgID, Program: "pal-incentive", Start: r.Start,
							Currency: strings.Clone(r.Currency), Amount: 10_000})
					}
				}
				incentives = append(incentives, incs)
			}
		}
	}
	n := 0
	for _, rows := range records {
		n += len(rows)
	}
	b.ReportAllocs()
	for b.Loop() {
		ru := newRollups(interner{})
		for i, rows := range records {
			ru.record(rows)
			ru.incentives(incentives[i])
		}
		if ts := ru.tables(); len(ts[2].rows) != locs {
			b.Fatalf("%d location segments, not %d", len(ts[2].rows), locs)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}
