package directory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

func TestPutGetListRoundTrip(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org := directory.Organisation{ID: "4000000", Name: "Contoso", TenantIDs: []string{"T1"}, Locations: []directory.Location{
			{ID: "4000001", Name: "Contoso UK", Country: "GB", Active: []timeline.Window{{From: 10, To: 20}, {From: 30, To: timeline.Max}}},
			{ID: "4000002", Name: "Contoso DE", Country: "DE"},
		}}
		if err := (directory.Store{DB: db}).Put(ctx, org); err != nil {
			t.Fatal(err)
		}
		// Replacing keeps omitted locations (history refers to them) and replaces windows.
		org.Name = "Contoso Ltd"
		org.Locations = []directory.Location{{ID: "4000001", Name: "Contoso UK", Country: "GB", Active: []timeline.Window{timeline.Always()}}}
		if err := (directory.Store{DB: db}).Put(ctx, org); err != nil {
			t.Fatal(err)
		}
		if err := (directory.Store{DB: db}).Put(ctx, directory.Organisation{ID: "5000000", Name: "Fabrikam"}); err != nil {
			t.Fatal(err)
		}
		got, err := directory.Store{DB: db}.Get(ctx, "4000000")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Contoso Ltd" || len(got.TenantIDs) != 1 || got.TenantIDs[0] != "t1" || len(got.Locations) != 2 {
			t.Fatalf("Get = %+v", got)
		}
		if l := got.Locations[0]; l.ID != "4000001" || len(l.Active) != 1 || l.Active[0] != timeline.Always() {
			t.Errorf("location 4000001 = %+v, want one unbounded window", l)
		}
		if l := got.Locations[1]; l.ID != "4000002" || len(l.Active) != 0 || l.Country != "DE" {
			t.Errorf("location 4000002 = %+v", l)
		}
		all, err := directory.Store{DB: db}.List(ctx)
		if err != nil || len(all) != 2 || all[1].ID != "5000000" || len(all[1].Locations) != 0 {
			t.Fatalf("List = %+v, %v", all, err)
		}
		if _, err := (directory.Store{DB: db}).Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestPutRejectsBadInput(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	if err := (directory.Store{DB: db}).Put(ctx, directory.Organisation{ID: "1", Name: "A", Locations: []directory.Location{{ID: "11", Name: "a"}}}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]directory.Organisation{
		"empty id":         {Name: "x"},
		"no name":          {ID: "2"},
		"location = org":   {ID: "2", Name: "B", Locations: []directory.Location{{ID: "2"}}},
		"duplicate":        {ID: "2", Name: "B", Locations: []directory.Location{{ID: "21"}, {ID: "21"}}},
		"empty window":     {ID: "2", Name: "B", Locations: []directory.Location{{ID: "21", Active: []timeline.Window{{From: 5, To: 5}}}}},
		"moves a location": {ID: "2", Name: "B", Locations: []directory.Location{{ID: "11"}}},
		"NUL in a name":    {ID: "2", Name: "B\x00"},
		"bad location ID":  {ID: "2", Name: "B", Locations: []directory.Location{{ID: "2 1"}}},
		"empty org ID":     {ID: "", Name: "B"},
	}
	for name, org := range cases {
		err := directory.Store{DB: db}.Put(ctx, org)
		if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: Put = %v, want invalid or conflict", name, err)
		}
	}
}
