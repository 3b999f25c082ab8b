package groupcommit_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/partnerlink/partnerlink/internal/link/groupcommit"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

type call struct {
	key string
	ctx context.Context
	fn  func(groupcommit.Pipe) error
}

// inOneGroup makes calls run as one group, without timing: a first call holds its lane (its
// function waits) until every call has queued behind it, and then lets go. It returns the
// calls' errors, and fails the test unless exactly two groups ran (the first call's, then the
// calls').
func inOneGroup(t *testing.T, db *store.DB, calls []call) []error {
	t.Helper()
	const firstKey = "first"
	for _, c := range calls {
		if !groupcommit.SameGroupLane(db, firstKey, c.key) {
			t.Fatalf("key %q does not queue in the lane of %q; pick another", c.key, firstKey)
		}
	}
	runs := groupcommit.GroupsRun(db)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- groupcommit.For(db).GroupTx(context.Background(), firstKey, func(groupcommit.Pipe) error {
			once.Do(func() { close(started) })
			<-release
			return nil
		})
	}()
	<-started
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		ctx := c.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		wg.Go(func() { errs[i] = groupcommit.For(db).GroupTx(ctx, c.key, c.fn) })
	}
	for groupcommit.GroupQueued(db, firstKey) < len(calls) {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if got := groupcommit.GroupsRun(db) - runs; got != 2 {
		t.Fatalf("%d groups ran, want 2: the calls did not share one", got)
	}
	return errs
}

