package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/store/sqlite"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "dev"

func newVersionCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version and the database schema version",
		Example: "  partnerlink version\n  partnerlink version --db postgres://postgres@127.0.0.1:5432/test",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := Version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(app.Stdout, "partnerlink %s\n", v)
			// version reads the schema version of a database that exists and creates none.
			if path, local := engines.LocalPath(app.DBValue); local {
				if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
					fmt.Fprintf(app.Stdout, "schema: no database at %s (this binary: %d); the first command that needs one creates it\n",
						path, store.LatestVersion(sqlite.Dialect()))
					return nil
				}
			}
			db, err := engines.OpenNoMigrate(cmd.Context(), app.DBValue)
			if err != nil {
				return UsageError{err}
			}
			defer db.Close()
			have, err := db.SchemaVersion(cmd.Context())
			if err != nil {
				have = 0 // a new, empty database
			}
			fmt.Fprintf(app.Stdout, "schema: %d (this binary: %d) on %s %s\n", have, store.LatestVersion(db.Dialect), db.Engine(), db.Display)
			return nil
		},
	}
}
