package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/usage"
)

func addUsageCommands(app *App, p Parents) {
	p.Import.AddCommand(newImportUsageCmd(app))
	p.Export.AddCommand(newExportUsageCmd(app))
}

func newImportUsageCmd(app *App) *cobra.Command {
	var opts usage.ImportOptions
	var rejects string
	c := &cobra.Command{
		Use:   "usage FILE...",
		Short: "Import usage from FinOps FOCUS or Azure cost-details CSV (plain or gzip), idempotently",
		Long: `Import usage records. Each file is imported whole or not at all: by default a file with any bad
row imports nothing and every bad row is listed with its line, column and reason. With
--skip-bad the good rows go in and each bad row is written, as it was, to the --rejects file
with its line and reason. Records already stored (same record key) are counted as duplicates,
so importing a file twice adds nothing.`,
		Example: "  partnerlink import usage focus-2026-03.csv.gz\n" +
			"  partnerlink import usage --format azure-cost --measure effective amortized.csv\n" +
			"  partnerlink import usage --skip-bad --rejects bad-rows.csv export.csv",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Validate(); err != nil {
				return UsageError{err}
			}
			if opts.SkipBad != (rejects != "") {
				return UsageError{fmt.Errorf("--skip-bad and --rejects FILE go together, so that no bad row is lost")}
			}
			defer bulkGC()()
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if rejects != "" {
				f, err := os.Create(rejects)
				if err != nil {
					return UsageError{fmt.Errorf("--rejects: %w", err)}
				}
				defer f.Close()
				opts.Rejects = f
			}
			opts.Now = app.Now
			for _, path := range args {
				st, err := os.Stat(path)
				if err != nil {
					return fmt.Errorf("usage file: %w", err)
				}
				bar := app.newProgress(st.Size(), filepath.Base(path))
				o := opts
				if bar != nil {
					o.Progress = func(rows, bytes int64) { _ = bar.Set64(bytes) }
				}
				began := time.Now()
				imps, err := usage.ImportFiles(cmd.Context(), db, []string{path}, o)
				if bar != nil {
					_ = bar.Finish()
				}
				if err != nil {
					return err
				}
				imp := imps[0]
				secs := time.Since(began).Seconds()
				fmt.Fprintf(app.Stdout, "%s: %s, %d rows read, %d added, %d duplicate, %d rejected (%.0f rows/s), import %s\n",
					imp.File, imp.Format, imp.RowsRead, imp.RowsAdded, imp.RowsDuplicate, imp.RowsRejected,
					float64(imp.RowsRead)/max(secs, 1e-9), imp.ID)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opts.Format, "format", "", "focus or azure-cost (default: detected from the header)")
	f.StringVar(&opts.Measure, "measure", "billed", "the cost attributed: billed (BilledCost) or effective (EffectiveCost)")
	f.BoolVar(&opts.SkipBad, "skip-bad", false, "import the good rows and write the bad ones to --rejects")
	f.StringVar(&rejects, "rejects", "", "file that receives each bad row with its line and reason (with --skip-bad)")
	return c
}

func newExportUsageCmd(app *App) *cobra.Command {
	var from, to, format, out string
	c := &cobra.Command{
		Use:   "usage",
		Short: "Export stored usage records, normalised, sorted by record key",
		Example: "  partnerlink export usage --format csv > usage.csv\n" +
			"  partnerlink export usage --from 2026-03-01 --to 2026-04-01 --format json --out march.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := parsePeriod(from, to, false)
			if err != nil {
				return err
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			dst := app.Stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return UsageError{fmt.Errorf("--out: %w", err)}
				}
				defer f.Close()
				dst = f
			}
			ew, err := usage.NewWriter(dst, format)
			if err != nil {
				return UsageError{fmt.Errorf("--format: %w", err)}
			}
			if err := usage.Records(cmd.Context(), db, w, ew.Write); err != nil {
				return db.Translate(err)
			}
			return ew.Close()
		},
	}
	f := c.Flags()
	f.StringVar(&from, "from", "", "first day (YYYY-MM-DD, UTC) or RFC 3339 time; records whose charge starts at or after it")
	f.StringVar(&to, "to", "", "end (exclusive) as a day or RFC 3339 time")
	f.StringVar(&format, "format", "csv", "csv or json")
	f.StringVar(&out, "out", "", "write to this file instead of stdout")
	return c
}

// bulkGC lets the garbage collector run less often during a bulk import and returns the
// function that restores the settings. Parsing makes about 1.5 KB of short-lived garbage per
// row; at the default GOGC=100 collection took a fifth of the parser's CPU. GOGC=400 with a
// 192 MiB soft limit on the Go heap keeps collection rare while the heap (the rows waiting by
// day, the dictionary, a few days being written: docs/usage.md) is
// small, and frequent again before memory grows past the limit, so peak memory stays flat
// whatever the file size. A GOGC or GOMEMLIMIT set by the user wins.
func bulkGC() func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	pct := debug.SetGCPercent(400)
	limit := debug.SetMemoryLimit(192 << 20)
	return func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	}
}
