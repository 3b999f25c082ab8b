package estatefile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
)

// dumpTables lists every row an estate import may write, sorted, leaving out generated IDs.
func dumpTables(t *testing.T, db *store.DB) string {
	t.Helper()
	var out []string
	for _, table := range []string{"partner_orgs", "partner_org_tenants", "partner_locations", "partner_location_active",
		"tenants", "management_groups", "subscriptions", "subscription_dpor", "principals", "group_memberships",
		"role_definitions", "role_assignments", "pim_activations", "delegations", "delegation_authorizations",
		"links", "link_spans", "link_history", "tracking_ids", "deployments", "imports"} {
		rows, err := db.QueryContext(context.Background(), `SELECT * FROM `+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			line := table
			for i, c := range cols {
				if c == "id" && (table == "link_history" || table == "imports") {
					continue
				}
				if b, ok := vals[i].([]byte); ok {
					vals[i] = string(b)
				}
				line += fmt.Sprintf(" %s=%v", c, vals[i])
			}
			out = append(out, line)
		}
		rows.Close()
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// reorder writes the file's top-level lists in reverse order, so that every section that
// refers to another comes before it.
func reorder(t *testing.T, body string) string {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &top); err != nil {
		t.Fatal(err)
	}
	keys := []string{"deployments", "trackingIds", "links", "delegations", "roleAssignments", "roleDefinitions", "principals", "subscriptions", "tenants", "partners"}
	var b strings.Builder
	b.WriteString("{")
	for _, k := range keys {
		if v, ok := top[k]; ok {
			if b.Len() > 1 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q: %s", k, v)
		}
	}
	b.WriteString("}")
	return b.String()
}

// TestBulkPathWritesWhatGeneralPathWrites: a first import takes the streaming bulk path; it
// must store exactly the rows (and report exactly the counts) of the general path.
func TestBulkPathWritesWhatGeneralPathWrites(t *testing.T) {
	var gen bytes.Buffer
	if err := synth.Generate(7, synth.Small).WriteEstate(&gen); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"snapshot1": snapshot1(t), "synth": gen.String(), "reordered": reorder(t, gen.String()),
		"unknown field": strings.Replace(snapshot1(t), `"name": "Fabrikam"`, `"name": "Fabrikam", "region": "EU"`, 1),
		// Shapes the plain parsers leave to encoding/json: escapes, other key case, unknown keys.
		"odd shapes": strings.NewReplacer(`"displayName": "ops"`, `"displayName": "ops \"}] \u00e9", "note": 1`,
			`"kind": "active"`, `"Kind": "active"`).Replace(snapshot1(t)),
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				bulkRep, err := importFile(t, db, body, estatefile.Options{})
				if err != nil {
					t.Fatal(err)
				}
				var general *store.DB
				if db.Engine() == store.Postgres {
					general = storetest.Postgres(t)
				} else {
					general = storetest.SQLite(t)
				}
				rep, err := importFile(t, general, body, estatefile.WithoutBulk(estatefile.Options{}))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(bulkRep.Kinds, rep.Kinds) {
					t.Errorf("reports differ:\nbulk    %s\ngeneral %s", bulkRep.Summary(), rep.Summary())
				}
				// The bulk path names the element of an unknown field, the general path "$".
				if len(bulkRep.Warnings) != len(rep.Warnings) {
					t.Errorf("warnings differ: bulk %v, general %v", bulkRep.Warnings, rep.Warnings)
				}
				if a, b := dumpTables(t, db), dumpTables(t, general); a != b {
					t.Fatalf("the bulk path stored other rows than the general path:\n--- bulk\n%s\n--- general\n%s", a, b)
				}
				if a, b := export(t, db), export(t, general); a != b {
					t.Fatal("exports differ")
				}
			})
		})
	}
}

// TestBulkDryRunWritesNothing: a dry run of a first import reports the counts of a real one
// and leaves the database as it was.
func TestBulkDryRunWritesNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		dry, err := importFile(t, db, snapshot1(t), estatefile.Options{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if d := dumpTables(t, db); d != "" {
			t.Fatalf("a dry run wrote:\n%s", d)
		}
		real, err := importFile(t, db, snapshot1(t), estatefile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !dry.DryRun || !reflect.DeepEqual(dry.Kinds, real.Kinds) {
			t.Fatalf("dry run %s, real import %s", dry.Summary(), real.Summary())
		}
	})
}

