package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// explain --resource with another provider's resource ID, end to end from a FOCUS file: an AWS
// ARN with a plain and a suffixed aws-apn-id tag, a Google VM under a resold billing account, a
// marketplace row; text with each reason's fix, and JSON.
func TestExplainOtherProviderResourceCLI(t *testing.T) {
	dir := t.TempDir()
	estate := `{"partners": [{"id": "4100000", "name": "Contoso", "locations": [{"id": "4100001", "name": "Contoso UK"}, {"id": "4100002", "name": "Contoso DE"}]},
                 {"id": "4200000", "name": "Fabrikam", "locations": [{"id": "4200001", "name": "Fabrikam US"}]}],
  "identifiers": [{"partnerId": "4100001", "scheme": "aws-product-code", "value": "prodA", "from": null, "to": null},
                  {"partnerId": "4200001", "scheme": "aws-revenue-attribution", "value": "ra-abcdefghij123", "from": null, "to": null},
                  {"partnerId": "4100002", "scheme": "publisher", "value": "Red Hat Inc.", "from": null, "to": null}],
  "accounts": [{"provider": "Google", "id": "01ABCD-23EF45-6789AB", "kind": "billing", "resale": [{"partnerId": "4100002", "from": "2026-03-01T00:00:00Z", "to": null}]}]}`
	const arn = "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc"
	const vm = "//compute.googleapis.com/projects/my-proj/zones/europe-west1-b/instances/vm-1"
	const ami = "arn:aws:ec2:us-east-1:333333333333:instance/i-0market"
	focus := "x_RecordId,ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,BillingAccountId,SubAccountId,ResourceId,ChargeCategory,ProviderName,PublisherName,Tags\n" +
		`a1,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,24,USD,999999999999,111111111111,` + arn + `,Usage,AWS,"Amazon Web Services, Inc.","{""user:aws-apn-id"":""pc:prodA"",""aws-apn-id-123456789012"":""ra-abcdefghij123""}"` + "\n" +
		`g1,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,10,USD,01ABCD-23EF45-6789AB,my-proj,` + vm + `,Usage,Google Cloud,Google,` + "\n" +
		`m1,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,5,USD,999999999999,333333333333,` + ami + `,Usage,AWS,Red Hat Inc.,` + "\n"
	for name, body := range map[string]string{"estate.json": estate, "focus.csv": focus} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := "--db=" + filepath.Join(dir, "x.db")
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append([]string{db}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	must("import", "estate", filepath.Join(dir, "estate.json"))
	must("import", "usage", filepath.Join(dir, "focus.csv"))
	period := []string{"--from", "2026-03-01", "--to", "2026-04-01"}
	cases := []struct {
		partner, res string
		want         []string
	}{
		{"4100001", arn, []string{"recognised as TAG", "tag user:aws-apn-id=pc:prodA", "usage 1 usage record(s) of aws sub-account 111111111111", "unknown_account", "provider_not_microsoft", "What to do:"}},
		{"4200001", arn, []string{"recognised as TAG", "aws-apn-id-123456789012=ra-abcdefghij123"}},
		{"4100002", arn, []string{"tag_names_other_location", "[tag_names_other_location] "}},
		{"4100002", vm, []string{"recognised as RESALE", "google billing 01ABCD-23EF45-6789AB", "no_partner_tag"}},
		{"4100001", vm, []string{"account_not_resold"}},
		{"4100002", ami, []string{"recognised as MARKETPLACE", "seller Red Hat Inc."}},
		{"4100001", "ocid1.instance.oc1.phx.abc", []string{"no_usage_for_resource"}},
	}
	for _, c := range cases {
		out := must(append([]string{"explain", "--partner", c.partner, "--resource", c.res}, period...)...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("explain --partner %s --resource %s lacks %q:\n%s", c.partner, c.res, w, out)
			}
		}
	}
	var ex struct {
		Subscription string
		Found        []struct{ Association string }
	}
	out := must(append([]string{"explain", "--partner", "4100001", "--resource", arn, "--format", "json"}, period...)...)
	if err := json.Unmarshal([]byte(out), &ex); err != nil || ex.Subscription != "111111111111" || len(ex.Found) != 1 || ex.Found[0].Association != "TAG" {
		t.Errorf("json: %v %+v\n%s", err, ex, out)
	}
	// --at finds the record whose charge covers the instant.
	if out := must("explain", "--partner", "4100001", "--resource", arn, "--at", "2026-03-02T12:00:00Z"); !strings.Contains(out, "recognised as TAG") {
		t.Errorf("--at:\n%s", out)
	}
	code, _, errOut := run(t, db, "explain", "--partner", "4100001", "--resource", "i-0abc", "--from", "2026-03-01", "--to", "2026-04-01")
	if code == 0 || !strings.Contains(errOut, "ARN") || !strings.Contains(errOut, "i-0abc") {
		t.Errorf("a bare instance ID: exit %d: %s", code, errOut)
	}
}
