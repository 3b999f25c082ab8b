package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/sqlref"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
)

// The expert SQL phases: internal/sqlref's expert formulation (coverage intervals computed once
// into tables, then usage joined to them in one query over the period), totals only and with
// every attribution row written into a table (the SQL path's end to end).
var expertPhases = []phaseDef{
	{"sql-postgres-expert", "expert SQL, PostgreSQL, totals", true, func(ctx context.Context, c config) (*result, error) { return phaseExpertPostgres(ctx, c, false) }},
	{"sql-postgres-expert-rows", "expert SQL, PostgreSQL, rows into a table", true, func(ctx context.Context, c config) (*result, error) { return phaseExpertPostgres(ctx, c, true) }},
	{"sql-duckdb-expert", "expert SQL, DuckDB, totals", true, func(ctx context.Context, c config) (*result, error) { return phaseExpertDuckDB(ctx, c, false) }},
	{"sql-duckdb-expert-rows", "expert SQL, DuckDB, rows into a table", true, func(ctx context.Context, c config) (*result, error) { return phaseExpertDuckDB(ctx, c, true) }},
}

func phaseExpertPostgres(ctx context.Context, c config, rows bool) (*result, error) {
	db, err := openTunedPostgres(ctx, c)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// jit off: the plan of each statement holds the whole WITH clause, and with JIT on,
	// PostgreSQL compiled about 600 functions for each (13 s of a 9-row coverage table).
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return nil, err
	}
	r, err := runExpert(ctx, c, conn, "postgres", db, rows, "SET max_parallel_workers_per_gather = 2; SET work_mem = '256MB'; SET jit = off",
		func() float64 { return procCPU(pid) })
	if r != nil {
		r.Note += "; CPU: the server's backend (leader) process, parallel workers not included"
	}
	return r, err
}

func phaseExpertDuckDB(ctx context.Context, c config, rows bool) (*result, error) {
	src, err := engines.Open(ctx, sqlitePath(c))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	path := filepath.Join(c.Dir, "bench-expert.duckdb")
	os.Remove(path)
	os.Remove(path + ".wal")
	duck, err := copyToDuckDB(ctx, src.DB, path)
	if err != nil {
		return nil, err
	}
	defer duck.Close()
	conn, err := duck.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r, err := runExpert(ctx, c, conn, "duckdb", src, rows, "SET threads = 2; SET memory_limit = '8GB'; SET preserve_insertion_order = false; SET temp_directory = '"+filepath.Join(c.Dir, "duckdb.tmp")+"'",
		cpuSeconds)
	if r != nil {
		r.Note += "; CPU: this process (DuckDB runs in it)"
	}
	return r, err
}

// runExpert times the expert formulation on conn: coverage tables, then totals, or the rows
// written into xp_attribution (their totals then read, untimed, for the comparison).
func runExpert(ctx context.Context, c config, conn *sql.Conn, dialect string, meta *store.DB, rows bool, setup string, cpu func() float64) (*result, error) {
	w, sc := period(c)
	elig, err := eligibleRoles(ctx, meta)
	if err != nil {
		return nil, err
	}
	for _, s := range strings.Split(setup, ";") {
		if strings.TrimSpace(s) != "" {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return nil, err
			}
		}
	}
	var steps []string
	o := sqlref.Options{Period: w, Eligible: elig, Programs: sqlPrograms(), Trace: func(step string, took time.Duration) {
		if !strings.HasPrefix(step, "DROP") {
			steps = append(steps, fmt.Sprintf("%s %.2f s", step, took.Seconds()))
		}
	}}
	defer func() { fmt.Fprintf(os.Stderr, "      %s steps: %s\n", dialect, strings.Join(steps, "; ")) }()
	cpu0 := cpu()
	start := time.Now()
	var tot []sqlref.Total
	note := "coverage tables, then one query over the period; database server memory not included"
	if rows {
		n, err := sqlref.ExpertRows(ctx, conn, sqlref.Dialect(dialect), o, "xp_attribution")
		if err != nil {
			return nil, err
		}
		secs, cpus := time.Since(start).Seconds(), cpu()-cpu0
		if tot, err = sqlref.TableTotals(ctx, conn, "xp_attribution"); err != nil {
			return nil, err
		}
		note = fmt.Sprintf("coverage tables, then %d attribution rows written into xp_attribution (totals read after, untimed); database server memory not included", n)
		return &result{Seconds: secs, CPUSeconds: cpus, Rows: sc.UsageRows, Totals: tot, Note: note, Attrs: n}, nil
	}
	if tot, err = sqlref.ExpertTotals(ctx, conn, sqlref.Dialect(dialect), o); err != nil {
		return nil, err
	}
	r := &result{Seconds: time.Since(start).Seconds(), CPUSeconds: cpu() - cpu0, Rows: sc.UsageRows, Totals: tot, Note: note}
	for _, t := range tot {
		r.Attrs += t.Rows
	}
	return r, nil
}

// procCPU is the CPU seconds (user + system) of process pid so far, from /proc (0 if unreadable:
// the server is not on this machine).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100 // USER_HZ
}
