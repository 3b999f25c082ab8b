package estatefile_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

const (
	fabrikam = "11111111-0000-4000-8000-000000000001"
	ann      = "33333333-0000-4000-8000-000000000002"
	// the assignments of snapshot1.json
	opsActive   = "44444444-0000-4000-8000-000000000001" // group ops, Contributor at resource group Web, active
	annEligible = "44444444-0000-4000-8000-000000000002" // ann, Contributor at the subscription, eligible
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/azure/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func azOpts(asOf string) estatefile.Options {
	return estatefile.Options{AsOf: mustTime(asOf), Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}
}

// adapters by command name, each with the tenant they need (ignored by those without).
var adapters = map[string]func(context.Context, *store.DB, io.Reader, string, string, estatefile.Options) (*estatefile.Report, error){
	"azure-role-assignments": estatefile.ImportAzureRoleAssignments,
	"azure-pim":              estatefile.ImportAzurePIM,
	"azure-role-definitions": func(ctx context.Context, db *store.DB, r io.Reader, name, _ string, o estatefile.Options) (*estatefile.Report, error) {
		return estatefile.ImportAzureRoleDefinitions(ctx, db, r, name, o)
	},
	"azure-links": func(ctx context.Context, db *store.DB, r io.Reader, name, _ string, o estatefile.Options) (*estatefile.Report, error) {
		return estatefile.ImportAzureLinks(ctx, db, r, name, o)
	},
}

func importAz(t *testing.T, db *store.DB, adapter, body string, opts estatefile.Options) (*estatefile.Report, error) {
	t.Helper()
	return adapters[adapter](context.Background(), db, strings.NewReader(body), "export.json", fabrikam, opts)
}

// withBase is a database holding snapshot1.json, imported as of 2026-01-01.
func withBase(t *testing.T, db *store.DB) {
	t.Helper()
	if _, err := importFile(t, db, snapshot1(t), estatefile.Options{AsOf: mustTime("2026-01-01T00:00:00Z")}); err != nil {
		t.Fatal(err)
	}
}

// assignmentsAt lists the assignments in force at an instant, by ID, with their kind.
func assignmentsAt(t *testing.T, db *store.DB, at string) map[string]access.Kind {
	t.Helper()
	ns := mustTime(at)
	s, err := facts.Load(context.Background(), db, timeline.Window{From: ns, To: ns + 1})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]access.Kind{}
	for _, a := range s.Assignments {
		out[a.ID] = a.Kind
	}
	return out
}

