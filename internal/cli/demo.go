package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/store/postgres"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// The demo always uses seed 1 at the demo scale, so that its summary (and the docs quoting it)
// is the same on every machine.
const demoSeed = 1

func newDemoCmd(app *App) *cobra.Command {
	var force, serve bool
	var addr, path string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Generate a realistic estate, import it, attribute it and explain the results",
		Long: `demo creates ./partnerlink-demo.db, or the SQLite file named by --file, --db or PARTNERLINK_DB
(asking before it resets an existing one; --force resets without asking), generates a synthetic estate and a month of FOCUS usage, imports both, runs
attribution for the month and prints the top partners by association type, one explained
attribution and one explained non-attribution, and the commands to try next. With --serve it then
serves the dashboard on that database and prints sign-in tokens for a partner, a customer
administrator and an operator.`,
		Example: "  partnerlink demo\n  partnerlink demo --force --serve\n  partnerlink demo --file /tmp/demo.db",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			path, err := demoPath(app.DBValue, path, cmd.Flags().Changed("file"))
			if err != nil {
				return err
			}
			if err := demoPrepareFile(app, path, force); err != nil {
				return err
			}
			res, err := runDemo(ctx, app, path)
			if err != nil {
				return err
			}
			printDemo(app.Stdout, path, res)
			if !serve {
				return nil
			}
			db, err := engines.Open(ctx, path)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := printDemoTokens(ctx, app, db, res); err != nil {
				return err
			}
			h, stop, err := buildServer(ctx, app, api.Deps{DB: db, Log: app.Log, Now: app.Now})
			if err != nil {
				return err
			}
			defer stop()
			return server.Serve(ctx, addr, h, app.Stdout)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "reset an existing demo database without asking")
	cmd.Flags().BoolVar(&serve, "serve", false, "serve the dashboard on the demo database afterwards")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address for --serve")
	cmd.Flags().StringVar(&path, "file", "partnerlink-demo.db", "the demo SQLite database to create (--db or PARTNERLINK_DB name it too)")
	return cmd
}

// demoPath is the SQLite file the demo creates: --file when given, else the database named by
// --db / PARTNERLINK_DB (dbValue), else the default ./partnerlink-demo.db. The demo resets the
// file it writes, so it refuses a PostgreSQL DSN (it would mix the demo into a real database)
// and a --file that disagrees with --db.
func demoPath(dbValue, file string, fileSet bool) (string, error) {
	if dbValue == "" {
		return file, nil
	}
	p := dbValue
	if strings.HasPrefix(p, "postgres://") || strings.HasPrefix(p, "postgresql://") || strings.Contains(p, "://") && !strings.HasPrefix(p, "sqlite:") {
		return "", UsageError{fmt.Errorf("demo creates a SQLite file and resets it; --db / PARTNERLINK_DB names %s: give a file path (--db partnerlink-demo.db or --file PATH)", postgres.Redact(p))}
	}
	if s, ok := strings.CutPrefix(p, "sqlite:"); ok {
		p = strings.TrimPrefix(s, "//")
	} else if s, ok := strings.CutPrefix(p, "file:"); ok {
		p = s
	}
	if fileSet && filepath.Clean(file) != filepath.Clean(p) {
		return "", UsageError{fmt.Errorf("--file %s and --db / PARTNERLINK_DB %s name different databases: give one of them", file, p)}
	}
	return p, nil
}

// demoPrepareFile removes an existing demo database after confirmation (or --force). Without a
// terminal to ask on, it refuses rather than destroy data silently.
func demoPrepareFile(app *App, path string, force bool) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if !force {
		f, ok := app.Stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return UsageError{fmt.Errorf("%s already exists; pass --force to reset it (or --file to use another path)", path)}
		}
		fmt.Fprintf(app.Stdout, "%s already exists. Reset it? [y/N] ", path)
		line, _ := bufio.NewReader(f).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return fmt.Errorf("kept %s; nothing done", path)
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("resetting %s: %w", p, err)
		}
	}
	return nil
}

