package cli

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The demo runs end to end on a temporary file, names the expected partners and its top totals
// are the organisation totals stored in the attributions table.
//
// It runs the demo as a new user does, with no flags in a fresh directory, and ends with the
// README's tour on that database (one demo run for both: it is the slowest step under -race).
func TestDemoSummary(t *testing.T) {
	t.Chdir(t.TempDir())
	path := "partnerlink-demo.db"
	code, out, errOut := run(t, "demo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Top partners by association type", "PAL", "CSP", "DPOR", "CUA",
		"Explained: an attribution", "Explained: no attribution", "Next commands to try", "partnerlink --db " + path} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	db, err := engines.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The first partner listed under each association is the organisation with the largest
	// USD total of rows not duplicated within the organisation; its total is printed exactly.
	// Computed here from the stored rows, not from the rollups the demo reads.
	orgTotal := map[[2]string]int64{}
	err = results.StoredRows(context.Background(), db, results.RowFilter{Period: timeline.Always()}, func(r *attribution.Row) error {
		if r.Currency == "USD" && !r.DuplicateAtOrg {
			orgTotal[[2]string{r.Association, r.OrgID}] += int64(r.Amount)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, assoc := range []string{"PAL", "CSP", "DPOR", "CUA"} {
		var org string
		var total int64
		for k, v := range orgTotal {
			if k[0] == assoc && (v > total || v == total && k[1] < org) {
				org, total = k[1], v
			}
		}
		var name string
		if err := db.QueryRowContext(context.Background(), `SELECT name FROM partner_orgs WHERE id = $1`, org).Scan(&name); err != nil {
			t.Fatal(err)
		}
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), assoc+" ") && strings.Contains(l, " 1. ") && strings.Contains(l, "USD") && line == "" {
				line = l
			}
		}
		if !strings.Contains(line, name) || !strings.Contains(line, org) || !strings.Contains(line, money.Nanos(total).DisplayIn("USD")) {
			t.Errorf("%s: top line %q, want %s (%s) %s", assoc, line, name, org, money.Nanos(total).DisplayIn("USD"))
		}
	}
	// The tokens --serve prints verify with the demo database's key and carry the three roles.
	var tb strings.Builder
	app := &App{Stdout: &tb, Now: time.Now}
	if err := printDemoTokens(context.Background(), app, db, &demoResult{Data: synth.Generate(demoSeed, synth.Demo)}); err != nil {
		t.Fatal(err)
	}
	key, err := auth.LoadOrCreateKey(context.Background(), db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[auth.Role]bool{}
	for _, l := range strings.Split(tb.String(), "\n") {
		if l = strings.TrimSpace(l); strings.Count(l, ".") == 2 && !strings.Contains(l, " ") {
			id, err := auth.NewVerifier(key, time.Now).Verify(l)
			if err != nil {
				t.Fatalf("token does not verify: %v", err)
			}
			for _, r := range id.Roles {
				roles[r] = true
			}
		}
	}
	if !roles[auth.RolePartner] || !roles[auth.RoleCustomerAdmin] || !roles[auth.RoleOperator] {
		t.Errorf("token roles %v from:\n%s", roles, tb.String())
	}
	// A second run without --force and without a terminal refuses to reset the file.
	code, _, errOut = run(t, "demo", "--file", path)
	if code != ExitUsage || !strings.Contains(errOut, "--force") {
		t.Errorf("second run: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the demo database is gone: %v", err)
	}
	db.Close()
	t.Run("README tour", readmeTour)
}

// An explicit --db (or PARTNERLINK_DB) is the demo's database: the demo never silently writes
// ./partnerlink-demo.db instead. Checked through the existing-file refusal, which names the
// file the demo would reset (the full demo run is TestDemoSummary's, on the default path).
func TestDemoHonoursDB(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("mine.db", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "--db", "mine.db", "demo")
	if code != ExitUsage || !strings.Contains(errOut, "mine.db already exists") {
		t.Errorf("demo --db mine.db over an existing file: exit %d, %s; want a refusal naming mine.db", code, errOut)
	}
	t.Setenv("PARTNERLINK_DB", "sqlite:mine.db")
	code, _, errOut = run(t, "demo")
	if code != ExitUsage || !strings.Contains(errOut, "mine.db already exists") {
		t.Errorf("PARTNERLINK_DB=sqlite:mine.db demo: exit %d, %s; want a refusal naming mine.db", code, errOut)
	}
	t.Setenv("PARTNERLINK_DB", "")
	code, _, errOut = run(t, "--db", "postgres://u@127.0.0.1:1/x", "demo")
	if code != ExitUsage || !strings.Contains(errOut, "SQLite file") {
		t.Errorf("demo on a DSN: exit %d, %s; want a refusal", code, errOut)
	}
	code, _, errOut = run(t, "--db", "a.db", "demo", "--file", "b.db")
	if code != ExitUsage || !strings.Contains(errOut, "name different databases") {
		t.Errorf("demo --db a.db --file b.db: exit %d, %s; want a refusal", code, errOut)
	}
	if _, err := os.Stat("partnerlink-demo.db"); err == nil {
		t.Error("the demo wrote ./partnerlink-demo.db although --db named another file")
	}
	for _, c := range []struct {
		db, file string
		set      bool
		want     string
	}{
		{"", "partnerlink-demo.db", false, "partnerlink-demo.db"},
		{"x.db", "partnerlink-demo.db", false, "x.db"},
		{"sqlite://x.db", "partnerlink-demo.db", false, "x.db"},
		{"file:x.db", "partnerlink-demo.db", false, "x.db"},
		{"./x.db", "x.db", true, "./x.db"},
		{"", "y.db", true, "y.db"},
	} {
		got, err := demoPath(c.db, c.file, c.set)
		if err != nil || got != c.want {
			t.Errorf("demoPath(%q, %q, %v) = %q, %v; want %q", c.db, c.file, c.set, got, err, c.want)
		}
	}
}