func TestAzureAdapters(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		withBase(t, db)
		rep, err := importAz(t, db, "azure-role-definitions", readFixture(t, "az-role-definition-list.json"), azOpts("2026-03-01T00:00:00Z"))
		if err != nil {
			t.Fatal(err)
		}
		if c := rep.Kinds["role definitions"]; c == nil || c.Created != 1 { // Owner is new; Contributor and Reader exist
			t.Fatalf("role definitions: %+v", rep.Kinds)
		}
		// The listing of active assignments lacks ann's eligible assignment: it stays open, as
		// `az role assignment list` never lists eligible ones. The service principal's is new,
		// and so is the principal.
		rep, err = importAz(t, db, "azure-role-assignments", readFixture(t, "az-role-assignment-list.json"), azOpts("2026-03-10T00:00:00Z"))
		if err != nil {
			t.Fatal(err)
		}
		ra := rep.Kinds["role assignments"]
		if ra == nil || ra.Created != 1 || ra.Closed != 0 || rep.Kinds["principals"].Created != 1 || rep.Used != 2 || len(rep.Skipped) != 0 {
			t.Fatalf("role assignment snapshot: %+v %+v %+v", rep.Kinds["role assignments"], rep.Kinds["principals"], rep)
		}
		if got := assignmentsAt(t, db, "2026-03-20T00:00:00Z"); got[annEligible] != access.Eligible || got[opsActive] != access.Active || got["44444444-0000-4000-8000-0000000000a1"] != access.Active {
			t.Fatalf("assignments in force after the snapshot: %v", got)
		}
		// PIM eligibility: ann's is the stored one (same principal, role and scope); etl-bot's
		// is new, with its schedule's ID, and so is etl-bot.
		rep, err = importAz(t, db, "azure-pim", readFixture(t, "rest-eligibility-instances.json"), azOpts("2026-03-10T00:00:00Z"))
		if err != nil {
			t.Fatal(err)
		}
		if c := rep.Kinds["role assignments"]; c == nil || c.Created != 1 || c.Closed != 0 || rep.Kinds["principals"].Created != 1 {
			t.Fatalf("eligibility snapshot: %+v", rep.Kinds)
		}
		if got := assignmentsAt(t, db, "2026-03-20T00:00:00Z"); got["66666666-0000-4000-8000-0000000000c2"] != access.Eligible || len(got) != 4 {
			t.Fatalf("assignments after the eligibility snapshot: %v", got)
		}
		// PIM activations: the Activated instance is ann's; the Assigned one is skipped, and said.
		rep, err = importAz(t, db, "azure-pim", readFixture(t, "rest-assignment-instances.json"), azOpts("2026-03-10T00:00:00Z"))
		if err != nil || rep.Kinds["PIM activations"].Created != 1 || len(rep.Skipped) != 1 || rep.Skipped[0].Path != "$.value[1]" ||
			!strings.Contains(rep.Skipped[0].Msg, "assignmentType Assigned") || !strings.Contains(rep.Summary(), "skipped 1: assignmentType Assigned") {
			t.Fatalf("pim: %+v, %v", rep, err)
		}
		// Importing the same activations again adds nothing; the stored ones are kept.
		rep, err = importAz(t, db, "azure-pim", readFixture(t, "rest-assignment-instances.json"), azOpts("2026-03-11T00:00:00Z"))
		if err != nil || len(rep.Kinds) != 0 {
			t.Fatalf("pim again: %+v, %v", rep, err)
		}
		s, err := facts.Load(context.Background(), db, timeline.Always())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range s.Assignments {
			if a.ID == annEligible && (len(a.Activations) != 2 || a.Activations[1] != (timeline.Window{From: mustTime("2026-03-05T09:00:00Z"), To: mustTime("2026-03-05T12:30:00Z")})) {
				t.Fatalf("ann's activations: %v", a.Activations)
			}
		}
		// Links: ann moved to 4100002.
		if _, err := importAz(t, db, "azure-links", readFixture(t, "az-managementpartner-show.json"), azOpts("2026-03-10T00:00:00Z")); err != nil {
			t.Fatal(err)
		}
		var loc string
		db.QueryRowContext(context.Background(), `SELECT location_id FROM links WHERE object_id = $1`, ann).Scan(&loc)
		if loc != "4100002" {
			t.Fatalf("current link after the links import: %q", loc)
		}
	})
}

// entriesOf returns the objects of an export, wherever its shape puts them.
func entriesOf(t *testing.T, body string) []json.RawMessage {
	t.Helper()
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	var list []json.RawMessage
	switch {
	case json.Unmarshal([]byte(body), &list) == nil:
		return list
	case json.Unmarshal([]byte(body), &page) == nil && page.Value != nil:
		return page.Value
	}
	return []json.RawMessage{json.RawMessage(body)}
}

// shapes writes the same entries in every envelope the tools print.
func shapes(t *testing.T, entries []json.RawMessage) map[string]string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	out := map[string]string{
		"ARM REST list page": enc(map[string]any{"value": entries}),
		"bare list":          enc(entries),
		"list of lists":      enc([][]json.RawMessage{entries}),
	}
	if len(entries) == 1 {
		out["one object"] = string(entries[0])
	} else {
		next := "https://management.azure.com/subscriptions/22222222-0000-4000-8000-000000000001/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$skiptoken=x"
		out["pages"] = enc([]map[string]any{{"value": entries[:1], "nextLink": next}, {"value": entries[1:]}})
	}
	return out
}

