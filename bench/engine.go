package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/sqlref"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

var enginePhases = []phaseDef{
	{"engine-memory", "engine, usage already in memory, every row written out to a summing sink", true, phaseEngineMemory},
	{"engine-memory-sums", "engine, usage already in memory, totals only (ComputeSums)", true, phaseEngineMemorySums},
	{"engine-file", "engine streaming usage.csv (what-if run: estate from SQLite, nothing written)", true, phaseEngineFile},
	{"engine-sqlite", "engine end to end from usage stored in SQLite", true, func(ctx context.Context, c config) (*result, error) { return phaseEngineRun(ctx, c, sqlitePath(c)) }},
	{"engine-postgres", "engine end to end from usage stored in PostgreSQL", true, func(ctx context.Context, c config) (*result, error) { return phaseEngineRun(ctx, c, pgBenchDSN(c)) }},
	{"restate-sqlite", "restatement: the same period attributed again on SQLite, replacing the stored run (its inputs unchanged: every rollup segment is kept)", true, func(ctx context.Context, c config) (*result, error) { return phaseEngineRun(ctx, c, sqlitePath(c)) }},
	{"restate-postgres", "restatement: the same on PostgreSQL", true, func(ctx context.Context, c config) (*result, error) { return phaseEngineRun(ctx, c, pgBenchDSN(c)) }},
	{"restate-sqlite-all", "restatement on SQLite, every rollup segment written again as if each had changed (RewriteSegments: the worst case)", true, func(ctx context.Context, c config) (*result, error) {
		return phaseEngineRunWith(ctx, c, sqlitePath(c), true)
	}},
	{"restate-postgres-all", "restatement on PostgreSQL, every rollup segment written again (the same)", true, func(ctx context.Context, c config) (*result, error) {
		return phaseEngineRunWith(ctx, c, pgBenchDSN(c), true)
	}},
	{"postgres-1cpu", "engine end to end from PostgreSQL in one process limited to one CPU (GOMAXPROCS=1), the peer of the shards", true, func(ctx context.Context, c config) (*result, error) { return phaseShards(ctx, c, 1) }},
	{"shards-postgres", "the same run in 2 shards: 2 processes of one CPU each (GOMAXPROCS=1) against the same PostgreSQL, the last committing", true, func(ctx context.Context, c config) (*result, error) { return phaseShards(ctx, c, 2) }},
	{"rows-sqlite", "report attributions from SQLite: every stored row reproduced, sorted, written as CSV to a discarding writer", false, func(ctx context.Context, c config) (*result, error) { return phaseRows(ctx, c, sqlitePath(c)) }},
	{"rows-postgres", "report attributions from PostgreSQL (the same)", false, func(ctx context.Context, c config) (*result, error) { return phaseRows(ctx, c, pgBenchDSN(c)) }},
}

