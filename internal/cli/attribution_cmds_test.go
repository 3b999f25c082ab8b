package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttributeReportExplain runs the attribution commands end to end on SQLite: import the
// estate fixture and a small FOCUS file, attribute March, report the rows and explain them.
func TestAttributeReportExplain(t *testing.T) {
	db := "--db=" + filepath.Join(t.TempDir(), "a.db")
	steps := [][]string{
		{"import", "estate", "../estatefile/testdata/snapshot1.json"},
		{"import", "usage", "testdata/attribution-usage.csv"},
	}
	for _, s := range steps {
		if code, _, errOut := run(t, append([]string{db}, s...)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", s, code, errOut)
		}
	}
	// Text (the default) is a summary table; --format json the whole run.
	code, out, errOut := run(t, db, "attribute", "--from", "2026-03-01", "--to", "2026-04-01")
	if code != 0 || !strings.Contains(out, "attribution rows") || !strings.Contains(out, "Credited by association type") {
		t.Fatalf("attribute: %d %s %s", code, out, errOut)
	}
	code, out, errOut = run(t, db, "attribute", "--from", "2026-03-01", "--to", "2026-04-01", "--format", "json")
	if code != 0 {
		t.Fatalf("attribute: %d %s", code, errOut)
	}
	var res struct {
		Stored bool `json:"stored"`
		Stats  struct {
			Rows           int `json:"attribution_rows"`
			NotConsumption int `json:"not_consumption"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Stored || res.Stats.Rows != 3 || res.Stats.NotConsumption != 1 {
		t.Fatalf("attribute output %s (%v)", out, err)
	}
	code, out, errOut = run(t, db, "report", "attributions", "--from", "2026-03-01", "--to", "2026-04-01", "--partner", "4100001")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || lines[0] != "record_key,charge_start,charge_end,tenant_id,subscription_id,resource_id,service,currency,cost,partner_id,org_id,association,coverage,amount,admin_role,duplicate_at_org,provider" ||
		!strings.HasSuffix(lines[1], ",4100001,4100000,DPOR,1.000000000,10,,false,microsoft") {
		t.Fatalf("report: %d %s %s", code, out, errOut)
	}
	code, out, _ = run(t, db, "report", "incentives", "--from", "2026-03-01", "--to", "2026-04-01")
	if code != 0 || !strings.Contains(out, "rec-1,4100001,4100000,PAL,PAL-1,USD,0.2") {
		t.Fatalf("incentives: %s", out)
	}
	code, out, _ = run(t, db, "explain", "--partner", "4100001", "--record", "rec-3")
	if code != 0 || !strings.Contains(out, "not_consumption") {
		t.Fatalf("explain: %s", out)
	}
	if code, _, _ = run(t, db, "explain", "--partner", "4100001", "--record", "x", "--subscription", "y"); code != 2 {
		t.Fatalf("two targets: exit %d, want 2", code)
	}
	if code, _, _ = run(t, db, "attribute", "--from", "2026-04-01", "--to", "2026-03-01"); code != 2 {
		t.Fatalf("reversed period: exit %d, want 2", code)
	}
}

// A period without usage is attributed (nothing replaced by nothing) with a warning, and every
// "not found" on an empty database says the database is empty.
func TestFirstRunOnAnEmptyDatabase(t *testing.T) {
	db := "--db=" + filepath.Join(t.TempDir(), "empty.db")
	code, out, errOut := run(t, db, "attribute", "--from", "2026-03-01", "--to", "2026-04-01")
	if code != 0 || !strings.Contains(out, "usage records in the period") || !strings.Contains(errOut, "warning: no usage record starts in") {
		t.Fatalf("attribute on an empty database: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = run(t, db, "report", "partner", "--partner", "4100000")
	if code != 1 || !strings.Contains(errOut, "is empty (no partners imported)") || !strings.Contains(errOut, "--db partnerlink-demo.db") {
		t.Fatalf("report partner on an empty database: exit %d, %s", code, errOut)
	}
	code, _, errOut = run(t, db, "explain", "--partner", "4100101", "--subscription", "b3140fbb-6250-4001-9ae2-d9158cb65a65", "--from", "2026-03-01", "--to", "2026-04-01")
	if code != 0 || !strings.Contains(errOut, "is empty (no partners imported)") {
		t.Fatalf("explain on an empty database: exit %d, %s", code, errOut)
	}
	// version reads no database and creates none.
	dir := t.TempDir()
	path := filepath.Join(dir, "never.db")
	code, out, _ = run(t, "--db", path, "version")
	if _, err := os.Stat(path); code != 0 || !strings.Contains(out, "no database at") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("version: exit %d, %q, stat %v", code, out, err)
	}
	// A missing usage file and a missing estate file: the same exit code, no database created.
	miss := filepath.Join(dir, "missing.db")
	c1, _, _ := run(t, "--db", miss, "import", "usage", filepath.Join(dir, "nope.csv"))
	c2, _, _ := run(t, "--db", miss, "import", "estate", filepath.Join(dir, "nope.json"))
	if c1 != c2 || c1 != ExitUsage {
		t.Fatalf("missing usage file exits %d, missing estate file %d; want both %d", c1, c2, ExitUsage)
	}
	if _, err := os.Stat(miss); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing input file created the database: %v", err)
	}
}