// TestBulkErrorsInLateSections: a problem found after rows were already handed to the loader
// (a broken reference in the last section, an overlap only visible at the end) still leaves
// nothing written, and every problem is listed.
func TestBulkErrorsInLateSections(t *testing.T) {
	s1 := snapshot1(t)
	body := strings.Replace(s1, `"trackingId": "`, `"trackingId": "0`, 1)
	body = strings.Replace(body, `"activations": [{"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T16:00:00Z"}]`,
		`"activations": [{"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T16:00:00Z"}, {"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T09:00:00Z"}]`, 1)
	if body == s1 {
		t.Fatal("fixture changed")
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		_, err := importFile(t, db, body, estatefile.Options{})
		if err == nil || !strings.Contains(err.Error(), "deployments[0].trackingId") || !strings.Contains(err.Error(), "activations[1]") {
			t.Fatalf("err = %v", err)
		}
		if d := dumpTables(t, db); d != "" {
			t.Fatalf("a rejected file wrote:\n%s", d)
		}
	})
}

// TestBulkOverlapOfOneEntity: two versions of one assignment (kept by the compact tracker, as
// hashes) whose windows overlap are named by both paths; versions that follow each other are
// the entity's history and are stored as given.
func TestBulkOverlapOfOneEntity(t *testing.T) {
	s1 := snapshot1(t)
	first := `{"id": "44444444-0000-4000-8000-000000000001", "tenantId": "11111111-0000-4000-8000-000000000001",
     "principalId": "33333333-0000-4000-8000-000000000001", "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c",
     "scope": "/subscriptions/22222222-0000-4000-8000-000000000001/resourceGroups/Web", "kind": "active",
     "from": "2026-01-01T00:00:00Z", "to": null}`
	if !strings.Contains(s1, first) {
		t.Fatal("fixture changed")
	}
	later := strings.Replace(strings.Replace(first, "2026-01-01", "2026-02-01", 1), "Web", "Api", 1)
	overlapping := strings.Replace(s1, "}\n  ],\n  \"links\"", "},\n    "+later+"\n  ],\n  \"links\"", 1)
	history := strings.Replace(overlapping, first, strings.Replace(first, `"to": null}`, `"to": "2026-02-01T00:00:00Z"}`, 1), 1)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		_, err := importFile(t, db, overlapping, estatefile.Options{})
		if err == nil || !strings.Contains(err.Error(), "roleAssignments[2]: its window [2026-02-01T00:00:00Z") || !strings.Contains(err.Error(), "overlaps roleAssignments[0]'s") {
			t.Fatalf("err = %v", err)
		}
		rep, err := importFile(t, db, history, estatefile.Options{})
		if err != nil || rep.Kinds["role assignments"].Created != 2 {
			t.Fatalf("history: %+v, %v", rep, err)
		}
		var n int
		db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM role_assignments WHERE id = $1`, "44444444-0000-4000-8000-000000000001").Scan(&n)
		if n != 2 {
			t.Fatalf("%d versions stored, want 2", n)
		}
	})
}

// TestBulkMembershipOverlap: a member in one group twice at once is an error naming both
// entries; in one group for two windows that follow each other, it is one member's history.
func TestBulkMembershipOverlap(t *testing.T) {
	s1 := snapshot1(t)
	one := `"memberOf": [{"groupId": "33333333-0000-4000-8000-000000000001", "from": "2026-01-01T00:00:00Z", "to": null}]`
	if !strings.Contains(s1, one) {
		t.Fatal("fixture changed")
	}
	twice := strings.Replace(s1, one, `"memberOf": [{"groupId": "33333333-0000-4000-8000-000000000001", "from": "2026-01-01T00:00:00Z", "to": null},
		{"groupId": "33333333-0000-4000-8000-000000000001", "from": "2026-02-01T00:00:00Z", "to": null}]`, 1)
	history := strings.Replace(twice, `"to": null},
		{"groupId"`, `"to": "2026-01-15T00:00:00Z"},
		{"groupId"`, 1)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		_, err := importFile(t, db, twice, estatefile.Options{})
		if err == nil || !strings.Contains(err.Error(), "principals[1].memberOf[1]: its window") || !strings.Contains(err.Error(), "overlaps principals[1].memberOf[0]'s") {
			t.Fatalf("err = %v", err)
		}
		rep, err := importFile(t, db, history, estatefile.Options{})
		if err != nil || rep.Kinds["group memberships"].Created != 1 {
			t.Fatalf("history: %+v, %v", rep, err)
		}
	})
}

// TestBulkJSONErrorsNamePlace: decoding errors in a streamed section name the line and the
// element.
func TestBulkJSONErrorsNamePlace(t *testing.T) {
	db := storetest.SQLite(t)
	body := strings.Replace(snapshot1(t), `"kind": "active"`, `"kind": 7`, 1)
	_, err := importFile(t, db, body, estatefile.Options{})
	line := strings.Count(body[:strings.Index(body, `"kind": 7`)], "\n") + 1
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("estate.json:%d:", line)) || !strings.Contains(err.Error(), "roleAssignments[0].kind") {
		t.Fatalf("type error: %v (want line %d)", err, line)
	}
	body = strings.Replace(snapshot1(t), `"kind": "active"`, `"kind": "active",,`, 1)
	if _, err := importFile(t, db, body, estatefile.Options{}); err == nil || !strings.Contains(err.Error(), "not valid JSON") || !strings.Contains(err.Error(), "roleAssignments[0]") {
		t.Fatalf("syntax error: %v", err)
	}
	if d := dumpTables(t, db); d != "" {
		t.Fatalf("a broken file wrote:\n%s", d)
	}
}

// TestBulkKeepsIndexes: on PostgreSQL the bulk path drops the indexes and primary keys of the
// tables it loads and builds them again before committing; afterwards the schema is as the
// migrations made it (indexes, and constraints of the same kind and definition), and a
// rejected file leaves it so too.
func TestBulkKeepsIndexes(t *testing.T) {
	db := storetest.Postgres(t)
	indexes := func() string {
		rows, err := db.QueryContext(context.Background(), `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL SELECT 'constraint ' || c.conname || ' on ' || t.relname || ': ' || pg_get_constraintdef(c.oid)
			FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid WHERE c.connamespace = current_schema()::regnamespace
			ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var defs []string
		for rows.Next() {
			var d string
			rows.Scan(&d)
			defs = append(defs, d)
		}
		return strings.Join(defs, "\n")
	}
	before := indexes()
	if !strings.Contains(before, "role_assignments_principal") || !strings.Contains(before, "constraint role_assignments_pkey on role_assignments: PRIMARY KEY (id, valid_from)") {
		t.Fatalf("the migrations' indexes are not there:\n%s", before)
	}
	if _, err := importFile(t, db, strings.Replace(snapshot1(t), `"offer": "ea"`, `"offer": "enterprise"`, 1), estatefile.Options{}); err == nil {
		t.Fatal("a bad offer was imported")
	}
	if after := indexes(); after != before {
		t.Fatalf("a rejected import changed the indexes:\n%s\n----\n%s", before, after)
	}
	if _, err := importFile(t, db, snapshot1(t), estatefile.Options{}); err != nil {
		t.Fatal(err)
	}
	if after := indexes(); after != before {
		t.Fatalf("the import changed the indexes:\n%s\n----\n%s", before, after)
	}
}

