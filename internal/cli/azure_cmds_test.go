package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAzurePIMEarnsPALEndToEnd: an az role assignment list snapshot leaves the eligible
// assignment open (it closes only the active one it lacks, and explain names it), and a
// REST-shaped PIM activation then yields exactly its activated seconds of PAL coverage.
func TestAzurePIMEarnsPALEndToEnd(t *testing.T) {
	const tenant = "--tenant=11111111-0000-4000-8000-000000000001"
	db := "--db=" + filepath.Join(t.TempDir(), "a.db")
	runOK := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append([]string{db}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	runOK("import", "estate", "testdata/azure-estate.json", "--as-of", "2026-01-01")
	out := runOK("import", "azure-role-assignments", "testdata/azure-role-assignments.json", tenant, "--as-of", "2026-03-01")
	if !strings.Contains(out, "role assignments                1 created      0 changed      1 closed") ||
		!strings.Contains(out, "read as: a list of 1 object, 1 entry with flattened fields (az CLI)") ||
		!strings.Contains(out, "snapshot of: /subscriptions/22222222-0000-4000-8000-000000000003 (from the file)") {
		t.Fatalf("role assignments:\n%s", out)
	}
	importID := regexp.MustCompile(`\(import ([^)]+)\)`).FindStringSubmatch(out)[1]
	out = runOK("import", "azure-pim", "testdata/azure-pim-activations.json", tenant, "--as-of", "2026-03-10")
	if !strings.Contains(out, "PIM activations                 1 created") || !strings.Contains(out, "entries: 1 read, 1 used, 0 skipped") {
		t.Fatalf("pim:\n%s", out)
	}
	runOK("import", "usage", "testdata/azure-usage.csv")
	runOK("attribute", "--from", "2026-03-01", "--to", "2026-04-01")
	out = runOK("report", "attributions", "--from", "2026-03-01", "--to", "2026-04-01", "--partner", "4100001")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// 3.5 hours of a 24-hour record: coverage 12,600 / 86,400 s, amount 86.40 * 12,600 / 86,400 = 12.60.
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "pim-1,") || !strings.HasSuffix(lines[1], ",4100001,4100000,PAL,0.145833333,12.6,Contributor,false,microsoft") {
		t.Fatalf("attributions:\n%s", out)
	}
	out = runOK("explain", "--partner", "4100001", "--resource", "/subscriptions/22222222-0000-4000-8000-000000000003/resourceGroups/Legacy/providers/Microsoft.Web/sites/shop", "--at", "2026-03-10")
	for _, want := range []string{
		"assignment 44444444-0000-4000-8000-000000000032 ended before the period",
		"closed at 2026-03-01T00:00:00Z by snapshot import " + importID + " (azure-role-assignments, file azure-role-assignments.json)",
		"assignment 44444444-0000-4000-8000-000000000031 is eligible-only (PIM) and was never activated",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
}

// TestAzureImportOfNothingFails: an export none of whose entries can be used exits 1 and says
// why; nothing is imported.
func TestAzureImportOfNothingFails(t *testing.T) {
	dir := t.TempDir()
	db := "--db=" + filepath.Join(dir, "a.db")
	if code, _, errOut := run(t, db, "import", "estate", "testdata/azure-estate.json"); code != 0 {
		t.Fatal(errOut)
	}
	body, err := os.ReadFile("testdata/azure-pim-activations.json")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "assigned.json")
	if err := os.WriteFile(file, []byte(strings.Replace(string(body), `"Activated"`, `"Assigned"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, db, "import", "azure-pim", file, "--tenant", "11111111-0000-4000-8000-000000000001")
	if code != ExitError || out != "" || !strings.Contains(errOut, "assigned.json: none of its 1 entry could be used") ||
		!strings.Contains(errOut, "skipped 1: assignmentType Assigned: an active assignment") || !strings.Contains(errOut, "($.value[0])") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if code, _, errOut := run(t, db, "import", "azure-pim", file, "--tenant", "11111111-0000-4000-8000-000000000001", "--scope", "subscriptions/x"); code != ExitUsage ||
		!strings.Contains(errOut, "--scope: scope \"subscriptions/x\" must start with /") {
		t.Fatalf("a bad --scope: exit %d: %s", code, errOut)
	}
}
