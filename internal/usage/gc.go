package usage

import (
	"math"
	"os"
	"runtime/debug"

	"github.com/partnerlink/partnerlink/internal/store"
)

// BulkGC lets the garbage collector run less often during a bulk import into a database of
// engine (store.SQLite, store.Postgres) and returns the function that restores the settings
// (`import usage` and the usage benchmark call it). GOGC=400 with a soft limit on the Go heap
// keeps collection rare while the heap (the rows waiting by day, the dictionary, a few days
// being written: docs/usage.md) is small, and frequent again before memory grows past the
// limit, so peak memory stays flat whatever the file size. Pass 2 keeps 170 to 190 MB live at
// ten million rows (a day's rows and segments on each core), so at a 192 MiB limit the
// collector ran about 300 times in its last seven seconds. Into PostgreSQL the limit is
// 224 MiB (imports 7 to 15 % faster, bench/RESULTS.md, 2026-12-07; peak RSS about 240 MiB);
// SQLite keeps 192 MiB, because its page cache (up to 64 MiB, outside the Go heap) brings the
// import's peak RSS to about 255 MiB there, and 224 MiB took it to 283 MiB, too near the
// 300 MiB that an import may use. A GOGC or GOMEMLIMIT set by the user wins.
func BulkGC(engine string) func() {
	if engine == store.Postgres {
		return setGC(400, 224<<20)
	}
	return setGC(400, 192<<20)
}

// ReadGC lets the garbage collector run less often while a one-shot command reads a month's
// stored usage once, and returns the function that restores the settings (`audit` calls it,
// and the audit benchmark, as the command runs). At the bench scale (ten million records)
// the coverage audit made about 2.5 GB of short-lived garbage (the segments' bytes as the
// SQLite driver copies them, their dictionaries, the decoded columns) over a live heap of
// about 350 MB, and at the default GOGC=100 collection took 0.5 of its 5 CPU seconds more
// than at GOGC=400 (bench/RESULTS.md, 2026-12-07). GOGC=400 with a 1 GiB soft limit on the
// Go heap makes collection rare until the heap nears the limit. The audit now reuses its
// decoding memory and makes about 1.6 GB, a third of it the driver's copies; limits of 640
// MiB, 800 MiB and 2 GiB were no faster (2026-12-08). It is process-wide, so
// servers (the dashboard, the API), which serve other requests at the same time, do not
// call it. A GOGC or GOMEMLIMIT set by the user wins.
func ReadGC() func() { return setGC(400, 1<<30) }

// RunGC lets the garbage collector run half as often during an attribution run (`attribute`
// calls it, and the end-to-end benchmarks, as the command runs), and returns the function
// that restores the settings. At the bench scale a run keeps about 700 MB live (the engine's
// indexes and caches, the facts, the day's rollups) and makes about 270 MB of garbage a
// second; at the default GOGC=100 the collector was marking two thirds of the time, and every
// row the engine copies paid its write barriers: 8 of a run's 46 CPU seconds went to
// collection. GOGC=200 made runs 13 to 16 % faster in three alternating pairs (bench/RESULTS.md,
// 2026-12-07), for a peak RSS of about 2.7 GB instead of 1.8 GB; the engine in memory, the
// runs' peer, gains nothing from it. No soft limit: the live heap grows with the estate, and a
// limit below three times it would make collection constant. A GOGC or GOMEMLIMIT set by the
// user wins.
func RunGC() func() { return setGC(200, math.MaxInt64) }

// setGC sets GOGC to pct and the Go heap's soft limit to limit bytes, unless the user set
// either, and returns the function that restores the settings.
func setGC(pct int, limit int64) func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	oldPct, oldLimit := debug.SetGCPercent(pct), debug.SetMemoryLimit(limit)
	return func() {
		debug.SetGCPercent(oldPct)
		debug.SetMemoryLimit(oldLimit)
	}
}
