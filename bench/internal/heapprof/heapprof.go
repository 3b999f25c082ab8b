// Package heapprof keeps the heap profile of a benchmark phase's largest live heap, for the
// bench commands' -heapprofile flags.
package heapprof

import (
	"bytes"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// Start watches the live heap (as of the last collection) and keeps the heap profile of its
// largest value, which the returned function writes to path (nothing when path is empty). A
// heap profile, too, describes the heap as of the last collection, so the two agree. Reading
// every 50 ms can miss a short peak; the profile is for finding what is large, not an exact peak.
func Start(path string) func() error {
	if path == "" {
		return func() error { return nil }
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	var best bytes.Buffer
	go func() {
		defer close(stopped)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var peak uint64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > peak {
				peak = live
				best.Reset()
				_ = pprof.WriteHeapProfile(&best)
			}
		}
	}()
	return func() error {
		close(done)
		<-stopped
		if best.Len() == 0 { // a phase shorter than one reading
			_ = pprof.WriteHeapProfile(&best)
		}
		return os.WriteFile(path, best.Bytes(), 0o644)
	}
}