type demoTop struct {
	Association, OrgID, OrgName, Currency string
	Amount                                money.Nanos
}

type demoResult struct {
	Data                             *synth.Dataset
	Period                           timeline.Window
	ImportSeconds, AttributeSeconds  float64
	UsageRows, AttRows, IncRows      int64
	Top                              []demoTop
	Explained, NotExplained, OrgIDEx string
}

// runDemo generates, imports and attributes the demo dataset into the database at path.
func runDemo(ctx context.Context, app *App, path string) (*demoResult, error) {
	d := synth.Generate(demoSeed, synth.Demo)
	dir, err := os.MkdirTemp("", "partnerlink-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string]func(io.Writer) error{"estate.json": d.WriteEstate, "usage.csv": d.WriteUsage}
	for name, fn := range files {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		err = fn(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	db, err := engines.Open(ctx, path)
	if err != nil {
		return nil, UsageError{err}
	}
	defer db.Close()
	res := &demoResult{Data: d, Period: timeline.Window{From: timeline.Nanos(d.From), To: timeline.Nanos(d.To)}}
	start := time.Now()
	ef, err := os.Open(filepath.Join(dir, "estate.json"))
	if err != nil {
		return nil, err
	}
	_, err = estatefile.Import(ctx, db, ef, "estate.json", estatefile.Options{AsOf: timeline.Nanos(app.Now())})
	ef.Close()
	if err != nil {
		return nil, fmt.Errorf("demo estate import: %w", err)
	}
	imps, err := usage.ImportFiles(ctx, db, []string{filepath.Join(dir, "usage.csv")}, usage.ImportOptions{Now: app.Now})
	if err != nil {
		return nil, fmt.Errorf("demo usage import: %w", err)
	}
	for _, i := range imps {
		res.UsageRows += i.RowsAdded
	}
	res.ImportSeconds = time.Since(start).Seconds()
	start = time.Now()
	if _, err := results.Run(ctx, db, results.RunOptions{Period: res.Period, RequestedBy: "partnerlink demo", Now: app.Now}); err != nil {
		return nil, fmt.Errorf("demo attribution: %w", err)
	}
	res.AttributeSeconds = time.Since(start).Seconds()
	if err := demoQueries(ctx, db, res); err != nil {
		return nil, err
	}
	res.Explained, res.NotExplained, res.OrgIDEx, err = demoExplain(ctx, db, res)
	return res, err
}

// demoQueries reads the top three organisations per association type (organisation totals:
// duplicates within an organisation counted once) and the row counts.
func demoQueries(ctx context.Context, db *store.DB, res *demoResult) error {
	w := res.Period
	var err error
	if res.AttRows, res.IncRows, err = results.RowCounts(ctx, db, w.From, w.To); err != nil {
		return err
	}
	// Organisation totals: each record counted once per organisation.
	orgName, err := directory.OrgNames(ctx, db)
	if err != nil {
		return err
	}
	tots, err := results.OrgTotals(ctx, db, w.From, w.To)
	if err != nil {
		return err
	}
	var all []demoTop
	for _, x := range tots {
		name, ok := orgName[x.OrgID]
		if !ok {
			continue // as the join with the directory did
		}
		all = append(all, demoTop{Association: x.Association, OrgID: x.OrgID, OrgName: name, Currency: x.Currency, Amount: money.Nanos(x.Amount)})
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Association != b.Association {
			return demoAssocOrder(a.Association) < demoAssocOrder(b.Association)
		}
		if a.Currency != b.Currency {
			return a.Currency > b.Currency // USD before EUR: most of the estate bills in USD
		}
		if a.Amount != b.Amount {
			return a.Amount > b.Amount
		}
		return a.OrgID < b.OrgID
	})
	per := map[string]int{}
	for _, t := range all {
		if k := t.Association + t.Currency; per[k] < 3 {
			per[k]++
			res.Top = append(res.Top, t)
		}
	}
	return nil
}

func demoAssocOrder(a string) int { return strings.Index("PAL CSP DPOR CUA TAG RESALE MARKETPLACE", a) }

func printDemo(w io.Writer, path string, r *demoResult) {
	e := r.Data.Estate
	from, to := r.Data.From.Format("2006-01-02"), r.Data.To.Format("2006-01-02")
	span := r.Data.From.Format("January 2006") + " to " + r.Data.To.AddDate(0, 0, -1).Format("January 2006")
	fmt.Fprintf(w, "partnerlink demo: %s\n\n", path)
	fmt.Fprintf(w, "Generated (seed %d, scale %s): %d partner organisations, %d tenants, %d subscriptions, %d principals,\n",
		r.Data.Seed, r.Data.Scale.Name, len(e.Partners), len(e.Tenants), len(e.Subscriptions), len(e.Principals))
	fmt.Fprintf(w, "  %d role assignments, %d links and %s usage rows, %s.\n", len(e.RoleAssignments), len(e.Links), count(r.UsageRows), span)
	if len(e.Accounts)+len(e.Identifiers) > 0 {
		fmt.Fprintf(w, "  Beside Azure: %d AWS and Google Cloud accounts (some resold by partners), %d partner identifiers\n", len(e.Accounts), len(e.Identifiers))
		fmt.Fprintln(w, "  (AWS product codes, Google Cloud solutions, marketplace sellers) and usage with partner tags.")
	}
	if st := r.Data.Story; len(st.Joined)+len(st.Churned) > 0 {
		fmt.Fprintf(w, "  Over the year %d customers join and %d leave", len(st.Joined), len(st.Churned))
		if tr := st.Transfer; tr.TenantID != "" {
			fmt.Fprintf(w, "; %s moves its CSP subscriptions from %s (%s)\n  to %s (%s) on %s",
				tr.TenantName, r.Data.LocationNames[tr.FromLocation], tr.FromLocation, r.Data.LocationNames[tr.ToLocation], tr.ToLocation, tr.At.Format("2006-01-02"))
		}
		fmt.Fprintln(w, ".")
	}
	fmt.Fprintf(w, "Imported in %.1f s; attributed %s to %s in %.1f s: %s attribution rows, %s incentive rows.\n\n",
		r.ImportSeconds, from, to, r.AttributeSeconds, count(r.AttRows), count(r.IncRows))
	fmt.Fprintf(w, "Top partners by association type, %s (organisation totals: a record counted once per organisation)\n", span)
	last, lastCur := "", ""
	rank := 0
	top := append([]demoTop(nil), r.Top...)
	sort.SliceStable(top, func(i, j int) bool { return top[i].Currency > top[j].Currency }) // USD, then EUR
	for _, t := range top {
		if t.Currency != lastCur {
			fmt.Fprintf(w, "  in %s\n", t.Currency)
			lastCur, last = t.Currency, ""
		}
		label := ""
		if t.Association != last {
			label, last, rank = t.Association, t.Association, 0
		}
		rank++
		fmt.Fprintf(w, "    %-11s %d. %-28s %-8s %18s\n", label, rank, t.OrgName, t.OrgID, t.Amount.DisplayIn(t.Currency))
	}
	fmt.Fprintln(w, "  (amounts rounded to cents for reading; reports in CSV, JSON and Parquet are exact)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Explained: an attribution")
	fmt.Fprintln(w, indent(r.Explained))
	fmt.Fprintln(w, "Explained: no attribution (an eligible PIM role never activated)")
	fmt.Fprintln(w, indent(r.NotExplained))
	fmt.Fprintln(w, "Explained: no attribution (a partner used its organisation ID)")
	fmt.Fprintln(w, indent(r.OrgIDEx))
	c := r.Data.Cases
	// The last month for the row reports (a year of rows is long), the whole year otherwise.
	lastFrom := r.Data.To.AddDate(0, -1, 0).Format("2006-01-02")
	fmt.Fprintln(w, "Next commands to try:")
	db := "--db " + path
	fmt.Fprintf(w, "  partnerlink %s report partner --partner %s --from %s --to %s\n", db, r.Data.Estate.Partners[0].ID, from, to)
	fmt.Fprintf(w, "  partnerlink %s report attributions --from %s --to %s --partner %s\n", db, lastFrom, to, c.GroupChain.LocationID)
	fmt.Fprintf(w, "  partnerlink %s explain --partner %s --subscription %s --from %s --to %s\n", db, c.UnactivatedPIM.LocationID, c.UnactivatedPIM.SubscriptionID, from, to)
	fmt.Fprintf(w, "  partnerlink %s report incentives --from %s --to %s --format csv\n", db, lastFrom, to)
	fmt.Fprintf(w, "  partnerlink demo --force --serve\n")
}

// count groups a count's digits: 36000 -> "36,000".
func count(n int64) string {
	s := money.Nanos(n * money.Scale).Display()
	return strings.TrimSuffix(s, ".00")
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}

// demoExplain explains the three hand-placed cases of the synthetic estate over the month.
func demoExplain(ctx context.Context, db *store.DB, res *demoResult) (found, missing, orgID string, err error) {
	c := res.Data.Cases
	q := attribution.ExplainQuery{Partner: c.GroupChain.LocationID, Resource: c.GroupChain.ResourceID, Period: res.Period}
	ex, err := attribution.Explain(ctx, db, q)
	if err != nil {
		return "", "", "", fmt.Errorf("demo explain: %w", err)
	}
	found = ex.Text()
	ex, err = attribution.Explain(ctx, db, attribution.ExplainQuery{Partner: c.UnactivatedPIM.LocationID, Subscription: c.UnactivatedPIM.SubscriptionID, Period: res.Period})
	if err != nil {
		return "", "", "", fmt.Errorf("demo explain: %w", err)
	}
	missing = ex.Text()
	ex, err = attribution.Explain(ctx, db, attribution.ExplainQuery{Partner: c.OrgIDAttempt.OrgID, Subscription: c.OrgIDAttempt.SubscriptionID, Period: res.Period})
	if err != nil {
		return "", "", "", fmt.Errorf("demo explain: %w", err)
	}
	return found, missing, ex.Text(), nil
}

// printDemoTokens mints 12-hour sign-in tokens (with the server's signing key in the demo
// database) for a partner organisation, the administrator of one of its customers' tenants and
// an operator, and prints them.
func printDemoTokens(ctx context.Context, app *App, db *store.DB, r *demoResult) error {
	key, err := auth.LoadOrCreateKey(ctx, db, app.Now)
	if err != nil {
		return err
	}
	c := r.Data.Cases.GroupChain
	var org, orgName, orgTenant string
	for _, p := range r.Data.Estate.Partners {
		for _, l := range p.Locations {
			if l.ID == c.LocationID {
				org, orgName, orgTenant = p.ID, p.Name, p.TenantIDs[0]
			}
		}
	}
	ids := []struct {
		who    string
		claims auth.Claims
	}{
		{fmt.Sprintf("partner %s (%s)", orgName, org), auth.Claims{TenantID: orgTenant, ObjectID: "00000000-0000-4000-8000-00000000d001", IDType: "user",
			Roles: []string{string(auth.RolePartner)}, PartnerIDs: []string{org}}},
		{"customer admin of tenant " + c.TenantID, auth.Claims{TenantID: c.TenantID, ObjectID: "00000000-0000-4000-8000-00000000d002", IDType: "user",
			Roles: []string{string(auth.RoleCustomerAdmin)}}},
		{"operator", auth.Claims{TenantID: orgTenant, ObjectID: "00000000-0000-4000-8000-00000000d003", IDType: "user",
			Roles: []string{string(auth.RoleOperator)}}},
	}
	fmt.Fprintln(app.Stdout, "\nSign-in tokens (valid 12 hours; paste one on the sign-in page):")
	for _, id := range ids {
		tok, err := key.Mint(id.claims, app.Now(), 12*time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintf(app.Stdout, "  %s:\n    %s\n", id.who, tok)
	}
	return nil
}
