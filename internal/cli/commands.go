package cli

import "github.com/spf13/cobra"

// allCommands lists root and every subcommand, depth first.
func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if sub.Hidden || sub.Name() == "help" {
			continue
		}
		out = append(out, allCommands(sub)...)
	}
	return out
}
