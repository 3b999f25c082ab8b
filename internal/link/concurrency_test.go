package link_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// TestConcurrentChangesStayConsistent runs 200 goroutines creating, moving and deleting the links
// of 50 principals at once, then checks that every principal has one record, that its versions
// form the sequence 1..N, that replaying its history gives the final record, and that its link
// windows never overlap.
func TestConcurrentChangesStayConsistent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		locs := []string{"4000001", "4000002", "4000003"}
		org := directory.Organisation{ID: "4000000", Name: "Contoso"}
		for _, l := range locs {
			org.Locations = append(org.Locations, directory.Location{ID: l, Name: "loc " + l})
		}
		if err := (directory.Store{DB: db}).Put(ctx, org); err != nil {
			t.Fatal(err)
		}
		// A clock that moves one microsecond per reading: concurrent writers see different,
		// increasing instants, as on a real server.
		var tick atomic.Int64
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		svc := &link.Store{DB: db, Now: func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Microsecond) }}

		const workers, principals, opsEach = 200, 50, 2
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for g := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for i := range opsEach {
					c := link.Caller{TenantID: "t1", ObjectID: fmt.Sprintf("p%02d", r.IntN(principals)), IDType: "user", RequestID: fmt.Sprintf("g%d-%d", g, i)}
					loc := locs[r.IntN(len(locs))]
					var err error
					switch r.IntN(3) {
					case 0:
						_, err = svc.Create(ctx, c, loc)
					case 1:
						_, err = svc.Update(ctx, c, loc)
					default:
						err = svc.Delete(ctx, c, loc)
					}
					var le *link.Error
					if err != nil && !errors.As(err, &le) {
						errs <- fmt.Errorf("%s %s: %w", c.ObjectID, c.RequestID, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		type rec struct {
			loc, state string
			version    int64
		}
		final := map[string]rec{}
		rows, err := db.QueryContext(ctx, `SELECT object_id, location_id, state, version FROM links WHERE tenant_id = 't1'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var o string
			var r rec
			if err := rows.Scan(&o, &r.loc, &r.state, &r.version); err != nil {
				t.Fatal(err)
			}
			if _, dup := final[o]; dup {
				t.Fatalf("two link records for %s", o)
			}
			final[o] = r
		}
		rows.Close()

		for o, f := range final {
			hist := query(t, db, `SELECT action, from_partner_id, to_partner_id, version, at FROM link_history WHERE tenant_id = 't1' AND object_id = $1 ORDER BY version`, o)
			active, cur := false, ""
			var lastAt int64
			for i, h := range hist {
				action, from, to := h[0].(string), h[1].(string), h[2].(string)
				version, at := h[3].(int64), h[4].(int64)
				if version != int64(i+1) {
					t.Fatalf("%s: history version %d at position %d; versions must be 1..N", o, version, i)
				}
				if at < lastAt {
					t.Errorf("%s: version %d happened at %d, before version %d (%d)", o, version, at, version-1, lastAt)
				}
				lastAt = at
				switch action {
				case "create":
					if active {
						t.Fatalf("%s v%d: create while linked to %s", o, version, cur)
					}
					active, cur = true, to
				case "update":
					if !active || from != cur {
						t.Fatalf("%s v%d: update from %q but current is %q (active %v)", o, version, from, cur, active)
					}
					cur = to
				case "delete":
					if !active || from != cur {
						t.Fatalf("%s v%d: delete of %q but current is %q (active %v)", o, version, from, cur, active)
					}
					active = false
				}
			}
			if f.version != int64(len(hist)) {
				t.Errorf("%s: record version %d, history has %d changes", o, f.version, len(hist))
			}
			if (f.state == link.StateActive) != active || (active && f.loc != cur) {
				t.Errorf("%s: record %+v, history replays to active=%v %s", o, f, active, cur)
			}
			spans := query(t, db, `SELECT location_id, valid_from, valid_to FROM link_spans WHERE tenant_id = 't1' AND object_id = $1 ORDER BY valid_from`, o)
			open := 0
			for i, s := range spans {
				from, to := s[1].(int64), s[2].(int64)
				if from >= to {
					t.Errorf("%s: empty span %v", o, s)
				}
				if to == timeline.Max {
					open++
					if !active || s[0].(string) != cur {
						t.Errorf("%s: open span to %v but the link is active=%v %s", o, s[0], active, cur)
					}
				}
				if i > 0 && spans[i-1][2].(int64) > from {
					t.Errorf("%s: spans overlap: %v then %v", o, spans[i-1], s)
				}
			}
			if open > 1 || (active && open != 1) {
				t.Errorf("%s: %d open spans, active=%v", o, open, active)
			}
		}
		if len(final) == 0 {
			t.Fatal("no links written")
		}
	})
}

func query(t *testing.T, db *store.DB, q string, args ...any) [][]any {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			switch x := v.(type) {
			case []byte:
				vals[i] = string(x)
			case int32:
				vals[i] = int64(x)
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return out
}
