package usage

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestBulkGCRestoresSettings(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	pct := debug.SetGCPercent(100)
	defer debug.SetGCPercent(pct)
	restore := BulkGC()
	if got := debug.SetGCPercent(400); got != 400 {
		t.Fatalf("during a bulk import GOGC = %d, want 400", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 192<<20 {
		t.Fatalf("during a bulk import the memory limit = %d, want 192 MiB", got)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("after a bulk import GOGC = %d, want 100 again", got)
	}
}

func TestRunGCHalvesCollectionWithoutALimitUnlessTheUserSetGOGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	pct := debug.SetGCPercent(100)
	defer debug.SetGCPercent(pct)
	restore := RunGC()
	if got := debug.SetGCPercent(200); got != 200 {
		t.Fatalf("during a run GOGC = %d, want 200", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("during a run the memory limit = %d, want none (math.MaxInt64)", got)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("after a run GOGC = %d, want 100 again", got)
	}

	t.Setenv("GOGC", "150") // the user's setting wins
	debug.SetGCPercent(150)
	restore = RunGC()
	if got := debug.SetGCPercent(150); got != 150 {
		t.Fatalf("with GOGC=150 set by the user, a run set GOGC = %d", got)
	}
	restore()
}
