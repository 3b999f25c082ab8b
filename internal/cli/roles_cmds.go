package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/store"
)

func newRolesCmd(app *App) *cobra.Command {
	roles := &cobra.Command{Use: "roles", Short: "Role eligibility: which roles count for partner recognition, and why",
		Example: "  partnerlink roles explain Contributor\n  partnerlink roles eligibility set \"Support Request Contributor\" false"}
	elig := &cobra.Command{Use: "eligibility", Short: "Operator overrides of role eligibility",
		Example: "  partnerlink roles eligibility set \"Backup Reader\" true"}
	elig.AddCommand(&cobra.Command{
		Use: "set ROLE-NAME true|false", Short: "Override whether a role counts for recognition",
		Example: "  partnerlink roles eligibility set \"Support Request Contributor\" false",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseBool(args[1])
			if err != nil {
				return UsageError{fmt.Errorf("%q is not true or false", args[1])}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := (access.Overrides{DB: db}).Set(cmd.Context(), args[0], v, "cli", app.Now().UnixNano()); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%s is now %s by operator override; re-run attribution for the periods it affects\n", args[0], map[bool]string{true: "eligible", false: "not eligible"}[v])
			return nil
		},
	})
	roles.AddCommand(elig, &cobra.Command{
		Use: "explain ROLE-NAME", Short: "Say whether a role counts for recognition and which rule decided",
		Example: "  partnerlink roles explain Reader", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := cmd.Context()
			def := &access.RoleDefinition{RoleName: args[0], RoleType: "BuiltInRole"}
			stored, err := access.Store{DB: db}.RoleByName(ctx, args[0])
			known := err == nil
			switch {
			case known:
				def = stored
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			overrides, err := access.Overrides{DB: db}.All(ctx)
			if err != nil {
				return err
			}
			ok, why := attribution.Eligible(*def, overrides)
			verdict := "does not count"
			if ok {
				verdict = "counts"
			}
			fmt.Fprintf(app.Stdout, "%s %s for partner recognition (decided by: %s)\n", def.RoleName, verdict, why)
			if !known && !strings.HasPrefix(why, "operator") && why != "eligibility table" {
				fmt.Fprintf(app.Stdout, "note: no role definition named %q is imported; import it to apply the write-action rule to its permissions\n", args[0])
			}
			return nil
		},
	})
	return roles
}
