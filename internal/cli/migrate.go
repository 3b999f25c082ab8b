package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMigrateCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations (every command also does this on a new database)",
		Example: "  partnerlink migrate\n" +
			"  partnerlink migrate --db postgres://postgres@127.0.0.1:5432/partnerlink?sslmode=disable",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := db.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%s database %s is at schema version %d\n", db.Engine(), db.Display, v)
			return nil
		},
	}
}
