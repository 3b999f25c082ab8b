package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
)

func newMigrateCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database to this partnerlink's schema (serve requires it; back up first)",
		Long: `migrate applies the schema migrations this partnerlink has and the database lacks, each in its
own transaction, and moves the rows of tables older versions abandoned into their new form
before it drops them. Run it after installing a new partnerlink, before serve: serve refuses a
database at another schema version, and so do the other commands once the database has a
schema (a new, empty database is migrated by the first command that uses it). Interrupted,
it starts again where it stopped. Back the database up first.`,
		Example: "  partnerlink migrate\n" +
			"  partnerlink migrate --db postgres://postgres@127.0.0.1:5432/partnerlink?sslmode=disable",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := engines.OpenNoMigrate(cmd.Context(), app.DBValue)
			if err != nil {
				return UsageError{err}
			}
			defer db.Close()
			if have, err := db.SchemaVersion(cmd.Context()); err == nil && have > store.LatestVersion(db.Dialect) {
				return UsageError{engines.Check(cmd.Context(), db)}
			}
			from, to, err := engines.Migrate(cmd.Context(), db)
			if err != nil {
				return err
			}
			if from == to {
				fmt.Fprintf(app.Stdout, "%s database %s is at schema version %d already\n", db.Engine(), db.Display, to)
				return nil
			}
			fmt.Fprintf(app.Stdout, "%s database %s migrated from schema version %d to %d\n", db.Engine(), db.Display, from, to)
			return nil
		},
	}
}
