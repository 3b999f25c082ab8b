package directory_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// An identifier names one location at a time: a second location overlapping is refused with
// the holder named, the value compares case-insensitively, an organisation ID is refused with
// its locations listed, and closing keeps history so the value can move on.
func TestIdentifiersOneLocationAtATime(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := directory.Store{DB: db}
		if err := dir.Put(ctx, directory.Organisation{ID: "4000000", Name: "Contoso", Locations: []directory.Location{
			{ID: "4000001", Name: "Contoso UK"}, {ID: "4000002", Name: "Contoso DE"}}}); err != nil {
			t.Fatal(err)
		}
		put := func(loc, value string, from, to int64) error {
			return dir.PutIdentifier(ctx, directory.Identifier{Scheme: "aws-product-code", Value: value, LocationID: loc, Window: timeline.Window{From: from, To: to}})
		}
		if err := put("4000001", " AbC ", 100, timeline.Max); err != nil {
			t.Fatal(err)
		}
		err := put("4000002", "abc", 200, timeline.Max)
		if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "4000001") {
			t.Fatalf("overlapping second location: %v", err)
		}
		err = put("4000000", "xyz", 0, timeline.Max)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "4000001 (Contoso UK), 4000002 (Contoso DE)") {
			t.Fatalf("organisation ID: %v", err)
		}
		if err := put("9999999", "xyz", 0, timeline.Max); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown location: %v", err)
		}
		if _, err := dir.CloseIdentifier(ctx, "AWS-Product-Code", "ABC", 200); err != nil {
			t.Fatal(err)
		}
		if err := put("4000002", "abc", 200, timeline.Max); err != nil {
			t.Fatalf("moving after closing: %v", err)
		}
		got, err := dir.Identifiers(ctx, directory.IdentifierFilter{OrgID: "4000000"})
		if err != nil {
			t.Fatal(err)
		}
		want := []directory.Identifier{
			{Scheme: "aws-product-code", Value: "AbC", LocationID: "4000001", Window: timeline.Window{From: 100, To: 200}},
			{Scheme: "aws-product-code", Value: "abc", LocationID: "4000002", Window: timeline.Window{From: 200, To: timeline.Max}},
		}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("identifiers = %+v, want %+v", got, want)
		}
		facts, err := directory.LoadIdentifierFacts(ctx, db, timeline.Window{From: 0, To: 150})
		if err != nil || len(facts) != 1 || facts[0].LocationID != "4000001" {
			t.Fatalf("facts = %+v, %v", facts, err)
		}
	})
}
