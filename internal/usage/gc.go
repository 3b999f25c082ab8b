package usage

import (
	"os"
	"runtime/debug"
)

// BulkGC lets the garbage collector run less often during a bulk import and returns the
// function that restores the settings (`import usage` and the usage benchmark call it).
// Parsing makes about 1.5 KB of short-lived garbage per row; at the default GOGC=100
// collection took a fifth of the parser's CPU. GOGC=400 with a 192 MiB soft limit on the Go
// heap keeps collection rare while the heap (the rows waiting by day, the dictionary, a few
// days being written: docs/usage.md) is small, and frequent again before memory grows past the
// limit, so peak memory stays flat whatever the file size. A GOGC or GOMEMLIMIT set by the
// user wins.
func BulkGC() func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	pct := debug.SetGCPercent(400)
	limit := debug.SetMemoryLimit(192 << 20)
	return func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	}
}
