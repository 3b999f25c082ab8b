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
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Generate a deterministic synthetic estate.json and FOCUS usage.csv",
		Long: `Writes DIR/estate.json and DIR/usage.csv for a seed and a scale. The same seed and scale give
byte-identical files. Every time in them is on a whole UTC hour; usage covers the days from
2026-03-01. Scales: ` + strings.Join(synth.ScaleNames(), ", ") + `, a fraction such as bench/10, and
an optional ",rows=N" to change the number of usage rows.`,
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
			fmt.Fprintf(app.Stdout, "wrote %s: %d usage rows from %s to %s\n", filepath.Join(out, "usage.csv"), sc.UsageRows,
				d.From.Format("2006-01-02"), d.To.Format("2006-01-02"))
			return nil
		},
	}
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed; the same seed gives the same files")
	cmd.Flags().StringVar(&scale, "scale", "demo", "size: "+strings.Join(synth.ScaleNames(), ", ")+", or e.g. bench/10, demo,rows=500000")
	cmd.Flags().StringVar(&out, "out", ".", "directory to write estate.json and usage.csv into")
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
