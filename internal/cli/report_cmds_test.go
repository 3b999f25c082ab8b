package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	runCLI := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"--db", db}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := runCLI("report", "operator", "--format", "json")
	if code != ExitOK || !json.Valid([]byte(out)) || !strings.Contains(out, `"topPartners": []`) {
		t.Fatalf("report operator = %d %q %q", code, out, errs)
	}
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"report", "partner"}, ExitUsage, "--partner is required"},
		{[]string{"report", "partner", "--partner", "1", "--from", "March"}, ExitUsage, `--from "March"`},
		{[]string{"report", "partner", "--partner", "1", "--from", "2026-04-01", "--to", "2026-03-01"}, ExitUsage, "swap them"},
		{[]string{"report", "partner", "--partner", "1", "--format", "xml"}, ExitUsage, "text, csv, json"},
		{[]string{"report", "partner", "--partner", "1"}, ExitError, `partner ID "1" is neither`},
		{[]string{"report", "customer"}, ExitUsage, "--tenant is required"},
	}
	for _, c := range cases {
		code, _, errs := runCLI(c.args...)
		if code != c.code || !strings.Contains(errs, c.err) {
			t.Errorf("%v = %d %q; want %d with %q", c.args, code, errs, c.code, c.err)
		}
	}
	code, out, _ = runCLI("report", "customer", "--tenant", "aaaaaaaa-0000-0000-0000-000000000001", "--format", "csv")
	if code != ExitOK || !strings.HasPrefix(out, "table,location,name,association") {
		t.Fatalf("report customer csv = %d %q", code, out)
	}
}
