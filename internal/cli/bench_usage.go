package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/usage"
)

func newBenchUsageCmd(app *App) *cobra.Command {
	var rows int
	var dir, pg, phase, file, profile string
	var only []string
	c := &cobra.Command{
		Use:   "usage",
		Short: "Measure usage ingestion: raw CSV split, parse, import into SQLite and PostgreSQL",
		Long: `Generates a FOCUS file of --rows rows (kept in --dir), then measures, each in its own process
so that peak memory (max RSS) is per phase:
  raw       the standard library reading and splitting the file into fields, no conversion
  parse     partnerlink's reader: mapping, exact money, keys (no storage)
  sqlite    import into a fresh SQLite database
  postgres  import into a fresh PostgreSQL database (with --postgres DSN)
and prints rows/s, peak memory and the parse/raw ratio.`,
		Example: "  partnerlink bench usage --rows 1000000\n" +
			"  partnerlink bench usage --rows 10000000 --postgres postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if phase != "" {
				return benchUsagePhase(cmd.Context(), app, phase, file, pg, profile)
			}
			return benchUsage(cmd.Context(), app, rows, dir, pg, profile, only)
		},
	}
	f := c.Flags()
	f.IntVar(&rows, "rows", 1_000_000, "rows in the generated FOCUS file")
	f.StringVar(&dir, "dir", os.TempDir(), "directory for the generated file and databases")
	f.StringVar(&pg, "postgres", os.Getenv("PARTNERLINK_TEST_POSTGRES"), "PostgreSQL DSN for the postgres phase (empty: skip it)")
	f.StringVar(&profile, "cpuprofile", "", "write each phase's CPU profile to this path with -PHASE.pprof appended")
	f.StringSliceVar(&only, "only", nil, "run only these phases (raw is always run: the others are compared with it)")
	f.StringVar(&phase, "phase", "", "run one phase in this process (used by the benchmark itself)")
	f.StringVar(&file, "file", "", "the file a --phase reads")
	f.MarkHidden("phase")
	f.MarkHidden("file")
	return c
}

type benchResult struct {
	phase string
	rows  int64
	secs  float64
	rssKB int64
}

func benchUsage(ctx context.Context, app *App, rows int, dir, pg, profile string, only []string) error {
	path := filepath.Join(dir, fmt.Sprintf("partnerlink-bench-focus-%d.csv", rows))
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(app.Stderr, "generating %s ...\n", path)
		if err := writeBenchFile(path, rows); err != nil {
			return err
		}
	}
	st, _ := os.Stat(path)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	phases := []string{"raw", "parse", "sqlite"}
	if pg != "" {
		phases = append(phases, "postgres")
	}
	if len(only) > 0 {
		keep := []string{"raw"}
		for _, ph := range phases[1:] {
			if slices.Contains(only, ph) {
				keep = append(keep, ph)
			}
		}
		phases = keep
	}
	var results []benchResult
	for _, ph := range phases {
		cmd := exec.CommandContext(ctx, exe, "bench", "usage", "--phase", ph, "--file", path, "--postgres", pg, "--dir", dir,
			"--cpuprofile", profile)
		cmd.Stderr = app.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("phase %s: %w", ph, err)
		}
		var r benchResult
		r.phase = ph
		if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%d %g", &r.rows, &r.secs); err != nil {
			return fmt.Errorf("phase %s printed %q", ph, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rssKB = ru.Maxrss
		}
		results = append(results, r)
	}
	fmt.Fprintf(app.Stdout, "file: %s (%d rows, %.0f MiB)\n", path, rows, float64(st.Size())/(1<<20))
	tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trows\tseconds\trows/s\tpeak RSS MiB\tvs raw\t")
	raw := results[0].rows
	rawRate := float64(raw) / results[0].secs
	for _, r := range results {
		rate := float64(r.rows) / r.secs
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.0f\t%.2f\t\n", r.phase, r.rows, r.secs, rate, float64(r.rssKB)/1024, rate/rawRate)
	}
	return tw.Flush()
}

// benchUsagePhase runs one phase and prints "rows seconds".
func benchUsagePhase(ctx context.Context, app *App, phase, file, pg, profile string) error {
	if phase != "raw" {
		defer bulkGC()() // as `import usage` runs
	}
	if profile != "" {
		pf, err := os.Create(profile + "-" + phase + ".pprof")
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	began := time.Now()
	var n int64
	switch phase {
	case "raw":
		cr := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
		cr.ReuseRecord = true
		for {
			_, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			n++
		}
		n-- // header
	case "parse":
		err = usage.ReadFiles(ctx, []string{file}, usage.ReadOptions{}, func(*usage.Record) error { n++; return nil })
	case "sqlite", "postgres":
		dsn := filepath.Join(filepath.Dir(file), "partnerlink-bench.db")
		if phase == "postgres" {
			dsn = pg
		} else {
			os.Remove(dsn)
			os.Remove(dsn + "-wal")
			os.Remove(dsn + "-shm")
		}
		db, err := engines.Open(ctx, dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		if phase == "postgres" {
			if _, err := db.ExecContext(ctx, `TRUNCATE usage_segments, usage_keys`); err != nil {
				return err
			}
		}
		began = time.Now()
		imps, err := usage.ImportFiles(ctx, db, []string{file}, usage.ImportOptions{})
		var se *store.Error
		if errors.As(err, &se) && se.Cause() != nil {
			// A benchmark is for whoever tunes the engine: show the driver's own words too.
			return fmt.Errorf("%w (%v)", err, se.Cause())
		}
		if err != nil {
			return err
		}
		n = imps[0].RowsAdded
	default:
		return fmt.Errorf("unknown phase %q", phase)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(app.Stdout, strconv.FormatInt(n, 10), time.Since(began).Seconds())
	return nil
}

func writeBenchFile(path string, rows int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := usage.GenerateFOCUS(w, rows, 42); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
