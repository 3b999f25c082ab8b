package cli

import (
	"fmt"
	"os"
	"path/filepath"
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
		Short: "Import usage from FinOps FOCUS (CSV, gzip or Parquet, any provider) or Azure cost-details CSV, idempotently",
		Long: `Import usage records. FOCUS 1.0 to 1.3 from any provider, as CSV (plain or gzip) or Parquet
(recognised by its content), and Azure cost-details CSV. Each file is imported whole or not at
all: by default a file with any bad row imports nothing and every bad row is listed with its
line (a Parquet file: its row), column and reason. With --skip-bad the good rows go in and each
bad row is written, as it was (a Parquet row as CSV), to the --rejects file with its line and
reason. Records already stored (same record key) are counted as duplicates, so importing a file
twice adds nothing. docs/usage.md maps every column.`,
		Example: "  partnerlink import usage focus-2026-03.csv.gz\n" +
			"  partnerlink import usage aws-focus-2026-03.parquet\n" +
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
			// A missing file is how the command was invoked (exit 2, as for import estate), found
			// before the database is opened or created.
			for _, path := range args {
				if _, err := os.Stat(path); err != nil {
					return UsageError{fmt.Errorf("usage file: %w", err)}
				}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			defer usage.BulkGC(db.Engine())()
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
				fmt.Fprintf(app.Stdout, "%s: %s %s, %d rows read, %d added, %d duplicate, %d rejected (%.0f rows/s), import %s\n",
					imp.File, imp.Format, imp.Encoding, imp.RowsRead, imp.RowsAdded, imp.RowsDuplicate, imp.RowsRejected,
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
	f.IntVar(&opts.MaxFieldBytes, "max-field-bytes", usage.DefaultMaxFieldBytes, "the largest field a row may hold; a longer one is a bad row")
	return c
}

func newExportUsageCmd(app *App) *cobra.Command {
	var from, to, format, out string
	c := &cobra.Command{
		Use:   "usage",
		Short: "Export stored usage records, sorted by record key: a summary (csv, json) or every field (focus, parquet)",
		Long: `Export stored usage records. --format csv and json write the summary columns; focus (FOCUS CSV)
and parquet write every field of every record, with its key (x_RecordId) and attributed cost
(x_AttributedCost), so that import usage reads them back to identical records: how usage moves
from one database to another (docs/usage.md).`,
		Example: "  partnerlink export usage --format csv > usage.csv\n" +
			"  partnerlink export usage --from 2026-03-01 --to 2026-04-01 --format json --out march.json\n" +
			"  partnerlink export usage --format parquet --out usage.parquet",
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
	f.StringVar(&format, "format", "csv", "csv, json, focus or parquet")
	f.StringVar(&out, "out", "", "write to this file instead of stdout")
	return c
}
