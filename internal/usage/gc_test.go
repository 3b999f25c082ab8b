package usage

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Each one-shot setting is in force while its command runs and gone after it.
func TestGCSettingsHoldDuringTheCommandAndAreRestored(t *testing.T) {
	for _, c := range []struct {
		name  string
		set   func() func()
		pct   int
		limit int64
	}{
		{"BulkGC (import usage into SQLite)", func() func() { return BulkGC(store.SQLite) }, 400, 192 << 20},
		{"BulkGC (import usage into PostgreSQL)", func() func() { return BulkGC(store.Postgres) }, 400, 224 << 20},
		{"ReadGC (audit)", ReadGC, 400, 1 << 30},
		{"RunGC (attribute)", RunGC, 200, math.MaxInt64},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOGC", "")
			t.Setenv("GOMEMLIMIT", "")
			pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
			defer debug.SetGCPercent(pct)
			defer debug.SetMemoryLimit(limit)
			restore := c.set()
			if got := debug.SetGCPercent(c.pct); got != c.pct {
				t.Fatalf("during the command GOGC = %d, want %d", got, c.pct)
			}
			if got := debug.SetMemoryLimit(-1); got != c.limit {
				t.Fatalf("during the command the memory limit = %d, want %d", got, c.limit)
			}
			restore()
			if got := debug.SetGCPercent(100); got != 100 {
				t.Fatalf("after the command GOGC = %d, want 100 again", got)
			}
			if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
				t.Fatalf("after the command the memory limit = %d, want none again", got)
			}
		})
	}
}

// A GOGC the user set wins over a command's setting.
func TestGCSettingsLeaveTheUsersGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	pct := debug.SetGCPercent(150)
	defer debug.SetGCPercent(pct)
	for _, set := range []func() func(){func() func() { return BulkGC(store.Postgres) }, ReadGC, RunGC} {
		restore := set()
		if got := debug.SetGCPercent(150); got != 150 {
			t.Fatalf("with GOGC=150 set by the user, a command set GOGC = %d", got)
		}
		restore()
	}
}
