package architecture

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The one reader exempt from ownership: the SQL formulation of the rules reads the tables as a
// data team would (docs/architecture.md).
const exempt = "internal/sqlref"

// pending lists references outside the owners that other work is moving right now. Each entry
// is package (or "*") and table (or "database/sql", or "*"), with why it is allowed. An entry
// nothing uses fails the test, so that each one is removed as soon as its move lands.
var pending = []struct{ pkg, table, why string }{}

// TestOneOwnerPerTable fails when a package outside a table's owner names the table in a string
// literal or imports database/sql. The tables are the ones the migrations create (and do not
// drop); their owners are the ones docs/architecture.md declares, checked against the table
// descriptors (store/table.Table) that owners export. The owner's sub-packages count as the
// owner. The bench module (its own go.mod) and tests are not checked: tests set up data as
// they need, and the benchmarks measure SQL engines.
func TestOneOwnerPerTable(t *testing.T) {
	root := moduleRoot(t)
	tables := migrationTables(t, root)
	owner := declaredOwners(t, root)
	for _, name := range tables {
		if owner[name] == "" {
			t.Errorf("table %s (created by the migrations) has no owner in docs/architecture.md's ownership table; add it to its owner's row", name)
		}
	}
	owners := map[string]bool{}
	for _, p := range owner {
		owners[p] = true
	}
	names := slices.Sorted(mapsKeys(owner))
	files := goFiles(t, root)
	if len(files) < 50 {
		t.Fatalf("found only %d Go files under %s: is the module root right?", len(files), root)
	}
	used := make([]bool, len(pending))
	allowed := func(pkg, table string) bool {
		for i, p := range pending {
			if (p.pkg == "*" || p.pkg == pkg) && (p.table == "*" || p.table == table) {
				used[i] = true
				return true
			}
		}
		return false
	}
	var found []string
	fset := token.NewFileSet()
	for _, f := range files {
		pkg := filepath.ToSlash(filepath.Dir(f))
		if pkg == exempt || strings.HasPrefix(pkg, exempt+"/") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(root, f), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		own := ownerOf(pkg, owners)
		for _, imp := range file.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "database/sql" && own == "" && !allowed(pkg, "database/sql") {
				found = append(found, fmt.Sprintf("%s: imports database/sql but owns no table; call the owner's store", fset.Position(imp.Pos())))
			}
		}
		checkDescriptors(t, fset, file, pkg, own, owner)
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportSpec:
				return false
			case *ast.Field:
				// A struct tag is no SQL; the field's type may hold literals.
				ast.Inspect(n.Type, func(ast.Node) bool { return true })
				return false
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				for _, table := range tablesIn(s, names) {
					if owner[table] == own || allowed(pkg, table) {
						continue
					}
					found = append(found, fmt.Sprintf("%s: names table %s, owned by internal/%s; call its store", fset.Position(n.Pos()), table, owner[table]))
				}
			}
			return true
		})
	}
	for _, f := range found {
		t.Error(f)
	}
	for i, p := range pending {
		if !used[i] {
			t.Errorf("pending entry {%s, %s} (%s) is no longer needed: remove it", p.pkg, p.table, p.why)
		}
	}
}

var (
	// A table after a keyword that names one.
	sqlTableRE = regexp.MustCompile(`(?i)\b(?:from|join|into|update|table(?:\s+if\s+(?:not\s+)?exists)?)\s+([a-z_][a-z0-9_]*)`)
	wordRE     = regexp.MustCompile(`[A-Za-z0-9_]+`)
	fromListRE = regexp.MustCompile(`(?i)\bfrom\s+((?:[a-z_][a-z0-9_]*(?:\s+(?:as\s+)?[a-z_][a-z0-9_]*)?\s*,\s*)+[a-z_][a-z0-9_]*)`)
)

// tablesIn returns the tables s names: any table whose name has an underscore, wherever it
// appears as a word (no prose or URL spells partner_locations), and a table of one word only
// where SQL names a table (after FROM, JOIN, INTO, UPDATE or TABLE, and in a FROM list), so
// that "/v1/tenants" or "links" in a message are not mistaken for SQL.
func tablesIn(s string, names []string) []string {
	var out []string
	add := func(n string) {
		if _, ok := slices.BinarySearch(names, n); ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, m := range sqlTableRE.FindAllStringSubmatch(s, -1) {
		add(strings.ToLower(m[1]))
	}
	// FROM a x, b y: the tables after the first.
	for _, m := range fromListRE.FindAllStringSubmatch(s, -1) {
		for _, item := range strings.Split(m[1], ",")[1:] {
			if f := strings.Fields(item); len(f) > 0 {
				add(strings.ToLower(f[0]))
			}
		}
	}
	for _, w := range wordRE.FindAllString(s, -1) {
		if strings.Contains(w, "_") {
			add(w)
		}
	}
	return out
}

// checkDescriptors fails when a package declares a table.Table for a table docs/architecture.md
// gives to another owner.
func checkDescriptors(t *testing.T, fset *token.FileSet, file *ast.File, pkg, own string, owner map[string]string) {
	ast.Inspect(file, func(n ast.Node) bool {
		cl, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		sel, ok := cl.Type.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Table" {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "table" && x.Name != "storetable" {
			return true // another package's Table (report.Table is a report's table)
		}
		for _, e := range cl.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "Name" {
				continue
			}
			lit, ok := kv.Value.(*ast.BasicLit)
			if !ok {
				continue
			}
			name, _ := strconv.Unquote(lit.Value)
			if o, ok := owner[name]; ok && o != own {
				t.Errorf("%s: %s describes table %s, which docs/architecture.md gives to internal/%s", fset.Position(lit.Pos()), pkg, name, o)
			}
		}
		return true
	})
}

