package attribution

import (
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Explain names every version 2 reason on the golden scenario, from a record and from an
// account.
func TestExplainVersion2Reasons(t *testing.T) {
	s, recs := goldenV2(t)
	byKey := map[string]int{}
	for i, r := range recs {
		byKey[r.Key] = i
	}
	codes := func(ex *Explanation) string {
		var out []string
		for _, f := range ex.Found {
			out = append(out, "found:"+f.Location+":"+f.Association)
		}
		for _, r := range ex.Reasons {
			out = append(out, r.Location+":"+r.Code)
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		partner, record string
		want            []string
	}{
		// After the move pc:prodA names 4200001; pc:unknown names nothing; the account is unknown.
		{"4100001", "r2", []string{":provider_not_microsoft", "4100001:tag_names_other_location", "4100001:tag_matches_no_identifier", "4100001:unknown_account"}},
		{"4200001", "r2", []string{"found:4200001:TAG"}},
		// 4100002 was inactive: the revenue attribution ID names 4200001, pc:prodA 4100001.
		{"4100002", "r1", []string{"4100002:inactive_location", "4100002:tag_names_other_location", "4100002:account_not_resold"}},
		{"4100000", "r8", []string{":organisation_id", "4100001:tag_names_organisation"}},
		{"4200001", "r3", []string{"found:4200001:MARKETPLACE"}},
		{"4100001", "r3", []string{"4100001:seller_not_registered"}},
	}
	for _, c := range cases {
		ex, err := ExplainSnapshot(s, ExplainQuery{Partner: c.partner}, recs[byKey[c.record]])
		if err != nil {
			t.Fatal(err)
		}
		got := codes(ex)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s on %s: %s lacks %s\n%s", c.partner, c.record, got, w, ex.Text())
			}
		}
	}
	march := timeline.Window{From: goldenMarch(1, 0), To: goldenMarch(31, 0)}
	ex, err := ExplainSnapshot(s, ExplainQuery{Partner: "4100000", Account: "111111111111", Provider: "AWS", Period: march}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(ex); !strings.Contains(got, "found:4100001:RESALE") || !strings.Contains(got, "found:4100003:RESALE") || !strings.Contains(got, "4100002:account_not_resold") {
		t.Errorf("account: %s\n%s", got, ex.Text())
	}
	if len(ex.Found) == 0 || len(ex.Found[0].Chains) == 0 || ex.Found[0].Chains[0][0].Kind != "account" {
		t.Errorf("no account chain: %+v", ex.Found)
	}
}
