package estatefile_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

func importFile(t *testing.T, db *store.DB, body string, opts estatefile.Options) (*estatefile.Report, error) {
	t.Helper()
	opts.Now = func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }
	return estatefile.Import(context.Background(), db, strings.NewReader(body), "estate.json", opts)
}

func export(t *testing.T, db *store.DB) string {
	t.Helper()
	var b bytes.Buffer
	if err := estatefile.Export(context.Background(), db, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func snapshot1(t *testing.T) string {
	b, err := os.ReadFile("testdata/snapshot1.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	var gen bytes.Buffer
	if err := synth.Generate(11, synth.Tiny).WriteEstate(&gen); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"snapshot1": snapshot1(t), "synth": gen.String()} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				if _, err := importFile(t, db, body, estatefile.Options{}); err != nil {
					t.Fatal(err)
				}
				first := export(t, db)
				fresh := storetest.SQLite(t)
				if _, err := importFile(t, fresh, first, estatefile.Options{}); err != nil {
					t.Fatal(err)
				}
				if second := export(t, fresh); second != first {
					t.Fatalf("export -> import -> export changed the file:\n%s\n----\n%s", first, second)
				}
				rep, err := importFile(t, db, body, estatefile.Options{})
				if err != nil || len(rep.Kinds) != 0 {
					t.Fatalf("importing the same file again changed %v (%v)", rep.Kinds, err)
				}
			})
		})
	}
}

func TestSnapshotHistory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s1 := snapshot1(t)
		if _, err := importFile(t, db, s1, estatefile.Options{AsOf: mustTime("2026-02-01T00:00:00Z")}); err != nil {
			t.Fatal(err)
		}
		// Snapshot 2: assignment 1 removed, assignment 2's role changed to Reader.
		s2 := strings.Replace(s1, `{"id": "44444444-0000-4000-8000-000000000001"`, `{"id": "44444444-0000-4000-8000-0000000000ff"`, 1)
		s2 = removeAssignment(t, s2, "44444444-0000-4000-8000-0000000000ff")
		s2 = strings.Replace(s2, `"principalId": "33333333-0000-4000-8000-000000000002", "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c"`,
			`"principalId": "33333333-0000-4000-8000-000000000002", "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7"`, 1)
		t2 := mustTime("2026-03-15T00:00:00Z")
		rep, err := importFile(t, db, s2, estatefile.Options{AsOf: t2})
		if err != nil {
			t.Fatal(err)
		}
		if c := rep.Kinds["role assignments"]; c == nil || c.Changed != 1 || c.Closed != 1 {
			t.Fatalf("snapshot 2 report: %+v", rep.Kinds["role assignments"])
		}
		at := func(ns int64) map[string]string {
			s, err := facts.Load(context.Background(), db, timeline.Window{From: ns, To: ns + 1})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, a := range s.Assignments {
				out[a.ID] = a.RoleDefinitionID
			}
			return out
		}
		before, after := at(t2-1), at(t2)
		if before["44444444-0000-4000-8000-000000000001"] == "" || before["44444444-0000-4000-8000-000000000002"] != "b24988ac-6180-42a0-ab88-20f7382dd24c" {
			t.Errorf("just before snapshot 2: %v", before)
		}
		if _, still := after["44444444-0000-4000-8000-000000000001"]; still || after["44444444-0000-4000-8000-000000000002"] != "acdd72a7-3385-48ef-bd42-f606fba81ae7" {
			t.Errorf("at snapshot 2: %v", after)
		}
		if from := at(mustTime("2026-01-01T00:00:00Z")); len(from) != 2 {
			t.Errorf("at the assignments' start: %v", from)
		}
		if early := at(mustTime("2026-01-01T00:00:00Z") - 1); len(early) != 0 {
			t.Errorf("before the assignments' start: %v", early)
		}
	})
}

func removeAssignment(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `{"id": "`+id+`"`)
	j := strings.Index(body[i:], `"to": null},`)
	if i < 0 || j < 0 {
		t.Fatal("fixture changed")
	}
	return body[:i] + body[i+j+len(`"to": null},`):]
}

