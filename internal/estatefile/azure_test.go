package estatefile_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

const fabrikam = "11111111-0000-4000-8000-000000000001"

func openFixture(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/azure/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestAzureAdapters(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		opts := func(asOf string) estatefile.Options {
			return estatefile.Options{AsOf: mustTime(asOf), Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}
		}
		if _, err := importFile(t, db, snapshot1(t), estatefile.Options{AsOf: mustTime("2026-01-01T00:00:00Z")}); err != nil {
			t.Fatal(err)
		}
		rep, err := estatefile.ImportAzureRoleDefinitions(ctx, db, openFixture(t, "role-definitions.json"), "defs.json", opts("2026-03-01T00:00:00Z"))
		if err != nil {
			t.Fatal(err)
		}
		if c := rep.Kinds["role definitions"]; c == nil || c.Created != 1 { // Owner is new; Contributor and Reader exist
			t.Fatalf("role definitions: %+v", rep.Kinds)
		}
		// The snapshot lacks ann's eligible assignment at the subscription: it is closed. The
		// group's assignment is kept; the service principal's is new, and so is the principal.
		snap := mustTime("2026-03-10T00:00:00Z")
		rep, err = estatefile.ImportAzureRoleAssignments(ctx, db, openFixture(t, "role-assignments.json"), "ra.json", fabrikam, opts("2026-03-10T00:00:00Z"))
		if err != nil {
			t.Fatal(err)
		}
		ra := rep.Kinds["role assignments"]
		if ra == nil || ra.Created != 1 || ra.Closed != 1 || rep.Kinds["principals"].Created != 1 {
			t.Fatalf("role assignment snapshot: %+v %+v", rep.Kinds["role assignments"], rep.Kinds["principals"])
		}
		s, _ := facts.Load(ctx, db, timeline.Window{From: snap, To: snap + 1})
		ids := map[string]bool{}
		for _, a := range s.Assignments {
			ids[a.ID] = true
		}
		if !ids["44444444-0000-4000-8000-000000000001"] || !ids["44444444-0000-4000-8000-0000000000a1"] || ids["44444444-0000-4000-8000-000000000002"] {
			t.Fatalf("assignments in force after the snapshot: %v", ids)
		}
		// PIM: the activation belongs to ann's eligible assignment, which was in force then.
		rep, err = estatefile.ImportAzurePIM(ctx, db, openFixture(t, "pim-instances.json"), "pim.json", fabrikam, opts("2026-03-10T00:00:00Z"))
		if err != nil || rep.Kinds["PIM activations"].Created != 1 {
			t.Fatalf("pim: %+v, %v", rep, err)
		}
		// Links: ann moved to 4100002.
		if _, err := estatefile.ImportAzureLinks(ctx, db, openFixture(t, "links.json"), "links.json", opts("2026-03-10T00:00:00Z")); err != nil {
			t.Fatal(err)
		}
		var loc string
		db.QueryRowContext(ctx, `SELECT location_id FROM links WHERE object_id = '33333333-0000-4000-8000-000000000002'`).Scan(&loc)
		if loc != "4100002" {
			t.Fatalf("current link after the links import: %q", loc)
		}
	})
}

func TestAzurePIMWithoutEligibleAssignment(t *testing.T) {
	db := storetest.SQLite(t)
	if _, err := importFile(t, db, snapshot1(t), estatefile.Options{}); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(readFixture(t, "pim-instances.json"), "33333333-0000-4000-8000-000000000002", "33333333-0000-4000-8000-0000000000ee", 1)
	_, err := estatefile.ImportAzurePIM(context.Background(), db, strings.NewReader(body), "pim.json", fabrikam, estatefile.Options{})
	if err == nil || !strings.Contains(err.Error(), "[0]: activation of principal 33333333-0000-4000-8000-0000000000ee") {
		t.Fatalf("err = %v", err)
	}
}

func readFixture(t *testing.T, name string) string {
	b, err := os.ReadFile("testdata/azure/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