// TestAzureShapes: every adapter stores the same estate from each of its real exports (ARM
// REST with fields under properties, az's flattened output) in each envelope (a list page,
// several pages, a bare list, a list of lists, one object).
func TestAzureShapes(t *testing.T) {
	for _, tc := range []struct {
		adapter string
		files   []string
		asOf    string
	}{
		{"azure-role-assignments", []string{"az-role-assignment-list.json", "rest-role-assignments.json"}, "2026-03-10T00:00:00Z"},
		{"azure-role-definitions", []string{"az-role-definition-list.json", "rest-role-definitions.json"}, "2026-03-10T00:00:00Z"},
		{"azure-pim", []string{"rest-eligibility-instances.json"}, "2026-03-10T00:00:00Z"},
		{"azure-pim", []string{"rest-assignment-instances.json"}, "2026-03-10T00:00:00Z"},
		{"azure-pim", []string{"graph-eligibility-instances.json"}, "2026-03-10T00:00:00Z"},
		{"azure-links", []string{"az-managementpartner-show.json", "rest-partners.json"}, "2026-03-10T00:00:00Z"},
	} {
		t.Run(tc.adapter+"/"+tc.files[0], func(t *testing.T) {
			want := ""
			for _, file := range tc.files {
				body := readFixture(t, file)
				variants := shapes(t, entriesOf(t, body))
				variants["as printed"] = body
				for shape, v := range variants {
					db := storetest.SQLite(t)
					withBase(t, db)
					rep, err := importAz(t, db, tc.adapter, v, azOpts(tc.asOf))
					if err != nil {
						t.Fatalf("%s as %s: %v", file, shape, err)
					}
					if rep.Used == 0 || !strings.Contains(rep.Summary(), "read as: ") {
						t.Fatalf("%s as %s: %s", file, shape, rep.Summary())
					}
					got := export(t, db)
					if want == "" {
						want = got
					} else if got != want {
						t.Fatalf("%s as %s stores another estate:\n%s\n--- want\n%s", file, shape, got, want)
					}
				}
			}
		})
	}
}

// TestAzureShapeIsSaid: the report says how the file was read.
func TestAzureShapeIsSaid(t *testing.T) {
	db := storetest.SQLite(t)
	withBase(t, db)
	for _, tc := range []struct{ file, want string }{
		{"rest-role-assignments.json", "one list page ({\"value\": [...]}), 2 entries with fields under properties (ARM REST)"},
		{"az-role-assignment-list.json", "a list of 2 objects, 2 entries with flattened fields (az CLI)"},
	} {
		rep, err := importAz(t, db, "azure-role-assignments", readFixture(t, tc.file), azOpts("2026-03-10T00:00:00Z"))
		if err != nil || rep.Shape != tc.want {
			t.Fatalf("%s: %q, %v", tc.file, rep.Shape, err)
		}
	}
	rep, err := importAz(t, db, "azure-pim", readFixture(t, "graph-eligibility-instances.json"), azOpts("2026-03-10T00:00:00Z"))
	if err != nil || rep.Shape != "one list page ({\"value\": [...]}), 2 entries with flattened fields (Microsoft Graph)" ||
		len(rep.Skipped) != 1 || rep.Skipped[0].Path != "$.value[1]" || !strings.Contains(rep.Skipped[0].Msg, "Microsoft Entra scope") {
		t.Fatalf("graph: %+v, %v", rep, err)
	}
}

