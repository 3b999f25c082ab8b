package attribution

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

// WriteRow writes the bytes Write(r.Fields()) writes, in any mix with Write.
func TestWriteRowIsWriteOfFields(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		str := rapid.OneOf(rapid.SampledFrom([]string{"", "a", `\.`, " x", "a,b", `q"uote`, "line\nbreak", "r\r", "ü", "\tt"}), rapid.String())
		n := rapid.IntRange(0, 6).Draw(t, "rows")
		var slow, fast bytes.Buffer
		var prev Row
		ws, _ := NewTableWriter(&slow, "csv", RowHeader)
		wf, _ := NewTableWriter(&fast, "csv", RowHeader)
		for i := 0; i < n; i++ {
			r := Row{RecordKey: str.Draw(t, "key"), TenantID: str.Draw(t, "tenant"), ResourceID: str.Draw(t, "res"), Service: str.Draw(t, "svc"),
				Currency: "USD", LocationID: str.Draw(t, "loc"), Association: AssocPAL, OrgID: str.Draw(t, "org"), AdminRole: str.Draw(t, "role"),
				Start: rapid.Int64Range(0, 3).Draw(t, "start") * 3600e9, End: 7200e9, Cost: mustMoney(rapid.Int64Range(-5, 5).Draw(t, "cost") * 333),
				Coverage: rapid.SampledFrom([]int64{1e9, 5e8, 0}).Draw(t, "cov"), Amount: mustMoney(rapid.Int64Range(-5, 5).Draw(t, "amount")),
				DuplicateAtOrg: rapid.Bool().Draw(t, "dup")}
			if i > 0 && rapid.Bool().Draw(t, "another row of the same record") {
				r.RecordKey, r.Start, r.End, r.TenantID, r.SubscriptionID = prev.RecordKey, prev.Start, prev.End, prev.TenantID, prev.SubscriptionID
				r.ResourceID, r.Service, r.Currency, r.Cost = prev.ResourceID, prev.Service, prev.Currency, prev.Cost
			}
			prev = r
			if err := ws.Write(r.Fields()); err != nil {
				t.Fatal(err)
			}
			var err error
			if rapid.Bool().Draw(t, "fast") {
				err = wf.WriteRow(&r)
			} else {
				err = wf.Write(r.Fields())
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
		if err := wf.Close(); err != nil {
			t.Fatal(err)
		}
		if fast.String() != slow.String() {
			t.Fatalf("WriteRow wrote\n%q\nWrite wrote\n%q", fast.String(), slow.String())
		}
	})
}
