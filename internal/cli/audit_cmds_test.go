package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditAndWhatif runs audit and whatif end to end on SQLite with the estate fixture: the
// linked user's PIM-eligible Contributor was activated for a third of a day on subscription 1;
// subscription 2 was resold by the partner (CSP).
func TestAuditAndWhatif(t *testing.T) {
	dir := t.TempDir()
	db := "--db=" + filepath.Join(dir, "a.db")
	for _, s := range [][]string{{"import", "estate", "../estatefile/testdata/snapshot1.json"}, {"import", "usage", "testdata/attribution-usage.csv"}} {
		if code, _, errOut := run(t, append([]string{db}, s...)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", s, code, errOut)
		}
	}
	period := []string{"--from", "2026-03-01", "--to", "2026-04-01"}
	code, out, errOut := run(t, append([]string{db, "audit", "--partner", "4100000", "--format", "csv"}, period...)...)
	want := "kind,tenant_id,subscription_id,reason,currency,amount,principal_object_id\n" +
		"gap,11111111-0000-4000-8000-000000000001,22222222-0000-4000-8000-000000000002,csp_precedence,USD,20,\n" +
		"risk,11111111-0000-4000-8000-000000000001,22222222-0000-4000-8000-000000000001,single_principal,USD,3.333333333,33333333-0000-4000-8000-000000000002\n"
	if code != 0 || out != want {
		t.Fatalf("audit csv: %d %s\n%s\nwant\n%s", code, errOut, out, want)
	}
	if code, out, _ = run(t, append([]string{db, "audit", "--partner", "4100001"}, period...)...); code != 0 || !strings.Contains(out, "3.33 USD") || !strings.Contains(out, "PIM-eligible") {
		t.Fatalf("audit text: %d\n%s", code, out)
	}
	activate := "11111111-0000-4000-8000-000000000001/33333333-0000-4000-8000-000000000002:Contributor@/subscriptions/22222222-0000-4000-8000-000000000001=2026-03-02..2026-03-02T08:00:00Z"
	if code, _, errOut = run(t, append([]string{db, "whatif", "--activate", activate}, period...)...); code != ExitError || !strings.Contains(errOut, "partnerlink attribute --from") {
		t.Fatalf("whatif before attribute: %d %s", code, errOut)
	}
	if code, _, errOut = run(t, append([]string{db, "attribute"}, period...)...); code != 0 {
		t.Fatalf("attribute: %s", errOut)
	}
	// Activating for another 8 hours doubles the PAL credit; a change-set file says the same.
	code, out, errOut = run(t, append([]string{db, "whatif", "--activate", activate, "--format", "csv"}, period...)...)
	wantCSV := "partner_id,association,currency,before,after,delta\n4100001,DPOR,USD,10,10,0\n4100001,PAL,USD,3.333333333,6.666666667,3.333333334\n" +
		"4100001,incentive:PAL,USD,0.2,0.4,0.2\n4100002,CSP,USD,20,20,0\n"
	if code != 0 || out != wantCSV {
		t.Fatalf("whatif csv: %d %s\n%s\nwant\n%s", code, errOut, out, wantCSV)
	}
	file := filepath.Join(dir, "changes.json")
	cs := `{"from": "2026-03-01", "to": "2026-04-01", "changes": [{"op": "activate", "tenant": "11111111-0000-4000-8000-000000000001",
		"object": "33333333-0000-4000-8000-000000000002", "role": "Contributor", "scope": "/subscriptions/22222222-0000-4000-8000-000000000001",
		"from": "2026-03-02", "to": "2026-03-02T08:00:00Z"}]}`
	if err := os.WriteFile(file, []byte(cs), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, db, "whatif", "--changes", file, "--format", "json")
	var res struct {
		Rows  []struct{ Delta string }  `json:"rows"`
		Audit []struct{ Change string } `json:"audit"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Rows) != 4 || res.Rows[1].Delta != "3.333333334" || len(res.Audit) != 1 || res.Audit[0].Change != "changed" {
		t.Fatalf("whatif --changes: %d %s\n%s", code, errOut, out)
	}
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"audit"}, "--partner ID is required"},
		{[]string{"audit", "--partner", "4100000", "--from", "2026-03-01", "--to", "2026-04-01", "--format", "xml"}, "text, csv, json"},
		{[]string{"whatif", "--from", "2026-03-01", "--to", "2026-04-01", "--add-link", "x=1"}, "TENANT/OBJECT"},
		{[]string{"whatif", "--changes", filepath.Join(dir, "none.json")}, "--changes"},
	} {
		if code, _, errOut := run(t, append([]string{db}, c.args...)...); code != ExitUsage || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: %d %q, want a usage error saying %q", c.args, code, errOut, c.err)
		}
	}
	if code, _, errOut := run(t, append([]string{db, "audit", "--partner", "999"}, period...)...); code != ExitError || !strings.Contains(errOut, `"999" is neither`) {
		t.Errorf("unknown partner: %d %q", code, errOut)
	}
}
