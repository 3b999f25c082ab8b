package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDemoCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:     "demo",
		Short:   "Generate a realistic estate, import it, attribute it and explain the results",
		Example: "  partnerlink demo\n  partnerlink demo --force --serve",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(app.Stdout, "demo: not built yet")
			return nil
		},
	}
}
