package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// addIdentifierCommands adds `identifiers list|add|close` and `accounts list`: the operator's
// view of attribution.md version 2's facts (the estate file imports them in bulk).
func addIdentifierCommands(app *App, p Parents) {
	ids := &cobra.Command{Use: "identifiers", Short: "Partner identifiers: what a location is known by in other programs (TAG, MARKETPLACE)",
		Example: "  partnerlink identifiers list --partner 4100001\n  partnerlink identifiers add --partner 4100001 --scheme aws-product-code --value 5ugbbrmu7ud3u5hsipfzug61p --from 2026-01-01"}
	var partner, scheme, value, from, to, at string
	list := &cobra.Command{Use: "list", Short: "List identifiers with their windows (all, or of a location or organisation)",
		Example: "  partnerlink identifiers list\n  partnerlink identifiers list --partner 4100000 --scheme publisher", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			dir := directory.Store{DB: db}
			f := directory.IdentifierFilter{Scheme: scheme}
			if partner != "" {
				pr, err := dir.Resolve(cmd.Context(), partner)
				if err != nil {
					return err
				}
				if pr.Kind == directory.KindOrganisation {
					f.OrgID = pr.ID
				} else {
					f.LocationID = pr.ID
				}
			}
			list, err := dir.Identifiers(cmd.Context(), f)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(app.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "scheme\tvalue\tpartner_id\tfrom\tto")
			for _, x := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.Scheme, x.Value, x.LocationID, timeline.FormatBound(x.Window.From), timeline.FormatBound(x.Window.To))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&partner, "partner", "", "a location or organisation ID")
	list.Flags().StringVar(&scheme, "scheme", "", "only this scheme")
	add := &cobra.Command{Use: "add", Short: "Register an identifier of a location over a window (replaces the version starting at the same time)",
		Example: "  partnerlink identifiers add --partner 4100001 --scheme publisher --value \"Contoso Ltd\" --from 2026-01-01", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if partner == "" || scheme == "" || value == "" {
				return UsageError{fmt.Errorf("--partner, --scheme and --value are required")}
			}
			win := timeline.Always()
			var err error
			if from != "" {
				if win.From, err = timeline.ParseDateOrTime(from); err != nil {
					return UsageError{fmt.Errorf("--from %q: %w", from, err)}
				}
			}
			if to != "" {
				if win.To, err = timeline.ParseDateOrTime(to); err != nil {
					return UsageError{fmt.Errorf("--to %q: %w", to, err)}
				}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := (directory.Store{DB: db}).PutIdentifier(cmd.Context(), directory.Identifier{Scheme: scheme, Value: value, LocationID: partner, Window: win}); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%s %q names %s from %s to %s; re-run attribution for the periods it affects\n", strings.ToLower(scheme), strings.TrimSpace(value), partner,
				timeline.FormatBound(win.From), timeline.FormatBound(win.To))
			return nil
		},
	}
	add.Flags().StringVar(&partner, "partner", "", "the location (an organisation ID is refused with its locations)")
	add.Flags().StringVar(&scheme, "scheme", "", "aws-product-code, aws-revenue-attribution, gcp-solution, publisher or your own")
	add.Flags().StringVar(&value, "value", "", "the identifier's value")
	add.Flags().StringVar(&from, "from", "", "window start (YYYY-MM-DD or RFC 3339; default: always)")
	add.Flags().StringVar(&to, "to", "", "window end, exclusive (default: open)")
	closeCmd := &cobra.Command{Use: "close", Short: "End the version of an identifier in force at --at, keeping its history",
		Example: "  partnerlink identifiers close --scheme aws-product-code --value 5ugbbrmu7ud3u5hsipfzug61p --at 2026-04-01", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scheme == "" || value == "" || at == "" {
				return UsageError{fmt.Errorf("--scheme, --value and --at are required")}
			}
			t, err := timeline.ParseDateOrTime(at)
			if err != nil {
				return UsageError{fmt.Errorf("--at %q: %w", at, err)}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			x, err := directory.Store{DB: db}.CloseIdentifier(cmd.Context(), scheme, value, t)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%s %q named %s from %s to %s\n", x.Scheme, x.Value, x.LocationID, timeline.FormatBound(x.Window.From), timeline.FormatBound(x.Window.To))
			return nil
		},
	}
	closeCmd.Flags().StringVar(&scheme, "scheme", "", "the scheme")
	closeCmd.Flags().StringVar(&value, "value", "", "the value")
	closeCmd.Flags().StringVar(&at, "at", "", "when the identifier stops naming its location")
	ids.AddCommand(list, add, closeCmd)

	accounts := &cobra.Command{Use: "accounts", Short: "Accounts of other providers and the locations that resold them (RESALE)",
		Example: "  partnerlink accounts list --provider aws"}
	var provider string
	alist := &cobra.Command{Use: "list", Short: "List accounts with their resale windows",
		Example: "  partnerlink accounts list\n  partnerlink accounts list --provider google", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			list, err := account.Store{DB: db}.List(cmd.Context(), account.Filter{Provider: provider})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(app.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "provider\tid\tkind\tname\tbilling_account\tresold_by\tfrom\tto")
			for _, a := range list {
				if len(a.Resale) == 0 {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t-\t\t\n", a.Provider, a.ID, a.Kind, a.Name, a.BillingAccountID)
				}
				for _, r := range a.Resale {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Provider, a.ID, a.Kind, a.Name, a.BillingAccountID, r.LocationID,
						timeline.FormatBound(r.Window.From), timeline.FormatBound(r.Window.To))
				}
			}
			return tw.Flush()
		},
	}
	alist.Flags().StringVar(&provider, "provider", "", "only this provider (aws, google, oracle, ...)")
	accounts.AddCommand(alist)
	p.Root.AddCommand(ids, accounts)
}
