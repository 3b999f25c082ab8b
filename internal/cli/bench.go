package cli

import "github.com/spf13/cobra"

// newBenchCmd is the parent of the benchmark commands. Benchmarks print measurements and
// ratios against a peer measured in the same run; they are not tests and assert nothing about
// speed.
func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "bench",
		Short:   "Benchmarks: measure this machine, with ratios against a peer measured in the same run",
		Example: "  partnerlink bench usage --rows 1000000",
	}
}
