package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Exit codes come from the error's type: 2 when the command could not start (how it was
// invoked), 1 when it failed.
func TestExitCodesFromTypedErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"partners": 7}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"no-such-command"}, ExitUsage, `unknown command "no-such-command"`},
		{[]string{"version", "--no-such-flag"}, ExitUsage, "unknown flag"},
		{[]string{"version", "extra"}, ExitUsage, `unknown command "extra"`},
		{[]string{"token", "--db", db, "--object", "x"}, ExitUsage, `required flag(s) "tenant" not set`},
		{[]string{"token", "--db", db, "--ttl", "soon", "--tenant", "x", "--object", "y"}, ExitUsage, `invalid argument "soon"`},
		{[]string{"--log-level", "loud", "version"}, ExitUsage, "--log-level"},
		// The partner role with an empty ID ("4100401," splits into two entries).
		{[]string{"token", "--db", db, "--tenant", "11111111-0000-4000-8000-000000000001", "--object", "33333333-0000-4000-8000-000000000002",
			"--role", "partner", "--partner", "4100401,"}, ExitUsage, "partner ID is empty"},
		// Instants outside int64 nanoseconds: refused, naming the value and the range.
		{[]string{"attribute", "--db", db, "--from", "0001-01-01", "--to", "2026-01-01"}, ExitUsage, "0001-01-01 is outside the dates partnerlink can store (1678-01-01 to 2262-01-01"},
		{[]string{"attribute", "--db", db, "--from", "2026-01-01", "--to", "9999-12-31"}, ExitUsage, "9999-12-31 is outside"},
		{[]string{"report", "partner", "--db", db, "--partner", "1", "--from", "1600-01-01"}, ExitUsage, "1600-01-01 is outside"},
		// serve's operator settings are checked before it listens.
		{[]string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--public-url", "partnerlink.example.com"}, ExitUsage, "--public-url"},
		{[]string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--webhook-allow-private", "10.0.0.0/33"}, ExitUsage, "--webhook-allow-private"},
		{[]string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--metrics=maybe"}, ExitUsage, "invalid argument"},
		// A failure inside a command that started is 1.
		{[]string{"import", "estate", "--db", db, bad}, ExitError, "bad.json"},
	}
	for _, c := range cases {
		code, _, stderr := run(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("partnerlink %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
}
