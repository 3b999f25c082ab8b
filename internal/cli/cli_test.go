package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store/sqlite"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// TestMain lets tests run the real CLI in a child process (the test binary re-executed), so that
// signals and exit codes are those of the real program.
func TestMain(m *testing.M) {
	if args := os.Getenv("PARTNERLINK_CLI_CHILD"); args != "" {
		os.Exit(Main(strings.Split(args, "\x1f"), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func child(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PARTNERLINK_CLI_CHILD="+strings.Join(args, "\x1f"))
	return cmd
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBadDBValueIsOneLineAndExit2(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, db, want string
	}{
		{"unknown scheme", "mysql://root@localhost/x", `unknown scheme "mysql"`},
		{"missing directory", filepath.Join(dir, "nope", "x.db"), "does not exist"},
		{"unreachable server", "postgres://postgres@127.0.0.1:1/test?connect_timeout=2", "connection refused"},
		{"directory as file", dir, "is a directory"},
	}
	// Root writes anywhere a mode allows nothing, so under root use a directory no one can
	// create files in.
	unwritable := filepath.Join(ro, "x.db")
	if os.Geteuid() == 0 {
		unwritable = "/proc/partnerlink-test.db"
	}
	cases = append(cases, struct{ name, db, want string }{"unwritable path", unwritable, "writable"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := run(t, "migrate", "--db", c.db)
			if code != ExitUsage {
				t.Errorf("exit code %d; want %d", code, ExitUsage)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("want one line, got:\n%s", stderr)
			}
			if !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "partnerlink:") {
				t.Errorf("stderr %q does not say %q", stderr, c.want)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace leaked: %s", stderr)
			}
		})
	}
}

func TestVersionShowsSchema(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	if code, _, stderr := run(t, "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	code, out, _ := run(t, "version", "--db", db)
	if code != 0 || !strings.Contains(out, "schema: ") || strings.Contains(out, "schema: 0 ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// TestMigrateIsExplicit: serve refuses a database that is not at this binary's schema, a new
// one included, naming the command to run; the other commands migrate a new database (the
// first run) but refuse an older one; migrate brings it up to date, and says so.
func TestMigrateIsExplicit(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	code, _, stderr := run(t, "serve", "--db", fresh, "--addr", "127.0.0.1:0")
	if code != ExitUsage || !strings.Contains(stderr, "has no schema yet; create it with `partnerlink migrate --db "+fresh+"`") {
		t.Fatalf("serve on a new database: exit %d, %q; want exit 2 naming partnerlink migrate", code, stderr)
	}
	if code, _, stderr := run(t, "report", "operator", "--db", fresh); code != 0 {
		t.Fatalf("report operator on a new database: exit %d, %s; want it migrated and answered", code, stderr)
	}

	old := filepath.Join(dir, "old.db")
	raw, err := sqlite.Open(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.MigrateTo(context.Background(), 510); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	for _, args := range [][]string{
		{"serve", "--db", old, "--addr", "127.0.0.1:0"},
		{"import", "estate", "--db", old, "testdata/azure-estate.json"},
		{"report", "operator", "--db", old},
	} {
		code, _, stderr := run(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, "is at schema version 510") || !strings.Contains(stderr, "run `partnerlink migrate --db "+old+"`") {
			t.Errorf("partnerlink %s on a database at 510: exit %d, %q; want exit 2 naming partnerlink migrate", strings.Join(args, " "), code, stderr)
		}
	}
	code, out, stderr := run(t, "migrate", "--db", old)
	if code != 0 || !strings.Contains(out, "migrated from schema version 510 to") {
		t.Fatalf("migrate: exit %d, %q %q", code, out, stderr)
	}
	if code, out, _ := run(t, "migrate", "--db", old); code != 0 || !strings.Contains(out, "already") {
		t.Fatalf("a second migrate: exit %d, %q", code, out)
	}
	if code, _, stderr := run(t, "report", "operator", "--db", old); code != 0 {
		t.Fatalf("report operator after migrate: exit %d, %s", code, stderr)
	}
}

func TestEveryCommandHasHelpWithExample(t *testing.T) {
	root := newRoot(&App{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	for _, c := range allCommands(root) {
		if c.Example == "" {
			t.Errorf("command %q has no example in --help", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("command %q has no short description", c.CommandPath())
		}
	}
}

// TestServeAnswersHealthzAndShutsDownOnSIGTERM runs `partnerlink serve` as a real process on
// both engines, reads the "listening on" line, asks /healthz, then sends SIGTERM.
func TestServeAnswersHealthzAndShutsDownOnSIGTERM(t *testing.T) {
	engines := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string {
			db := filepath.Join(t.TempDir(), "serve.db")
			if code, _, stderr := run(t, "migrate", "--db", db); code != 0 {
				t.Fatalf("migrate: %d %s", code, stderr)
			}
			return db
		},
		"postgres": func(t *testing.T) string { _, dsn := storetest.PostgresWithDSN(t); return dsn },
	}
	for name, dbFor := range engines {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cmd := child(ctx, "serve", "--addr", "127.0.0.1:0", "--db", dbFor(t))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			sc := bufio.NewScanner(stdout)
			var url string
			for sc.Scan() {
				if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
					url = u
					break
				}
			}
			if url == "" {
				t.Fatalf("no listening line; stderr: %s", stderr.String())
			}
			resp, err := http.Get(url + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Status        string `json:"status"`
				SchemaVersion int    `json:"schemaVersion"`
				Engine        string `json:"engine"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != 200 || body.Status != "ok" || body.SchemaVersion < 1 || body.Engine != name {
				t.Fatalf("healthz: %d %+v", resp.StatusCode, body)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("serve did not exit cleanly on SIGTERM: %v; stderr: %s", err, stderr.String())
			}
		})
	}
}
