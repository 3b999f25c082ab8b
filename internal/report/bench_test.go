package report

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The benchmark rollup follows the bench scale of internal/synth (4,000 subscriptions spread
// over 50 partner locations): the measured location holds 80 subscriptions × 3 services ×
// 365 days of two associations (175,200 daily rows, the density a busy partner has after a
// year), and 49 other locations of the same organisation add 60 rows a day each, so the
// indexed range scan has real neighbours to skip.
const (
	benchSubs     = 80
	benchServices = 3
	benchDays     = 365
	benchOthers   = 49
)

func seedBenchRollup(b *testing.B, db *store.DB) {
	ctx := context.Background()
	exec(b, db, `INSERT INTO partner_orgs (id, name) VALUES ('BO', 'Bench Org')`)
	exec(b, db, `INSERT INTO partner_locations (id, org_id, name) VALUES ('B0', 'BO', 'Bench 0')`)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	services := []string{"Virtual Machines", "Storage", "SQL Database"}
	var rows []results.RollupRow
	for d := 0; d < benchDays; d++ {
		day := start.AddDate(0, 0, d).UnixNano()
		for s := 0; s < benchSubs; s++ {
			sub := fmt.Sprintf("00000000-0000-0000-0000-%012d", s)
			tenant := fmt.Sprintf("t-%03d", s%20)
			for v, svc := range services {
				assoc, role := "PAL", "Owner"
				if s%4 == 0 {
					assoc, role = "CSP", ""
				}
				n := int64(1_000_000_000 + s*1000 + v)
				rows = append(rows, results.RollupRow{Day: day, LocationID: "B0", OrgID: "BO", Association: assoc, TenantID: tenant, SubscriptionID: sub,
					Service: svc, AdminRole: role, Currency: "EUR", Amount: n, OrgAmount: n, Records: 3})
				if s%8 == 0 {
					rows = append(rows, results.RollupRow{Day: day, LocationID: "B0", OrgID: "BO", Association: "DPOR", TenantID: tenant, SubscriptionID: sub,
						Service: svc, Currency: "EUR", Amount: n, Records: 3})
				}
			}
		}
		for o := 1; o <= benchOthers; o++ {
			for k := 0; k < 60; k++ {
				rows = append(rows, results.RollupRow{Day: day, LocationID: fmt.Sprintf("B%d", o), OrgID: "BX", Association: "PAL", TenantID: "t-x",
					SubscriptionID: fmt.Sprintf("s-%d", k), Service: "Storage", AdminRole: "Reader", Currency: "EUR", Amount: 5, OrgAmount: 5, Records: 1})
			}
		}
	}
	if err := results.WriteRollups(ctx, db, rows); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPartnerReport12Months measures a 12-month partner report of one location.
// Run: go test -run '^$' -bench PartnerReport -benchtime 20x ./internal/report/
func BenchmarkPartnerReport12Months(b *testing.B) {
	for _, eng := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{store.SQLite, storetest.SQLite}, {store.Postgres, storetest.Postgres}} {
		b.Run(eng.name, func(b *testing.B) {
			db := eng.open(b)
			seedBenchRollup(b, db)
			if db.Engine() == store.Postgres {
				// The steady state autovacuum reaches: statistics and a visibility map, so index-only
				// scans need not visit the heap.
				exec(b, db, `VACUUM ANALYZE`)
			}
			w := timeline.Window{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
			b.ResetTimer()
			for b.Loop() {
				p, err := PartnerReport(context.Background(), db, PartnerQuery{PartnerID: "B0", Period: w})
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Months) != 36 {
					b.Fatalf("months = %d", len(p.Months))
				}
			}
		})
	}
}
