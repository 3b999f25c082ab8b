package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

type azureImport func(ctx context.Context, db *store.DB, r io.Reader, name, tenant string, opts estatefile.Options) (*estatefile.Report, error)

// newAzureImportCmd builds one `import azure-*` command; needsTenant adds --tenant.
func newAzureImportCmd(app *App, use, short, example string, needsTenant bool, run azureImport) *cobra.Command {
	var tenant, asOf string
	var opts estatefile.Options
	c := &cobra.Command{
		Use: use + " FILE.json", Short: short, Example: example, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if needsTenant && !scope.IsGUID(tenant) {
				return UsageError{fmt.Errorf("--tenant %q must be the tenant's GUID", tenant)}
			}
			if asOf != "" {
				t, err := timeline.ParseDateOrTime(asOf)
				if err != nil {
					return UsageError{fmt.Errorf("--as-of: %w", err)}
				}
				opts.AsOf = t
			}
			f, err := os.Open(args[0])
			if err != nil {
				return UsageError{err}
			}
			defer f.Close()
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			opts.Now = app.Now
			rep, err := run(cmd.Context(), db, f, filepath.Base(args[0]), tenant, opts)
			if err != nil {
				return err
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
	if needsTenant {
		c.Flags().StringVar(&tenant, "tenant", "", "the tenant the export was taken from (GUID)")
		c.MarkFlagRequired("tenant")
	}
	c.Flags().StringVar(&asOf, "as-of", "", "when the snapshot was taken: YYYY-MM-DD or RFC 3339 (default: now)")
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would change, write nothing")
	return c
}

func addAzureCommands(app *App, p Parents) {
	p.Import.AddCommand(
		newAzureImportCmd(app, "azure-role-assignments", "Import `az role assignment list --all` output (a snapshot of one tenant)",
			"  az role assignment list --all > ra.json\n  partnerlink import azure-role-assignments ra.json --tenant 11111111-0000-4000-8000-000000000001", true,
			estatefile.ImportAzureRoleAssignments),
		newAzureImportCmd(app, "azure-role-definitions", "Import `az role definition list` output (built-in and custom roles)",
			"  az role definition list > roles.json\n  partnerlink import azure-role-definitions roles.json", false,
			func(ctx context.Context, db *store.DB, r io.Reader, name, _ string, o estatefile.Options) (*estatefile.Report, error) {
				return estatefile.ImportAzureRoleDefinitions(ctx, db, r, name, o)
			}),
		newAzureImportCmd(app, "azure-pim", "Import PIM schedule instances: activated windows become activations of eligible assignments",
			"  partnerlink import azure-pim instances.json --tenant 11111111-0000-4000-8000-000000000001", true,
			estatefile.ImportAzurePIM),
		newAzureImportCmd(app, "azure-links", "Import Microsoft.ManagementPartner PartnerResponse objects (az managementpartner show)",
			"  partnerlink import azure-links links.json", false,
			func(ctx context.Context, db *store.DB, r io.Reader, name, _ string, o estatefile.Options) (*estatefile.Report, error) {
				return estatefile.ImportAzureLinks(ctx, db, r, name, o)
			}),
	)
}
