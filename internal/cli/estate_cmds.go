package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

func addEstateCommands(app *App, p Parents) {
	p.Import.AddCommand(newImportEstateCmd(app))
	p.Export.AddCommand(newExportEstateCmd(app))
	p.Root.AddCommand(newRolesCmd(app))
	addAzureCommands(app, p)
}

func newImportEstateCmd(app *App) *cobra.Command {
	var asOf string
	var opts estatefile.Options
	c := &cobra.Command{
		Use:   "estate FILE.json",
		Short: "Import partners, tenants, subscriptions, principals, roles, assignments, delegations, links and CUA",
		Long: `Import an estate file (see docs/estate.md). The import is one transaction: a file with any
problem changes nothing, and every problem is listed with its JSON path. Entities are upserted
with history: changes close the stored version at --as-of (default: now) and open a new one;
explicit from/to windows in the file win.`,
		Example: "  partnerlink import estate estate.json\n" +
			"  partnerlink import estate --dry-run --as-of 2026-03-01 snapshot.json",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asOf != "" {
				t, err := timeline.ParseDateOrTime(asOf)
				if err != nil {
					return UsageError{fmt.Errorf("--as-of: %w", err)}
				}
				opts.AsOf = t
			}
			f, err := os.Open(args[0])
			if err != nil {
				return UsageError{fmt.Errorf("estate file: %w", err)}
			}
			defer f.Close()
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			opts.Now = app.Now
			var r io.Reader = f
			if st, err := f.Stat(); err == nil {
				if bar := app.newProgress(st.Size(), "reading "+filepath.Base(args[0])); bar != nil {
					pr := progressbar.NewReader(f, bar)
					r = &pr
					defer bar.Finish()
				}
			}
			rep, err := estatefile.Import(cmd.Context(), db, r, filepath.Base(args[0]), opts)
			if err != nil {
				return err
			}
			for _, w := range rep.Warnings {
				fmt.Fprintf(app.Stderr, "warning: %s\n", w)
			}
			if rep.DryRun {
				fmt.Fprintln(app.Stdout, "dry run: nothing written; the import would make these changes:")
			} else {
				fmt.Fprintf(app.Stdout, "imported %s (import %s):\n", filepath.Base(args[0]), rep.ImportID)
			}
			fmt.Fprint(app.Stdout, rep.Summary())
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&asOf, "as-of", "", "when the file's changes take effect: YYYY-MM-DD or RFC 3339 (default: now)")
	fl.BoolVar(&opts.Strict, "strict", false, "treat unknown fields as errors")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print what would change, write nothing")
	return c
}

func newExportEstateCmd(app *App) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "estate",
		Short: "Export the stored estate with explicit windows, in a deterministic order",
		Example: "  partnerlink export estate > estate.json\n" +
			"  partnerlink export estate --out estate.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			w := app.Stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return UsageError{fmt.Errorf("--out: %w", err)}
				}
				defer f.Close()
				w = f
			}
			return estatefile.Export(cmd.Context(), db, w)
		},
	}
	c.Flags().StringVar(&out, "out", "", "write to this file instead of stdout")
	return c
}
