package estatefile_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
)

// BenchmarkImportBenchEstate imports the benchmark-scale synthetic estate (100,000 role
// assignments) into a fresh database and reports entities/s and peak memory per engine.
//
//	go test ./internal/estatefile -run XXX -bench ImportBenchEstate -benchtime 1x
//
// Each import runs in a child process (this test binary, running BenchmarkImportChild) so that
// peakRSS-MiB is the operating system's peak resident set size (VmHWM in /proc/self/status) of a
// process that does nothing but open the database and import the file: not the harness's
// generated file, not earlier imports. entities/s counts the file's entities (imports.rows_read)
// over the time of estatefile.Import alone, measured in the child.
func BenchmarkImportBenchEstate(b *testing.B) { benchImport(b, synth.Bench) }

// BenchmarkImportMillionAssignments is the size: the bench estate with 1,000,000 role
// assignments (about 1.5 million entities, a 540 MB file).
func BenchmarkImportMillionAssignments(b *testing.B) {
	sc := synth.Bench
	sc.RoleAssignments = 1_000_000
	benchImport(b, sc)
}

const childEnv = "PARTNERLINK_BENCH_IMPORT_CHILD" // engine and file of a child import

func benchImport(b *testing.B, sc synth.Scale) {
	path := filepath.Join(b.TempDir(), "estate.json")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := synth.Generate(1, sc).WriteEstate(w); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for _, engine := range []string{store.SQLite, store.Postgres} {
		b.Run(engine, func(b *testing.B) {
			if engine == store.Postgres {
				storetest.PostgresDSN(b) // skips without a server
			}
			var entities int64
			var seconds, peak float64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkImportChild$", "-test.benchtime=1x")
				cmd.Env = append(os.Environ(), childEnv+"="+engine+":"+path)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child import: %v\n%s", err, out)
				}
				i := strings.Index(string(out), "IMPORTED ")
				if i < 0 {
					b.Fatalf("child import printed no result:\n%s", out)
				}
				var s float64
				if _, err := fmt.Sscanf(string(out[i:]), "IMPORTED %d entities in %g s", &entities, &s); err != nil {
					b.Fatalf("child import result: %v\n%s", err, out)
				}
				seconds += s
				var hwm float64
				if j := strings.Index(string(out), "VmHWM:"); j >= 0 {
					fmt.Sscanf(string(out[j+len("VmHWM:"):]), "%g", &hwm)
				}
				peak = max(peak, hwm/1024)
			}
			b.ReportMetric(float64(entities)*float64(b.N)/seconds, "entities/s")
			b.ReportMetric(peak, "peakRSS-MiB")
		})
	}
}

// BenchmarkImportChild is the child process of the import benchmarks (a benchmark, so that a
// test run never lists it); run alone, it skips.
func BenchmarkImportChild(b *testing.B) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		b.Skip("only run by BenchmarkImportBenchEstate and BenchmarkImportMillionAssignments")
	}
	engine, path, _ := strings.Cut(spec, ":")
	db := storetest.SQLite(b)
	if engine == store.Postgres {
		db = storetest.Postgres(b)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	start := time.Now()
	if _, err := estatefile.Import(context.Background(), db, f, "bench.json", estatefile.Options{}); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	var n int64
	if err := db.QueryRowContext(context.Background(), `SELECT rows_read FROM imports`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("IMPORTED %d entities in %g s\n", n, elapsed.Seconds())
	// Peak RSS of this process's memory since exec (getrusage's ru_maxrss would include the
	// parent's, which a child inherits across fork and exec).
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Println(line)
		}
	}
}
