package directory_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

func TestOneNamespaceOfPartnerIDs(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := (directory.Store{DB: db}).Put(ctx, directory.Organisation{ID: "4000000", Name: "Contoso", Locations: []directory.Location{{ID: "4000001", Name: "Contoso UK"}}}); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]struct {
			org  directory.Organisation
			want []string
		}{
			"organisation takes a location's ID": {directory.Organisation{ID: "4000001", Name: "Fabrikam"}, []string{"4000001", "4000000", "Contoso"}},
			"location takes an organisation's ID": {directory.Organisation{ID: "5000000", Name: "Fabrikam", Locations: []directory.Location{{ID: "4000000", Name: "F"}}},
				[]string{"4000000", "5000000", "Contoso"}},
		} {
			err := directory.Store{DB: db}.Put(ctx, c.org)
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("%s: Put = %v, want a conflict", name, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not name %s", name, err, w)
				}
			}
		}
		// Nothing of the refused writes was stored.
		if _, err := (directory.Store{DB: db}).Get(ctx, "5000000"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refused organisation 5000000 was stored: %v", err)
		}
		if p, err := (directory.Store{DB: db}).Resolve(ctx, "4000001"); err != nil || p.Kind != directory.KindLocation || p.OrgID != "4000000" {
			t.Errorf("Resolve(4000001) = %+v, %v; want the location of 4000000", p, err)
		}
	})
}

func TestResolve(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := (directory.Store{DB: db}).Put(ctx, directory.Organisation{ID: "4000000", Name: "Contoso", Locations: []directory.Location{{ID: "4000001", Name: "Contoso UK"}}}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			id, kind, org, name string
			err                 error
		}{
			{"4000001", directory.KindLocation, "4000000", "Contoso UK", nil},
			{"4000000", directory.KindOrganisation, "4000000", "Contoso", nil},
			{"4999999", "", "", "", store.ErrNotFound},
			{"", "", "", "", store.ErrInvalid},
			{"40\x0001", "", "", "", store.ErrInvalid},
			{"\xff", "", "", "", store.ErrInvalid},
			{"a b", "", "", "", store.ErrInvalid},
		}
		for _, c := range cases {
			p, err := directory.Store{DB: db}.Resolve(ctx, c.id)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Errorf("Resolve(%q) = %v, want %v", c.id, err, c.err)
				}
				continue
			}
			if err != nil || p.Kind != c.kind || p.OrgID != c.org || p.Name != c.name {
				t.Errorf("Resolve(%q) = %+v, %v", c.id, p, err)
			}
		}
	})
}
