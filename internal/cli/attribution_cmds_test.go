package cli

import (
	"encoding/json"
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
	code, out, errOut := run(t, db, "attribute", "--from", "2026-03-01", "--to", "2026-04-01")
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
