package attribution

import (
	"context"
	"fmt"
	"testing"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// benchEstate: 20 tenants × 10 subscriptions, 5 assignments and 2 links per subscription,
// 10 organisations × 2 locations, DPOR on every third subscription.
func benchEstate() (*facts.Snapshot, []*usage.Record) {
	s := &facts.Snapshot{RoleDefinitions: []access.RoleDefinition{roleOwner, roleReader, roleCustom}}
	for o := 0; o < 10; o++ {
		org := directory.Organisation{ID: fmt.Sprintf("org%d", o), TenantIDs: []string{fmt.Sprintf("pt%d", o)}}
		for l := 0; l < 2; l++ {
			org.Locations = append(org.Locations, directory.Location{ID: fmt.Sprint(4100000 + o*10 + l), OrgID: org.ID, Active: []timeline.Window{timeline.Always()}})
		}
		s.Organisations = append(s.Organisations, org)
	}
	var recs []*usage.Record
	n := 0
	for t := 0; t < 20; t++ {
		tenant := fmt.Sprintf("t%02d", t)
		for k := 0; k < 10; k++ {
			sub := fmt.Sprintf("00000000-0000-0000-%04d-%012d", t, k)
			offer := []estate.Offer{estate.OfferCSP, estate.OfferEA, estate.OfferMCA}[k%3]
			sv := estate.Subscription{ID: sub, TenantID: tenant, Offer: offer, Valid: timeline.Always()}
			if offer == estate.OfferCSP {
				sv.CSPLocationID = fmt.Sprint(4100000 + (t%10)*10)
			}
			s.Subscriptions = append(s.Subscriptions, sv)
			if k%3 == 1 {
				s.DPOR = append(s.DPOR, estate.DPOR{SubscriptionID: sub, LocationID: fmt.Sprint(4100001 + (k%10)*10), Valid: timeline.Since(h(100))})
			}
			for a := 0; a < 5; a++ {
				p := fmt.Sprintf("p-%d-%d-%d", t, k, a)
				s.Assignments = append(s.Assignments, access.RoleAssignment{ID: p, TenantID: tenant, PrincipalID: p, RoleDefinitionID: roleOwner.ID,
					Scope: fmt.Sprintf("/subscriptions/%s/resourceGroups/rg%d", sub, a), Kind: access.Active, Valid: timeline.Since(h(a * 10))})
				if a < 2 {
					s.Links = append(s.Links, link.Span{TenantID: tenant, ObjectID: p, LocationID: fmt.Sprint(4100000 + ((t+a)%10)*10 + a%2), Valid: timeline.Since(h(a * 50))})
				}
			}
			for r := 0; r < 1000; r++ {
				n++
				recs = append(recs, &usage.Record{Key: fmt.Sprintf("r%08d", n), Start: h(r % 720), End: h(r%720 + 1), SubscriptionID: sub,
					ResourceID: fmt.Sprintf("/subscriptions/%s/resourceGroups/rg%d/providers/p/vm/v%d", sub, r%7, r%13), Service: "vm",
					ChargeCategory: usage.CategoryUsage, PricingCategory: "Standard", Currency: "USD", Cost: money.Nanos(1_234_567_891 + int64(r))})
			}
		}
	}
	return s, recs
}

func BenchmarkCompute(b *testing.B) {
	s, recs := benchEstate()
	period := timeline.Window{From: h(0), To: h(800)}
	batch := inMemory(recs) // usage held as the engine takes it, built once
	var rows int64
	for b.Loop() {
		st, err := Compute(context.Background(), s, nil, period, batch, func(_ *usage.Batch, _ int, rs []Row, _ []Incentive) error {
			rows += int64(len(rs))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		_ = st
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
}

func BenchmarkComputeSums(b *testing.B) {
	s, recs := benchEstate()
	period := timeline.Window{From: h(0), To: h(800)}
	batch := inMemory(recs)
	for b.Loop() {
		if _, _, err := ComputeSums(context.Background(), s, nil, period, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// inMemory builds the batches once and yields them on every call.
func inMemory(recs []*usage.Record) Usage {
	var batches []*usage.Batch
	_ = FromRecords(recs)(func(b *usage.Batch) error { batches = append(batches, b); return nil })
	return func(yield func(*usage.Batch) error) error {
		for _, b := range batches {
			if err := yield(b); err != nil {
				return err
			}
		}
		return nil
	}
}

// benchMultiProvider is benchEstate with half its records made AWS's: tagged aws-apn-id
// (pc:code<k>, every fourth with an unknown code), on resold accounts, every tenth sold by a
// marketplace seller; the identifiers and accounts they resolve through are in the estate.
func benchMultiProvider() (*facts.Snapshot, []*usage.Record) {
	s, recs := benchEstate()
	for k := 0; k < 20; k++ {
		loc := fmt.Sprint(4100000 + (k%10)*10 + k%2)
		s.Identifiers = append(s.Identifiers, directory.Identifier{Scheme: "aws-product-code", Value: fmt.Sprintf("code%d", k), LocationID: loc, Window: timeline.Always()})
		s.Accounts = append(s.Accounts, account.Account{Provider: "aws", ID: fmt.Sprintf("1000000000%02d", k), Kind: account.KindSub,
			Resale: []account.Resale{{LocationID: loc, Window: timeline.Since(h(k * 10))}}})
	}
	s.Identifiers = append(s.Identifiers, directory.Identifier{Scheme: "publisher", Value: "Red Hat Inc.", LocationID: "4100001", Window: timeline.Always()})
	for i, r := range recs {
		if i%2 == 1 {
			continue
		}
		k := (i / 2) % 25
		r.Provider, r.ProviderID = "AWS", "aws"
		r.SubscriptionID = fmt.Sprintf("1000000000%02d", k%20)
		r.ResourceID = fmt.Sprintf("arn:aws:ec2:eu-west-1:%s:instance/i-%d", r.SubscriptionID, i%13)
		r.Tags = fmt.Sprintf(`{"user:aws-apn-id":"pc:code%d"}`, k)
		if i%10 == 0 {
			r.Publisher = "Red Hat Inc."
		}
	}
	return s, recs
}

// BenchmarkComputeMultiProvider is BenchmarkCompute on benchMultiProvider: compare its
// records/s with BenchmarkCompute's in the same run.
func BenchmarkComputeMultiProvider(b *testing.B) {
	s, recs := benchMultiProvider()
	period := timeline.Window{From: h(0), To: h(800)}
	batch := inMemory(recs)
	var rows int64
	for b.Loop() {
		if _, err := Compute(context.Background(), s, nil, period, batch, func(_ *usage.Batch, _ int, rs []Row, _ []Incentive) error {
			rows += int64(len(rs))
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
}