// TestAzureOfficialExamples imports Microsoft's own ARM REST examples (testdata/azure/official).
func TestAzureOfficialExamples(t *testing.T) {
	const estate = `{
  "tenants": [{"id": "dddddddd-0000-4000-8000-000000000001", "name": "Contoso"}],
  "subscriptions": [
    {"id": "dfa2a084-766f-4003-8ae1-c4aeb893a99f", "tenantId": "dddddddd-0000-4000-8000-000000000001", "offer": "payg"},
    {"id": "a925f2f7-5c63-4b7b-8799-25a5f97bc3b2", "tenantId": "dddddddd-0000-4000-8000-000000000001", "offer": "payg"}],
  "roleDefinitions": [
    {"id": "b24988ac-6180-42a0-ab88-20f7382dd24c", "roleName": "Contributor", "type": "BuiltInRole", "permissions": [{"actions": ["*"], "notActions": []}]},
    {"id": "c8d4ff99-41c3-41a8-9f60-21dfdad59608", "roleName": "Custom", "type": "CustomRole", "permissions": [{"actions": ["*"], "notActions": []}]},
    {"id": "0b5fe924-9a61-425c-96af-cfe6e287ca2d", "roleName": "Other", "type": "CustomRole", "permissions": [{"actions": ["*/read"], "notActions": []}]}]
}`
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if _, err := importFile(t, db, estate, estatefile.Options{}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		imp := func(adapter, file string) (*estatefile.Report, error) {
			return adapters[adapter](ctx, db, strings.NewReader(readFixture(t, "official/"+file)), file, "dddddddd-0000-4000-8000-000000000001", azOpts("2026-01-01T00:00:00Z"))
		}
		rep, err := imp("azure-pim", "roleEligibilityScheduleInstances-list.json")
		if err != nil || rep.Kinds["role assignments"].Created != 1 || rep.Kinds["principals"].Created != 1 {
			t.Fatalf("eligibility instances: %+v, %v", rep, err)
		}
		var id, kind string
		var from, to int64
		db.QueryRowContext(ctx, `SELECT id, kind, valid_from, valid_to FROM role_assignments WHERE principal_id = 'a3bb8764-cb92-4276-9d2a-ca1e895e55ea'`).Scan(&id, &kind, &from, &to)
		if id != "b1477448-2cc6-4ceb-93b4-54a202a89413" || kind != "eligible" || from != mustTime("2020-09-10T00:32:36.86Z") || to != mustTime("2021-09-10T00:31:41.477Z") {
			t.Fatalf("the eligible assignment: %s %s %s %s", id, kind, timeline.Format(from), timeline.Format(to))
		}
		// The assignment instances example holds one Assigned instance: nothing to use, said why.
		_, err = imp("azure-pim", "roleAssignmentScheduleInstances-list.json")
		var unused *estatefile.UnusedError
		if !errors.As(err, &unused) || !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "none of its 1 entry could be used") ||
			!strings.Contains(err.Error(), "skipped 1: assignmentType Assigned") || !strings.Contains(err.Error(), "($.value[0])") {
			t.Fatalf("assignment instances: %v", err)
		}
		rep, err = imp("azure-role-assignments", "roleAssignments-listForSubscription.json")
		if err != nil || rep.Kinds["role assignments"].Created != 1 || rep.Kinds["principals"].Created != 1 {
			t.Fatalf("role assignments: %+v, %v", rep, err)
		}
		if got := assignmentsAt(t, db, "2026-02-01T00:00:00Z"); got["b0f43c54-e787-4862-89b1-a653fa9cf747"] != access.Active {
			t.Fatalf("assignments: %v", got)
		}
	})
}

// twoSubscriptions is snapshot1 with, in the second subscription, an active assignment of
// ops and an eligible one of ann.
func twoSubscriptions(t *testing.T) string {
	t.Helper()
	const sub2 = "/subscriptions/22222222-0000-4000-8000-000000000002"
	body := strings.Replace(snapshot1(t), `"activations": [{"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T16:00:00Z"}]}`,
		`"activations": [{"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T16:00:00Z"}]},
    {"id": "44444444-0000-4000-8000-000000000021", "tenantId": "`+fabrikam+`", "principalId": "33333333-0000-4000-8000-000000000001",
     "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c", "scope": "`+sub2+`", "kind": "active", "from": "2026-01-01T00:00:00Z", "to": null},
    {"id": "44444444-0000-4000-8000-000000000022", "tenantId": "`+fabrikam+`", "principalId": "`+ann+`",
     "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c", "scope": "`+sub2+`", "kind": "eligible", "from": "2026-01-01T00:00:00Z", "to": null}`, 1)
	if body == snapshot1(t) {
		t.Fatal("fixture changed")
	}
	return body
}