// keysInLane returns n keys that queue in the lane of "first" (on SQLite, every key does).
func keysInLane(db *store.DB, n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprintf("k%03d", i)
		if groupcommit.SameGroupLane(db, "first", k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func groupTables(t *testing.T, db *store.DB) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE group_rows (k TEXT PRIMARY KEY, v BIGINT NOT NULL)`,
		`CREATE TABLE group_parents (id TEXT PRIMARY KEY)`,
		`CREATE TABLE group_children (id TEXT PRIMARY KEY, parent TEXT NOT NULL REFERENCES group_parents (id) DEFERRABLE INITIALLY DEFERRED)`,
		`INSERT INTO group_parents (id) VALUES ('p')`,
	} {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

func insertRow(k string, v int64) *groupcommit.Batch {
	var b groupcommit.Batch
	b.Exec(`INSERT INTO group_rows (k, v) VALUES ($1, $2)`, k, v)
	return &b
}

func rowsIn(t *testing.T, db *store.DB, table string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT `+map[string]string{"group_rows": "k", "group_children": "id"}[table]+` FROM `+table+` ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

var errRefused = errors.New("refused")

// A call that fails leaves nothing behind and gets its own error, whether it refuses after
// writing or a statement of it fails; the calls around it commit.
func TestGroupTxIsolatesFailingCalls(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		groupTables(t, db)
		keys := keysInLane(db, 6)
		var calls []call
		for i, k := range keys {
			calls = append(calls, call{key: k, fn: func(p groupcommit.Pipe) error {
				switch i % 3 {
				case 1: // writes, then refuses
					if err := p.Send(context.Background(), insertRow(k, 1)); err != nil {
						return err
					}
					return errRefused
				case 2: // writes, then a statement fails (duplicate key)
					if err := p.Send(context.Background(), insertRow(k, 1)); err != nil {
						return err
					}
					return p.Commit(context.Background(), insertRow(k, 2))
				}
				return p.Commit(context.Background(), insertRow(k, 1))
			}})
		}
		attempts := groupcommit.GroupAttempts(db)
		errs := inOneGroup(t, db, calls)
		// The first call's, the group's without savepoints (a call failed), and with them.
		if n := groupcommit.GroupAttempts(db) - attempts; n != 3 {
			t.Errorf("%d transactions, want 3: the run with savepoints did not settle the group", n)
		}
		var want []string
		for i, err := range errs {
			switch i % 3 {
			case 0:
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
				want = append(want, keys[i])
			case 1:
				if !errors.Is(err, errRefused) {
					t.Errorf("call %d: %v, want its own refusal", i, err)
				}
			case 2:
				if !errors.Is(err, store.ErrConflict) {
					t.Errorf("call %d: %v, want a conflict", i, err)
				}
			}
		}
		if got := rowsIn(t, db, "group_rows"); !slices.Equal(got, want) {
			t.Fatalf("rows %v, want those of the calls that succeeded: %v", got, want)
		}
	})
}

// Calls in a group run one after another and see each other's writes, in the order of their
// keys (calls with one key in the order they came).
func TestGroupTxRunsCallsInTurn(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		groupTables(t, db)
		if _, err := db.ExecContext(context.Background(), `INSERT INTO group_rows (k, v) VALUES ('counter', 0)`); err != nil {
			t.Fatal(err)
		}
		keys := keysInLane(db, 5)
		var mu sync.Mutex
		var order []string
		seen := map[int64]bool{}
		var calls []call
		for i := len(keys) - 1; i >= 0; i-- { // queued in reverse key order
			k := keys[i]
			calls = append(calls, call{key: k, fn: func(p groupcommit.Pipe) error {
				var v int64
				var b groupcommit.Batch
				b.QueryRow(func(r groupcommit.Row) error { return r.Scan(&v) }, `UPDATE group_rows SET v = v + 1 WHERE k = 'counter' RETURNING v`)
				if err := p.Commit(context.Background(), &b); err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				order = append(order, k)
				seen[v] = true
				return nil
			}})
		}
		for i, err := range inOneGroup(t, db, calls) {
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if !slices.Equal(order, keys) {
			t.Errorf("ran in the order %v, want key order %v", order, keys)
		}
		for v := int64(1); v <= int64(len(keys)); v++ {
			if !seen[v] {
				t.Errorf("no call saw the counter at %d: %v", v, seen)
			}
		}
		var final int64
		if err := db.QueryRowContext(context.Background(), `SELECT v FROM group_rows WHERE k = 'counter'`).Scan(&final); err != nil || final != int64(len(keys)) {
			t.Fatalf("counter %d, %v; want %d", final, err, len(keys))
		}
	})
}

// When the shared commit fails (here a deferred foreign key of one call), the calls are run
// again alone: only the call at fault fails.
func TestGroupTxFailedCommitFailsOnlyTheCallAtFault(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		groupTables(t, db)
		keys := keysInLane(db, 4)
		var calls []call
		for i, k := range keys {
			parent := "p"
			if i == 2 {
				parent = "missing" // checked only at commit
			}
			calls = append(calls, call{key: k, fn: func(p groupcommit.Pipe) error {
				var b groupcommit.Batch
				b.Exec(`INSERT INTO group_children (id, parent) VALUES ($1, $2)`, k, parent)
				return p.Commit(context.Background(), &b)
			}})
		}
		attempts := groupcommit.GroupAttempts(db)
		errs := inOneGroup(t, db, calls)
		// The first call's, the group's (its commit fails), then one for each call alone.
		if n := groupcommit.GroupAttempts(db) - attempts; n != int64(2+len(calls)) {
			t.Errorf("%d transactions, want %d", n, 2+len(calls))
		}
		var want []string
		for i, err := range errs {
			if i == 2 {
				if err == nil {
					t.Errorf("call %d with a missing parent succeeded", i)
				}
				continue
			}
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
			want = append(want, keys[i])
		}
		if got := rowsIn(t, db, "group_children"); !slices.Equal(got, want) {
			t.Fatalf("children %v, want %v", got, want)
		}
	})
}

// A call whose context ends while it waits in the queue returns at once and never runs.
func TestGroupTxCallCancelledWhileQueued(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		groupTables(t, db)
		keys := keysInLane(db, 2)
		ctx, cancel := context.WithCancel(context.Background())
		var ran atomic.Bool // written by the lane's goroutine if the bug is back
		started, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		firstDone := make(chan error, 1)
		go func() {
			firstDone <- groupcommit.For(db).GroupTx(context.Background(), "first", func(groupcommit.Pipe) error {
				once.Do(func() { close(started) })
				<-release
				return nil
			})
		}()
		<-started
		cancelled := make(chan error, 1)
		go func() {
			cancelled <- groupcommit.For(db).GroupTx(ctx, keys[0], func(p groupcommit.Pipe) error {
				ran.Store(true)
				return p.Commit(context.Background(), insertRow(keys[0], 1))
			})
		}()
		for groupcommit.GroupQueued(db, "first") < 1 {
			runtime.Gosched()
		}
		cancel()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: %v", err)
		}
		if n := groupcommit.GroupQueued(db, "first"); n != 0 {
			t.Fatalf("%d calls still queued after the cancelled one returned", n)
		}
		close(release)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		// The lane still works.
		if err := groupcommit.For(db).GroupTx(context.Background(), keys[1], func(p groupcommit.Pipe) error {
			return p.Commit(context.Background(), insertRow(keys[1], 1))
		}); err != nil {
			t.Fatal(err)
		}
		if ran.Load() {
			t.Fatal("the cancelled call ran")
		}
		if got := rowsIn(t, db, "group_rows"); !slices.Equal(got, keys[1:]) {
			t.Fatalf("rows %v, want %v", got, keys[1:])
		}
	})
}

// A function that panics fails its call with an error, and the lane goes on serving calls.
func TestGroupTxPanicFailsOnlyItsCall(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		groupTables(t, db)
		err := groupcommit.For(db).GroupTx(context.Background(), "first", func(groupcommit.Pipe) error { panic("boom") })
		if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
			t.Fatalf("panicking call: %v", err)
		}
		if err := groupcommit.For(db).GroupTx(context.Background(), "first", func(p groupcommit.Pipe) error {
			return p.Commit(context.Background(), insertRow("after", 1))
		}); err != nil {
			t.Fatal(err)
		}
		if got := rowsIn(t, db, "group_rows"); !slices.Equal(got, []string{"after"}) {
			t.Fatalf("rows %v", got)
		}
	})
}
