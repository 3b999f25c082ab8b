// Command usage measures usage ingestion: the standard library splitting a FOCUS CSV, the
// parser on the CSV and on the same records as Parquet, and imports of both into SQLite and
// PostgreSQL. See ../README.md.
//
// Each phase runs in its own process (this binary re-executed with -phase), so that its peak
// memory (maximum resident set size) is its own.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
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

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/partnerlink/partnerlink/bench/internal/heapprof"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// phases, in the order they run. raw always runs: the others are compared with it.
var phases = []string{"raw", "parse", "parse-parquet", "sqlite", "sqlite-parquet", "postgres", "postgres-parquet"}

func main() {
	rows := flag.Int("rows", 1_000_000, "rows in the generated FOCUS file")
	dir := flag.String("dir", os.TempDir(), "directory for the generated files and the SQLite database")
	pg := flag.String("postgres", os.Getenv("PARTNERLINK_TEST_POSTGRES"), "PostgreSQL DSN of a scratch database for the postgres phases (their usage tables are emptied; empty: skip them)")
	only := flag.String("only", "", "comma-separated phases to run (raw always runs): "+strings.Join(phases, ","))
	profile := flag.String("cpuprofile", "", "write each phase's CPU profile to this path with -PHASE.pprof appended")
	heap := flag.String("heapprofile", "", "write each phase's heap profile at its largest live heap (read every 50 ms) to this path with -PHASE.heap appended")
	phase := flag.String("phase", "", "internal: run one phase in this process")
	file := flag.String("file", "", "internal: the file a -phase reads")
	flag.Parse()
	ctx := context.Background()
	var err error
	switch *phase {
	case "generate":
		if err = writeCSV(*file, *rows); err == nil {
			err = writeParquet(*file, strings.TrimSuffix(*file, ".csv")+".parquet")
		}
	case "":
		err = runAll(ctx, *rows, *dir, *pg, *profile, *heap, *only)
	default:
		stop := func() error { return nil }
		if *heap != "" {
			stop = heapprof.Start(*heap + "-" + *phase + ".heap")
		}
		err = runPhase(ctx, *phase, *file, *dir, *pg, *profile)
		if herr := stop(); err == nil {
			err = herr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench usage:", err)
		os.Exit(1)
	}
}

type result struct {
	phase string
	rows  int64
	secs  float64
	cpu   float64 // user and system seconds of the whole phase process (on a shared machine, steadier than wall time)
	rssKB int64
}

func runAll(ctx context.Context, rows int, dir, pg, profile, heap, only string) error {
	csvPath := filepath.Join(dir, fmt.Sprintf("partnerlink-bench-focus-%d.csv", rows))
	pqPath := strings.TrimSuffix(csvPath, ".csv") + ".parquet"
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if _, err := os.Stat(pqPath); err != nil {
		// In a child process: a child's peak RSS counts what its parent held when it started.
		fmt.Fprintf(os.Stderr, "generating %s and the same records as %s ...\n", csvPath, pqPath)
		cmd := exec.CommandContext(ctx, exe, "-phase", "generate", "-file", csvPath, "-rows", strconv.Itoa(rows))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("generating the files: %w", err)
		}
	}
	var run []string
	for _, ph := range phases {
		switch {
		case ph == "raw":
		case strings.HasPrefix(ph, "postgres") && pg == "":
			continue
		case only != "" && !slices.Contains(strings.Split(only, ","), ph):
			continue
		}
		run = append(run, ph)
	}
	var results []result
	for _, ph := range run {
		file := csvPath
		if strings.HasSuffix(ph, "-parquet") {
			file = pqPath
		}
		cmd := exec.CommandContext(ctx, exe, "-phase", ph, "-file", file, "-postgres", pg, "-dir", dir, "-cpuprofile", profile, "-heapprofile", heap)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("phase %s: %w", ph, err)
		}
		r := result{phase: ph}
		if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%d %g", &r.rows, &r.secs); err != nil {
			return fmt.Errorf("phase %s printed %q", ph, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rssKB = ru.Maxrss
		}
		r.cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		results = append(results, r)
	}
	size := func(p string) float64 { st, _ := os.Stat(p); return float64(st.Size()) / (1 << 20) }
	fmt.Printf("files: %s (%.0f MiB), %s (%.0f MiB), %d rows\n", csvPath, size(csvPath), pqPath, size(pqPath), rows)
	rate, cpu := map[string]float64{}, map[string]float64{}
	for _, r := range results {
		rate[r.phase], cpu[r.phase] = float64(r.rows)/r.secs, r.cpu
	}
	// Parquet vs CSV: rows/s of the Parquet phase ÷ rows/s of its CSV peer, by wall time and by
	// CPU time (the CSV phase's CPU seconds ÷ the Parquet phase's).
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trows\tseconds\trows/s\tCPU s\tpeak RSS MiB\tvs raw\tParquet vs CSV (wall, CPU)\t")
	for _, r := range results {
		vsCSV := ""
		if base, ok := strings.CutSuffix(r.phase, "-parquet"); ok && rate[base] > 0 {
			vsCSV = fmt.Sprintf("%.2f, %.2f", rate[r.phase]/rate[base], cpu[base]/cpu[r.phase])
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.1f\t%.0f\t%.2f\t%s\t\n", r.phase, r.rows, r.secs, rate[r.phase], r.cpu,
			float64(r.rssKB)/1024, rate[r.phase]/rate["raw"], vsCSV)
	}
	return tw.Flush()
}