// TestRoleAssignmentSnapshotScopes: a listing closes the active assignments it lacks in the
// scopes it covers, never an eligible one, and remembers which import closed what.
func TestRoleAssignmentSnapshotScopes(t *testing.T) {
	const sp = "44444444-0000-4000-8000-0000000000a1"
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if _, err := importFile(t, db, twoSubscriptions(t), estatefile.Options{AsOf: mustTime("2026-01-01T00:00:00Z")}); err != nil {
			t.Fatal(err)
		}
		// Only the service principal's assignment at subscription 1: ops's assignment in its
		// resource group Web is closed; subscription 2, not in the file, is untouched.
		list := `[` + string(entriesOf(t, readFixture(t, "az-role-assignment-list.json"))[1]) + `]`
		rep, err := importAz(t, db, "azure-role-assignments", list, azOpts("2026-03-10T00:00:00Z"))
		if err != nil || rep.Kinds["role assignments"].Closed != 1 || strings.Join(rep.Covers, ",") != "/subscriptions/22222222-0000-4000-8000-000000000001 (from the file)" {
			t.Fatalf("%+v, %v", rep, err)
		}
		got := assignmentsAt(t, db, "2026-03-20T00:00:00Z")
		if _, open := got[opsActive]; open || got[annEligible] != access.Eligible || got["44444444-0000-4000-8000-000000000021"] != access.Active ||
			got["44444444-0000-4000-8000-000000000022"] != access.Eligible || got[sp] != access.Active {
			t.Fatalf("after a listing of subscription 1: %v", got)
		}
		s, err := facts.Load(context.Background(), db, timeline.Always())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range s.Assignments {
			if a.ID == opsActive && (a.ClosedBy == nil || a.ClosedBy.ImportID != rep.ImportID || a.ClosedBy.Source != "azure-role-assignments" ||
				a.ClosedBy.File != "export.json" || a.Valid.To != mustTime("2026-03-10T00:00:00Z")) {
				t.Fatalf("the closure of %s: %+v %v", opsActive, a.ClosedBy, a.Valid)
			}
		}
		// The same listing, said to cover the whole tenant: subscription 2's active one closes.
		opts := azOpts("2026-03-15T00:00:00Z")
		opts.Scopes = []string{"/"}
		rep, err = importAz(t, db, "azure-role-assignments", list, opts)
		if err != nil || rep.Kinds["role assignments"].Closed != 1 || rep.Covers[0] != "the whole tenant (--scope /)" {
			t.Fatalf("%+v, %v", rep, err)
		}
		got = assignmentsAt(t, db, "2026-03-20T00:00:00Z")
		if _, open := got["44444444-0000-4000-8000-000000000021"]; open || got["44444444-0000-4000-8000-000000000022"] != access.Eligible || len(got) != 3 {
			t.Fatalf("after a listing of the tenant: %v", got)
		}
		// An empty listing of a given scope closes what is active there; without a scope
		// it says nothing and is refused.
		opts = azOpts("2026-03-16T00:00:00Z")
		opts.Scopes = []string{"/subscriptions/22222222-0000-4000-8000-000000000001"}
		if rep, err = importAz(t, db, "azure-role-assignments", `[]`, opts); err != nil || rep.Kinds["role assignments"].Closed != 1 {
			t.Fatalf("empty listing of a scope: %+v, %v", rep, err)
		}
		if got := assignmentsAt(t, db, "2026-03-20T00:00:00Z"); len(got) != 2 || got[annEligible] != access.Eligible {
			t.Fatalf("after the empty listing: %v", got)
		}
		var unused *estatefile.UnusedError
		if _, err := importAz(t, db, "azure-role-assignments", `{"value": []}`, azOpts("2026-03-17T00:00:00Z")); !errors.As(err, &unused) || !strings.Contains(err.Error(), "holds no entries") {
			t.Fatalf("empty listing without a scope: %v", err)
		}
	})
}

