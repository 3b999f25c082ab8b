package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// Version 2 end to end: an estate with identifiers and a resold AWS account, a FOCUS file with
// AWS rows (tags, a marketplace seller) attributed next to Azure's; the attributions report
// (CSV and Parquet, the same columns), the operator report's tag warnings and its table by
// provider.
func TestVersion2EndToEnd(t *testing.T) {
	dir := t.TempDir()
	estate := `{"partners": [{"id": "4100000", "name": "Contoso", "locations": [{"id": "4100001", "name": "Contoso UK"}, {"id": "4100002", "name": "Contoso DE"}]}],
  "identifiers": [{"partnerId": "4100001", "scheme": "aws-product-code", "value": "prodA", "from": null, "to": null},
                  {"partnerId": "4100002", "scheme": "publisher", "value": "Red Hat Inc.", "from": null, "to": null}],
  "accounts": [{"provider": "AWS", "id": "111111111111", "kind": "sub", "resale": [{"partnerId": "4100002", "from": "2026-03-01T00:00:00Z", "to": null}]}]}`
	focus := "x_RecordId,ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,BillingAccountId,SubAccountId,ChargeCategory,ProviderName,PublisherName,Tags\n" +
		`a1,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,24,USD,999999999999,111111111111,Usage,AWS,"Amazon Web Services, Inc.","{""user:aws-apn-id"":""pc:prodA""}"` + "\n" +
		`a2,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,10,USD,999999999999,222222222222,Usage,AWS,Red Hat Inc.,"{""aws-apn-id"":""pc:nobody""}"` + "\n"
	for name, body := range map[string]string{"estate.json": estate, "focus.csv": focus} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := "--db=" + filepath.Join(dir, "v2.db")
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
	out := must("attribute", "--from", "2026-03-01", "--to", "2026-04-01", "--format", "json")
	if !strings.Contains(out, `"tag": "aws-apn-id"`) || !strings.Contains(out, `"value": "pc:nobody"`) {
		t.Errorf("attribute reports no tag warning:\n%s", out)
	}
	out = must("attribute", "--from", "2026-03-01", "--to", "2026-04-01")
	if !strings.Contains(out, "Tag values that name no partner") || !strings.Contains(out, "pc:nobody") || !strings.Contains(out, "USD 10; matches no registered identifier") {
		t.Errorf("attribute's summary shows no tag warning:\n%s", out)
	}
	rows := must("report", "attributions", "--from", "2026-03-01", "--to", "2026-04-01")
	for _, want := range []string{
		"a1,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,,111111111111,,,USD,24,4100001,4100000,TAG,1.000000000,24,,false,aws",
		"a1,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,,111111111111,,,USD,24,4100002,4100000,RESALE,1.000000000,24,,false,aws",
		"a2,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,,222222222222,,,USD,10,4100002,4100000,MARKETPLACE,1.000000000,10,,false,aws",
	} {
		if !strings.Contains(rows, want) {
			t.Errorf("attributions lack %s:\n%s", want, rows)
		}
	}
	pq := must("report", "attributions", "--from", "2026-03-01", "--to", "2026-04-01", "--format", "parquet")
	f, err := parquet.OpenFile(bytes.NewReader([]byte(pq)), int64(len(pq)))
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range f.Schema().Fields() {
		cols = append(cols, c.Name())
	}
	if got, want := strings.Join(cols, ","), strings.SplitN(rows, "\n", 2)[0]; got != want || f.NumRows() != int64(strings.Count(rows, "\n")-1) {
		t.Errorf("parquet columns %s (%d rows), want %s (%d rows)", got, f.NumRows(), want, strings.Count(rows, "\n")-1)
	}
	ex := must("explain", "--partner", "4100001", "--record", "a2")
	for _, want := range []string{"provider_not_microsoft", "tag_matches_no_identifier", "seller_not_registered"} {
		if !strings.Contains(ex, want) {
			t.Errorf("explain lacks %s:\n%s", want, ex)
		}
	}
	ex = must("explain", "--partner", "4100002", "--provider", "aws", "--account", "111111111111", "--from", "2026-03-01", "--to", "2026-04-01")
	if !strings.Contains(ex, "RESALE") {
		t.Errorf("explain of the account:\n%s", ex)
	}
	op := must("report", "operator", "--from", "2026-03-01", "--to", "2026-04-01")
	for _, want := range []string{"tag-names-no-partner", "aws-apn-id=pc:nobody", "cost at stake USD 10", "Attributed consumption by provider and association", "aws       MARKETPLACE"} {
		if !strings.Contains(op, want) {
			t.Errorf("operator report lacks %q:\n%s", want, op)
		}
	}
}
