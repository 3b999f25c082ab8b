package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

func TestAccountsPutListFacts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := (directory.Store{DB: db}).Put(ctx, directory.Organisation{ID: "4000000", Name: "Contoso", Locations: []directory.Location{
			{ID: "4000001", Name: "Contoso UK"}, {ID: "4000002", Name: "Contoso DE"}}}); err != nil {
			t.Fatal(err)
		}
		s := account.Store{DB: db}
		a := account.Account{Provider: "Amazon Web Services, Inc.", ID: " 012345678901 ", Kind: account.KindSub, Name: "prod", BillingAccountID: "987654321098",
			Resale: []account.Resale{{LocationID: "4000002", Window: timeline.Window{From: 100, To: timeline.Max}}, {LocationID: "4000001", Window: timeline.Window{From: 0, To: 50}}}}
		if err := s.Put(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "aws", "012345678901")
		if err != nil {
			t.Fatal(err)
		}
		if got.Provider != "aws" || got.ID != "012345678901" || len(got.Resale) != 2 || got.Resale[0].LocationID != "4000001" {
			t.Fatalf("Get = %+v", got)
		}
		mine, err := s.List(ctx, account.Filter{Locations: []string{"4000001"}})
		if err != nil || len(mine) != 1 {
			t.Fatalf("List by location = %+v, %v", mine, err)
		}
		facts, err := account.LoadFacts(ctx, db, timeline.Window{From: 60, To: 90})
		if err != nil || len(facts) != 1 || len(facts[0].Resale) != 0 {
			t.Fatalf("facts = %+v, %v", facts, err)
		}
		a.Resale = []account.Resale{{LocationID: "4000000", Window: timeline.Always()}}
		if err := s.Put(ctx, a); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "4000001 (Contoso UK)") {
			t.Fatalf("organisation ID as reseller: %v", err)
		}
		a.Provider = "Microsoft Azure"
		if err := s.Put(ctx, a); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("an Azure account: %v", err)
		}
	})
}
