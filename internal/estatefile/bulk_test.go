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