// TestPIMEligibilitySnapshot: eligibility instances close the eligible assignments they lack
// in the scopes they cover, never an active one.
func TestPIMEligibilitySnapshot(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if _, err := importFile(t, db, twoSubscriptions(t), estatefile.Options{AsOf: mustTime("2026-01-01T00:00:00Z")}); err != nil {
			t.Fatal(err)
		}
		// Only etl-bot's eligibility (in subscription 1): ann's there closes; subscription 2's
		// eligible one, and every active one, stay.
		list := `{"value": [` + string(entriesOf(t, readFixture(t, "rest-eligibility-instances.json"))[1]) + `]}`
		rep, err := importAz(t, db, "azure-pim", list, azOpts("2026-03-10T00:00:00Z"))
		if err != nil || rep.Kinds["role assignments"].Closed != 1 || rep.Kinds["role assignments"].Created != 1 {
			t.Fatalf("%+v, %v", rep, err)
		}
		got := assignmentsAt(t, db, "2026-03-20T00:00:00Z")
		if _, open := got[annEligible]; open || got[opsActive] != access.Active || got["44444444-0000-4000-8000-000000000021"] != access.Active ||
			got["44444444-0000-4000-8000-000000000022"] != access.Eligible || got["66666666-0000-4000-8000-0000000000c2"] != access.Eligible {
			t.Fatalf("after the eligibility snapshot: %v", got)
		}
		// A file of activations only is no snapshot: it closes nothing.
		rep, err = importAz(t, db, "azure-pim", readFixture(t, "graph-assignment-instances.json"), azOpts("2026-03-12T00:00:00Z"))
		if err == nil || !strings.Contains(err.Error(), "$.value[0]: activation of principal "+ann+", role b24988ac-6180-42a0-ab88-20f7382dd24c at / matches no eligible assignment") {
			t.Fatalf("an activation without its eligible assignment: %+v, %v", rep, err)
		}
		if _, err := importAz(t, db, "azure-pim", readFixture(t, "graph-eligibility-instances.json"), azOpts("2026-03-12T00:00:00Z")); err != nil {
			t.Fatal(err)
		}
		rep, err = importAz(t, db, "azure-pim", readFixture(t, "graph-assignment-instances.json"), azOpts("2026-03-12T00:00:00Z"))
		if err != nil || rep.Kinds["PIM activations"].Created != 1 || rep.Kinds["role assignments"] != nil || len(rep.Covers) != 0 {
			t.Fatalf("graph activation: %+v, %v", rep, err)
		}
	})
}

