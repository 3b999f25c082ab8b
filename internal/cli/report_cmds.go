package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/report"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// addReportCommands adds report partner|customer|operator (the engine's report attributions
// and incentives live in attribution_cmds.go).
func addReportCommands(app *App, p Parents) {
	p.Report.AddCommand(newReportPartnerCmd(app), newReportCustomerCmd(app), newReportOperatorCmd(app))
}

// reportFlags are the flags every report command shares.
type reportFlags struct{ from, to, format string }

func (f *reportFlags) add(c *cobra.Command, period bool) {
	if period {
		c.Flags().StringVar(&f.from, "from", "", "first day (YYYY-MM-DD, UTC) or RFC 3339 instant; empty = from the start")
		c.Flags().StringVar(&f.to, "to", "", "end (exclusive; YYYY-MM-DD or RFC 3339); empty = open")
	}
	c.Flags().StringVar(&f.format, "format", "text", "output: text, csv or json")
}

// window parses --from/--to; empty ends are open.
func (f *reportFlags) window() (timeline.Window, error) { return parsePeriod(f.from, f.to, false) }

func (f *reportFlags) checkFormat() error {
	for _, x := range report.Formats {
		if f.format == x {
			return nil
		}
	}
	return UsageError{fmt.Errorf("--format %q is not known; use one of %s", f.format, strings.Join(report.Formats, ", "))}
}

func newReportPartnerCmd(app *App) *cobra.Command {
	var f reportFlags
	var partner string
	c := &cobra.Command{
		Use:   "partner --partner ID",
		Short: "Consumption attributed to a partner location or organisation, by month, association, customer and service",
		Long: `Reads the daily rollups written by attribution runs. A location ID reports that location;
an organisation ID reports the whole organisation and counts consumption credited to several of
its locations once. Amounts are exact decimals, one per currency.`,
		Example: "  partnerlink report partner --partner 1234567 --from 2026-01-01 --to 2027-01-01\n  partnerlink report partner --partner 1234567 --format csv > partner.csv",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if partner == "" {
				return UsageError{fmt.Errorf("--partner is required: a partner location or organisation ID")}
			}
			if err := f.checkFormat(); err != nil {
				return err
			}
			w, err := f.window()
			if err != nil {
				return err
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			r, err := report.PartnerReport(cmd.Context(), db, report.PartnerQuery{PartnerID: partner, Period: w})
			if err != nil {
				return emptyHint(cmd.Context(), db, err)
			}
			return report.Write(app.Stdout, f.format, r)
		},
	}
	c.Flags().StringVar(&partner, "partner", "", "partner location ID or organisation ID")
	f.add(c, true)
	return c
}

func newReportCustomerCmd(app *App) *cobra.Command {
	var f reportFlags
	var tenant string
	c := &cobra.Command{
		Use:     "customer --tenant GUID",
		Short:   "Every partner attached to a customer tenant: how, since when, consumption recognised, link events",
		Example: "  partnerlink report customer --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47 --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" {
				return UsageError{fmt.Errorf("--tenant is required: the customer tenant GUID")}
			}
			if err := f.checkFormat(); err != nil {
				return err
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			r, err := report.CustomerReport(cmd.Context(), db, tenant, app.Now().UnixNano())
			if err != nil {
				return emptyHint(cmd.Context(), db, err)
			}
			warnEmpty(cmd.Context(), app.Stderr, db)
			return report.Write(app.Stdout, f.format, r)
		},
	}
	c.Flags().StringVar(&tenant, "tenant", "", "customer tenant GUID")
	f.add(c, false)
	return c
}

func newReportOperatorCmd(app *App) *cobra.Command {
	var f reportFlags
	var top int
	c := &cobra.Command{
		Use:     "operator",
		Short:   "Totals per program, top partners, runs and their diffs, imports and data-quality warnings",
		Example: "  partnerlink report operator --from 2026-03-01 --to 2026-04-01 --top 20",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.checkFormat(); err != nil {
				return err
			}
			w, err := f.window()
			if err != nil {
				return err
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			r, err := report.OperatorReport(cmd.Context(), db, report.OperatorOptions{Period: w, Top: top, Now: app.Now().UnixNano()})
			if err != nil {
				return err
			}
			return report.Write(app.Stdout, f.format, r)
		},
	}
	c.Flags().IntVar(&top, "top", 10, "how many partners to list")
	f.add(c, true)
	return c
}
