package sqlref_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/sqlref"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// v2Estate has two organisations (4200002 inactive from 10 March), identifiers of every scheme
// (pc:prodA moves from 4100001 to 4200001 on 15 March), and resold AWS and Google accounts
// (4100001 on a sub-account and on its billing account, overlapping).
const v2Estate = `{
  "partners": [
    {"id": "4100000", "name": "One", "locations": [{"id": "4100001", "name": "One A"}, {"id": "4100002", "name": "One B"}]},
    {"id": "4200000", "name": "Two", "locations": [{"id": "4200001", "name": "Two A"},
      {"id": "4200002", "name": "Two B", "active": [{"from": null, "to": "2026-03-10T00:00:00Z"}]}]}],
  "tenants": [{"id": "11111111-0000-4000-8000-000000000001", "name": "T"}],
  "subscriptions": [{"id": "22222222-0000-4000-8000-000000000001", "tenantId": "11111111-0000-4000-8000-000000000001", "offer": "payg", "from": null, "to": null}],
  "identifiers": [
    {"partnerId": "4100001", "scheme": "aws-product-code", "value": "prodA", "from": null, "to": "2026-03-15T00:00:00Z"},
    {"partnerId": "4200001", "scheme": "aws-product-code", "value": "prodA", "from": "2026-03-15T00:00:00Z", "to": null},
    {"partnerId": "4100002", "scheme": "aws-product-code", "value": "prodB", "from": null, "to": null},
    {"partnerId": "4200002", "scheme": "aws-revenue-attribution", "value": "ra-abcdefghij123", "from": null, "to": null},
    {"partnerId": "4100002", "scheme": "gcp-solution", "value": "isol_x", "from": null, "to": null},
    {"partnerId": "4200001", "scheme": "publisher", "value": "Red Hat Inc.", "from": null, "to": null},
    {"partnerId": "4100001", "scheme": "publisher", "value": "Contoso Ltd", "from": "2026-03-05T00:00:00Z", "to": null}],
  "accounts": [
    {"provider": "aws", "id": "111111111111", "kind": "sub", "resale": [
      {"partnerId": "4100001", "from": "2026-03-01T00:00:00Z", "to": "2026-03-16T00:00:00Z"},
      {"partnerId": "4100002", "from": "2026-03-08T00:00:00Z", "to": null}]},
    {"provider": "aws", "id": "999999999999", "kind": "billing", "resale": [
      {"partnerId": "4100001", "from": "2026-03-12T00:00:00Z", "to": null},
      {"partnerId": "4200002", "from": null, "to": null}]},
    {"provider": "google", "id": "PROJ-1", "kind": "sub", "resale": [{"partnerId": "4200001", "from": "2026-03-03T00:00:00Z", "to": "2026-03-20T00:00:00Z"}]}]
}`

