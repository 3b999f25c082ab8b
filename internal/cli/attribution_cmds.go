package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

func addAttributionCommands(app *App, p Parents) {
	p.Root.AddCommand(newAttributeCmd(app), newExplainCmd(app))
	p.Report.AddCommand(newReportAttributionsCmd(app), newReportIncentivesCmd(app))
}

// attrPeriod reads --from/--to (YYYY-MM-DD = UTC midnight, or RFC 3339).
func attrPeriod(from, to string) (timeline.Window, error) {
	if from == "" || to == "" {
		return timeline.Window{}, UsageError{fmt.Errorf("--from and --to are both required (YYYY-MM-DD or RFC 3339)")}
	}
	f, err := timeline.ParseDateOrTime(from)
	if err != nil {
		return timeline.Window{}, UsageError{fmt.Errorf("--from %q: want YYYY-MM-DD or RFC 3339", from)}
	}
	t, err := timeline.ParseDateOrTime(to)
	if err != nil {
		return timeline.Window{}, UsageError{fmt.Errorf("--to %q: want YYYY-MM-DD or RFC 3339", to)}
	}
	if f >= t {
		return timeline.Window{}, UsageError{fmt.Errorf("--from %s is not before --to %s", from, to)}
	}
	return timeline.Window{From: f, To: t}, nil
}

func newAttributeCmd(app *App) *cobra.Command {
	var from, to, programs string
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
			period, err := attrPeriod(from, to)
			if err != nil {
				return err
			}
			opts := attribution.RunOptions{Period: period, RequestedBy: "cli", Now: app.Now, UsageFiles: files, DryRun: dryRun}
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
			res, err := attribution.Run(cmd.Context(), db, opts)
			if err != nil {
				return err
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
	return c
}

func newReportAttributionsCmd(app *App) *cobra.Command {
	var from, to, partner, format string
	c := &cobra.Command{
		Use:     "attributions",
		Short:   "Attribution rows of a period (formats.md columns, sorted by record, partner, association)",
		Example: "  partnerlink report attributions --from 2026-03-01 --to 2026-04-01 --partner 1234567 --format csv",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			period, err := attrPeriod(from, to)
			if err != nil {
				return err
			}
			tw, err := attribution.NewTableWriter(app.Stdout, format, attribution.RowHeader)
			if err != nil {
				return UsageError{err}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := attribution.StoredRows(cmd.Context(), db, attribution.RowFilter{Period: period, Partner: partner},
				func(r *attribution.Row) error { return tw.Write(r.Fields()) }); err != nil {
				return db.Translate(err)
			}
			return tw.Close()
		},
	}
	c.Flags().StringVar(&from, "from", "", "period start (charge start, YYYY-MM-DD or RFC 3339)")
	c.Flags().StringVar(&to, "to", "", "period end, exclusive")
	c.Flags().StringVar(&partner, "partner", "", "only this location (partner) ID or organisation ID")
	c.Flags().StringVar(&format, "format", "csv", "csv or json")
	return c
}

func newReportIncentivesCmd(app *App) *cobra.Command {
	var from, to, partner, format string
	c := &cobra.Command{
		Use:     "incentives",
		Short:   "Incentive rows of a period (formats.md columns, sorted by record, partner, program)",
		Example: "  partnerlink report incentives --from 2026-03-01 --to 2026-04-01 --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			period, err := attrPeriod(from, to)
			if err != nil {
				return err
			}
			tw, err := attribution.NewTableWriter(app.Stdout, format, attribution.IncentiveHeader)
			if err != nil {
				return UsageError{err}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := attribution.StoredIncentives(cmd.Context(), db, attribution.RowFilter{Period: period, Partner: partner},
				func(i *attribution.Incentive) error { return tw.Write(i.Fields()) }); err != nil {
				return db.Translate(err)
			}
			return tw.Close()
		},
	}
	c.Flags().StringVar(&from, "from", "", "period start (charge start, YYYY-MM-DD or RFC 3339)")
	c.Flags().StringVar(&to, "to", "", "period end, exclusive")
	c.Flags().StringVar(&partner, "partner", "", "only this location (partner) ID or organisation ID")
	c.Flags().StringVar(&format, "format", "csv", "csv or json")
	return c
}

func newExplainCmd(app *App) *cobra.Command {
	var q attribution.ExplainQuery
	var at, from, to, format string
	c := &cobra.Command{
		Use:   "explain",
		Short: "Explain why a partner is (or is not) recognised on a resource, subscription or usage record",
		Example: "  partnerlink explain --partner 1234567 --resource /subscriptions/<sub>/resourceGroups/rg1 --at 2026-03-15\n" +
			"  partnerlink explain --partner 1234567 --record 8f1c... --format json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Partner == "" {
				return UsageError{fmt.Errorf("--partner ID is required (a location or organisation ID)")}
			}
			n := 0
			for _, s := range []string{q.Resource, q.Subscription, q.RecordKey} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return UsageError{fmt.Errorf("give exactly one of --resource, --subscription, --record")}
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
				p, err := attrPeriod(from, to)
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
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(app.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(ex)
			}
			_, err = fmt.Fprint(app.Stdout, ex.Text())
			return err
		},
	}
	c.Flags().StringVar(&q.Partner, "partner", "", "location (partner) ID or organisation ID")
	c.Flags().StringVar(&q.Resource, "resource", "", "ARM resource ID")
	c.Flags().StringVar(&q.Subscription, "subscription", "", "subscription GUID")
	c.Flags().StringVar(&q.RecordKey, "record", "", "usage record key")
	c.Flags().StringVar(&at, "at", "", "instant (YYYY-MM-DD or RFC 3339)")
	c.Flags().StringVar(&from, "from", "", "period start")
	c.Flags().StringVar(&to, "to", "", "period end, exclusive")
	c.Flags().StringVar(&format, "format", "text", "text or json")
	return c
}
