package report

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

const (
	tenantA = "aaaaaaaa-0000-0000-0000-000000000001"
	subA1   = "11111111-0000-0000-0000-000000000001"
	subA2   = "11111111-0000-0000-0000-000000000002"
	userA   = "99999999-0000-0000-0000-000000000001"
	ghost   = "99999999-0000-0000-0000-000000000002"
)

func ns(s string) int64 {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func exec(t testing.TB, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// seed inserts a small hand-checked world:
//
// org O1 has locations L1 and L2; L1 and L2 were both credited for the same Jan 5 row
// (10 EUR each, 10 EUR counted once at the organisation).
// L1: Jan PAL 10 (Owner) + Jan CSP 2.5 + Feb PAL 15 (Owner) + Feb DPOR 0.000000001 EUR;
// L2: Jan PAL 10 (duplicate) + Mar CUA 4 USD.
func seed(t testing.TB, db *store.DB) {
	exec(t, db, `INSERT INTO partner_orgs (id, name) VALUES ('O1', 'Contoso Group')`)
	exec(t, db, `INSERT INTO partner_locations (id, org_id, name, country) VALUES ('L1', 'O1', 'Contoso DE', 'DE'), ('L2', 'O1', 'Contoso FR', 'FR')`)
	exec(t, db, `INSERT INTO tenants (id, name) VALUES ($1, 'Fabrikam')`, tenantA)
	ins := `INSERT INTO rollup_daily (day, location_id, org_id, association, tenant_id, subscription_id, service, admin_role, currency, amount_nanos, org_amount_nanos, records) VALUES ($1,$2,'O1',$3,$4,$5,$6,$7,$8,$9,$10,$11)`
	exec(t, db, ins, ns("2026-01-05"), "L1", "PAL", tenantA, subA1, "Virtual Machines", "Owner", "EUR", 10_000_000_000, 10_000_000_000, 2)
	exec(t, db, ins, ns("2026-01-05"), "L2", "PAL", tenantA, subA1, "Virtual Machines", "Contributor", "EUR", 10_000_000_000, 0, 2)
	exec(t, db, ins, ns("2026-01-20"), "L1", "CSP", tenantA, subA2, "Storage", "", "EUR", 2_500_000_000, 2_500_000_000, 1)
	exec(t, db, ins, ns("2026-02-01"), "L1", "PAL", tenantA, subA1, "Virtual Machines", "Owner", "EUR", 15_000_000_000, 15_000_000_000, 3)
	exec(t, db, ins, ns("2026-02-28"), "L1", "DPOR", tenantA, subA2, "Storage", "", "EUR", 1, 1, 1)
	exec(t, db, ins, ns("2026-03-03"), "L2", "CUA", tenantA, subA2, "Storage", "", "USD", 4_000_000_000, 4_000_000_000, 1)
	inc := `INSERT INTO rollup_incentives_daily (day, location_id, org_id, program, currency, amount_nanos, records) VALUES ($1,$2,'O1',$3,'EUR',$4,1)`
	exec(t, db, inc, ns("2026-01-05"), "L1", "PEC", 1_500_000_000)
	exec(t, db, inc, ns("2026-02-01"), "L1", "PEC", 2_250_000_000)
	exec(t, db, inc, ns("2026-01-05"), "L2", "PEC", 1_500_000_000)
	// Rows in the layout of schemas before 620, moved into today's by the upgrade on open.
	if err := results.UpgradeRollups(context.Background(), db); err != nil {
		t.Fatal(err)
	}

	exec(t, db, `INSERT INTO subscriptions (id, tenant_id, name, offer, csp_location_id, valid_from, valid_to) VALUES ($1,$2,'prod','MS-AZR-0017P','',$3,$4), ($5,$2,'csp','MS-AZR-0145P','L1',$6,$4)`,
		subA1, tenantA, ns("2025-01-01"), timeline.Max, subA2, ns("2025-06-01"))
	// A rename of the CSP subscription: a second version, still one CSP attachment.
	exec(t, db, `UPDATE subscriptions SET valid_to = $1 WHERE id = $2`, ns("2025-09-01"), subA2)
	exec(t, db, `INSERT INTO subscriptions (id, tenant_id, name, offer, csp_location_id, valid_from, valid_to) VALUES ($1,$2,'csp-renamed','MS-AZR-0145P','L1',$3,$4)`, subA2, tenantA, ns("2025-09-01"), timeline.Max)
	exec(t, db, `INSERT INTO principals (tenant_id, object_id, type, display_name, valid_from, valid_to) VALUES ($1,$2,'ServicePrincipal','contoso-automation',$3,$4)`, tenantA, userA, ns("2025-01-01"), timeline.Max)
	exec(t, db, `INSERT INTO role_definitions (id, role_name, valid_from, valid_to) VALUES ('owner-id','Owner',$1,$2)`, timeline.Min, timeline.Max)
	exec(t, db, `INSERT INTO role_assignments (id, tenant_id, principal_id, role_definition_id, scope, scope_key, kind, valid_from, valid_to) VALUES
('ra1',$1,$2,'owner-id','/subscriptions/x','/subscriptions/x','active',$3,$4), ('ra2',$1,$2,'missing-role','/subscriptions/x','/subscriptions/x','active',$3,$4)`, tenantA, userA, ns("2025-01-01"), timeline.Max)
	exec(t, db, `INSERT INTO links (tenant_id, object_id, location_id, version, state, created_at, updated_at) VALUES ($1,$2,'L1',1,'Active',$3,$3), ($1,$4,'L2',1,'Active',$3,$3)`, tenantA, userA, ns("2025-02-01"), ghost)
	exec(t, db, `INSERT INTO link_history (id, tenant_id, object_id, action, to_partner_id, version, at) VALUES ('h1',$1,$2,'create','L1',1,$3)`, tenantA, userA, ns("2025-02-01"))
	if _, err := usage.ImportRecords(context.Background(), db, "jan.csv", []usage.Record{{Key: "u1", Start: ns("2026-01-01"), End: ns("2026-01-02"),
		SubscriptionID: "22222222-0000-0000-0000-00000000dead", ResourceID: "/x", ChargeCategory: "Usage", Currency: "EUR", Cost: 1}},
		usage.ImportOptions{Now: func() time.Time { return timeline.Time(ns("2026-02-02")) }}); err != nil {
		t.Fatal(err)
	}
	exec(t, db, `INSERT INTO attribution_runs (id, period_from, period_to, started_at, finished_at, attribution_rows, incentive_rows, diff, status) VALUES ('r1',$1,$2,$3,$3,6,3,'{"L1":"+1"}','done')`, ns("2026-01-01"), ns("2026-04-01"), ns("2026-04-02"))
}

func TestPartnerLocation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		p, err := PartnerReport(context.Background(), db, PartnerQuery{PartnerID: "L1"})
		if err != nil {
			t.Fatal(err)
		}
		// 10 + 2.5 + 15 + 0.000000001
		if got := p.Totals; len(got) != 1 || got[0] != (Amount{"EUR", "27.500000001"}) {
			t.Fatalf("totals = %+v", got)
		}
		want := []string{"2026-01 PAL EUR 10", "2026-01 CSP EUR 2.5", "2026-02 PAL EUR 15", "2026-02 DPOR EUR 0.000000001"}
		var got []string
		for _, m := range p.Months {
			got = append(got, m.Month+" "+m.Association+" "+m.Currency+" "+m.Amount)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("months = %v, want %v", got, want)
		}
		// Jan 12.5 -> Feb 15.000000001: +2.500000001, +20%.
		if len(p.Change) != 2 || p.Change[1].Change != "2.500000001" || p.Change[1].Percent != "20" || p.Change[0].Percent != "" {
			t.Fatalf("change = %+v", p.Change)
		}
		if len(p.AdminRoles) != 1 || p.AdminRoles[0] != (GroupRow{Key: "Owner", Currency: "EUR", Amount: "25"}) {
			t.Fatalf("admin roles = %+v", p.AdminRoles)
		}
		if len(p.Incentives) != 1 || p.Incentives[0].Amount != "3.75" || p.Incentives[0].Key != "PEC" {
			t.Fatalf("incentives = %+v", p.Incentives)
		}
		if p.Customers[0].Name != "Fabrikam" || p.Customers[0].Amount != "27.500000001" {
			t.Fatalf("customers = %+v", p.Customers)
		}
		if p.Services[0] != (GroupRow{Key: "Virtual Machines", Currency: "EUR", Amount: "25"}) || p.Services[1].Amount != "2.500000001" {
			t.Fatalf("services = %+v", p.Services)
		}
		// A window on February only.
		p, err = PartnerReport(context.Background(), db, PartnerQuery{PartnerID: "L1", Period: timeline.Window{From: ns("2026-02-01"), To: ns("2026-03-01")}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Totals[0].Amount != "15.000000001" {
			t.Fatalf("february totals = %+v", p.Totals)
		}
	})
}

func TestPartnerOrganisationCountsDuplicatesOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		p, err := PartnerReport(context.Background(), db, PartnerQuery{PartnerID: "O1"})
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind != KindOrganisation {
			t.Fatalf("kind = %s", p.Kind)
		}
		// EUR: 27.500000001 (L1) + 0 (L2 duplicate); USD 4.
		want := []Amount{{"EUR", "27.500000001"}, {"USD", "4"}}
		if len(p.Totals) != 2 || p.Totals[0] != want[0] || p.Totals[1] != want[1] {
			t.Fatalf("totals = %+v", p.Totals)
		}
		if p.SumOfLocations[0] != (Amount{"EUR", "37.500000001"}) {
			t.Fatalf("sum of locations = %+v", p.SumOfLocations)
		}
		if p.Incentives[0].Amount != "5.25" {
			t.Fatalf("incentives = %+v", p.Incentives)
		}
		_, err = PartnerReport(context.Background(), db, PartnerQuery{PartnerID: "nope"})
		if err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("unknown partner: %v", err)
		}
	})
}

