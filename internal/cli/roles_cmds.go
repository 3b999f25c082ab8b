package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/attribution"
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
			_, err = db.ExecContext(cmd.Context(), `INSERT INTO role_eligibility_overrides (role_name, eligible, set_by, set_at) VALUES ($1, $2, 'cli', $3)
				ON CONFLICT (role_name) DO UPDATE SET eligible = excluded.eligible, set_by = excluded.set_by, set_at = excluded.set_at`,
				args[0], v, app.Now().UnixNano())
			if err != nil {
				return db.Translate(err)
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
			def := access.RoleDefinition{RoleName: args[0], RoleType: "BuiltInRole"}
			var perms string
			err = db.QueryRowContext(ctx, `SELECT id, role_name, role_type, permissions FROM role_definitions WHERE LOWER(role_name) = LOWER($1) ORDER BY valid_from DESC LIMIT 1`, args[0]).
				Scan(&def.ID, &def.RoleName, &def.RoleType, &perms)
			known := err == nil
			if known {
				_ = json.Unmarshal([]byte(perms), &def.Permissions)
			}
			overrides := map[string]bool{}
			rows, err := db.QueryContext(ctx, `SELECT role_name, eligible FROM role_eligibility_overrides`)
			if err != nil {
				return db.Translate(err)
			}
			for rows.Next() {
				var n string
				var b bool
				if err := rows.Scan(&n, &b); err == nil {
					overrides[n] = b
				}
			}
			rows.Close()
			ok, why := attribution.Eligible(def, overrides)
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
