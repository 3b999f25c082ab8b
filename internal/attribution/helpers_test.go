package attribution

import (
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/usage"
)

func mustMoney(n int64) money.Nanos { return money.Nanos(n) }

// ref is the rules (internal/rules.Reference) the engine must equal.
type ref struct {
	s     *facts.Snapshot
	progs *Programs
}

func (x *ref) record(r *usage.Record) ([]Row, []Incentive) {
	return (&rules.Reference{Snapshot: x.s, Programs: x.progs}).Record(r)
}

func sortRows(rows []Row)       { rules.SortRows(rows) }
func sortIncs(incs []Incentive) { rules.SortIncentives(incs) }
