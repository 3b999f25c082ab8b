package usage

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// benchColumns are a realistic subset of Azure's FOCUS export: the columns the importer maps
// plus unmapped ones it must carry into the record key.
var benchColumns = []string{"BilledCost", "BillingAccountId", "BillingCurrency", "ChargeCategory", "ChargeDescription",
	"ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountId", "EffectiveCost", "PricingCategory",
	"ProviderName", "PublisherName", "RegionId", "ResourceId", "ResourceName", "ServiceCategory",
	"ServiceName", "SkuId", "SubAccountId", "SubAccountName", "Tags", "x_SkuMeterId"}

// GenerateFOCUS writes a FOCUS file of n rows with realistic shapes (4,000 subscriptions,
// 200,000 resources, every charge and pricing category), deterministic for a seed. The
// benchmarks read it.
func GenerateFOCUS(w io.Writer, rows int, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	w = bw
	io.WriteString(w, strings.Join(benchColumns, ",")+"\n")
	rng := rand.New(rand.NewPCG(seed, seed))
	services := []string{"Virtual Machines,Compute", "Storage,Storage", "SQL Database,Databases", "Bandwidth,Networking"}
	categories := []string{"Usage", "Usage", "Usage", "Usage", "Usage", "Usage", "Purchase", "Tax", "Credit", "Adjustment"}
	pricing := []string{"Standard", "Standard", "Standard", "Dynamic", "Committed"}
	for i := 0; i < rows; i++ {
		// Resource i%200,000 always lives in the same subscription and resource group, as a
		// real resource does.
		res := i % 200000
		sub, rg := res*7919%4000, res%20
		day := 1 + rng.IntN(30)
		hour := rng.IntN(23)
		svc := services[rng.IntN(len(services))]
		pc := pricing[rng.IntN(len(pricing))]
		commitment := ""
		if pc == "Committed" {
			commitment = "/providers/Microsoft.Capacity/reservationOrders/ro1/reservations/r1"
		}
		fmt.Fprintf(w, "%d.%06d,/providers/Microsoft.Billing/billingAccounts/8611537,USD,%s,Compute hour,2026-04-%02dT%02d:00:00Z,2026-04-%02dT%02d:00:00Z,%s,%d.%06d,%s,Microsoft,Microsoft,westeurope,/subscriptions/%08x-0000-4000-8000-%012x/resourceGroups/rg%d/providers/Microsoft.Compute/virtualMachines/vm%d,vm%d,%s,DZH318Z0BQ4L,/subscriptions/%08x-0000-4000-8000-%012x,sub-%d,\"{\"\"env\"\":\"\"prod\"\"}\",%08x-1111-2222-3333-444444444444\n",
			rng.IntN(100), rng.IntN(1000000), categories[rng.IntN(len(categories))], day, hour+1, day, hour, commitment,
			rng.IntN(100), rng.IntN(1000000), pc, sub, sub, rg, res, res, svc, sub, sub, sub, rng.IntN(5000))
	}
	return bw.Flush()
}
