// Command partnerlink is the partner attribution service: see README.md.
package main

import (
	"os"

	"github.com/partnerlink/partnerlink/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
