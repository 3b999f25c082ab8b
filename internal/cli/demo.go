package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// demoPlan is what the demo does once every stage exists; until then it says so plainly.
const demoPlan = `partnerlink demo is not complete yet. When it is, it will:
  1. create ./partnerlink-demo.db (asking before it resets an existing one, or with --force)
  2. generate a realistic synthetic estate and a month of FOCUS usage
  3. import both, run attribution for the month
  4. print the top partners by association type, one explained attribution and one explained
     non-attribution, and the commands to try next
Today you can already run: partnerlink import usage FILE.csv, partnerlink export usage,
partnerlink serve, partnerlink migrate, partnerlink version.
`

func newDemoCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:     "demo",
		Short:   "Generate a realistic estate, import it, attribute it and explain the results",
		Example: "  partnerlink demo\n  partnerlink demo --force --serve",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(app.Stdout, demoPlan)
			return nil
		},
	}
}
