package web_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// The coverage pages read the estate and usage fixtures of the CLI tests: organisation 4100000
// (locations 4100001, 4100002) in tenant 11111111-…-001, where the linked user's PIM-eligible
// Contributor was activated for a third of a day in March 2026.
const coverageTenant = "11111111-0000-4000-8000-000000000001"

func init() {
	tokens["tok-contoso"] = &auth.Identity{TenantID: "p-tenant", ObjectID: "c1", Roles: []auth.Role{auth.RolePartner}, PartnerIDs: []string{"4100001"}}
	tokens["tok-fixture-admin"] = &auth.Identity{TenantID: coverageTenant, ObjectID: "fa", Roles: []auth.Role{auth.RoleCustomerAdmin}}
}

func seedCoverage(t *testing.T, db *store.DB) {
	t.Helper()
	f, err := os.Open("../estatefile/testdata/snapshot1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := estatefile.Import(context.Background(), db, f, "snapshot1.json", estatefile.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := usage.ImportFiles(context.Background(), db, []string{"../cli/testdata/attribution-usage.csv"}, usage.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCoveragePagesAccess(t *testing.T) {
	db := storetest.SQLite(t)
	seedCoverage(t, db)
	srv := newServer(t, db)
	partner := signIn(t, srv, "tok-contoso")
	body := fetch(t, partner, "GET", srv.URL+"/partners/4100001/coverage?month=2026-03", nil, 200)
	for _, want := range []string{"Attrition risk", "3.33 USD", "csp_precedence", "PIM-eligible", `href="/partners/4100001/coverage"`} {
		if !strings.Contains(body, want) {
			t.Errorf("coverage page lacks %q", want)
		}
	}
	fetch(t, partner, "GET", srv.URL+"/partners/4100002/coverage?month=2026-03", nil, 403)
	fetch(t, partner, "GET", srv.URL+"/partners/4100000/coverage", nil, 403)
	fetch(t, partner, "GET", srv.URL+"/partners/4100001/coverage?month=March", nil, 400)
	fetch(t, partner, "GET", srv.URL+"/customers/"+coverageTenant+"/partners", nil, 403)
	admin := signIn(t, srv, "tok-fixture-admin")
	body = fetch(t, admin, "GET", srv.URL+"/customers/"+coverageTenant+"/partners?month=2026-03", nil, 200)
	if !strings.Contains(body, "33333333-0000-4000-8000-000000000002") || !strings.Contains(body, "3.333333333") || !strings.Contains(body, "My partners") {
		t.Errorf("customer's partners page:\n%s", body)
	}
	fetch(t, admin, "GET", srv.URL+"/customers/"+tenantA+"/partners", nil, 403)
	fetch(t, admin, "GET", srv.URL+"/partners/4100001/coverage", nil, 403)
}

func TestBrowserCoverage(t *testing.T) {
	ctx := browser(t)
	db := storetest.SQLite(t)
	seedCoverage(t, db)
	srv := newServer(t, db)
	dir := artifacts(t)
	signInBrowser(t, ctx, srv.URL, "tok-contoso")
	run(t, ctx, "open Coverage from the navigation",
		chromedp.Click(chromedp.CSS(`header.top nav a[href="/partners/4100001/coverage"]`)),
		chromedp.WaitVisible(chromedp.CSS("#month")))
	run(t, ctx, "choose March 2026",
		chromedp.SetValue(chromedp.CSS("#month"), "2026-03"),
		chromedp.Submit(chromedp.CSS("#month")),
		chromedp.WaitVisible(chromedp.CSS("#t-risks table")))
	if path := location(t, ctx); !strings.HasSuffix(path, "/partners/4100001/coverage?month=2026-03") {
		t.Fatalf("the month form went to %s", path)
	}
	if totals := text(t, ctx, "#t-totals"); !strings.Contains(totals, "consumption") || !strings.Contains(totals, "10.00 USD") {
		t.Errorf("totals: %q", totals)
	}
	if risks := text(t, ctx, "#t-risks"); !strings.Contains(risks, "3.33 USD") || !strings.Contains(risks, "33333333-0000-4000-8000-000000000002") {
		t.Errorf("risks: %q", risks)
	}
	if gaps := text(t, ctx, "#t-gaps"); !strings.Contains(gaps, "csp_precedence") {
		t.Errorf("gaps: %q", gaps)
	}
	shot(t, ctx, dir, "coverage")
	if code := status(t, ctx, srv.URL+"/partners/4100002/coverage?month=2026-03"); code != 403 {
		t.Fatalf("partner 4100001 opening 4100002's coverage got %d, want 403", code)
	}
	if msg := text(t, ctx, "main"); !strings.Contains(msg, "may not read partner 4100002") {
		t.Errorf("the 403 page says %q", msg)
	}
	shot(t, ctx, dir, "coverage-403")

	signInBrowser(t, ctx, srv.URL, "tok-fixture-admin")
	run(t, ctx, "open My partners",
		chromedp.Navigate(srv.URL+"/customers/"+coverageTenant+"/partners?month=2026-03"),
		chromedp.WaitVisible(chromedp.CSS("#t-identities table")))
	if ids := text(t, ctx, "#t-identities"); !strings.Contains(ids, "3.333333333") {
		t.Errorf("identities: %q", ids)
	}
	shot(t, ctx, dir, "customer-partners")
}