// TestAzureBadExports: every refused export says why, where, and writes nothing.
func TestAzureBadExports(t *testing.T) {
	restRA := readFixture(t, "rest-role-assignments.json")
	azRA := readFixture(t, "az-role-assignment-list.json")
	activations := readFixture(t, "rest-assignment-instances.json")
	for _, tc := range []struct {
		name, adapter, body string
		unused              bool
		want                []string
	}{
		{"PIM instances as role assignments", "azure-role-assignments", readFixture(t, "rest-eligibility-instances.json"), true,
			[]string{"none of its 2 entries", "skipped 2: type Microsoft.Authorization/RoleEligibilityScheduleInstances is not a role assignment", "import azure-pim", "$.value[0], $.value[1]"}},
		{"only Assigned instances", "azure-pim", strings.Replace(activations, `"Activated"`, `"Assigned"`, 1), true,
			[]string{"none of its 2 entries", "skipped 2: assignmentType Assigned"}},
		{"an empty list", "azure-role-definitions", `[]`, true, []string{"read as a list of 0 objects, no entries, it holds no entries"}},
		{"a link in another state", "azure-links", strings.Replace(readFixture(t, "az-managementpartner-show.json"), `"Active"`, `"Pending"`, 1), true,
			[]string{`skipped 1: state "Pending" is neither Active nor Deleted ($)`}},
		{"a deleted link without its end", "azure-links", strings.Replace(strings.Replace(readFixture(t, "az-managementpartner-show.json"), `"Active"`, `"Deleted"`, 1), `"updatedTime"`, `"x"`, 1), true,
			[]string{"state Deleted without updatedTime"}},
		{"trailing data", "azure-role-assignments", azRA + " garbage", false, []string{"export.json:43:2: more data after the end of the JSON document"}},
		{"two documents", "azure-role-assignments", restRA + restRA, false, []string{"more data after the end of the JSON document", "put several pages or objects in one [ ... ] list"}},
		{"null", "azure-links", `null`, false, []string{"an Azure export is a JSON object", "not null"}},
		{"pages and objects", "azure-role-assignments", `[` + restRA + `, ` + string(entriesOf(t, azRA)[0]) + `]`, false, []string{"$[1] is an object but $[0] is a list page"}},
		{"an incomplete listing", "azure-role-assignments", strings.Replace(restRA, "\n  ]\n}", "\n  ],\n  \"nextLink\": \"https://management.azure.com/x?$skiptoken=y\"\n}", 1), false,
			[]string{"$.nextLink names a next page", "the listing is incomplete"}},
		{"a year out of range", "azure-role-assignments", strings.Replace(restRA, "2026-02-10T14:03:09.0000000Z", "9999-12-31T00:00:00Z", 1), false,
			[]string{"$.value[1].properties.createdOn: 9999-12-31T00:00:00Z is outside the range of times partnerlink stores, 1678-01-01T00:00:00Z to 2262-04-11T00:00:00Z"}},
		{"an activation out of range", "azure-pim", strings.Replace(activations, "2026-03-05T09:00:00Z", "0001-01-01T00:00:00Z", 1), false,
			[]string{"$.value[0].properties.startDateTime: 0001-01-01T00:00:00Z is outside the range"}},
		{"an eligibility out of range", "azure-pim", strings.Replace(readFixture(t, "rest-eligibility-instances.json"), "2027-02-15T08:00:00Z", "2262-04-12T00:00:00Z", 1), false,
			[]string{"$.value[1].properties.endDateTime: 2262-04-12T00:00:00Z is outside the range"}},
		{"a link out of range", "azure-links", strings.Replace(readFixture(t, "az-managementpartner-show.json"), "2026-01-20T01:23:40.5280496+00:00", "1600-01-20T01:23:40Z", 1), false,
			[]string{"$.createdTime: 1600-01-20T01:23:40Z is outside the range"}},
		{"an unknown role", "azure-role-assignments", strings.Replace(azRA, "roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", "roleDefinitions/99999999-0000-4000-8000-000000000009", 1), false,
			[]string{"$[1].roleDefinitionId: assignment 44444444-0000-4000-8000-0000000000a1 uses role definition 99999999-0000-4000-8000-000000000009, which is not defined"}},
		{"a bad scope", "azure-role-assignments", strings.Replace(restRA, `"scope": "/subscriptions/22222222-0000-4000-8000-000000000001",`, `"scope": "/subscription/x",`, 1), false,
			[]string{`$.value[1].properties.scope: scope "/subscription/x"`}},
		{"a number for a string", "azure-role-assignments", strings.Replace(restRA, `"principalId": "33333333-0000-4000-8000-0000000000c1"`, `"principalId": 7`, 1), false,
			[]string{"$.value[1].properties.principalId: must be a string, not a JSON number"}},
		{"a role without a name", "azure-role-definitions", strings.Replace(readFixture(t, "rest-role-definitions.json"), `"roleName": "Owner",`, ``, 1), false,
			[]string{"$.value[1].properties.roleName: role definition 8e3af657-a8ff-443c-a75c-2fe8c4bcb635 has no roleName"}},
		{"a link to an organisation", "azure-links", strings.Replace(readFixture(t, "rest-partners.json"), `"partnerId": "4100002"`, `"partnerId": "4100000"`, 1), false,
			[]string{`$[0].properties.partnerId: link partner "4100000" is a partner organisation ID; use one of its location IDs (4100001, 4100002)`}},
		{"overlapping links", "azure-links", `[` + readFixture(t, "az-managementpartner-show.json") + `,` + readFixture(t, "az-managementpartner-show.json") + `]`, false,
			[]string{"$[1]: its window [2026-01-20T01:23:40.5280496Z, ∞) overlaps $[0]'s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.SQLite(t)
			withBase(t, db)
			before := export(t, db)
			_, err := importAz(t, db, tc.adapter, tc.body, azOpts("2026-03-10T00:00:00Z"))
			var unused *estatefile.UnusedError
			if err == nil || errors.As(err, &unused) != tc.unused {
				t.Fatalf("err = %v (%T), want unused %v", err, err, tc.unused)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if export(t, db) != before {
				t.Fatal("a refused export changed the estate")
			}
		})
	}
	db := storetest.SQLite(t)
	withBase(t, db)
	if _, err := estatefile.ImportAzurePIM(context.Background(), db, strings.NewReader(activations), "pim.json", "99999999-0000-4000-8000-000000000099", estatefile.Options{}); err == nil ||
		!strings.Contains(err.Error(), "--tenant: tenant 99999999-0000-4000-8000-000000000099 is not in the estate") {
		t.Fatalf("an unknown tenant: %v", err)
	}
}
