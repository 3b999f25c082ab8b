package synth

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	ef "github.com/partnerlink/partnerlink/internal/estatefile"
)

// The demo scale spans twelve months and carries other clouds; every shape the demo and the
// version 2 associations rely on must be present, and Azure-only scales must not change.
func TestDemoDatasetTellsAStory(t *testing.T) {
	d := Generate(1, Demo)
	estate, usage := write(t, d)
	if d.From != time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC) || d.To != time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("period %s to %s, want April 2025 to March 2026", d.From, d.To)
	}
	var f ef.File
	dec := json.NewDecoder(bytes.NewReader(estate))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	schemes := map[string]int{}
	for _, id := range f.Identifiers {
		schemes[id.Scheme]++
	}
	for _, s := range []string{"aws-product-code", "aws-revenue-attribution", "gcp-solution", "publisher"} {
		if schemes[s] == 0 {
			t.Errorf("no %s identifier (have %v)", s, schemes)
		}
	}
	kinds := map[string]int{}
	resold := 0
	for _, a := range f.Accounts {
		kinds[a.Provider+"/"+a.Kind]++
		if len(a.Resale) > 0 {
			resold++
		}
	}
	if kinds["aws/sub"] == 0 || kinds["aws/billing"] == 0 || kinds["google/sub"] == 0 || kinds["google/billing"] == 0 || resold < 3 {
		t.Errorf("accounts %v, %d resold", kinds, resold)
	}
	if tr := d.Story.Transfer; tr.FromLocation == "" || tr.ToLocation == "" || tr.FromLocation == tr.ToLocation {
		t.Errorf("no CSP transfer: %+v", tr)
	}
	if len(d.Story.Joined) == 0 || len(d.Story.Churned) == 0 {
		t.Errorf("story %+v", d.Story)
	}

	rows, err := csv.NewReader(bytes.NewReader(usage)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	months, providers, tagKeys := map[string]bool{}, map[string]int{}, map[string]bool{}
	market := 0
	byMonth := map[string]int{}
	for _, r := range rows[1:] {
		months[r[col["BillingPeriodStart"]][:7]] = true
		byMonth[r[col["ChargePeriodStart"]][:7]]++
		providers[r[col["ProviderName"]]]++
		if tg := r[col["Tags"]]; tg != "" {
			var m map[string]string
			if err := json.Unmarshal([]byte(tg), &m); err != nil {
				t.Fatalf("Tags %q: %v", tg, err)
			}
			for k := range m {
				tagKeys[k] = true
			}
		}
		if p := r[col["PublisherName"]]; r[col["ProviderName"]] == "AWS" && !strings.HasPrefix(p, "Amazon Web Services") {
			market++
		}
	}
	if len(months) != 12 {
		t.Errorf("usage in %d months, want 12", len(months))
	}
	if providers["AWS"] == 0 || providers["Google Cloud"] == 0 || providers["Microsoft"] < providers["AWS"] {
		t.Errorf("providers %v", providers)
	}
	for _, k := range []string{"user:aws-apn-id", "aws-apn-id", "resourceTags/user:aws-apn-id", "goog-partner-solution", "partnerlink-partner-id"} {
		if !tagKeys[k] {
			t.Errorf("no tag %s", k)
		}
	}
	if market == 0 {
		t.Error("no AWS marketplace rows")
	}
	if int64(len(rows)-1) != d.Rows || d.Rows >= d.Scale.UsageRows {
		t.Errorf("%d rows written, Rows %d, scale %d (churn leaves some out)", len(rows)-1, d.Rows, d.Scale.UsageRows)
	}
	// Growth: the last month has more rows than the first (customers join, few leave).
	if byMonth["2026-03"] <= byMonth["2025-04"] {
		t.Errorf("rows by month %v: no growth", byMonth)
	}
}

func TestAzureOnlyScalesHaveNoOtherClouds(t *testing.T) {
	d := Generate(3, Small)
	_, usage := write(t, d)
	if len(d.Estate.Accounts)+len(d.Estate.Identifiers) != 0 || strings.Contains(string(usage), "AWS") ||
		!strings.HasPrefix(string(usage), strings.Join(UsageHeader, ",")+"\n") {
		t.Fatal("the small scale gained other clouds")
	}
}
