package groupcommit

import "github.com/partnerlink/partnerlink/internal/store"

// Hooks for the GroupTx tests (group_test.go).

// GroupQueued is how many GroupTx calls wait in the lane of key.
func GroupQueued(db *store.DB, key string) int {
	l := For(db).lane(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// SameGroupLane reports whether GroupTx calls with keys a and b queue in one lane.
func SameGroupLane(db *store.DB, a, b string) bool { return For(db).lane(a) == For(db).lane(b) }

// GroupsRun is how many groups GroupTx has run.
func GroupsRun(db *store.DB) int64 { return For(db).runs.Load() }

// GroupAttempts is how many transactions the groups took (a group that has a call fail runs
// again with savepoints; one whose commit fails runs each call alone).
func GroupAttempts(db *store.DB) int64 { return For(db).attempts.Load() }