func TestCustomer(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		c, err := CustomerReport(context.Background(), db, strings.ToUpper(tenantA), ns("2026-06-01"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range c.Attachments {
			got = append(got, a.Association+" "+a.LocationID+" "+a.Via+" "+a.Roles+" "+a.Since)
		}
		want := []string{
			"PAL L1 " + userA + " Owner, missing-role 2025-02-01T00:00:00Z",
			"PAL L2 " + ghost + "  2025-02-01T00:00:00Z",
			"CSP L1 " + subA2 + "  2025-06-01T00:00:00Z",
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("attachments =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if c.Attachments[2].ViaName != "csp-renamed" || c.Attachments[2].State != "Active" {
			t.Fatalf("csp attachment: %+v", c.Attachments[2])
		}
		if c.Attachments[0].LocationName != "Contoso DE" || c.Attachments[0].ViaName != "contoso-automation" {
			t.Fatalf("names: %+v", c.Attachments[0])
		}
		if len(c.Consumption) != 5 || c.Consumption[0] != (Recognised{LocationID: "L1", Association: "PAL", AdminRole: "Owner", Currency: "EUR", Amount: "25", FirstDay: "2026-01-05", LastDay: "2026-02-01"}) {
			t.Fatalf("consumption = %+v", c.Consumption)
		}
		if len(c.LinkEvents) != 1 || c.LinkEvents[0].Action != "create" {
			t.Fatalf("events = %+v", c.LinkEvents)
		}
	})
}

func TestOperator(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		r, err := OperatorReport(context.Background(), db, OperatorOptions{Now: ns("2026-06-01")})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Programs) != 1 || r.Programs[0].Amount != "5.25" {
			t.Fatalf("programs = %+v", r.Programs)
		}
		if r.TopPartners[0].Key != "L1" || r.TopPartners[0].Amount != "27.500000001" || r.TopPartners[0].Name != "Contoso DE" {
			t.Fatalf("top = %+v", r.TopPartners)
		}
		kinds := map[string]string{}
		for _, w := range r.Warnings {
			kinds[w.Kind] = w.Subject
		}
		if kinds[WarnUnknownSubscription] != "22222222-0000-0000-0000-00000000dead" || kinds[WarnUnknownRole] != "ra2" || kinds[WarnDeletedPrincipalLink] != tenantA+"/"+ghost || len(r.Warnings) != 3 {
			t.Fatalf("warnings = %+v", r.Warnings)
		}
		if len(r.Runs) != 1 || string(r.Runs[0].Diff) != `{"L1":"+1"}` || len(r.Imports) != 1 || len(r.Directory) != 2 {
			t.Fatalf("runs %+v imports %+v dir %+v", r.Runs, r.Imports, r.Directory)
		}
	})
}

func TestWriters(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	p, err := PartnerReport(context.Background(), db, PartnerQuery{PartnerID: "L1"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, "csv", p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "months,2026-02,DPOR,EUR,0.000000001\n") {
		t.Fatalf("csv:\n%s", b.String())
	}
	b.Reset()
	if err := Write(&b, "json", p); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Totals []Amount `json:"totals"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Totals[0].Amount != "27.500000001" {
		t.Fatalf("json: %v %s", err, b.String())
	}
	b.Reset()
	if err := Write(&b, "text", p); err != nil || !strings.Contains(b.String(), "Incentives by program") {
		t.Fatalf("text: %v %s", err, b.String())
	}
	if err := Write(&b, "xml", p); err == nil || !strings.Contains(err.Error(), "text, csv, json") {
		t.Fatalf("bad format: %v", err)
	}
}