func mustTime(s string) int64 {
	n, err := timeline.Parse(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestErrorsNameValueAndPath(t *testing.T) {
	s1 := snapshot1(t)
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{"unknown role", `"roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c",
     "scope": "/subscriptions/22222222-0000-4000-8000-000000000001/resourceGroups/Web"`, `"roleDefinitionId": "99999999-0000-4000-8000-000000000009",
     "scope": "/subscriptions/22222222-0000-4000-8000-000000000001/resourceGroups/Web"`,
			[]string{"roleAssignments[0].roleDefinitionId", "99999999-0000-4000-8000-000000000009", "44444444-0000-4000-8000-000000000001"}},
		{"to before from", `"from": "2026-01-01T00:00:00Z", "to": null},
    {"id": "44444444`, `"from": "2026-01-01T00:00:00Z", "to": "2025-12-01T00:00:00Z"},
    {"id": "44444444`, []string{"roleAssignments[0].to", "2025-12-01T00:00:00Z", "not after"}},
		{"unknown offer", `"offer": "ea"`, `"offer": "enterprise"`, []string{"subscriptions[0].offer", `"enterprise"`}},
		{"bad guid", `"objectId": "33333333-0000-4000-8000-000000000001"`, `"objectId": "ops-group"`, []string{"principals[0].objectId", `"ops-group"`}},
		{"bad scope", `"scope": "/subscriptions/22222222-0000-4000-8000-000000000001", "kind"`, `"scope": "/subscription/22222222", "kind"`, []string{"roleAssignments[1].scope", `"/subscription/22222222"`}},
		{"org id linked", "000000000002\",\n     \"partnerId\": \"4100001\"", "000000000002\",\n     \"partnerId\": \"4100000\"", []string{"links[0].partnerId", `"4100000"`, "organisation", "4100001, 4100002"}},
		{"overlap", `"activations": [{"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T16:00:00Z"}]`, `"activations": [{"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T16:00:00Z"}, {"from": "2026-03-02T12:00:00Z", "to": "2026-03-02T18:00:00Z"}]`,
			[]string{"roleAssignments[1].activations[1]", "overlaps", "roleAssignments[1].activations[0]"}},
		{"unknown mg", `"managementGroup": "mg-prod"`, `"managementGroup": "mg-test"`, []string{"subscriptions[0].managementGroup", `"mg-test"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(s1, tc.from) {
				t.Fatal("fixture changed")
			}
			body := strings.Replace(s1, tc.from, tc.to, 1)
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				_, err := importFile(t, db, body, estatefile.Options{})
				var inv *estatefile.InvalidError
				if !errors.As(err, &inv) || !errors.Is(err, store.ErrInvalid) {
					t.Fatalf("err = %v, want an estatefile.InvalidError", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				var n int
				db.QueryRowContext(context.Background(), `SELECT (SELECT COUNT(*) FROM tenants) + (SELECT COUNT(*) FROM partner_orgs) + (SELECT COUNT(*) FROM role_assignments)`).Scan(&n)
				if n != 0 {
					t.Fatalf("a rejected file wrote %d rows", n)
				}
			})
		})
	}
}

func TestDryRunAndStrict(t *testing.T) {
	db := storetest.SQLite(t)
	rep, err := importFile(t, db, snapshot1(t), estatefile.Options{DryRun: true})
	if err != nil || !rep.DryRun || rep.Kinds["role assignments"].Created != 2 {
		t.Fatalf("dry run = %+v, %v", rep, err)
	}
	if export(t, db) != export(t, storetest.SQLite(t)) {
		t.Fatal("a dry run wrote to the database")
	}
	withExtra := strings.Replace(snapshot1(t), `"name": "Fabrikam"`, `"name": "Fabrikam", "region": "EU"`, 1)
	if _, err := importFile(t, db, withExtra, estatefile.Options{Strict: true}); err == nil || !strings.Contains(err.Error(), `"region"`) {
		t.Fatalf("strict import of an unknown field: %v", err)
	}
	rep, err = importFile(t, db, withExtra, estatefile.Options{})
	if err != nil || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].Msg, `"region"`) {
		t.Fatalf("lenient import of an unknown field: %+v, %v", rep, err)
	}
	if _, err := importFile(t, db, `{"tenants": [}`, estatefile.Options{}); err == nil || !strings.Contains(err.Error(), "estate.json:1:") {
		t.Fatalf("broken JSON: %v", err)
	}
}

func TestLinkBackfillSetsCurrentLink(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if _, err := importFile(t, db, snapshot1(t), estatefile.Options{}); err != nil {
			t.Fatal(err)
		}
		var loc, state string
		var version int64
		err := db.QueryRowContext(context.Background(), `SELECT location_id, state, version FROM links WHERE object_id = $1`, "33333333-0000-4000-8000-000000000002").Scan(&loc, &state, &version)
		if err != nil || loc != "4100001" || state != "Active" || version != 1 {
			t.Fatalf("current link = %s %s v%d (%v)", loc, state, version, err)
		}
		moved := strings.Replace(snapshot1(t), "000000000002\",\n     \"partnerId\": \"4100001\", \"from\": \"2026-01-01T00:00:00Z\", \"to\": null}",
			`000000000002", "partnerId": "4100001", "from": "2026-01-01T00:00:00Z", "to": "2026-03-10T00:00:00Z"}, {"tenantId": "11111111-0000-4000-8000-000000000001", "objectId": "33333333-0000-4000-8000-000000000002", "partnerId": "4100002", "from": "2026-03-10T00:00:00Z", "to": null}`, 1)
		if _, err := importFile(t, db, moved, estatefile.Options{}); err != nil {
			t.Fatal(err)
		}
		db.QueryRowContext(context.Background(), `SELECT location_id, state, version FROM links WHERE object_id = $1`, "33333333-0000-4000-8000-000000000002").Scan(&loc, &state, &version)
		if loc != "4100002" || version != 2 {
			t.Fatalf("after the move: %s v%d", loc, version)
		}
		var n int
		db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM link_history WHERE action = 'backfill'`).Scan(&n)
		if n != 2 {
			t.Fatalf("%d backfill history rows, want 2", n)
		}
	})
}
