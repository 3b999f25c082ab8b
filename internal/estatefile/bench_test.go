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
// assignments) into a fresh database and reports entities/s and peak memory per engine, and
// the same for its peer (peer_test.go): the rows the import wrote, loaded into a fresh database
// by the engine's plain bulk path, without partnerlink.
//
//	go test ./internal/estatefile -run XXX -bench ImportBenchEstate -benchtime 1x
//
// Each import runs in a child process (this test binary, running BenchmarkImportChild) so that
// peakRSS-MiB is the operating system's peak resident set size (VmHWM in /proc/self/status) of a
// process that does nothing but open the database and import the file: not the harness's
// generated file, not earlier imports. entities/s counts the file's entities (imports.rows_read)
// over the time of estatefile.Import alone, measured in the child.
//
// Each peer runs in a child process too, after the import of the same iteration, and its
// entities/s is the same entity count over its own time, so vs-peer-MODE (import entities/s
// over peer entities/s, the peer's time over the import's) is the import's speed as a ratio
// to the database's in the same run: above 1 the import is faster than the peer. The peer
// modes are "plain" (indexes in place) and "deferred" (secondary indexes built after the
// load); PARTNERLINK_BENCH_PEER=deferred (or plain, or none) runs only those.
// loadavg-at-start is the one-minute load average when the engine's runs began.
func BenchmarkImportBenchEstate(b *testing.B) { benchImport(b, synth.Bench) }

// BenchmarkImportMillionAssignments is the size: the bench estate with 1,000,000 role
// assignments (about 1.5 million entities, a 540 MB file).
func BenchmarkImportMillionAssignments(b *testing.B) {
	sc := synth.Bench
	sc.RoleAssignments = 1_000_000
	benchImport(b, sc)
}

const (
	childEnv = "PARTNERLINK_BENCH_IMPORT_CHILD" // engine and file of a child import
	dumpEnv  = "PARTNERLINK_BENCH_PEER_DUMP"    // directory a child import dumps the peer's rows to
	peerEnv  = "PARTNERLINK_BENCH_PEER_CHILD"   // engine, mode and directory of a peer child
)

func benchImport(b *testing.B, sc synth.Scale) {
	dir := b.TempDir()
	path := filepath.Join(dir, "estate.json")
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
	modes := []string{"plain", "deferred"}
	if m, ok := os.LookupEnv("PARTNERLINK_BENCH_PEER"); ok {
		modes = strings.FieldsFunc(m, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
		if len(modes) == 1 && modes[0] == "none" {
			modes = nil
		}
	}
	peerDir := filepath.Join(dir, "peer")
	for _, engine := range []string{store.SQLite, store.Postgres} {
		b.Run(engine, func(b *testing.B) {
			if engine == store.Postgres {
				storetest.PostgresDSN(b) // skips without a server
			}
			load := loadAverage() // the machine may be shared: say how busy it was
			var entities int64
			var seconds, peak float64
			peerSeconds, peerPeak := map[string]float64{}, map[string]float64{}
			for b.Loop() {
				env := []string{childEnv + "=" + engine + ":" + path}
				if _, err := os.Stat(filepath.Join(peerDir, "manifest.tsv")); err != nil && len(modes) > 0 {
					env = append(env, dumpEnv+"="+peerDir) // the first import of the run dumps its rows
				}
				out := runChild(b, env...)
				i := strings.Index(out, "IMPORTED ")
				if i < 0 {
					b.Fatalf("child import printed no result:\n%s", out)
				}
				var s float64
				if _, err := fmt.Sscanf(out[i:], "IMPORTED %d entities in %g s", &entities, &s); err != nil {
					b.Fatalf("child import result: %v\n%s", err, out)
				}
				seconds += s
				peak = max(peak, vmHWM(out))
				for _, mode := range modes {
					out := runChild(b, peerEnv+"="+engine+":"+mode+":"+peerDir)
					i := strings.Index(out, "PEER ")
					var rows int64
					var s float64
					if i < 0 {
						b.Fatalf("peer child printed no result:\n%s", out)
					}
					if _, err := fmt.Sscanf(out[i:], "PEER %d rows in %g s", &rows, &s); err != nil {
						b.Fatalf("peer child result: %v\n%s", err, out)
					}
					peerSeconds[mode] += s
					peerPeak[mode] = max(peerPeak[mode], vmHWM(out))
				}
			}
			b.ReportMetric(load, "loadavg-at-start")
			b.ReportMetric(float64(entities)*float64(b.N)/seconds, "entities/s")
			b.ReportMetric(peak, "peakRSS-MiB")
			for _, mode := range modes {
				b.ReportMetric(float64(entities)*float64(b.N)/peerSeconds[mode], "peer-"+mode+"-entities/s")
				b.ReportMetric(peerPeak[mode], "peer-"+mode+"-peakRSS-MiB")
				b.ReportMetric(peerSeconds[mode]/seconds, "vs-peer-"+mode)
			}
		})
	}
}

// runChild runs this test binary's BenchmarkImportChild with env added and returns its output.
func runChild(b *testing.B, env ...string) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkImportChild$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child %v: %v\n%s", env, err, out)
	}
	return string(out)
}

// loadAverage is the one-minute load average (0 where /proc/loadavg is missing).
func loadAverage() float64 {
	var l float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscanf(string(b), "%g", &l)
	}
	return l
}

// vmHWM reads the VmHWM line a child printed, in MiB.
func vmHWM(out string) float64 {
	var hwm float64
	if j := strings.Index(out, "VmHWM:"); j >= 0 {
		fmt.Sscanf(out[j+len("VmHWM:"):], "%g", &hwm)
	}
	return hwm / 1024
}

// BenchmarkImportChild is the child process of the import benchmarks (a benchmark, so that a
// test run never lists it): an import, or a peer load; run alone, it skips.
func BenchmarkImportChild(b *testing.B) {
	if spec := os.Getenv(peerEnv); spec != "" {
		peerChild(b, spec)
		return
	}
	spec := os.Getenv(childEnv)
	if spec == "" {
		b.Skip("only run by BenchmarkImportBenchEstate and BenchmarkImportMillionAssignments")
	}
	engine, path, _ := strings.Cut(spec, ":")
	db := openChildDB(b, engine)
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
	printVmHWM(b)
	if dir := os.Getenv(dumpEnv); dir != "" {
		if err := dumpForPeer(context.Background(), db, dir); err != nil {
			b.Fatal(err)
		}
	}
}

// peerChild loads the dumped rows into a fresh database (engine:mode:dir) as the peer does.
func peerChild(b *testing.B, spec string) {
	engine, rest, _ := strings.Cut(spec, ":")
	mode, dir, _ := strings.Cut(rest, ":")
	db := openChildDB(b, engine)
	runtime.GC()
	elapsed, rows, err := peerLoad(context.Background(), db, dir, mode)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("PEER %d rows in %g s\n", rows, elapsed.Seconds())
	printVmHWM(b)
}

func openChildDB(b *testing.B, engine string) *store.DB {
	if engine == store.Postgres {
		return storetest.Postgres(b)
	}
	return storetest.SQLite(b)
}

// printVmHWM prints this process's peak RSS since exec (getrusage's ru_maxrss would include
// the parent's, which a child inherits across fork and exec).
func printVmHWM(b *testing.B) {
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