// ownerOf is the owner (as docs/architecture.md names it) whose package is pkg or contains it.
func ownerOf(pkg string, owners map[string]bool) string {
	for p := pkg; strings.HasPrefix(p, "internal/"); p = filepath.ToSlash(filepath.Dir(p)) {
		if o := strings.TrimPrefix(p, "internal/"); owners[o] {
			return o
		}
	}
	return ""
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// goFiles lists the module's non-test Go files, relative to root, skipping nested modules and
// testdata.
func goFiles(t *testing.T, root string) []string {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			if d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	createRE = regexp.MustCompile(`(?i)\bcreate\s+table\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)`)
	dropRE   = regexp.MustCompile(`(?i)\bdrop\s+table\s+(?:if\s+exists\s+)?([a-z_][a-z0-9_]*)`)
)

// migrationTables replays both engines' migrations in order: the tables they leave.
func migrationTables(t *testing.T, root string) []string {
	all := map[string]bool{}
	for _, engine := range []string{"sqlite", "postgres"} {
		dir := filepath.Join(root, "internal", "store", engine, "migrations")
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		have := map[string]bool{}
		for _, e := range entries {
			body, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			sql := stripComments(string(body))
			for _, m := range createRE.FindAllStringSubmatch(sql, -1) {
				have[strings.ToLower(m[1])] = true
			}
			for _, m := range dropRE.FindAllStringSubmatch(sql, -1) {
				delete(have, strings.ToLower(m[1]))
			}
		}
		for n := range have {
			all[n] = true
		}
	}
	if len(all) < 20 {
		t.Fatalf("the migrations create only %d tables: is the parser right?", len(all))
	}
	return slices.Sorted(mapsKeys(all))
}

func stripComments(sql string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

var ticked = regexp.MustCompile("`([a-z_/]+)`")

// declaredOwners reads the ownership table of docs/architecture.md: one owning package per
// row, and the tables it owns.
func declaredOwners(t *testing.T, root string) map[string]string {
	f, err := os.Open(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	owner := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Who owns which table"
			continue
		case !in || !strings.HasPrefix(line, "| `"):
			continue
		}
		cells := strings.Split(line, "|")
		pkgs := ticked.FindAllStringSubmatch(cells[1], -1)
		if len(pkgs) != 1 {
			t.Errorf("docs/architecture.md: ownership row %q must name one package", line)
			continue
		}
		pkg := pkgs[0][1]
		if _, err := os.Stat(filepath.Join(root, "internal", pkg)); err != nil {
			t.Errorf("docs/architecture.md: owner %s is no package under internal/", pkg)
		}
		for _, m := range ticked.FindAllStringSubmatch(cells[2], -1) {
			if o, ok := owner[m[1]]; ok {
				t.Errorf("docs/architecture.md: table %s has two owners, %s and %s", m[1], o, pkg)
			}
			owner[m[1]] = pkg
		}
	}
	if len(owner) == 0 {
		t.Fatal(`docs/architecture.md has no ownership table under "## Who owns which table"`)
	}
	return owner
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestTablesIn(t *testing.T) {
	names := []string{"events", "links", "partner_orgs", "tenants"}
	for s, want := range map[string]string{
		"SELECT a FROM links l JOIN events e ON e.id = l.id":  "links events",
		"SELECT 1 FROM tenants t, links AS l, events":         "tenants links events",
		"select x from partner_orgs":                          "partner_orgs",
		"delete from Links":                                   "links",
		"COALESCE((SELECT name FROM partner_orgs WHERE id = ": "partner_orgs",
		"/v1/tenants/{tenantId}/events":                       "",
		"the links of tenants, from events":                   "events",
		"partner_orgs":                                        "partner_orgs",
	} {
		if got := strings.Join(tablesIn(s, names), " "); got != want {
			t.Errorf("tablesIn(%q) = %q, want %q", s, got, want)
		}
	}
}
