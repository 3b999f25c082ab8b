package audit

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/synth/synthtest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// A link attempt the link API refuses for naming the organisation ID is stored by the link
// package and listed by Run as the organisation's hygiene, with its locations as the fix.
func TestRunListsRefusedLinkAttempts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, err := os.Open("../estatefile/testdata/snapshot1.json")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := estatefile.Import(ctx, db, f, "snapshot1.json", estatefile.Options{}); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
		ls := &link.Store{DB: db, Now: func() time.Time { return at }}
		c := link.Caller{TenantID: "11111111-0000-4000-8000-000000000009", ObjectID: "44444444-0000-4000-8000-000000000001", IDType: "user", RequestID: "req-1"}
		if _, err := ls.Create(ctx, c, "4100000"); err == nil || !strings.Contains(err.Error(), "4100001") {
			t.Fatalf("linking the organisation ID: %v", err)
		}
		march := timeline.Window{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano(), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
		for _, partner := range []string{"4100000", "4100002"} { // the organisation, and one of its locations
			rep, err := Run(ctx, db, Query{Partner: partner, Period: march})
			if err != nil {
				t.Fatal(err)
			}
			var found *Finding
			for _, f := range rep.Findings {
				if f.Reason == ReasonOrganisationID {
					found = f
				}
			}
			if found == nil || found.TenantID != c.TenantID || found.PrincipalObjectID != c.ObjectID || found.Kind != KindHygiene ||
				!strings.Contains(found.Detail, "2026-03-10T09:00:00Z") || !strings.Contains(found.Detail, "4100001") {
				t.Errorf("%s: refusal finding %+v", partner, found)
			}
		}
		// Another month does not list it.
		april := timeline.Window{From: march.To, To: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
		rep, err := Run(ctx, db, Query{Partner: "4100000", Period: april})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Findings {
			if f.Reason == ReasonOrganisationID {
				t.Errorf("April lists %+v", f)
			}
		}
	})
}

// Run and CustomerRun read of the stored usage only the subscriptions of the tenants they
// look at (usage.StreamLeanSubscriptions); their answers are the ones given on every stored
// record, for every organisation and location and for every customer tenant of a synthetic
// estate, on SQLite and PostgreSQL.
func TestRunReadsOnlyItsTenantsAlike(t *testing.T) {
	d := synth.Generate(5, synth.Tiny)
	period := timeline.Window{From: d.From.UnixNano(), To: d.To.UnixNano()}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		estatePath, usagePath := synthtest.Files(t, d)
		synthtest.Import(t, db, estatePath, usagePath, func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
		s, err := LoadFacts(ctx, db, period)
		if err != nil {
			t.Fatal(err)
		}
		all := StoredUsage(db, period)
		asJSON := func(v any) string {
			b, _ := json.MarshalIndent(v, "", " ")
			return string(b)
		}
		audits := 0
		for _, o := range s.Organisations {
			for _, partner := range append([]string{o.ID}, locationIDs(o.Locations)...) {
				q := Query{Partner: partner, Period: period}
				got, err := Run(ctx, db, q)
				if err != nil {
					t.Fatal(err)
				}
				if q.Refusals, err = link.Refusals(ctx, db.DB, got.OrgID, period); err != nil {
					t.Fatal(err)
				}
				want, err := Compute(ctx, s, q, all)
				if err != nil {
					t.Fatal(err)
				}
				if a, b := asJSON(got), asJSON(want); a != b {
					t.Fatalf("%s: Run gave\n%s\non every record\n%s", partner, a, b)
				}
				if len(got.Findings) > 0 {
					audits++
				}
			}
		}
		if audits == 0 {
			t.Fatal("no audit found anything: the comparison shows nothing")
		}
		for _, tn := range s.Tenants {
			got, err := CustomerRun(ctx, db, tn.ID, period)
			if err != nil {
				t.Fatal(err)
			}
			want, err := CustomerView(ctx, s, tn.ID, period, all)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := asJSON(got), asJSON(want); a != b {
				t.Fatalf("tenant %s: CustomerRun gave\n%s\non every record\n%s", tn.ID, a, b)
			}
		}
	})
}
