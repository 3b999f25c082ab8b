package access

import (
	"context"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// LoadFacts gives the assignments in the order of their ID and start, whatever order the
// table holds them in (it reads the table unordered and sorts), each with its activations.
func TestLoadFactsOrdersAssignments(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// id, kind, from, to: inserted out of order, two versions of "b".
		rows := [][]any{
			{"c", "t1", "p1", "r1", "/subscriptions/s", "/subscriptions/s", Active, int64(0), timeline.Max},
			{"b", "t1", "p2", "r1", "/subscriptions/s", "/subscriptions/s", Eligible, int64(50), timeline.Max},
			{"a", "t1", "p3", "r1", "/subscriptions/s", "/subscriptions/s", Active, int64(10), int64(20)},
			{"b", "t1", "p2", "r1", "/subscriptions/s", "/subscriptions/s", Eligible, int64(0), int64(50)},
		}
		err := db.Load(ctx, func(ld store.Loader) error {
			if _, err := AssignmentsTable.Insert(ctx, ld, rows, false); err != nil {
				return err
			}
			_, err := ActivationsTable.Insert(ctx, ld, [][]any{{"b", int64(60), int64(70)}}, false)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		f, err := LoadFacts(ctx, db.DB, timeline.Always())
		if err != nil {
			t.Fatal(err)
		}
		type version struct {
			id   string
			from int64
			acts int
		}
		var got []version
		for _, a := range f.Assignments {
			got = append(got, version{a.ID, a.Valid.From, len(a.Activations)})
		}
		want := []version{{"a", 10, 0}, {"b", 0, 1}, {"b", 50, 1}, {"c", 0, 0}}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	})
}
