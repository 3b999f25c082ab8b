package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/scope"
)

func addLinkCommands(app *App, p Parents) {
	p.Root.AddCommand(newTokenCmd(app))
}

func newTokenCmd(app *App) *cobra.Command {
	var tenant, object, typ string
	var ttl time.Duration
	var roles, partners []string
	c := &cobra.Command{
		Use:   "token",
		Short: "Print a bearer token signed with the server's key (development and tests only)",
		Long: `token prints a JWT with Entra-style claims (tid, oid, idtyp) signed with the signing key
stored in the database, which partnerlink serve verifies. It is meant for development, demos and
tests; in production, configure your identity provider instead. Roles: principal (default: the
identity manages its own link), customer-admin (the dashboard of --tenant), partner (with
--partner IDs: their dashboard pages), operator (everything). Paste the token on the dashboard's
sign-in page, or send it as "Authorization: Bearer TOKEN".`,
		Example: "  partnerlink token --tenant 11111111-0000-4000-8000-000000000001 --object 33333333-0000-4000-8000-000000000002\n" +
			"  partnerlink token --tenant 11111111-0000-4000-8000-000000000001 --object 33333333-0000-4000-8000-000000000003 --role operator\n" +
			"  partnerlink token --tenant 11111111-0000-4000-8000-000000000001 --object 33333333-0000-4000-8000-000000000004 --role partner --partner 4100001 --ttl 8h",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !scope.IsGUID(tenant) || !scope.IsGUID(object) {
				return UsageError{fmt.Errorf("--tenant %q and --object %q must be GUIDs", tenant, object)}
			}
			if typ != "user" && typ != "app" {
				return UsageError{fmt.Errorf("--type %q is not user or app", typ)}
			}
			for _, r := range roles {
				switch auth.Role(r) {
				case auth.RolePrincipal, auth.RoleCustomerAdmin, auth.RolePartner, auth.RoleOperator:
				default:
					return UsageError{fmt.Errorf("--role %q is not principal, customer-admin, partner or operator", r)}
				}
			}
			for _, p := range partners {
				if err := directory.CheckID(p); err != nil {
					return UsageError{fmt.Errorf("--partner %q: %w", strings.Join(partners, ","), err)}
				}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			key, err := auth.LoadOrCreateKey(cmd.Context(), db, app.Now)
			if err != nil {
				return err
			}
			tok, err := key.Mint(auth.Claims{TenantID: strings.ToLower(tenant), ObjectID: strings.ToLower(object), IDType: typ,
				Roles: roles, PartnerIDs: partners}, app.Now(), ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(app.Stdout, tok)
			if len(roles) == 0 {
				fmt.Fprintln(app.Stderr, "note: this token holds only the principal role (it manages its own link through the API) and opens no dashboard page; "+
					"for the dashboard add --role partner --partner ID, --role customer-admin, or --role operator")
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant ID (tid)")
	f.StringVar(&object, "object", "", "object ID of the user or service principal (oid)")
	f.StringVar(&typ, "type", "user", "identity type (idtyp): user or app")
	f.DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	f.StringSliceVar(&roles, "role", nil, "roles: principal, customer-admin, partner, operator (repeatable)")
	f.StringSliceVar(&partners, "partner", nil, "partner location or organisation IDs the partner role speaks for")
	c.MarkFlagRequired("tenant")
	c.MarkFlagRequired("object")
	return c
}
