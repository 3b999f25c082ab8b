package estatefile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"testing"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
)

// BenchmarkImportBenchEstate imports the benchmark-scale synthetic estate (100,000 role
// assignments) into a fresh database per iteration and reports entities/s and peak heap.
//
//	go test ./internal/estatefile -run XXX -bench ImportBenchEstate -benchtime 1x
func BenchmarkImportBenchEstate(b *testing.B) { benchImport(b, synth.Bench) }

// BenchmarkImportMillionAssignments is the size: the bench estate with 1,000,000 role
// assignments.
func BenchmarkImportMillionAssignments(b *testing.B) {
	sc := synth.Bench
	sc.RoleAssignments = 1_000_000
	benchImport(b, sc)
}

func benchImport(b *testing.B, sc synth.Scale) {
	var buf bytes.Buffer
	if err := synth.Generate(1, sc).WriteEstate(&buf); err != nil {
		b.Fatal(err)
	}
	var f estatefile.File
	json.Unmarshal(buf.Bytes(), &f)
	entities := len(f.Partners) + len(f.Tenants) + len(f.Subscriptions) + len(f.Principals) + len(f.RoleDefinitions) +
		len(f.RoleAssignments) + len(f.Delegations) + len(f.Links) + len(f.TrackingIDs) + len(f.Deployments)
	for _, engine := range []string{store.SQLite, store.Postgres} {
		b.Run(engine, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db := storetest.SQLite(b)
				if engine == store.Postgres {
					db = storetest.Postgres(b)
				}
				runtime.GC()
				b.StartTimer()
				if _, err := estatefile.Import(context.Background(), db, bytes.NewReader(buf.Bytes()), "bench.json", estatefile.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(entities)*float64(b.N)/b.Elapsed().Seconds(), "entities/s")
			b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapMiB")
		})
	}
}
