package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The operator registers, lists and closes identifiers from the CLI; an organisation ID is a
// failure naming its locations; accounts imported from the estate file are listed.
func TestIdentifierCommands(t *testing.T) {
	dir := t.TempDir()
	estate := `{"partners": [{"id": "4100000", "name": "Contoso", "locations": [{"id": "4100001", "name": "Contoso UK"}, {"id": "4100002", "name": "Contoso DE"}]}],
  "accounts": [{"provider": "AWS", "id": "012345678901", "kind": "sub", "resale": [{"partnerId": "4100002", "from": "2026-01-01T00:00:00Z", "to": null}]}]}`
	path := filepath.Join(dir, "estate.json")
	if err := os.WriteFile(path, []byte(estate), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "--db=" + filepath.Join(dir, "i.db")
	if code, _, errOut := run(t, db, "import", "estate", path); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	if code, _, errOut := run(t, db, "identifiers", "add", "--partner", "4100001", "--scheme", "aws-product-code", "--value", "abc", "--from", "2026-01-01"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	code, _, errOut := run(t, db, "identifiers", "add", "--partner", "4100000", "--scheme", "publisher", "--value", "Contoso")
	if code != 1 || !strings.Contains(errOut, "4100001 (Contoso UK), 4100002 (Contoso DE)") {
		t.Fatalf("organisation ID: %d %s", code, errOut)
	}
	if code, _, errOut := run(t, db, "identifiers", "close", "--scheme", "aws-product-code", "--value", "ABC", "--at", "2026-03-01"); code != 0 {
		t.Fatalf("close: %s", errOut)
	}
	_, out, _ := run(t, db, "identifiers", "list", "--partner", "4100000")
	if !strings.Contains(out, "aws-product-code  abc    4100001     2026-01-01T00:00:00Z  2026-03-01T00:00:00Z") {
		t.Fatalf("list:\n%s", out)
	}
	_, out, _ = run(t, db, "accounts", "list")
	if !strings.Contains(out, "aws       012345678901") || !strings.Contains(out, "4100002") {
		t.Fatalf("accounts:\n%s", out)
	}
}