// v2Usage writes n random FOCUS rows of several providers, on whole hours, into path.
func v2Usage(t *testing.T, path string, seed int64, n int) {
	rng := rand.New(rand.NewSource(seed))
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	_ = w.Write([]string{"x_RecordId", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "BillingCurrency", "BillingAccountId", "SubAccountId",
		"ChargeCategory", "ProviderName", "PublisherName", "HostProviderName", "ServiceProviderName", "Tags"})
	keys := []string{"aws-apn-id", "user:aws-apn-id", "resourceTags/user:aws-apn-id-123456789012", "aws-apn-id-000000000001", "aws-apn-id-1234",
		"goog-partner-solution", "user:partnerlink-partner-id", "env"}
	values := []string{"pc:prodA", "pc:PRODA ", "pc:prodB", "pc:unknown", "ra-abcdefghij123", "ra-ABC", "isol_x", "4100002", "4200000", "x", "pc:"}
	h0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		start := h0.Add(time.Duration(rng.Intn(28*24)) * time.Hour)
		end := start.Add(time.Duration(pick("1", "24", "48", "72")[0]-'0') * time.Hour)
		if rng.Intn(3) == 0 {
			end = start.Add(24 * time.Hour)
		}
		prov := pick("AWS", "Amazon Web Services, Inc.", "Google Cloud", "Microsoft")
		var bill, sub, pub, host, sp string
		switch usage.NormalizeProvider(prov) {
		case "aws":
			sub, bill = pick("111111111111", "222222222222"), pick("", "999999999999", "888888888888")
			pub = pick("", prov, "Amazon Web Services EMEA SARL", "Red Hat Inc.", " red hat inc. ")
		case "google":
			sub, bill = pick("proj-1", "PROJ-1", "proj-2"), pick("", "bill-1")
			pub = pick("", "Google", "Red Hat Inc.")
		default:
			sub = "22222222-0000-4000-8000-000000000001"
			pub = pick("", "Microsoft", "Red Hat Inc.")
			if rng.Intn(3) == 0 { // FOCUS 1.3: sold by an MSP, hosted on Azure
				host, sp = "Microsoft", "Contoso Ltd"
			}
		}
		if sp == "" {
			sp = prov // FOCUS 1.3 names the provider in both columns
		}
		tags := map[string]string{}
		for k := rng.Intn(4); k > 0; k-- {
			tags[pick(keys...)] = pick(values...)
		}
		tj := ""
		if len(tags) > 0 {
			b, _ := json.Marshal(tags)
			tj = string(b)
		}
		cat := pick("Usage", "Usage", "Usage", "Purchase")
		cost := fmt.Sprintf("%d.%03d", rng.Intn(500), rng.Intn(1000))
		_ = w.Write([]string{fmt.Sprintf("v%d-%d", seed, i), start.Format(time.RFC3339), end.Format(time.RFC3339), cost, "USD", bill, sub, cat, prov, pub, host, sp, tj})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
}

// The SQL formulation extended to version 2 gives the engine's rows on random multi-provider
// usage (tags with prefixes and malformed values, resale on sub-accounts and billing accounts,
// marketplace sellers, FOCUS 1.3 hosts), on both engines.
func TestVersion2SameRowsAsTheEngine(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	march := timeline.Window{From: timeline.Nanos(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), To: timeline.Nanos(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))}
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			dir := t.TempDir()
			v2Usage(t, filepath.Join(dir, "usage.csv"), seed, 300)
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				if _, err := estatefile.Import(ctx, db, strings.NewReader(v2Estate), "estate.json", estatefile.Options{AsOf: timeline.Nanos(now())}); err != nil {
					t.Fatal(err)
				}
				if _, err := usage.ImportFiles(ctx, db, []string{filepath.Join(dir, "usage.csv")}, usage.ImportOptions{Now: now}); err != nil {
					t.Fatal(err)
				}
				if _, err := results.Run(ctx, db, results.RunOptions{Period: march, RequestedBy: "test", Now: now}); err != nil {
					t.Fatal(err)
				}
				if _, err := sqlref.LoadUsage(ctx, db, march); err != nil {
					t.Fatal(err)
				}
				atts, incs, err := sqlref.Run(ctx, db, sqlref.Dialect(db.Engine()), sqlref.Options{Period: march, Programs: sqlref.DefaultPrograms})
				if err != nil {
					t.Fatal(err)
				}
				engAtts, engIncs := engineRows(t, db)
				per := map[string]int{}
				for _, a := range atts {
					per[a.Association]++
				}
				for _, k := range []string{"TAG", "RESALE", "MARKETPLACE"} {
					if per[k] == 0 {
						t.Errorf("no %s rows (%v): the scenario should exercise every version 2 rule", k, per)
					}
				}
				t.Logf("%v", per)
				diff(t, "attribution", lines(atts), lines(engAtts))
				diff(t, "incentive", lines(incs), lines(engIncs))
				tot, err := sqlref.Totals(ctx, db, sqlref.Dialect(db.Engine()), sqlref.Options{Period: march, Programs: sqlref.DefaultPrograms})
				if err != nil {
					t.Fatal(err)
				}
				diff(t, "total", lines(tot), lines(engineTotals(t, db)))
				checkExpert(t, db, sqlref.Options{Period: march, Programs: sqlref.DefaultPrograms}, engAtts)
			})
		})
	}
}
