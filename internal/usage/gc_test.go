package usage

import (
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
