package synth

import (
	"encoding/json"
	"fmt"
	"time"

	ef "github.com/partnerlink/partnerlink/internal/estatefile"
)

// MultiCloud names the hand-placed pieces of the multi-provider slice (Scale.MultiCloud), for
// the demo's summary and tests.
type MultiCloud struct {
	// AWSPayer is the AWS management (payer) account a partner resells (RESALE on every member
	// account under it); AWSPayerReseller is that location.
	AWSPayer, AWSPayerReseller string
	// GoogleBilling is the Google Cloud reseller billing subaccount and its reseller location.
	GoogleBilling, GoogleReseller string
	// ProductCodes: location -> its AWS product code (tag `aws-apn-id` = `pc:<code>`).
	ProductCodes map[string]string
	// Seller is a marketplace seller's name as billing data prints it, and its location.
	Seller, SellerLocation string
}

// multiCloud adds accounts of AWS and Google Cloud to the estate, partner identifiers for the
// programs of those clouds, and resources whose usage carries partner tags, resale and
// marketplace sellers: the version 2 associations (TAG, RESALE, MARKETPLACE) side by side with
// PAL on the same FOCUS file.
func (g *gen) multiCloud() {
	e := &g.d.Estate
	mc := &g.d.MultiCloud
	mc.ProductCodes = map[string]string{}
	n := len(g.orgs)
	loc := func(k, j int) string { o := g.orgs[k%n]; return o.locations[j%len(o.locations)] }
	since := g.fixed("2024-06-01T00:00:00Z")
	mid := g.at(g.hrs / 2)
	ident := func(partner, scheme, value string, from, to *string) {
		e.Identifiers = append(e.Identifiers, ef.Identifier{PartnerID: partner, Scheme: scheme, Value: value, From: from, To: to})
	}

	// AWS product codes for every other organisation; the third organisation's code moves from
	// its first location to its second half-way through the period.
	var codes []string
	for k := 0; k < n; k += 2 {
		code := g.token("abcdefghijklmnopqrstuvwxyz0123456789", 25)
		codes = append(codes, code)
		if k == 2 && len(g.orgs[k].locations) > 1 {
			ident(loc(k, 0), "aws-product-code", code, since, mid)
			ident(loc(k, 1), "aws-product-code", code, mid, nil)
			mc.ProductCodes[loc(k, 1)] = code
			continue
		}
		ident(loc(k, 0), "aws-product-code", code, since, nil)
		mc.ProductCodes[loc(k, 0)] = code
	}
	ra := "ra-" + g.token("abcdefghijklmnopqrstuvwxyz0123456789", 13)
	ident(loc(5, 0), "aws-revenue-attribution", ra, since, nil)
	var solutions []string
	for _, k := range []int{1, 3} {
		urn := "isol_plb32_" + g.token("0123456789abcdefghijklmnopqrstuvwxyz", 19)
		solutions = append(solutions, urn)
		ident(loc(k, 0), "gcp-solution", urn, since, nil)
	}
	seller, seller2 := g.orgs[8%n].name+" Ltd", g.orgs[9%n].name+" Inc."
	if seller2 == seller {
		seller2 = g.orgs[(9%n+1)%n].name + " Inc."
	}
	ident(loc(8, 0), "publisher", seller, since, nil)
	ident(loc(9, 0), "publisher", seller2, since, nil)
	// The Azure third-party publisher of the usage rows is a partner's marketplace company too.
	ident(loc(0, 0), "publisher", "Contoso Marketplace Ltd", since, nil)
	mc.Seller, mc.SellerLocation = seller, loc(8, 0)

	// AWS: a payer account resold by a partner (billing transfer), a direct one, and member
	// accounts under each; one member account moves from one reseller to another mid-period.
	digits := "0123456789"
	resoldPayer, directPayer := g.token(digits, 12), g.token(digits, 12)
	mc.AWSPayer, mc.AWSPayerReseller = resoldPayer, loc(3, 0)
	e.Accounts = append(e.Accounts,
		ef.Account{Provider: "aws", ID: resoldPayer, Kind: "billing", Name: "Channel payer (" + g.orgs[3%n].name + ")",
			Resale: []ef.Resale{{PartnerID: loc(3, 0), From: since}}},
		ef.Account{Provider: "aws", ID: directPayer, Kind: "billing", Name: "Direct payer"})
	type acct struct{ id, payer, currency, provider, kind string }
	var members []acct
	for i := 0; i < 8; i++ {
		a := ef.Account{Provider: "aws", ID: g.token(digits, 12), Kind: "sub", Name: fmt.Sprintf("%s-%s", []string{"prod", "dev", "data", "web"}[i%4], customerNames[i%len(customerNames)][:4])}
		a.BillingAccountID = resoldPayer
		if i >= 5 {
			a.BillingAccountID = directPayer
		}
		if i == 6 {
			a.Resale = []ef.Resale{{PartnerID: loc(5, 0), From: since, To: mid}, {PartnerID: loc(7, 0), From: mid}}
		}
		e.Accounts = append(e.Accounts, a)
		members = append(members, acct{a.ID, a.BillingAccountID, "USD", "AWS", "Account"})
	}
	// Google Cloud: a reseller billing subaccount (billed in EUR) with projects, and a direct
	// billing account.
	resold := fmt.Sprintf("%s-%s-%s", g.token("0123456789ABCDEF", 6), g.token("0123456789ABCDEF", 6), g.token("0123456789ABCDEF", 6))
	direct := fmt.Sprintf("%s-%s-%s", g.token("0123456789ABCDEF", 6), g.token("0123456789ABCDEF", 6), g.token("0123456789ABCDEF", 6))
	mc.GoogleBilling, mc.GoogleReseller = resold, loc(1, 0)
	e.Accounts = append(e.Accounts,
		ef.Account{Provider: "google", ID: resold, Kind: "billing", Name: "Reseller subaccount (" + g.orgs[1%n].name + ")",
			Resale: []ef.Resale{{PartnerID: loc(1, 0), From: since}}},
		ef.Account{Provider: "google", ID: direct, Kind: "billing", Name: "Direct billing account"})
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("%s-%s-%d", []string{"analytics", "shop", "ml", "crm", "edge"}[i], []string{"prod", "dev"}[i%2], 100+g.r.IntN(900))
		b, cur := resold, "EUR"
		if i >= 3 {
			b, cur = direct, "USD"
		}
		e.Accounts = append(e.Accounts, ef.Account{Provider: "google", ID: id, Kind: "sub", Name: id, BillingAccountID: b})
		members = append(members, acct{id, b, cur, "Google Cloud", "Project"})
	}

	// Resources: one for every sixth Azure resource, spread over the accounts.
	tags := func(kv ...string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		b, _ := json.Marshal(m) // sorted keys: deterministic
		return string(b)
	}
	awsServices := []struct{ svc, cat, arn string }{
		{"Amazon Elastic Compute Cloud", "Compute", "arn:aws:ec2:eu-west-1:%s:instance/i-%s"},
		{"Amazon Relational Database Service", "Databases", "arn:aws:rds:eu-west-1:%s:db:db-%s"},
		{"Amazon Simple Storage Service", "Storage", "arn:aws:s3:::bucket-%[2]s"},
	}
	gcpServices := []struct{ svc, cat, id string }{
		{"Compute Engine", "Compute", "//compute.googleapis.com/projects/%s/zones/europe-west1-b/instances/vm-%s"},
		{"BigQuery", "Analytics", "//bigquery.googleapis.com/projects/%s/datasets/ds_%s"},
	}
	awsPublishers := []string{"Amazon Web Services, Inc.", "Amazon Web Services EMEA SARL"}
	total := max(12, len(g.d.Resources)/6)
	for k := 0; k < total; k++ {
		a := members[k%len(members)]
		r := Resource{SubscriptionID: a.id, Currency: a.currency, Provider: a.provider, BillingAccount: a.payer, SubAccountType: a.kind}
		suffix := g.token("0123456789abcdef", 12)
		if a.provider == "AWS" {
			s := awsServices[k%len(awsServices)]
			r.ID, r.Service, r.ServiceCategory = fmt.Sprintf(s.arn, a.id, suffix), s.svc, s.cat
			r.Publisher = awsPublishers[k%len(awsPublishers)]
			switch k % 12 {
			case 0, 6:
				r.Tags = tags("user:aws-apn-id", "pc:"+codes[(k/12)%len(codes)], "Environment", "prod")
			case 1:
				// Two partners on one resource: the plain key and a suffixed one.
				r.Tags = tags("aws-apn-id", "pc:"+codes[0], "aws-apn-id-"+g.token(digits, 12), "pc:"+codes[len(codes)-1])
			case 2:
				r.Tags = tags("aws-apn-id", ra)
			case 3:
				r.Tags = tags("resourceTags/user:aws-apn-id", "pc:"+g.token("abcdefghijklmnopqrstuvwxyz0123456789", 25)) // no such product code
			case 4:
				r.Tags = tags("partnerlink-partner-id", loc(k/12+4, 0))
			case 5, 11:
				r.Publisher = []string{seller, seller2, "Red Hat Inc."}[(k/12)%3] // marketplace
				r.Service, r.ServiceCategory = "AWS Marketplace", "Other"
			case 7:
				r.Tags = tags("Environment", "dev")
			}
		} else {
			s := gcpServices[k%len(gcpServices)]
			r.ID, r.Service, r.ServiceCategory = fmt.Sprintf(s.id, a.id, suffix), s.svc, s.cat
			r.Publisher = "Google"
			if k%3 == 0 {
				r.Tags = tags("goog-partner-solution", solutions[(k/3)%len(solutions)])
			} else if k%3 == 1 {
				r.Tags = tags("env", "prod")
			}
		}
		r.UsageID = r.ID
		g.d.Resources = append(g.d.Resources, r)
	}
}

// token is n random characters of alphabet.
func (g *gen) token(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

// monthIndex is the number of whole calendar months from the period's start to t.
func (d *Dataset) monthIndex(t time.Time) int {
	return (t.Year()-d.From.Year())*12 + int(t.Month()-d.From.Month())
}
