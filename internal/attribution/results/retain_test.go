package results

import (
	"runtime"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// A run's daily rollups and totals keep copies of the batch's strings they key by (and so do
// the last record's keys they remember).
func TestRollupsAndTotalsKeepNoStringOfABatch(t *testing.T) {
	bb := usage.NewBatchBuilder()
	bb.Add(dailyRecord("r1", 0, "/subscriptions/"+subA+"/resourceGroups/rg1", 1000))
	b := bb.Batch()
	gone := sharedStrings(b)
	service, currency := b.S(usage.ColService, 0), b.S(usage.ColCurrency, 0)
	ru := newRollups(interner{})
	ru.row(&Row{Start: h(1), LocationID: "1", Association: attribution.AssocPAL, Service: service, Currency: currency, Amount: 5})
	ru.incentives([]Incentive{{Start: h(1), LocationID: "1", Program: attribution.ProgramPAL, Currency: currency, Amount: 1}})
	tot := totaller{}
	tot.add("1", attribution.AssocPAL, currency, 5)
	b, service, currency = nil, "", ""
	runtime.GC()
	if gone.Value() != nil {
		t.Fatal("the rollups or totals keep the batch's strings alive")
	}
	want := recKey{day: floorDay(h(1)), service: "vm", currency: "USD", provider: "microsoft"}
	if v := ru.recs[want]; v == nil || len(v.vals) != 1 || v.vals[0].amount != 5 || len(ru.inc) != 1 || tot["1"][attribution.AssocPAL]["USD"] != 5 {
		t.Fatalf("rollups %v %v, totals %v", ru.recs, ru.inc, tot)
	}
}
