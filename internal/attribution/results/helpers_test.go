package results

import (
	"strings"
	"unsafe"
	"weak"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
	"pgregory.net/rapid"
)

func h(n int) int64 { return factstest.H(n) }

func mustMoney(n int64) money.Nanos { return money.Nanos(n) }

var roleOwner = factstest.RoleOwner

var wide = timeline.Window{From: h(-1000), To: h(1000)}

func genSnapshot(t *rapid.T) *facts.Snapshot { return factstest.GenSnapshot(t) }

func genRecords(t *rapid.T) []*usage.Record { return factstest.GenRecords(t) }

// Compute and DefaultPrograms are the engine's.
var (
	Compute         = attribution.Compute
	DefaultPrograms = attribution.DefaultPrograms
)

// sharedStrings points every string of b's dictionary into one new allocation, whose first
// byte it returns a weak pointer to.
func sharedStrings(b *usage.Batch) weak.Pointer[byte] {
	arena := strings.Repeat("\x00", 1<<12) + strings.Join(b.Dict, "")
	off := 1 << 12
	for i, s := range b.Dict {
		b.Dict[i] = arena[off : off+len(s)]
		off += len(s)
	}
	return weak.Make(unsafe.StringData(arena))
}
