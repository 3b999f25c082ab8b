package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/audit"
	"github.com/partnerlink/partnerlink/internal/usage"
	"github.com/partnerlink/partnerlink/internal/whatif"
)

func addAuditCommands(app *App, p Parents) {
	p.Root.AddCommand(newAuditCmd(app), newWhatifCmd(app))
}

func newAuditCmd(app *App) *cobra.Command {
	var q audit.Query
	var from, to, format string
	c := &cobra.Command{
		Use:   "audit",
		Short: "Coverage audit of a partner: consumption without PAL credit and why, credit resting on one identity, link hygiene",
		Long: `Audit a partner organisation (or one location) over [--from, --to): per customer tenant where
it is present (a linked principal, Lighthouse, CSP, DPOR, CUA), the consumption of subscriptions
that earned it no PAL credit with explain's reason (gaps), the PAL credit that rests on a single
linked identity (attrition risk) and problems of its links (hygiene), sorted by money at stake,
with totals per currency. Computed from the stored facts and usage; nothing is written.
docs/audit.md explains each finding and what to do about it.`,
		Example: "  partnerlink audit --partner 4100000 --from 2026-03-01 --to 2026-04-01\n" +
			"  partnerlink audit --partner 4100001 --from 2026-03-01 --to 2026-04-01 --format csv",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Partner == "" {
				return UsageError{fmt.Errorf("--partner ID is required (an organisation or location ID)")}
			}
			if !slices.Contains(audit.Formats, format) {
				return UsageError{fmt.Errorf("--format %q: use one of %s", format, strings.Join(audit.Formats, ", "))}
			}
			period, err := parsePeriod(from, to, true)
			if err != nil {
				return err
			}
			q.Period = period
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			defer usage.ReadGC()() // a one-shot read of the month (see there)
			rep, err := audit.Run(cmd.Context(), db, q)
			if err != nil {
				return emptyHint(cmd.Context(), db, err)
			}
			return rep.Write(app.Stdout, format)
		},
	}
	c.Flags().StringVar(&q.Partner, "partner", "", "organisation or location ID")
	c.Flags().StringVar(&from, "from", "", "period start (YYYY-MM-DD = UTC midnight, or RFC 3339)")
	c.Flags().StringVar(&to, "to", "", "period end, exclusive")
	c.Flags().StringVar(&format, "format", "text", "text, csv or json")
	return c
}

func newWhatifCmd(app *App) *cobra.Command {
	var from, to, format, changesFile, partner, programs string
	flags := map[string]*[]string{}
	c := &cobra.Command{
		Use:   "whatif",
		Short: "Simulate changes to links, roles and PIM activations and show what they change against the stored run",
		Long: `Apply changes to an in-memory copy of the facts, attribute the period's stored usage of the
tenants they touch, and print the difference per location, association and currency against the
stored run of exactly [--from, --to) (run attribute first), with the coverage audit's entries
that change. Nothing is written. Each change holds over the whole period unless given a window
(@FROM..TO, either end may be empty):

  --add-link T/O=LOCATION[@FROM..TO]                    link principal O of tenant T
  --remove-link T/O[@FROM..TO]                          remove its link
  --add-assignment T/O:ROLE@SCOPE[:eligible][@FROM..TO]  give it a role (ROLE: name or ID)
  --activate T/O:ROLE@SCOPE=FROM..TO                    activate its eligible (PIM) assignment
  --remove-principal T/O[@FROM..TO]                     it leaves: links, roles, groups end

--changes FILE reads a change-set (JSON, docs/audit.md); its changes come before the flags'.`,
		Example: "  partnerlink whatif --from 2026-03-01 --to 2026-04-01 --add-link <tenant>/<object>=4100001\n" +
			"  partnerlink whatif --from 2026-03-01 --to 2026-04-01 --remove-principal <tenant>/<object>@2026-03-15..\n" +
			"  partnerlink whatif --from 2026-03-01 --to 2026-04-01 --activate '<tenant>/<object>:Owner@/subscriptions/<sub>=2026-03-02..2026-03-03'\n" +
			"  partnerlink whatif --from 2026-03-01 --to 2026-04-01 --changes changes.json --format csv",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := whatif.Request{Partner: partner, Caller: whatif.Caller{Operator: true}}
			if changesFile != "" {
				f, err := os.Open(changesFile)
				if err != nil {
					return UsageError{fmt.Errorf("--changes: %w", err)}
				}
				cs, err := whatif.DecodeChangeSet(f, changesFile)
				f.Close()
				if err != nil {
					return UsageError{err}
				}
				req.Changes = cs.Changes
				from, to = orFile(from, cs.From), orFile(to, cs.To)
				req.Partner = orFile(req.Partner, cs.Partner)
			}
			for _, op := range whatif.Ops {
				for _, v := range *flags[op] {
					ch, err := whatif.ParseFlag(op, v)
					if err != nil {
						return UsageError{err}
					}
					req.Changes = append(req.Changes, ch)
				}
			}
			if format != "text" && format != "csv" && format != "json" {
				return UsageError{fmt.Errorf("--format %q: use text, csv or json", format)}
			}
			period, err := parsePeriod(from, to, true)
			if err != nil {
				return err
			}
			req.Period = period
			if programs != "" {
				if req.Programs, err = attribution.LoadPrograms(programs); err != nil {
					return UsageError{err}
				}
			}
			db, err := app.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			res, err := whatif.Run(cmd.Context(), db, req)
			if err != nil {
				return err
			}
			return res.Write(app.Stdout, format)
		},
	}
	for _, op := range whatif.Ops {
		flags[op] = new([]string)
	}
	c.Flags().StringArrayVar(flags[whatif.OpAddLink], "add-link", nil, "T/O=LOCATION[@FROM..TO]: link a principal (repeatable)")
	c.Flags().StringArrayVar(flags[whatif.OpRemoveLink], "remove-link", nil, "T/O[@FROM..TO]: remove a principal's link (repeatable)")
	c.Flags().StringArrayVar(flags[whatif.OpAddAssignment], "add-assignment", nil, "T/O:ROLE@SCOPE[:eligible][@FROM..TO]: add a role assignment (repeatable)")
	c.Flags().StringArrayVar(flags[whatif.OpActivate], "activate", nil, "T/O:ROLE@SCOPE=FROM..TO: activate an eligible (PIM) assignment (repeatable)")
	c.Flags().StringArrayVar(flags[whatif.OpRemovePrincipal], "remove-principal", nil, "T/O[@FROM..TO]: the principal leaves (repeatable)")
	c.Flags().StringVar(&changesFile, "changes", "", "change-set file (JSON, see docs/audit.md)")
	c.Flags().StringVar(&partner, "partner", "", "compare this partner's coverage audit (default: the organisations whose totals change)")
	c.Flags().StringVar(&programs, "programs", "", "incentive programs file (default: the shipped programs)")
	c.Flags().StringVar(&from, "from", "", "period start of the stored run (YYYY-MM-DD or RFC 3339)")
	c.Flags().StringVar(&to, "to", "", "period end, exclusive")
	c.Flags().StringVar(&format, "format", "text", "text, csv or json")
	return c
}

// orFile is the flag's value when given, else the file's.
func orFile(flag, file string) string {
	if flag != "" {
		return flag
	}
	return file
}
