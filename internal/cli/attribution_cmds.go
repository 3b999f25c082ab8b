package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

func addAttributionCommands(app *App, p Parents) {
	p.Root.AddCommand(newAttributeCmd(app), newExplainCmd(app))
	p.Report.AddCommand(newReportAttributionsCmd(app), newReportIncentivesCmd(app))
}

func newAttributeCmd(app *App) *cobra.Command {
	var from, to, programs, format, shard, shardGroup string
	var files []string
	var dryRun bool
	c := &cobra.Command{
		Use:   "attribute",
		Short: "Attribute a period's usage (PAL, CSP, DPOR, CUA, incentives), replacing its results",
		Long: `Attribute the usage records whose charge period starts in [--from, --to): the period's
attribution, incentive and daily rollup rows are replaced in one transaction and the run is
recorded with its inputs hash, programs version, totals and the difference from the previous run
of the same period. With --usage FILE the files are attributed instead of the stored usage and
nothing is written (what-if).`,
		Example: "  partnerlink attribute --from 2026-03-01 --to 2026-04-01\n" +
			"  partnerlink attribute --from 2026-03-01 --to 2026-04-01 --programs programs.json\n" +
			"  partnerlink attribute --from 2026-03-01 --to 2026-04-01 --usage march.csv",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			period, err := parsePeriod(from, to, true)
			if err != nil {
				return err
			}
			if format != "text" && format != "json" {
				return UsageError{fmt.Errorf("--format %q is not text or json", format)}
			}
			opts := results.RunOptions{Period: period, RequestedBy: "cli", Now: app.Now, UsageFiles: files, DryRun: dryRun,
				Waiting: func() {
					app.Log.Info("waiting for another attribution run to finish: runs are serialised (Ctrl-C gives up)", "period", period.String())
				}}
			if shard != "" {
				var i, n int
				if _, err := fmt.Sscanf(shard, "%d/%d", &i, &n); err != nil || n < 1 || i < 0 || i >= n || shardGroup == "" {
					return UsageError{fmt.Errorf("--shard %q: give INDEX/COUNT with 0 <= INDEX < COUNT (0/2, 1/2) and --shard-group NAME, the same for every shard", shard)}
				}
				opts.Shard = &results.Shard{Group: shardGroup, Index: i, Count: n}
			}
			if programs != "" {
				if opts.Programs, err = attribution.LoadPrograms(programs); err != nil {
					return UsageError{err}
				}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			defer usage.RunGC()() // a one-shot run (see there)
			res, err := results.Run(cmd.Context(), db, opts)
			if err != nil {
				return err
			}
			if format == "text" {
				printRunSummary(app.Stdout, app.Stderr, res)
				return nil
			}
			if res.Stats.Records == 0 {
				fmt.Fprintf(app.Stderr, "warning: no usage record starts in [%s, %s): nothing was attributed\n", res.From, res.To)
			}
			enc := json.NewEncoder(app.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		},
	}
	c.Flags().StringVar(&from, "from", "", "period start (YYYY-MM-DD = UTC midnight, or RFC 3339)")
	c.Flags().StringVar(&to, "to", "", "period end, exclusive")
	c.Flags().StringVar(&programs, "programs", "", "incentive programs file (JSON; default: the shipped programs)")
	c.Flags().StringSliceVar(&files, "usage", nil, "what-if: attribute these usage files without storing anything")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "compute and print totals without writing")
	c.Flags().StringVar(&format, "format", "text", "output: text (a summary table) or json (the run with every location's totals)")
	c.Flags().StringVar(&shard, "shard", "", "INDEX/COUNT: compute one shard of the period's subscriptions (run every shard, in any processes, against the same database; the last to finish stores the run)")
	c.Flags().StringVar(&shardGroup, "shard-group", "", "the name every shard of one sharded run is given")
	return c
}

func newReportAttributionsCmd(app *App) *cobra.Command {
	return newReportRowsCmd(app, "attributions",
		"Attribution rows of a period (formats.md columns, sorted by record, partner, association)",
		"  partnerlink report attributions --from 2026-03-01 --to 2026-04-01 --partner 1234567 --format csv",
		attribution.RowHeader,
		func(ctx context.Context, db *store.DB, f results.RowFilter, tw *attribution.TableWriter) error {
			return results.StoredRows(ctx, db, f, tw.WriteRow)
		})
}

func newReportIncentivesCmd(app *App) *cobra.Command {
	return newReportRowsCmd(app, "incentives",
		"Incentive rows of a period (formats.md columns, sorted by record, partner, program)",
		"  partnerlink report incentives --from 2026-03-01 --to 2026-04-01 --format json",
		attribution.IncentiveHeader,
		func(ctx context.Context, db *store.DB, f results.RowFilter, tw *attribution.TableWriter) error {
			return results.StoredIncentives(ctx, db, f, func(i *attribution.Incentive) error { return tw.Write(i.Fields()) })
		})
}

