package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeTour runs the README's tour verbatim after `partnerlink demo` (TestDemoSummary runs the
// demo in a fresh directory first): every line must exit 0. A change that breaks a line of the
// tour (a renamed flag, a demo ID that moved) fails here rather than for a new user.
func readmeTour(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), "<!-- tour -->\n```sh\n")
	if !ok {
		t.Fatal("README.md has no <!-- tour --> block")
	}
	block, _, _ := strings.Cut(after, "```")
	n := 0
	for _, line := range strings.Split(block, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "export" && len(f) == 2 {
			k, v, _ := strings.Cut(f[1], "=")
			t.Setenv(k, v)
			continue
		}
		if f[0] != "partnerlink" {
			t.Fatalf("tour line %q is not a partnerlink command or an export", line)
		}
		code, out, errOut := run(t, f[1:]...)
		if code != 0 {
			t.Errorf("tour: %s: exit %d\n%s", line, code, errOut)
		}
		if strings.Contains(errOut, "is empty") || strings.Contains(out, "unknown_id") {
			t.Errorf("tour: %s: read an empty database or an unknown ID:\n%s%s", line, out, errOut)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("the tour ran %d commands; the block was not found whole", n)
	}
	if _, err := os.Stat(filepath.Join("synthetic", "usage.csv")); err != nil {
		t.Errorf("the tour's synth wrote nothing: %v", err)
	}
	if _, err := os.Stat("partnerlink.db"); err == nil {
		t.Error("the tour created ./partnerlink.db: some command ignored PARTNERLINK_DB")
	}
}

// repoRoot is the repository's root, found from the package directory before any test
// changes the working directory.
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		return "../.."
	}
	return filepath.Join(wd, "..", "..")
}()
