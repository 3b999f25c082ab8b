package link

import (
	"errors"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// A create or update naming an organisation ID is refused and recorded (tenant, principal,
// refused ID, time); other refusals (an unknown ID, a conflict) are not, and nothing of the
// refused change is written.
func TestRefusedOrganisationIDsAreRecorded(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx, c := cacheFixture(t, db)
		at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
		s := &Store{DB: db, Now: func() time.Time { return at }}
		var le *Error
		if _, err := s.Create(ctx, c, "4000000"); !errors.As(err, &le) || le.Code != CodeBadRequest {
			t.Fatalf("linking the organisation ID: %v, want a BadRequest", err)
		}
		if _, err := s.Create(ctx, c, "4999999"); err == nil {
			t.Fatal("linking an unknown ID succeeded")
		}
		if _, err := s.Create(ctx, c, "4000001"); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Hour)
		c2 := c
		c2.RequestID = "r2"
		if _, err := s.Update(ctx, c2, "4000000"); err == nil {
			t.Fatal("moving the link to the organisation ID succeeded")
		}
		got, err := Refusals(ctx, db, "4000000", timeline.Always())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("refusals %+v, want the create and the update", got)
		}
		want := []Refusal{
			{TenantID: "t1", ObjectID: "u1", PartnerID: "4000000", Action: ActionCreate, At: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC).UnixNano(), RequestID: "r"},
			{TenantID: "t1", ObjectID: "u1", PartnerID: "4000000", Action: ActionUpdate, At: time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC).UnixNano(), RequestID: "r2"},
		}
		for i := range want {
			got[i].ID = ""
			if got[i] != want[i] {
				t.Errorf("refusal %d: %+v, want %+v", i, got[i], want[i])
			}
		}
		// The window bounds the list.
		if got, err := Refusals(ctx, db, "4000000", timeline.Window{From: at.UnixNano(), To: timeline.Max}); err != nil || len(got) != 1 {
			t.Errorf("refusals from 11:00: %+v, %v", got, err)
		}
		if l := mustGet(t, s, ctx, c); l.PartnerID != "4000001" || l.Version != 1 {
			t.Errorf("the link after the refused move: %+v", l)
		}
	})
}
