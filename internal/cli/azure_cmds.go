package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

type azureImport func(ctx context.Context, db *store.DB, r io.Reader, name, tenant string, opts estatefile.Options) (*estatefile.Report, error)

// azureCmd describes one `import azure-*` command.
type azureCmd struct {
	use, short, long, example string
	// snapshot: the export is a listing for one tenant (--tenant) that closes what it lacks
	// in the scopes it covers (--scope).
	snapshot bool
	run      azureImport
}

const azureLong = `

The file may be in any shape the tools print: an ARM REST list page ({"value": [...]}),
several pages in one JSON list, the objects as a bare list, or one object alone, with the
fields under "properties" (REST) or flattened (az, Microsoft Graph). The import says how it
read the file; an entry it cannot use is skipped and listed with its JSON path and reason,
and a file none of whose entries could be used is an error. A file with any malformed entry
changes nothing. See docs/estate.md, "Azure exports".`

const snapshotLong = `

What the listing covers: the scopes given with --scope (repeatable; --scope / is the whole
tenant), else every subscription the file names, with everything below it; plus, always,
the management group and root scopes it names. A listing that continues beyond the file
(a page with a nextLink and no last page) is refused.`

// newAzureImportCmd builds one `import azure-*` command.
func newAzureImportCmd(app *App, ac azureCmd) *cobra.Command {
	var tenant, asOf string
	var opts estatefile.Options
	long := ac.short + ".\n\n" + strings.TrimSpace(ac.long) + azureLong
	if ac.snapshot {
		long += snapshotLong
	}
	c := &cobra.Command{
		Use: ac.use + " FILE.json", Short: ac.short, Long: long, Example: ac.example, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ac.snapshot && !scope.IsGUID(tenant) {
				return UsageError{fmt.Errorf("--tenant %q must be the tenant's GUID", tenant)}
			}
			for _, s := range opts.Scopes {
				if _, err := scope.Parse(s); err != nil {
					return UsageError{fmt.Errorf("--scope: %w", err)}
				}
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
			rep, err := ac.run(cmd.Context(), db, f, filepath.Base(args[0]), tenant, opts)
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
	if ac.snapshot {
		c.Flags().StringVar(&tenant, "tenant", "", "the tenant the export was taken from (GUID)")
		c.MarkFlagRequired("tenant")
		c.Flags().StringArrayVar(&opts.Scopes, "scope", nil, "a scope the listing covers, e.g. /subscriptions/<GUID>; / is the whole tenant (repeatable; default: what the file shows)")
	}
	c.Flags().StringVar(&asOf, "as-of", "", "when the export was taken: YYYY-MM-DD or RFC 3339 (default: now)")
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would change, write nothing")
	return c
}

func addAzureCommands(app *App, p Parents) {
	withoutTenant := func(run func(context.Context, *store.DB, io.Reader, string, estatefile.Options) (*estatefile.Report, error)) azureImport {
		return func(ctx context.Context, db *store.DB, r io.Reader, name, _ string, o estatefile.Options) (*estatefile.Report, error) {
			return run(ctx, db, r, name, o)
		}
	}
	for _, ac := range []azureCmd{
		{use: "azure-role-assignments", short: "Import role assignments as az role assignment list prints them: a snapshot of active assignments",
			long: ` Active assignments of the tenant that the listing covers and lacks are closed at
--as-of. Eligible (PIM) assignments are never closed by it: az role assignment list does not
list them. Principals it names that the estate lacks are created with their principalType.`,
			example: "  az role assignment list --all --subscription 22222222-0000-4000-8000-000000000001 > ra.json\n" +
				"  partnerlink import azure-role-assignments ra.json --tenant 11111111-0000-4000-8000-000000000001 \\\n" +
				"    --scope /subscriptions/22222222-0000-4000-8000-000000000001 --as-of 2026-03-01",
			snapshot: true, run: estatefile.ImportAzureRoleAssignments},
		{use: "azure-role-definitions", short: "Import role definitions as az role definition list prints them (built-in and custom)",
			long:    ` Definitions are upserted with history; none is ever closed.`,
			example: "  az role definition list > roles.json\n  partnerlink import azure-role-definitions roles.json",
			run:     withoutTenant(estatefile.ImportAzureRoleDefinitions)},
		{use: "azure-pim", short: "Import PIM schedule instances: eligible assignments and their activations",
			long: ` Eligibility schedule instances are a snapshot of eligible assignments: those of the
tenant that the listing covers and lacks are closed at --as-of (active assignments never
are). Assignment schedule instances with assignmentType Activated become activations of the
eligible assignment with the same principal, role and scope; Assigned ones are skipped (they
are active assignments: import them with azure-role-assignments).`,
			example: "  az rest --method get --url \"https://management.azure.com/subscriptions/22222222-0000-4000-8000-000000000001/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01\" > eligible.json\n" +
				"  partnerlink import azure-pim eligible.json --tenant 11111111-0000-4000-8000-000000000001\n" +
				"  az rest --method get --url \"https://management.azure.com/subscriptions/22222222-0000-4000-8000-000000000001/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?api-version=2020-10-01\" > activations.json\n" +
				"  partnerlink import azure-pim activations.json --tenant 11111111-0000-4000-8000-000000000001",
			snapshot: true, run: estatefile.ImportAzurePIM},
		{use: "azure-links", short: "Import partner links as az managementpartner show prints them (Microsoft.ManagementPartner PartnerResponse)",
			long: ` An Active link is open from its createdTime; a Deleted one ended at its
updatedTime. Each principal's link history is set to what the file gives.`,
			example: "  az managementpartner show --partner-id 4100001 > link.json\n  partnerlink import azure-links link.json",
			run:     withoutTenant(estatefile.ImportAzureLinks)},
	} {
		p.Import.AddCommand(newAzureImportCmd(app, ac))
	}
}