// runPhase runs one phase and prints "rows seconds".
func runPhase(ctx context.Context, phase, file, dir, pg, profile string) error {
	if phase != "raw" {
		engine := store.SQLite // and for parsing alone
		if strings.HasPrefix(phase, "postgres") {
			engine = store.Postgres
		}
		defer usage.BulkGC(engine)() // as `import usage` runs
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
	began := time.Now()
	var n int64
	var err error
	switch phase {
	case "raw":
		n, err = rawSplit(file)
	case "parse", "parse-parquet":
		err = usage.ReadFiles(ctx, []string{file}, usage.ReadOptions{}, func(*usage.Record) error { n++; return nil })
	case "sqlite", "sqlite-parquet", "postgres", "postgres-parquet":
		dsn := pg
		if strings.HasPrefix(phase, "sqlite") {
			dsn = filepath.Join(dir, "partnerlink-bench-usage.db")
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(dsn + suffix)
			}
		}
		var db *store.DB
		if db, err = engines.Open(ctx, dsn); err != nil {
			return err
		}
		defer db.Close()
		if strings.HasPrefix(phase, "postgres") {
			if _, err := db.ExecContext(ctx, `TRUNCATE usage_segments, usage_keys`); err != nil {
				return err
			}
		}
		began = time.Now()
		var imps []*usage.Import
		imps, err = usage.ImportFiles(ctx, db, []string{file}, usage.ImportOptions{})
		var se *store.Error
		if errors.As(err, &se) && se.Cause() != nil {
			// A benchmark is for whoever tunes the engine: show the driver's own words too.
			return fmt.Errorf("%w (%v)", err, se.Cause())
		}
		if err == nil {
			n = imps[0].RowsAdded
		}
	default:
		return fmt.Errorf("unknown phase %q", phase)
	}
	if err != nil {
		return err
	}
	fmt.Println(strconv.FormatInt(n, 10), time.Since(began).Seconds())
	return nil
}

// rawSplit is the standard library reading and splitting the CSV into fields: the limit the
// parser is compared with.
func rawSplit(file string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	cr.ReuseRecord = true
	var n int64
	for {
		if _, err := cr.Read(); err == io.EOF {
			return n - 1, nil // the header
		} else if err != nil {
			return 0, err
		}
		n++
	}
}

func writeCSV(path string, rows int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := usage.GenerateFOCUS(f, rows, 42); err != nil {
		return err
	}
	return f.Close()
}

