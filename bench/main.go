// Command bench measures the attribution engine against the SQL formulation of the same rules
// on PostgreSQL and DuckDB, on a synthetic dataset. See README.md.
//
// Each measurement runs in a child process (this binary re-executed with -phase), so that its
// peak memory (maximum resident set size) is its own.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/partnerlink/partnerlink/bench/internal/heapprof"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/sqlref"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

type config struct {
	Scale, Dir, PG, Only string
	Seed                 int64
	// Profile, when set, is a directory where each phase writes its CPU profile
	// (PHASE.cpu) for go tool pprof.
	Profile string
	// HeapProfile, when set, is a directory where each phase writes the heap profile of
	// its largest live heap (PHASE.heap).
	HeapProfile string
}

// result is what a phase reports to the parent.
type result struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	// CPUSeconds is the CPU time of the measured part (engine phases in memory only).
	CPUSeconds float64        `json:"cpuSeconds,omitempty"`
	Rows       int64          `json:"rows"` // usage rows processed
	MaxRSSKB   int64          `json:"maxRssKB"`
	Totals     []sqlref.Total `json:"totals,omitempty"`
	Note       string         `json:"note,omitempty"`
	Attrs      int64          `json:"attributionRows,omitempty"`
}

func main() {
	var c config
	phase := flag.String("phase", "", "internal: run one measurement and print its JSON result")
	flag.StringVar(&c.Scale, "scale", "bench", "dataset scale: tiny, small, demo, bench, a fraction such as bench/10, with optional ,rows=N")
	flag.Int64Var(&c.Seed, "seed", 1, "synthetic dataset seed")
	flag.StringVar(&c.Dir, "dir", filepath.Join(os.TempDir(), "partnerlink-bench"), "work directory (dataset files, SQLite and DuckDB databases)")
	flag.StringVar(&c.PG, "pg", envOr("PARTNERLINK_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"PostgreSQL server DSN; the benchmark creates and uses the database partnerlink_bench on it")
	flag.StringVar(&c.Only, "only", "", "comma-separated phases to run (default all): "+strings.Join(phaseNames(), ","))
	flag.StringVar(&c.Profile, "cpuprofile", "", "directory to write each phase's CPU profile to (PHASE.cpu)")
	flag.StringVar(&c.HeapProfile, "heapprofile", "", "directory to write each phase's heap profile at its largest live heap to (PHASE.heap)")
	flag.Parse()
	ctx := context.Background()
	if *phase != "" {
		stop, err := startProfile(c.Profile, *phase)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", *phase, err)
			os.Exit(1)
		}
		stopHeap, err := startHeapProfile(c.HeapProfile, *phase)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", *phase, err)
			os.Exit(1)
		}
		r, err := runPhase(ctx, c, *phase)
		stop()
		if herr := stopHeap(); err == nil {
			err = herr
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", *phase, err)
			os.Exit(1)
		}
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		r.MaxRSSKB = ru.Maxrss
		r.Name = *phase
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := orchestrate(ctx, c); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

type phaseDef struct {
	name, title string
	compare     bool // its totals must equal the others'
	fn          func(ctx context.Context, c config) (*result, error)
}

var phases []phaseDef

func init() {
	phases = []phaseDef{
		{"generate", "generate estate.json + usage.csv", false, phaseGenerate},
		{"import-sqlite", "import estate + usage into SQLite", false, func(ctx context.Context, c config) (*result, error) { return phaseImport(ctx, c, sqlitePath(c)) }},
		{"import-postgres", "import estate + usage into PostgreSQL", false, func(ctx context.Context, c config) (*result, error) { return phaseImport(ctx, c, pgBenchDSN(c)) }},
	}
	phases = append(phases, enginePhases...)
	phases = append(phases, auditPhases...)
	phases = append(phases,
		phaseDef{"sql-postgres", "SQL formulation, PostgreSQL (indexes, ANALYZE, parallel)", true, phaseSQLPostgres},
		phaseDef{"sql-duckdb", "SQL formulation, DuckDB", true, phaseSQLDuckDB},
	)
	phases = append(phases, expertPhases...)
}

func phaseNames() []string {
	var n []string
	for _, p := range phases {
		n = append(n, p.name)
	}
	return n
}

func sqlitePath(c config) string { return filepath.Join(c.Dir, "bench.db") }

func pgBenchDSN(c config) string {
	u, err := url.Parse(c.PG)
	if err != nil {
		return c.PG
	}
	u.Path = "/" + pgBenchName()
	return u.String()
}

func period(c config) (timeline.Window, synth.Scale) {
	sc, _ := synth.ParseScale(c.Scale)
	from := timeline.Nanos(synth.PeriodStart)
	return timeline.Window{From: from, To: from + int64(sc.Days)*int64(24*time.Hour)}, sc
}

func phaseGenerate(ctx context.Context, c config) (*result, error) {
	sc, err := synth.ParseScale(c.Scale)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	start := time.Now()
	d := synth.Generate(c.Seed, sc)
	for _, out := range []struct {
		name string
		fn   func(io.Writer) error
	}{{"estate.json", d.WriteEstate}, {"usage.csv", d.WriteUsage}} {
		name, fn := out.name, out.fn
		f, err := os.Create(filepath.Join(c.Dir, name))
		if err != nil {
			return nil, err
		}
		if err := fn(f); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return &result{Seconds: time.Since(start).Seconds(), Rows: sc.UsageRows}, nil
}

// pgBenchName is the benchmark's database: partnerlink_bench, or $PARTNERLINK_BENCH_PGDB (so that
// two benchmarks on one shared server do not drop each other's database).
func pgBenchName() string { return envOr("PARTNERLINK_BENCH_PGDB", "partnerlink_bench") }

// resetPostgres drops and creates the benchmark database.
func resetPostgres(ctx context.Context, c config) error {
	db, err := sql.Open("pgx", c.PG)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pgBenchName()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("resetting %s on %s: %w", pgBenchName(), c.PG, err)
	}
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+pgBenchName())
	return err
}

func phaseImport(ctx context.Context, c config, target string) (*result, error) {
	if strings.HasPrefix(target, "postgres") {
		if err := resetPostgres(ctx, c); err != nil {
			return nil, err
		}
	} else {
		os.Remove(target)
	}
	db, err := engines.Open(ctx, target)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	start := time.Now()
	rows, err := importDataset(ctx, db, c.Dir)
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	// The SQL formulation reads usage as a plain table, as a data team's warehouse holds it:
	// fill it now, untimed, so the SQL phases find it ready (partnerlink stores segments).
	w, _ := period(c)
	if _, err := sqlref.LoadUsage(ctx, db, w); err != nil {
		return nil, err
	}
	return &result{Seconds: secs, Rows: rows, Note: "then (untimed) usage copied into sqlref_usage for the SQL phases"}, nil
}

// openTunedPostgres opens the bench's PostgreSQL database with the tuning a data team would
// do for the SQL phases: indexes on the join keys and fresh statistics.
func openTunedPostgres(ctx context.Context, c config) (*store.DB, error) {
	db, err := engines.Open(ctx, pgBenchDSN(c))
	if err != nil {
		return nil, err
	}
	for _, s := range []string{
		"CREATE INDEX IF NOT EXISTS bench_ra_scope ON role_assignments (tenant_id, principal_id)",
		"CREATE INDEX IF NOT EXISTS bench_gm_member ON group_memberships (tenant_id, member_id)",
		"CREATE INDEX IF NOT EXISTS bench_ls_principal ON link_spans (tenant_id, object_id)",
		"CREATE INDEX IF NOT EXISTS bench_dep_resource ON deployments (resource_key)",
		"CREATE INDEX IF NOT EXISTS bench_dpor_sub ON subscription_dpor (subscription_id)",
		"ANALYZE",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	return db, nil
}

func phaseSQLPostgres(ctx context.Context, c config) (*result, error) {
	db, err := openTunedPostgres(ctx, c)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return runSQL(ctx, c, db.DB, "postgres", db, false, "SET max_parallel_workers_per_gather = 2; SET work_mem = '256MB'")
}

func phaseSQLDuckDB(ctx context.Context, c config) (*result, error) {
	src, err := engines.Open(ctx, sqlitePath(c))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	path := filepath.Join(c.Dir, "bench.duckdb")
	os.Remove(path)
	os.Remove(path + ".wal")
	duck, err := copyToDuckDB(ctx, src.DB, path)
	if err != nil {
		return nil, err
	}
	defer duck.Close()
	// Both cores, and a memory limit that leaves room for the rest of a shared machine:
	// DuckDB spills what does not fit to its temporary directory.
	// Day by day: the whole month's query spilled more than 30 GB at the bench scale.
	return runSQL(ctx, c, duck, "duckdb", src, true, "SET threads = 2; SET memory_limit = '8GB'; SET preserve_insertion_order = false; SET temp_directory = '"+filepath.Join(c.Dir, "duckdb.tmp")+"'")
}

// runSQL times sqlref.Totals on db. Eligibility is decided from the roles in meta (a store
// with the estate), as the engine decides it.
func runSQL(ctx context.Context, c config, db *sql.DB, dialect string, meta *store.DB, byDay bool, setup string) (*result, error) {
	w, sc := period(c)
	elig, err := eligibleRoles(ctx, meta)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	for _, s := range strings.Split(setup, ";") {
		if strings.TrimSpace(s) != "" {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return nil, err
			}
		}
	}
	start := time.Now()
	tot, err := sqlref.Totals(ctx, conn, sqlref.Dialect(dialect), sqlref.Options{Period: w, Eligible: elig, Programs: sqlPrograms(), ByDay: byDay})
	if err != nil {
		return nil, err
	}
	note := "database server memory not included"
	if byDay {
		note = "one query per day of the period, totals added up; " + note
	}
	r := &result{Seconds: time.Since(start).Seconds(), Rows: sc.UsageRows, Totals: tot, Note: note}
	for _, t := range tot {
		r.Attrs += t.Rows
	}
	return r, nil
}

func orchestrate(ctx context.Context, c config) error {
	if _, err := synth.ParseScale(c.Scale); err != nil {
		return err
	}
	only := map[string]bool{}
	for _, s := range strings.Split(c.Only, ",") {
		if s != "" {
			only[s] = true
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("partnerlink benchmark: scale %s, seed %d, %d CPUs, %s/%s, %s\n", c.Scale, c.Seed, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, cpuModel())
	var results []*result
	var titles = map[string]string{}
	var compare []*result
	for _, p := range phases {
		if len(only) > 0 && !only[p.name] {
			continue
		}
		titles[p.name] = p.title
		fmt.Printf("  %-18s ... ", p.name)
		cmd := exec.CommandContext(ctx, self, "-phase", p.name, "-scale", c.Scale, "-seed", fmt.Sprint(c.Seed), "-dir", c.Dir, "-pg", c.PG,
			"-cpuprofile", c.Profile, "-heapprofile", c.HeapProfile)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("phase %s failed: %w", p.name, err)
		}
		var r result
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			return fmt.Errorf("phase %s printed %q: %w", p.name, out.String(), err)
		}
		cpu := ""
		if r.CPUSeconds > 0 {
			cpu = fmt.Sprintf(" (CPU %.2f s)", r.CPUSeconds)
		}
		fmt.Printf("%8.2f s%s, peak RSS %6d MB\n", r.Seconds, cpu, r.MaxRSSKB/1024)
		if r.Note != "" {
			fmt.Printf("      %s\n", r.Note)
		}
		results = append(results, &r)
		if p.compare {
			compare = append(compare, &r)
			if err := saveResult(c, &r); err != nil {
				return err
			}
		}
	}
	// Phases measured by earlier runs on the same dataset (-only) are compared too.
	earlier, err := savedResults(c, compare)
	if err != nil {
		return err
	}
	if err := checkTotals(append(compare, earlier...)); err != nil {
		return err
	}
	printTable(results, titles, compare)
	return nil
}

// resultPath is where a phase's result (with its totals) is kept in the work directory, per
// scale and seed, so that a later run with -only can compare against it.
func resultPath(c config, phase string) string {
	return filepath.Join(c.Dir, "results", fmt.Sprintf("%s.seed%d.%s.json", strings.ReplaceAll(c.Scale, "/", "_"), c.Seed, phase))
}

func saveResult(c config, r *result) error {
	if err := os.MkdirAll(filepath.Join(c.Dir, "results"), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(resultPath(c, r.Name), b, 0o644)
}

// savedResults loads the saved results of compared phases that this run did not measure.
func savedResults(c config, measured []*result) ([]*result, error) {
	done := map[string]bool{}
	for _, r := range measured {
		done[r.Name] = true
	}
	var out []*result
	for _, p := range phases {
		if !p.compare || done[p.name] {
			continue
		}
		b, err := os.ReadFile(resultPath(c, p.name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", resultPath(c, p.name), err)
		}
		r.Name += " (earlier run)"
		out = append(out, &r)
	}
	return out, nil
}

// checkTotals fails loudly when two measurements disagree on any total.
func checkTotals(rs []*result) error {
	if len(rs) < 2 {
		return nil
	}
	key := func(t sqlref.Total) string { return t.LocationID + " " + t.Association + " " + t.Currency }
	base := map[string]int64{}
	for _, t := range rs[0].Totals {
		base[key(t)] = t.Amount
	}
	var bad []string
	for _, r := range rs[1:] {
		got := map[string]int64{}
		for _, t := range r.Totals {
			got[key(t)] = t.Amount
		}
		for k, v := range base {
			if got[k] != v {
				bad = append(bad, fmt.Sprintf("%s: %s has %s, %s has %s", k, rs[0].Name, money.Nanos(v), r.Name, money.Nanos(got[k])))
			}
		}
		for k, v := range got {
			if _, ok := base[k]; !ok {
				bad = append(bad, fmt.Sprintf("%s: %s has nothing, %s has %s", k, rs[0].Name, r.Name, money.Nanos(v)))
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("... and %d more", len(bad)-20))
		}
		return fmt.Errorf("RESULTS DIFFER between implementations (totals per location, association, currency):\n  %s", strings.Join(bad, "\n  "))
	}
	fmt.Printf("  totals agree: %d (location, association, currency) totals identical across %d implementations\n", len(rs[0].Totals), len(rs))
	return nil
}

func printTable(rs []*result, titles map[string]string, compare []*result) {
	// Ratios are against both in-memory engine measurements: every row written out to a
	// sink (engine-memory) and totals only (engine-memory-sums, the same output as the SQL).
	refs := map[string]*result{}
	for _, r := range rs {
		if r.Name == "engine-memory" || r.Name == "engine-memory-sums" {
			refs[r.Name] = r
		}
	}
	ratio := func(r *result, name string) string {
		ref := refs[name]
		if ref == nil || ref.Seconds <= 0 || r == ref {
			return ""
		}
		return fmt.Sprintf("%.1f", r.Seconds/ref.Seconds)
	}
	fmt.Println()
	fmt.Println("| measurement | seconds | CPU s | usage rows/s | attribution rows | peak RSS (MB) | time ÷ engine-memory | time ÷ engine-memory-sums |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		rate := ""
		if r.Seconds > 0 && r.Rows > 0 {
			rate = fmt.Sprintf("%.0f", float64(r.Rows)/r.Seconds)
		}
		attrs := ""
		if r.Attrs > 0 {
			attrs = fmt.Sprint(r.Attrs)
		}
		cpu := ""
		if r.CPUSeconds > 0 {
			cpu = fmt.Sprintf("%.2f", r.CPUSeconds)
		}
		fmt.Printf("| %s (%s) | %.2f | %s | %s | %s | %d | %s | %s |\n", r.Name, titles[r.Name], r.Seconds, cpu, rate, attrs, r.MaxRSSKB/1024,
			ratio(r, "engine-memory"), ratio(r, "engine-memory-sums"))
	}
	// A restatement is compared with the engine-* phase of its engine in this run: the first
	// run when the databases were imported in this run too.
	first := map[string]*result{}
	for _, r := range rs {
		first[r.Name] = r
	}
	for _, r := range rs {
		db, ok := strings.CutPrefix(r.Name, "restate-")
		f := first["engine-"+strings.TrimSuffix(db, "-all")]
		if ok && f != nil && f.Seconds > 0 {
			fmt.Printf("\n%s ÷ %s: %.2f", r.Name, f.Name, r.Seconds/f.Seconds)
		}
	}
	fmt.Println()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

// startProfile starts a CPU profile of the phase in dir (nothing when dir is empty) and
// returns the function that stops it.
func startProfile(dir, phase string) (func(), error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, phase+".cpu"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// startHeapProfile keeps the heap profile of the phase's largest live heap in dir/PHASE.heap
// (nothing when dir is empty).
func startHeapProfile(dir, phase string) (func() error, error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return heapprof.Start(filepath.Join(dir, phase+".heap")), nil
}

func runPhase(ctx context.Context, c config, name string) (*result, error) {
	if name == "shard-worker" {
		return phaseShardWorker(ctx, c)
	}
	for _, p := range phases {
		if p.name == name {
			return p.fn(ctx, c)
		}
	}
	return nil, fmt.Errorf("unknown phase %q; phases: %s", name, strings.Join(phaseNames(), ", "))
}
