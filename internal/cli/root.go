// Package cli builds the partnerlink command line: one file per command or group of commands.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the command failed (bad input file, failed run, ...)
	ExitUsage = 2 // the command could not start: bad flag, unusable --db
)

// UsageError marks an error that exits with ExitUsage.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// App carries the global flags and what commands share.
type App struct {
	DBValue   string
	LogLevel  string
	LogFormat string
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	Log       *slog.Logger
	Now       func() time.Time
	// OIDCIssuers are ISSUER-URL=AUDIENCE pairs whose tokens serve accepts.
	OIDCIssuers []string
	// Serve holds serve's other settings (demo serves with the defaults).
	Serve ServeSettings
}

// OpenDB opens the database named by --db / PARTNERLINK_DB (engines.Open): a new database is
// migrated, one at another schema version refused with the hint to run `partnerlink migrate`.
// A database that cannot be used is a UsageError (exit 2) with one line naming the value and
// the fix.
func (a *App) OpenDB(ctx context.Context) (*store.DB, error) {
	db, err := engines.Open(ctx, a.DBValue)
	if err != nil {
		return nil, UsageError{err}
	}
	return db, nil
}

// OpenCurrentDB opens the database only if it is at this binary's schema version (serve:
// migrating is the operator's explicit step, `partnerlink migrate`).
func (a *App) OpenCurrentDB(ctx context.Context) (*store.DB, error) {
	db, err := engines.OpenCurrent(ctx, a.DBValue)
	if err != nil {
		return nil, UsageError{err}
	}
	return db, nil
}

// Parents shared by several areas' commands.
type Parents struct {
	Root, Import, Export, Report *cobra.Command
}

// Main runs the CLI and returns the process exit code: ExitOK, ExitUsage when the command could
// not start (see exitCode) and ExitError when it failed.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := &App{Stdin: stdin, Stdout: stdout, Stderr: stderr, Now: time.Now}
	root := newRoot(app)
	started := markStart(root)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "partnerlink: %s\n", strings.TrimSpace(err.Error()))
	return exitCode(err, *started)
}

// exitCode derives the exit code from the error's type. Everything that fails before a
// command's own code runs is about how it was invoked (an unknown command or flag, a bad flag
// value, a missing required flag or argument) and is a usage error; inside the command, a
// UsageError says the same (an unusable --db, a value the command refuses) and every other
// error is a failure.
func exitCode(err error, started bool) int {
	var ue UsageError
	if !started || errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitError
}

// markStart wraps the run function of every command so that Main knows whether an error came
// from cobra's own parsing and validation (before) or from the command (after). It returns
// the flag it sets.
func markStart(root *cobra.Command) *bool {
	started := new(bool)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				*started = true
				return run(cmd, args)
			}
		} else if run := c.Run; run != nil {
			c.Run = func(cmd *cobra.Command, args []string) {
				*started = true
				run(cmd, args)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return started
}

func newRoot(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "partnerlink",
		Short: "Partner attribution by admin link, CSP, DPOR and CUA, in the open",
		Long: `partnerlink attributes cloud consumption to the partners who drive it: Partner Admin Link
(PAL), CSP, DPOR and CUA associations, partner incentives, and an explanation for every
attribution or missing attribution.`,
		Example:       "  partnerlink demo\n  partnerlink serve --db postgres://postgres@127.0.0.1:5432/partnerlink?sslmode=disable",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return app.setup()
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&app.DBValue, "db", envOr("PARTNERLINK_DB", ""), "database: a SQLite file path (default ./partnerlink.db) or a postgres:// DSN (env PARTNERLINK_DB)")
	pf.StringVar(&app.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&app.LogFormat, "log-format", "text", "log format: text or json")

	p := Parents{
		Root: root,
		Import: &cobra.Command{Use: "import", Short: "Import estate files, Azure exports and usage",
			Example: "  partnerlink import estate estate.json\n  partnerlink import usage focus.csv.gz"},
		Export: &cobra.Command{Use: "export", Short: "Export the estate or usage as stored",
			Example: "  partnerlink export estate --out estate.json"},
		Report: &cobra.Command{Use: "report", Short: "Reports of attribution and incentive results",
			Example: "  partnerlink report attributions --from 2026-03-01 --to 2026-04-01 --format csv"},
	}
	root.AddCommand(newVersionCmd(app), newMigrateCmd(app), newServeCmd(app), newDemoCmd(app), p.Import, p.Export, p.Report)
	addLinkCommands(app, p)        // link_cmds.go: token
	addEstateCommands(app, p)      // estate_cmds.go: import estate / azure-*, export estate, roles
	addUsageCommands(app, p)       // usage_cmds.go: import usage, export usage
	addAttributionCommands(app, p) // attribution_cmds.go: attribute, report attributions|incentives, explain, synth
	addReportCommands(app, p)      // report_cmds.go: report partner|customer|operator
	addSynthCommand(app, p)        // synth_cmd.go: synth
	addAuditCommands(app, p)       // audit_cmds.go: audit, whatif
	addIdentifierCommands(app, p)  // identifier_cmds.go: identifiers, accounts (version 2)
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (a *App) setup() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.LogLevel)); err != nil {
		return UsageError{fmt.Errorf("--log-level %q is not a level; use debug, info, warn or error", a.LogLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch a.LogFormat {
	case "text":
		a.Log = slog.New(slog.NewTextHandler(a.Stderr, opts))
	case "json":
		a.Log = slog.New(slog.NewJSONHandler(a.Stderr, opts))
	default:
		return UsageError{fmt.Errorf("--log-format %q is not a format; use text or json", a.LogFormat)}
	}
	return nil
}
