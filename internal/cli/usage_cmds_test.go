package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// TestMoveDatabaseToPostgres moves a SQLite database to PostgreSQL as docs/usage.md says:
// export estate and usage, import both into the new database. Every usage record arrives
// identical (the FOCUS export of both databases is the same, byte for byte), as does the
// estate, and attributing a period gives the same report on both.
func TestMoveDatabaseToPostgres(t *testing.T) {
	_, dsn := storetest.PostgresWithDSN(t)
	dir := t.TempDir()
	from, to := "--db="+filepath.Join(dir, "old.db"), "--db="+dsn
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	must(from, "import", "estate", "../estatefile/testdata/snapshot1.json")
	must(from, "import", "usage", "testdata/attribution-usage.csv", "../usage/testdata/focus-multicloud-1.0.csv", "../usage/testdata/focus-1.3.csv")
	must(from, "import", "usage", "--measure", "effective", "../usage/testdata/mca-amortized.csv")

	estate, usageFile := filepath.Join(dir, "estate.json"), filepath.Join(dir, "usage.parquet")
	must(from, "export", "estate", "--out", estate)
	must(from, "export", "usage", "--format", "parquet", "--out", usageFile)
	must(to, "import", "estate", estate)
	out := must(to, "import", "usage", usageFile)
	if !strings.Contains(out, "focus parquet") || !strings.Contains(out, " 0 duplicate, 0 rejected") {
		t.Fatalf("import of the export: %s", out)
	}

	if a, b := must(from, "export", "usage", "--format", "focus"), must(to, "export", "usage", "--format", "focus"); a != b || strings.Count(a, "\n") < 20 {
		t.Fatalf("the usage differs after the move:\n%s\nand\n%s", a, b)
	}
	if a, b := must(from, "export", "estate"), must(to, "export", "estate"); a != b {
		t.Fatalf("the estate differs after the move:\n%s\nand\n%s", a, b)
	}
	period := []string{"--from", "2026-03-01", "--to", "2026-04-01"}
	must(append([]string{from, "attribute"}, period...)...)
	must(append([]string{to, "attribute"}, period...)...)
	a := must(append([]string{from, "report", "attributions"}, period...)...)
	b := must(append([]string{to, "report", "attributions"}, period...)...)
	if a != b || strings.Count(a, "\n") < 2 {
		t.Fatalf("attribution reports differ after the move:\n%s\nand\n%s", a, b)
	}
	// Importing the export again adds nothing.
	if out := must(to, "import", "usage", usageFile); !strings.Contains(out, " 0 added") {
		t.Fatalf("a second import: %s", out)
	}
}