// focusRow is the generated file's columns as FOCUS exporters write Parquet: amounts as
// DECIMAL, times as TIMESTAMP, tags as a MAP, strings dictionary-encoded but for those with a
// value on nearly every row (resource IDs and names, meter IDs), which writers store plain once
// their dictionary outgrows its page.
type focusRow struct {
	BilledCost        int64             `parquet:"BilledCost,decimal(6:18)"`
	BillingAccountID  string            `parquet:"BillingAccountId,dict"`
	BillingCurrency   string            `parquet:"BillingCurrency,dict"`
	ChargeCategory    string            `parquet:"ChargeCategory,dict"`
	ChargeDescription string            `parquet:"ChargeDescription,dict"`
	ChargePeriodEnd   int64             `parquet:"ChargePeriodEnd,timestamp(microsecond:utc)"`
	ChargePeriodStart int64             `parquet:"ChargePeriodStart,timestamp(microsecond:utc)"`
	CommitmentID      *string           `parquet:"CommitmentDiscountId,optional,dict"`
	EffectiveCost     int64             `parquet:"EffectiveCost,decimal(6:18)"`
	PricingCategory   string            `parquet:"PricingCategory,dict"`
	ProviderName      string            `parquet:"ProviderName,dict"`
	PublisherName     string            `parquet:"PublisherName,dict"`
	RegionID          string            `parquet:"RegionId,dict"`
	ResourceID        string            `parquet:"ResourceId"`
	ResourceName      string            `parquet:"ResourceName"`
	ServiceCategory   string            `parquet:"ServiceCategory,dict"`
	ServiceName       string            `parquet:"ServiceName,dict"`
	SkuID             string            `parquet:"SkuId,dict"`
	SubAccountID      string            `parquet:"SubAccountId,dict"`
	SubAccountName    string            `parquet:"SubAccountName,dict"`
	Tags              map[string]string `parquet:"Tags"`
	SkuMeterID        string            `parquet:"x_SkuMeterId"`
}

// writeParquet writes the records of the generated CSV as Parquet, in row groups of 122,880
// rows (DuckDB's; exporters write row groups of tens to hundreds of thousands of rows).
func writeParquet(csvPath, path string) error {
	in, err := os.Open(csvPath)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	bw := bufio.NewWriterSize(out, 1<<20)
	w := parquet.NewGenericWriter[focusRow](bw, parquet.Compression(&snappy.Codec{}), parquet.MaxRowsPerRowGroup(122880))
	cr := csv.NewReader(bufio.NewReaderSize(in, 1<<20))
	header, err := cr.Read()
	if err != nil {
		return err
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	micro := func(s string) int64 {
		t, _ := time.Parse(time.RFC3339, s)
		return t.UnixMicro()
	}
	micros := func(s string) int64 { // DECIMAL(18, 6): the amount in millionths
		n, _ := money.Parse(s)
		return int64(n) / 1000
	}
	buf := make([]focusRow, 0, 4096)
	for {
		f, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		r := focusRow{BilledCost: micros(f[col["BilledCost"]]), BillingAccountID: f[col["BillingAccountId"]],
			BillingCurrency: f[col["BillingCurrency"]], ChargeCategory: f[col["ChargeCategory"]],
			ChargeDescription: f[col["ChargeDescription"]], ChargePeriodEnd: micro(f[col["ChargePeriodEnd"]]),
			ChargePeriodStart: micro(f[col["ChargePeriodStart"]]), EffectiveCost: micros(f[col["EffectiveCost"]]),
			PricingCategory: f[col["PricingCategory"]], ProviderName: f[col["ProviderName"]], PublisherName: f[col["PublisherName"]],
			RegionID: f[col["RegionId"]], ResourceID: f[col["ResourceId"]], ResourceName: f[col["ResourceName"]],
			ServiceCategory: f[col["ServiceCategory"]], ServiceName: f[col["ServiceName"]], SkuID: f[col["SkuId"]],
			SubAccountID: f[col["SubAccountId"]], SubAccountName: f[col["SubAccountName"]], SkuMeterID: f[col["x_SkuMeterId"]],
			Tags: map[string]string{"env": "prod"}}
		if c := f[col["CommitmentDiscountId"]]; c != "" {
			r.CommitmentID = &c
		}
		if buf = append(buf, r); len(buf) == cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if _, err := w.Write(buf); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return out.Close()
}
