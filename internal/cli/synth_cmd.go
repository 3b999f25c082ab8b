package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/synth"
)

// addSynthCommand adds `partnerlink synth`: a deterministic synthetic estate and FOCUS usage.
func addSynthCommand(app *App, p Parents) {
	var seed int64
	var scale, out string
	var months int
	var multiCloud string
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Generate a deterministic synthetic estate.json and FOCUS usage.csv",
		Long: `Writes DIR/estate.json and DIR/usage.csv for a seed and a scale. The same seed and scale give
byte-identical files. Every time in them is on a whole UTC hour; usage covers the days from
2026-03-01, or with --months N the N calendar months ending with March 2026 (customers join and
leave, a CSP customer moves to another reseller, PIM roles are activated every month). With
--multi-cloud the estate also holds AWS accounts and Google Cloud projects (with resale by
partners) and partner identifiers, and the usage AWS and Google rows with partner tags
(aws-apn-id, goog-partner-solution) and marketplace sellers. Scales: ` + strings.Join(synth.ScaleNames(), ", ") + `
(demo: 12 months, multi-cloud), a fraction such as bench/10, and an optional ",rows=N" to change
the number of usage rows.`,
		Example: "  partnerlink synth --seed 1 --scale demo --out ./synthetic\n  partnerlink synth --scale bench/10 --out /tmp/bench",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := synth.ParseScale(scale)
			if err != nil {
				return UsageError{err}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out %s: %w", out, err)
			}
			if cmd.Flags().Changed("months") {
				if months < 1 || months > 120 {
					return UsageError{fmt.Errorf("--months %d: give 1 to 120 months", months)}
				}
				sc.Months = months
			}
			switch multiCloud {
			case "yes", "true":
				sc.MultiCloud = true
			case "no", "false":
				sc.MultiCloud = false
			case "":
			default:
				return UsageError{fmt.Errorf("--multi-cloud %q: use yes or no (default: as the scale says)", multiCloud)}
			}
			d := synth.Generate(seed, sc)
			if err := synthWriteFile(filepath.Join(out, "estate.json"), d.WriteEstate); err != nil {
				return err
			}
			if err := synthWriteFile(filepath.Join(out, "usage.csv"), d.WriteUsage); err != nil {
				return err
			}
			e := d.Estate
			fmt.Fprintf(app.Stdout, "wrote %s: %d partners, %d tenants, %d subscriptions, %d principals, %d role assignments, %d links\n",
				filepath.Join(out, "estate.json"), len(e.Partners), len(e.Tenants), len(e.Subscriptions), len(e.Principals), len(e.RoleAssignments), len(e.Links))
			if len(e.Accounts)+len(e.Identifiers) > 0 {
				fmt.Fprintf(app.Stdout, "  and %d accounts of other clouds, %d partner identifiers\n", len(e.Accounts), len(e.Identifiers))
			}
			fmt.Fprintf(app.Stdout, "wrote %s: %d usage rows from %s to %s\n", filepath.Join(out, "usage.csv"), d.Rows,
				d.From.Format("2006-01-02"), d.To.Format("2006-01-02"))
			return nil
		},
	}
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed; the same seed gives the same files")
	cmd.Flags().StringVar(&scale, "scale", "demo", "size: "+strings.Join(synth.ScaleNames(), ", ")+", or e.g. bench/10, demo,rows=500000")
	cmd.Flags().StringVar(&out, "out", ".", "directory to write estate.json and usage.csv into")
	cmd.Flags().IntVar(&months, "months", 0, "calendar months of usage ending with March 2026 (default: as the scale says)")
	cmd.Flags().StringVar(&multiCloud, "multi-cloud", "", "yes: add AWS and Google Cloud accounts, identifiers and usage; no: Azure only (default: as the scale says)")
	p.Root.AddCommand(cmd)
}

// writeFile writes through fn into path, reporting the path on failure.
func synthWriteFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