// phaseRows streams the period's stored attribution rows as `partnerlink report attributions`
// does (results.StoredRows into a CSV writer), to a writer that discards them. It needs a
// stored run of the period (an engine-* phase before it).
func phaseRows(ctx context.Context, c config, target string) (*result, error) {
	db, err := engines.Open(ctx, target)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	w, sc := period(c)
	settle()
	cpu0 := cpuSeconds()
	start := time.Now()
	tw, err := attribution.NewTableWriter(io.Discard, "csv", attribution.RowHeader)
	if err != nil {
		return nil, err
	}
	var n int64
	err = results.StoredRows(ctx, db, results.RowFilter{Period: w}, func(r *attribution.Row) error {
		n++
		return tw.WriteRow(r)
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	return &result{Seconds: secs, CPUSeconds: cpu, Rows: sc.UsageRows, Attrs: n,
		Note: fmt.Sprintf("%.0f attribution rows/s, %.0f per CPU second of this process", float64(n)/secs, float64(n)/cpu)}, nil
}

// importDataset imports dir/estate.json and dir/usage.csv and returns the usage rows read.
func importDataset(ctx context.Context, db *store.DB, dir string) (int64, error) {
	f, err := os.Open(filepath.Join(dir, "estate.json"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := estatefile.Import(ctx, db, f, "estate.json", estatefile.Options{AsOf: time.Now().UnixNano()}); err != nil {
		return 0, fmt.Errorf("estate import: %w", err)
	}
	imps, err := usage.ImportFiles(ctx, db, []string{filepath.Join(dir, "usage.csv")}, usage.ImportOptions{})
	if err != nil {
		return 0, fmt.Errorf("usage import: %w", err)
	}
	var n int64
	for _, i := range imps {
		n += i.RowsRead
	}
	return n, nil
}

// eligibleRoles decides eligibility in Go, with the engine's rule, for the SQL formulation.
func eligibleRoles(ctx context.Context, db *store.DB) ([]string, error) {
	snap, err := facts.Load(ctx, db, timeline.Always())
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, def := range snap.RoleDefinitions {
		if ok, _ := attribution.Eligible(def, snap.EligibilityOverrides); ok && !seen[def.ID] {
			seen[def.ID] = true
			ids = append(ids, def.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func phaseEngineRun(ctx context.Context, c config, target string) (*result, error) {
	return phaseEngineRunWith(ctx, c, target, false)
}

// phaseEngineRunWith is phaseEngineRun, with RewriteSegments as given.
func phaseEngineRunWith(ctx context.Context, c config, target string, rewrite bool) (*result, error) {
	db, err := engines.Open(ctx, target)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	w, sc := period(c)
	settle()
	defer usage.RunGC()() // as `attribute` runs
	cpu0 := cpuSeconds()
	start := time.Now()
	if _, err := results.Run(ctx, db, results.RunOptions{Period: w, RequestedBy: "bench", Now: time.Now, RewriteSegments: rewrite}); err != nil {
		return nil, err
	}
	r := &result{Seconds: time.Since(start).Seconds(), CPUSeconds: cpuSeconds() - cpu0, Rows: sc.UsageRows, Note: "CPU: this process, not the database server's"}
	r.Totals, err = storedTotals(ctx, db, w)
	for _, t := range r.Totals {
		r.Attrs += t.Rows
	}
	return r, err
}

// phaseEngineFile is a what-if run (attribution.Run with UsageFiles): the estate comes from
// the SQLite database, usage is streamed from the CSV and nothing is written. Its peak memory
// shows what the engine holds while usage streams through it.
func phaseEngineFile(ctx context.Context, c config) (*result, error) {
	db, err := engines.Open(ctx, sqlitePath(c))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	w, sc := period(c)
	start := time.Now()
	res, err := results.Run(ctx, db, results.RunOptions{Period: w, RequestedBy: "bench", Now: time.Now,
		UsageFiles: []string{filepath.Join(c.Dir, "usage.csv")}})
	if err != nil {
		return nil, err
	}
	r := &result{Seconds: time.Since(start).Seconds(), Rows: sc.UsageRows, Note: "includes parsing the CSV"}
	for loc, as := range res.Totals {
		for assoc, cs := range as {
			if strings.HasPrefix(assoc, "incentive:") {
				continue
			}
			for cur, amount := range cs {
				n, err := money.Parse(amount)
				if err != nil {
					return nil, err
				}
				r.Totals = append(r.Totals, sqlref.Total{LocationID: loc, Association: assoc, Currency: cur, Amount: int64(n)})
			}
		}
	}
	r.Attrs = res.Stats.Rows
	return r, nil
}

// storedTotals sums the stored daily rollups per location, association and currency.
func storedTotals(ctx context.Context, db *store.DB, w timeline.Window) ([]sqlref.Total, error) {
	tots, err := results.StoredTotals(ctx, db, w.From, w.To)
	if err != nil {
		return nil, err
	}
	out := make([]sqlref.Total, 0, len(tots))
	for _, t := range tots {
		out = append(out, sqlref.Total{LocationID: t.LocationID, Association: t.Association, Currency: t.Currency, Amount: t.Amount, Rows: t.Records})
	}
	return out, nil
}

// phaseEngineMemory loads the estate from the SQLite database and every usage row of the CSV
// into memory (not timed), then times attribution.Compute over the in-memory rows. The sink
// only adds up totals, so the measure is the engine itself.
func phaseEngineMemory(ctx context.Context, c config) (*result, error) {
	snap, recs, w, err := loadInMemory(ctx, c)
	if err != nil {
		return nil, err
	}
	var sums totals
	settle()
	cpu0 := cpuSeconds()
	start := time.Now()
	_, err = attribution.Compute(ctx, snap, nil, w, yieldAll(recs), func(_ *usage.Batch, _ int, rows []attribution.Row, incs []attribution.Incentive) error {
		for i := range rows {
			sums.add(&rows[i])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &result{Seconds: time.Since(start).Seconds(), CPUSeconds: cpuSeconds() - cpu0, Rows: countRows(recs), Note: "includes the usage rows held in memory"}
	res.Totals = sums.list()
	for _, t := range res.Totals {
		res.Attrs += t.Rows
	}
	return res, nil
}

// phaseEngineMemorySums is phaseEngineMemory with attribution.ComputeSums: every row's
// amount is computed, but added up in place instead of being written out.
func phaseEngineMemorySums(ctx context.Context, c config) (*result, error) {
	snap, recs, w, err := loadInMemory(ctx, c)
	if err != nil {
		return nil, err
	}
	settle()
	cpu0 := cpuSeconds()
	start := time.Now()
	_, sums, err := attribution.ComputeSums(ctx, snap, nil, w, yieldAll(recs))
	if err != nil {
		return nil, err
	}
	res := &result{Seconds: time.Since(start).Seconds(), CPUSeconds: cpuSeconds() - cpu0, Rows: countRows(recs), Note: "includes the usage rows held in memory"}
	for _, x := range sums {
		if strings.HasPrefix(x.Association, "incentive:") {
			continue // the SQL formulation's totals are attribution rows only
		}
		res.Totals = append(res.Totals, sqlref.Total{LocationID: x.LocationID, Association: x.Association, Currency: x.Currency, Amount: int64(x.Amount), Rows: x.Rows})
		res.Attrs += x.Rows
	}
	return res, nil
}

// settle collects the garbage of loading the usage before the clock starts: otherwise the
// collector's marking of the loader's heap runs on into the measured part and takes CPU from
// the engine.
func settle() { runtime.GC() }

// cpuSeconds is the user and system CPU time this process has used: on a shared machine it
// varies less than wall time with what else runs.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func yieldAll(batches []*usage.Batch) attribution.Usage {
	return func(yield func(*usage.Batch) error) error {
		for _, b := range batches {
			if err := yield(b); err != nil {
				return err
			}
		}
		return nil
	}
}

func countRows(batches []*usage.Batch) int64 {
	var n int64
	for _, b := range batches {
		n += int64(b.Len())
	}
	return n
}

// loadInMemory reads the estate and the stored usage from the SQLite database (the same
// import the end-to-end phases read). The rows are held as the engine takes them: by column,
// in the store's order (day, then subscription and resource), in batches of 65,536 that share
// one dictionary, so every string (subscription, resource, service, ...) is stored once.
func loadInMemory(ctx context.Context, c config) (*facts.Snapshot, []*usage.Batch, timeline.Window, error) {
	w, _ := period(c)
	db, err := engines.Open(ctx, sqlitePath(c))
	if err != nil {
		return nil, nil, w, err
	}
	defer db.Close()
	snap, err := facts.Load(ctx, db, w)
	if err != nil {
		return nil, nil, w, err
	}
	var batches []*usage.Batch
	bb := usage.NewBatchBuilder()
	var r usage.Record
	err = usage.Stream(ctx, db, w, func(b *usage.Batch) error {
		for i := 0; i < b.Len(); i++ {
			b.Record(i, &r)
			r.CostRaw = "" // the input text: the engine does not read it
			bb.Add(&r)
			if bb.Len() == 65536 {
				batches = append(batches, bb.Batch())
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, w, err
	}
	if bb.Len() > 0 {
		batches = append(batches, bb.Batch())
	}
	runtime.GC() // the reading's garbage is not the engine's
	return snap, batches, w, nil
}

// totals adds up attribution rows per location, association and currency. It is the sink of
// the in-memory measurement, so it keeps per row to one short map lookup, and none when a
// record's rows name the location of the row before.
type totals struct {
	idx     map[string]int
	byLoc   []*locTotals
	lastLoc string
	last    *locTotals
}

type locTotals struct {
	loc string
	t   []sqlref.Total // a few (association, currency) pairs
}

func (s *totals) add(r *attribution.Row) {
	if s.last == nil || r.LocationID != s.lastLoc {
		if s.idx == nil {
			s.idx = map[string]int{}
		}
		i, ok := s.idx[r.LocationID]
		if !ok {
			i = len(s.byLoc)
			s.idx[r.LocationID] = i
			s.byLoc = append(s.byLoc, &locTotals{loc: r.LocationID})
		}
		s.lastLoc, s.last = r.LocationID, s.byLoc[i]
	}
	lt := s.last
	for i := range lt.t {
		if t := &lt.t[i]; t.Association == r.Association && t.Currency == r.Currency {
			t.Amount += int64(r.Amount)
			t.Rows++
			return
		}
	}
	lt.t = append(lt.t, sqlref.Total{LocationID: r.LocationID, Association: r.Association, Currency: r.Currency, Amount: int64(r.Amount), Rows: 1})
}

// list returns the totals sorted by location, association and currency.
func (s *totals) list() []sqlref.Total {
	var out []sqlref.Total
	for _, lt := range s.byLoc {
		out = append(out, lt.t...)
	}
	sqlref.SortTotals(out)
	return out
}

// sqlPrograms hands the shipped program parameters to the SQL formulation.
func sqlPrograms() sqlref.Programs {
	p := attribution.DefaultPrograms()
	if len(p.PEC) == 0 || len(p.PAL) == 0 {
		return sqlref.DefaultPrograms
	}
	pec, pal := p.PEC[0], p.PAL[0]
	return sqlref.Programs{PEC: sqlref.RateOf(int64(pec.Rate)), PALSingle: sqlref.RateOf(int64(pal.RateSingle)),
		PALMulti: sqlref.RateOf(int64(pal.RateMulti)), PECVersion: pec.Version, PALVersion: pal.Version}
}

// phaseShards runs the period on PostgreSQL in n processes of one CPU each (n = 1: one
// unsharded process), timed from the first start to the last exit.
func phaseShards(ctx context.Context, c config, n int) (*result, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	group := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	start := time.Now()
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmd := exec.CommandContext(ctx, self, "-phase", "shard-worker", "-scale", c.Scale, "-seed", fmt.Sprint(c.Seed), "-dir", c.Dir, "-pg", c.PG)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1", fmt.Sprintf("PLBENCH_SHARD=%d/%d/%s", i, n, group))
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		cmds[i] = cmd
	}
	var maxRSS int64
	var cpu float64
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			return nil, fmt.Errorf("shard %d: %w", i, err)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			maxRSS = max(maxRSS, ru.Maxrss)
			cpu += float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
		}
	}
	secs := time.Since(start).Seconds()
	db, err := engines.Open(ctx, pgBenchDSN(c))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	w, sc := period(c)
	r := &result{Seconds: secs, CPUSeconds: cpu, Rows: sc.UsageRows,
		Note: fmt.Sprintf("%d process(es) of GOMAXPROCS=1, CPU summed over them (each process's CPU includes opening the database); largest peak RSS of one process %d MB", n, maxRSS/1024)}
	r.Totals, err = storedTotals(ctx, db, w)
	for _, t := range r.Totals {
		r.Attrs += t.Rows
	}
	return r, err
}

// phaseShardWorker is one process of phaseShards: PLBENCH_SHARD is INDEX/COUNT/GROUP (COUNT
// 1: an unsharded run).
func phaseShardWorker(ctx context.Context, c config) (*result, error) {
	var i, n int
	var group string
	if _, err := fmt.Sscanf(strings.ReplaceAll(os.Getenv("PLBENCH_SHARD"), "/", " "), "%d %d %s", &i, &n, &group); err != nil {
		return nil, fmt.Errorf("PLBENCH_SHARD %q: %w", os.Getenv("PLBENCH_SHARD"), err)
	}
	db, err := engines.Open(ctx, pgBenchDSN(c))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	w, _ := period(c)
	opts := results.RunOptions{Period: w, RequestedBy: "bench", Now: time.Now}
	if n > 1 {
		opts.Shard = &results.Shard{Group: group, Index: i, Count: n}
	}
	defer usage.RunGC()() // as `attribute` runs
	_, err = results.Run(ctx, db, opts)
	return &result{}, err
}