// newReportRowsCmd builds a command that writes stored result rows of a period as a table.
func newReportRowsCmd(app *App, use, short, example string, header []string,
	each func(context.Context, *store.DB, results.RowFilter, *attribution.TableWriter) error) *cobra.Command {
	var from, to, partner, format string
	c := &cobra.Command{
		Use: use, Short: short, Example: example, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			period, err := parsePeriod(from, to, true)
			if err != nil {
				return err
			}
			tw, err := attribution.NewTableWriter(app.Stdout, format, header)
			if err != nil {
				return UsageError{err}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := each(cmd.Context(), db, results.RowFilter{Period: period, Partner: partner}, tw); err != nil {
				return db.Translate(err)
			}
			return tw.Close()
		},
	}
	c.Flags().StringVar(&from, "from", "", "period start (charge start, YYYY-MM-DD or RFC 3339)")
	c.Flags().StringVar(&to, "to", "", "period end, exclusive")
	c.Flags().StringVar(&partner, "partner", "", "only this location (partner) ID or organisation ID")
	c.Flags().StringVar(&format, "format", "csv", "csv, json or parquet (the same columns, for data teams)")
	return c
}

func newExplainCmd(app *App) *cobra.Command {
	var q attribution.ExplainQuery
	var at, from, to, format string
	c := &cobra.Command{
		Use:   "explain",
		Short: "Explain why a partner is (or is not) recognised on a resource, subscription, usage record or account of another provider",
		Example: "  partnerlink explain --partner 1234567 --resource /subscriptions/<sub>/resourceGroups/rg1 --at 2026-03-15\n" +
			"  partnerlink explain --partner 1234567 --record 8f1c... --format json\n" +
			"  partnerlink explain --partner 1234567 --resource arn:aws:ec2:us-east-1:111111111111:instance/i-0abc --from 2026-03-01 --to 2026-04-01\n" +
			"  partnerlink explain --partner 1234567 --provider aws --account 123456789012 --from 2026-03-01 --to 2026-04-01",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Partner == "" {
				return UsageError{fmt.Errorf("--partner ID is required (a location or organisation ID)")}
			}
			n := 0
			for _, s := range []string{q.Resource, q.Subscription, q.RecordKey, q.Account} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return UsageError{fmt.Errorf("give exactly one of --resource, --subscription, --record, --account")}
			}
			if (q.Account == "") != (q.Provider == "") {
				return UsageError{fmt.Errorf("--account and --provider go together: an account of another provider (aws, google, ...)")}
			}
			switch {
			case q.RecordKey != "":
			case at != "":
				t, err := timeline.ParseDateOrTime(at)
				if err != nil {
					return UsageError{fmt.Errorf("--at %q: want YYYY-MM-DD or RFC 3339", at)}
				}
				q.At = t
			default:
				p, err := parsePeriod(from, to, true)
				if err != nil {
					return UsageError{fmt.Errorf("give --at TIME or --from and --to: %w", err)}
				}
				q.Period = p
			}
			if format != "text" && format != "json" {
				return UsageError{fmt.Errorf("--format %q: use text or json", format)}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			ex, err := attribution.Explain(cmd.Context(), db, q)
			if err != nil {
				return emptyHint(cmd.Context(), db, err)
			}
			warnEmpty(cmd.Context(), app.Stderr, db)
			if format == "json" {
				enc := json.NewEncoder(app.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(ex)
			}
			if _, err = fmt.Fprint(app.Stdout, ex.Text()); err != nil {
				return err
			}
			// Each reason's fix, once, in the words the dashboard shows.
			seen := map[string]bool{}
			for _, r := range ex.Reasons {
				if fix := attribution.Fix(r.Code); fix != "" && !seen[r.Code] {
					if len(seen) == 0 {
						fmt.Fprintln(app.Stdout, "What to do:")
					}
					seen[r.Code] = true
					fmt.Fprintf(app.Stdout, "  [%s] %s\n", r.Code, fix)
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&q.Partner, "partner", "", "location (partner) ID or organisation ID")
	c.Flags().StringVar(&q.Resource, "resource", "", "resource ID: an ARM ID, or an AWS ARN, Google Cloud resource name (//....googleapis.com/...) or OCI OCID, explained from its usage records in the period")
	c.Flags().StringVar(&q.Subscription, "subscription", "", "subscription GUID")
	c.Flags().StringVar(&q.RecordKey, "record", "", "usage record key")
	c.Flags().StringVar(&q.Account, "account", "", "an account of another provider (RESALE), with --provider")
	c.Flags().StringVar(&q.Provider, "provider", "", "the account's provider: aws, google, oracle, ...")
	c.Flags().StringVar(&at, "at", "", "instant (YYYY-MM-DD or RFC 3339)")
	c.Flags().StringVar(&from, "from", "", "period start")
	c.Flags().StringVar(&to, "to", "", "period end, exclusive")
	c.Flags().StringVar(&format, "format", "text", "text or json")
	return c
}
