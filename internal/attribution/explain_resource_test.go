package attribution

import (
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

func TestResourceProvider(t *testing.T) {
	for id, want := range map[string]string{
		"arn:aws:ec2:us-east-1:111111111111:instance/i-0abc":                                  "aws",
		"arn:aws-cn:s3:::bucket-1":                                                            "aws",
		"//compute.googleapis.com/projects/my-proj/zones/europe-west1-b/instances/vm-1":       "google",
		"ocid1.instance.oc1.phx.abuw4ljrlsfiqw6vzzxb43vyypt4pkodawglp3wqxjqofakrwvou52gb6s5a": "oracle",
		"ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq":     "oracle",
		"/subscriptions/8f2a3b4c-0000-4000-8000-000000000001/resourceGroups/rg":               "microsoft",
		"": "", "garbage": "", "arn:aws": "", "arn:aws:ec2:us-east-1:111:": "", "//compute.googleapis.com/": "",
		"//example.com/projects/x": "", "ocid1.instance": "", "/subscriptions/not-a-guid/x": "",
		"arn:aws:ec2:us-east-1:111111111111:instance/i 0abc": "", "<script>": "",
	} {
		if got := ResourceProvider(id); got != want {
			t.Errorf("ResourceProvider(%q) = %q, want %q", id, got, want)
		}
	}
}

// Explaining another provider's resource from its records, on hand-written scenarios: an AWS
// ARN with a plain and a suffixed aws-apn-id tag, a Google resource under a resold billing
// account, a marketplace row, and a resource without records.
func TestExplainOtherProviderResource(t *testing.T) {
	s, _ := goldenV2(t)
	march := goldenMarch
	s.Accounts = append(s.Accounts, account.Account{Provider: "google", ID: "01ABCD-23EF45-6789AB", Kind: account.KindBilling,
		Resale: []account.Resale{{LocationID: "4100003", Window: timeline.Window{From: march(1, 0), To: timeline.Max}}}})
	const arn = "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc"
	const vm = "//compute.googleapis.com/projects/my-proj/zones/europe-west1-b/instances/vm-1"
	const ami = "arn:aws:ec2:us-east-1:333333333333:instance/i-0market"
	rec := func(key, provider, res, sub, bill, publisher, tags string, from, to int64) *usage.Record {
		return &usage.Record{Key: key, Provider: provider, ResourceID: res, SubscriptionID: sub, BillingAccountID: bill, Publisher: publisher, Tags: tags,
			Start: from, End: to, Cost: 1, Currency: "USD", ChargeCategory: usage.CategoryUsage}
	}
	// Hourly records of the ARN on 14-15 March around the move of pc:prodA at noon on the 15th
	// (4100001 before, 4200001 after); the suffixed key's revenue attribution ID names 4200001
	// throughout. The account 444444444444 is not declared.
	var arnRecs []*usage.Record
	for h := 0; h < 48; h++ {
		from := march(14, 0) + int64(h)*3600e9
		arnRecs = append(arnRecs, rec("a"+string(rune('A'+h)), "AWS", arn, "444444444444", "", "",
			`{"aws-apn-id":"pc:prodA","user:aws-apn-id-123456789012":"ra-abcdefghij123"}`, from, from+3600e9))
	}
	vmRecs := []*usage.Record{
		rec("g1", "Google Cloud", vm, "my-proj", "01ABCD-23EF45-6789AB", "", `{"goog-partner-solution":"isol_unknown"}`, march(3, 0), march(4, 0)),
		rec("g2", "Google Cloud", vm, "my-proj", "01ABCD-23EF45-6789AB", "", `{"goog-partner-solution":"isol_unknown"}`, march(4, 0), march(5, 0)),
	}
	amiRecs := []*usage.Record{rec("m1", "AWS", ami, "333333333333", "", "Red Hat Inc.", "", march(2, 0), march(3, 0))}
	period := timeline.Window{From: march(1, 0), To: march(31, 0)}
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
		name, partner, res string
		recs               []*usage.Record
		want, not          []string
	}{
		{"ARN, location named by the plain key before the move", "4100001", arn, arnRecs,
			[]string{":provider_not_microsoft", "found:4100001:TAG", "4100001:tag_names_other_location", "4100001:unknown_account"}, nil},
		{"ARN, location named by the suffixed key throughout", "4200001", arn, arnRecs,
			[]string{"found:4200001:TAG", "4200001:unknown_account"}, []string{"tag_names_other_location"}},
		{"ARN, a location no tag names", "4100003", arn, arnRecs,
			[]string{"4100003:tag_names_other_location", "4100003:unknown_account"}, []string{"found:"}},
		{"Google VM under a resold billing account", "4100003", vm, vmRecs,
			[]string{":provider_not_microsoft", "found:4100003:RESALE", "4100003:tag_matches_no_identifier"}, nil},
		{"Google VM, a location that did not resell it", "4200001", vm, vmRecs,
			[]string{"4200001:account_not_resold", "4200001:tag_matches_no_identifier"}, []string{"found:"}},
		{"marketplace row, the registered seller", "4200001", ami, amiRecs, []string{"found:4200001:MARKETPLACE"}, nil},
		{"marketplace row, another location", "4100001", ami, amiRecs, []string{"4100001:seller_not_registered", "4100001:no_partner_tag"}, nil},
		{"organisation ID", "4100000", vm, vmRecs, []string{":organisation_id", "found:4100003:RESALE", "4100001:account_not_resold"}, nil},
		{"no records", "4100001", "ocid1.instance.oc1.phx.abc", nil, []string{":no_usage_for_resource"}, []string{"found:"}},
		{"unknown partner", "4999999", arn, arnRecs, []string{":unknown_id"}, []string{"found:"}},
	}
	for _, c := range cases {
		ex, err := ExplainResourceSnapshot(s, ExplainQuery{Partner: c.partner, Resource: c.res, Period: period}, c.recs)
		if err != nil {
			t.Fatal(err)
		}
		got := codes(ex)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %s lacks %s\n%s", c.name, got, w, ex.Text())
			}
		}
		for _, w := range c.not {
			if strings.Contains(got, w) {
				t.Errorf("%s: %s has %s\n%s", c.name, got, w, ex.Text())
			}
		}
		if ex.Resource != c.res {
			t.Errorf("%s: resource %q", c.name, ex.Resource)
		}
	}
	// The 48 hourly records of the ARN make two groups for 4100001 (before and after the
	// move), each saying which records it speaks for; the chains start with the records.
	ex, _ := ExplainResourceSnapshot(s, ExplainQuery{Partner: "4100001", Resource: arn, Period: period}, arnRecs)
	if ex.Subscription != "444444444444" {
		t.Errorf("sub-account %q", ex.Subscription)
	}
	if len(ex.Found) != 1 || ex.Found[0].Chains[0][0].Kind != "usage" || !strings.Contains(ex.Found[0].Chains[0][0].ID, "36 usage record(s) of aws sub-account 444444444444") ||
		ex.Found[0].Chains[0][0].Window != "[2026-03-14T00:00:00Z, 2026-03-15T12:00:00Z)" {
		t.Errorf("found: %+v", ex.Found)
	}
	text := ex.Text()
	if !strings.Contains(text, "records [2026-03-15T12:00:00Z, 2026-03-16T00:00:00Z) (12 usage record(s)") {
		t.Errorf("the reasons do not name their records:\n%s", text)
	}
}