// TestBulkCanceled: a canceled import stops and writes nothing.
func TestBulkCanceled(t *testing.T) {
	db := storetest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := estatefile.Import(ctx, db, strings.NewReader(snapshot1(t)), "estate.json", estatefile.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := dumpTables(t, db); d != "" {
		t.Fatalf("a canceled import wrote:\n%s", d)
	}
}

// TestBulkAndGeneralPathsNameTheSameProblems: a file with a problem in every check of the
// principals, memberships, assignments and activations (the lists the bulk path validates
// element by element, building paths only for problems) gets the same problems, with the same
// paths, from both paths.
func TestBulkAndGeneralPathsNameTheSameProblems(t *testing.T) {
	var top map[string]any
	if err := json.Unmarshal([]byte(snapshot1(t)), &top); err != nil {
		t.Fatal(err)
	}
	const tenant, group, user = "11111111-0000-4000-8000-000000000001", "33333333-0000-4000-8000-000000000001", "33333333-0000-4000-8000-000000000002"
	const role = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	top["principals"] = append(top["principals"].([]any),
		map[string]any{"tenantId": "XYZ", "objectId": "not-a-guid", "type": "Robot", "homeTenantId": "nope", "from": "yesterday"},
		map[string]any{"tenantId": "99999999-0000-4000-8000-000000000099", "objectId": "33333333-0000-4000-8000-000000000003", "type": "User"},
		map[string]any{"tenantId": strings.ToUpper(tenant), "objectId": "3333AAAA-0000-4000-8000-00000000000A", "type": "User",
			"memberOf": []any{
				map[string]any{"groupId": "bad"},
				map[string]any{"groupId": "33333333-0000-4000-8000-0000000000ee"},
				map[string]any{"groupId": user},
				map[string]any{"groupId": group, "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
				map[string]any{"groupId": group, "from": "2026-01-01T00:00:00Z", "to": nil},
				map[string]any{"groupId": strings.ToUpper(group), "from": "2026-03-01T00:00:00Z", "to": nil},
			}},
	)
	assignment := func(id, principal, roleID, scope, kind string, extra map[string]any) map[string]any {
		a := map[string]any{"id": id, "tenantId": tenant, "principalId": principal, "roleDefinitionId": roleID, "scope": scope, "kind": kind}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	sub := "/subscriptions/22222222-0000-4000-8000-000000000001"
	top["roleAssignments"] = append(top["roleAssignments"].([]any),
		assignment("bad", "33333333-0000-4000-8000-0000000000ff", "99999999-0000-4000-8000-000000000009", "subscriptions/x", "owner", nil),
		assignment("44444444-0000-4000-8000-000000000003", user, role, sub, "active", map[string]any{"activations": []any{map[string]any{"from": nil, "to": nil}}}),
		assignment("44444444-0000-4000-8000-000000000004", user, role, sub, "eligible", map[string]any{"activations": []any{
			map[string]any{"from": "bad", "to": nil},
			map[string]any{"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T07:00:00Z"},
			map[string]any{"from": "2026-03-03T08:00:00Z", "to": "2026-03-03T10:00:00Z"},
			map[string]any{"from": "2026-03-03T09:00:00Z", "to": "2026-03-03T11:00:00Z"},
		}}),
		assignment("44444444-0000-4000-8000-000000000005", user, role, sub, "active", map[string]any{"from": "2026-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}),
		assignment("44444444-0000-4000-8000-000000000001", group, role, sub, "active", map[string]any{"from": "2026-02-01T00:00:00Z"}),
		assignment("4444AAAA-0000-4000-8000-000000000006", strings.ToUpper(user), strings.ToUpper(role), sub, "active", map[string]any{"tenantId": "11111111-0000-4000-8000-00000000000X"}),
	)
	b, err := json.MarshalIndent(top, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	problems := func(err error) []string {
		var inv *estatefile.InvalidError
		if !errors.As(err, &inv) {
			t.Fatalf("err = %v, want an estatefile.InvalidError", err)
		}
		var out []string
		for _, p := range inv.Problems {
			out = append(out, p.String())
		}
		sort.Strings(out)
		return out
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		_, err := importFile(t, db, string(b), estatefile.Options{})
		bulk := problems(err)
		general := storetest.SQLite(t)
		if db.Engine() == store.Postgres {
			general = storetest.Postgres(t)
		}
		_, err = importFile(t, general, string(b), estatefile.WithoutBulk(estatefile.Options{}))
		if g := problems(err); !reflect.DeepEqual(bulk, g) {
			t.Fatalf("the paths name other problems:\n--- bulk\n%s\n--- general\n%s", strings.Join(bulk, "\n"), strings.Join(g, "\n"))
		}
		all := strings.Join(bulk, "\n")
		for _, want := range []string{
			`principals[2].tenantId: tenant ID "XYZ" is not a GUID`, `principals[2].objectId: object ID "not-a-guid"`, `principals[2].type: type "Robot"`,
			`principals[2].homeTenantId: home tenant ID "nope"`, "principals[3].tenantId: tenant 99999999-0000-4000-8000-000000000099 is not known",
			`principals[4].memberOf[0].groupId: group ID "bad"`, "principals[4].memberOf[1].groupId: principal 3333aaaa-0000-4000-8000-00000000000a is a member of group 33333333-0000-4000-8000-0000000000ee",
			"principals[4].memberOf[2].groupId: principal 3333aaaa-0000-4000-8000-00000000000a is a member of " + user + ", which is a User",
			"principals[4].memberOf[3].to: 2026-01-01T00:00:00Z is not after", "principals[4].memberOf[5]: its window [2026-03-01T00:00:00Z",
			`roleAssignments[2].id: assignment ID "bad"`, "roleAssignments[2].principalId: assignment bad is for principal 33333333-0000-4000-8000-0000000000ff",
			"roleAssignments[2].roleDefinitionId: assignment bad uses role definition 99999999", `roleAssignments[2].scope: scope "subscriptions/x"`,
			`roleAssignments[2].kind: kind "owner"`, "roleAssignments[3].activations: only eligible", "roleAssignments[4].activations[0].from:",
			"roleAssignments[4].activations[1].to: 2026-03-02T07:00:00Z is not after", "roleAssignments[4].activations[3]: its window [2026-03-03T09:00:00Z",
			"roleAssignments[5].to: 2025-01-01T00:00:00Z is not after", "roleAssignments[6]: its window [2026-02-01T00:00:00Z",
			`roleAssignments[7].tenantId: tenant ID "11111111-0000-4000-8000-00000000000X"`,
		} {
			if !strings.Contains(all, want) {
				t.Errorf("no problem %q in:\n%s", want, all)
			}
		}
	})
}
