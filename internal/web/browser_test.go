package web_test

import (
	"context"
	"fmt"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

const chromium = "/usr/bin/chromium"

// browser starts headless Chromium for the test, or skips when it is not installed, except
// under CI=true, where a missing browser fails (CI never passes by skipping).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must install Debian's chromium (apt-get install -y chromium)", chromium)
		}
		t.Skipf("%s is not installed; install it with `apt-get install -y chromium` to run the browser tests", chromium)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1200, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return ctx
}

// artifacts is where screenshots go: PARTNERLINK_TEST_ARTIFACTS, or the test's temp dir.
func artifacts(t *testing.T) string {
	dir := os.Getenv("PARTNERLINK_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 = PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return get(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, "location", chromedp.Location())
}

// signInBrowser pastes token into the sign-in form.
func signInBrowser(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	run(t, ctx, "sign in as "+token,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("header.top nav")),
	)
}

// chartState is what chart.js drew (one entry per currency) plus the painted canvas pixels.
type chartState struct {
	Charts []struct {
		Currency string `json:"currency"`
		Total    string `json:"total"`
		Points   int    `json:"points"`
		Series   int    `json:"series"`
		Drawn    bool   `json:"drawn"`
	} `json:"charts"`
	Points  int      `json:"points"`
	Drawn   bool     `json:"drawn"`
	Pixels  int      `json:"pixels"`
	Figures int      `json:"figures"`
	Totals  []string `json:"totals"` // the figure captions' totals as shown
}

const chartJS = `(() => {
  const c = window.partnerlinkChart || {};
  let pixels = 0;
  document.querySelectorAll('#charts canvas').forEach(cv => {
    const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) pixels++;
  });
  const figs = document.querySelectorAll('#charts figure');
  return {charts: c.charts || [], points: c.points || 0, drawn: !!c.drawn, pixels,
    figures: figs.length, totals: Array.from(figs).map(f => f.querySelector('.chart-total').textContent)};
})()`

func chart(t *testing.T, ctx context.Context) chartState {
	t.Helper()
	run(t, ctx, "wait for chart", chromedp.WaitVisible(chromedp.CSS("#charts canvas")))
	return get(t, ctx, "read chart", chromedp.Evaluate[chartState](chartJS))
}

func status(t *testing.T, ctx context.Context, u string) int {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return int(resp.Status)
}

// seedUSD gives partner L1 a second currency and a long table: PAL in USD in March 2026 on 14
// more subscriptions (USD 1,234.50 in all), so the page has 15 subscriptions. It writes rows in
// the layout of schemas before 0620: call it before seed, whose upgrade moves them.
func seedUSD(t *testing.T, db *store.DB) {
	t.Helper()
	ins := `INSERT INTO rollup_daily (day, location_id, org_id, association, tenant_id, subscription_id, service, admin_role, currency, amount_nanos, org_amount_nanos, records) VALUES ($1,'L1','O1','PAL',$2,$3,'Virtual Machines','Owner','USD',$4,$4,1)`
	for i := 0; i < 14; i++ {
		n := int64(80_000_000_000)
		if i == 13 {
			n = 194_500_000_000
		}
		if _, err := db.ExecContext(context.Background(), ins, day("2026-03-12"), tenantA, fmt.Sprintf("22222222-0000-0000-0000-%012d", i), n); err != nil {
			t.Fatal(err)
		}
	}
	// Rows in the layout of schemas before 621, moved into today's as migrate moves them.
	if err := results.UpgradeRollups(context.Background(), db); err != nil {
		t.Fatal(err)
	}
}

func TestBrowser(t *testing.T) {
	ctx := browser(t)
	db := storetest.SQLite(t)
	seedUSD(t, db)
	seed(t, db)
	srv := newServer(t, db)
	dir := artifacts(t)

	// Partner: chart with data, drill-down into a month, explain search, another partner's page.
	// The sign-in page says where a token comes from.
	run(t, ctx, "sign-in page", chromedp.Navigate(srv.URL+"/signin"), chromedp.WaitVisible(chromedp.CSS("#where")))
	if where := text(t, ctx, "#where"); !strings.Contains(where, "partnerlink token") || !strings.Contains(where, "--role") {
		t.Errorf("sign-in page does not say where tokens come from: %q", where)
	}
	shot(t, ctx, dir, "signin")
	signInBrowser(t, ctx, srv.URL, "tok-partner")
	if path := location(t, ctx); !strings.HasSuffix(path, "/partners/L1") {
		t.Fatalf("partner landed on %s, want /partners/L1", path)
	}
	s := chart(t, ctx)
	// One chart per currency, never one silently: EUR has 3 months × (PAL, CSP) = 6 points in
	// 2 series, USD one month of PAL; each captioned with its total for people.
	if len(s.Charts) != 2 || s.Figures != 2 || !s.Drawn || s.Pixels < 500 {
		t.Fatalf("charts = %+v, want two (EUR and USD), drawn with pixels", s)
	}
	for i, want := range []struct {
		cur, total, shown string
		points, series    int
	}{{"EUR", "90", "EUR 90.00", 6, 2}, {"USD", "1234.5", "USD 1,234.50", 1, 1}} {
		c := s.Charts[i]
		if c.Currency != want.cur || c.Total != want.total || c.Points != want.points || c.Series != want.series || !c.Drawn || s.Totals[i] != want.shown {
			t.Errorf("chart %d = %+v shown %q, want %s total %s (%s), %d points in %d series", i, c, s.Totals[i], want.cur, want.total, want.shown, want.points, want.series)
		}
	}
	// Money for people: grouped, two decimals, right-aligned; the exact value on hover.
	cell := get(t, ctx, "a money cell", chromedp.Evaluate[map[string]string](`(() => {
	  const td = [...document.querySelectorAll('#t-totals td.num')].find(td => td.textContent.includes('1,234.50'));
	  return td ? {text: td.textContent, title: td.title, align: getComputedStyle(td).textAlign} : {};
	})()`))
	if cell["text"] != "1,234.50" || cell["title"] != "1234.5 (exact)" || cell["align"] != "right" {
		t.Errorf("USD total cell = %v, want 1,234.50 right-aligned with the exact 1234.5 on hover", cell)
	}
	// Paging: the 15 subscriptions start collapsed behind their count; opening shows them all.
	sub := get(t, ctx, "subscriptions table", chromedp.Evaluate[map[string]any](`(() => {
	  const d = document.querySelector('#t-subscriptions details');
	  return {open: d.open, summary: d.querySelector('summary').textContent, rows: d.querySelectorAll('tbody tr').length};
	})()`))
	if sub["open"] != false || !strings.Contains(sub["summary"].(string), "15 rows") || sub["rows"] != float64(15) {
		t.Errorf("subscriptions = %v, want collapsed, \"15 rows\"", sub)
	}
	// By keyboard: the summary takes the focus and Enter opens it.
	run(t, ctx, "open the subscriptions", chromedp.Focus(chromedp.CSS("#t-subscriptions summary")), chromedp.KeyEvent("\r"))
	if !get(t, ctx, "opened", chromedp.Evaluate[bool](`document.querySelector('#t-subscriptions details').open`)) {
		t.Error("the subscriptions did not open with Enter")
	}
	// At 1,280 px the page does not scroll sideways: tables fit or scroll in their own box.
	run(t, ctx, "1280 px", chromedp.EmulateViewport(1280, 900))
	if get(t, ctx, "overflow 1280", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("partner page scrolls sideways at 1,280 px")
	}
	// Totals first, the trend next, the customer before the details.
	order := get(t, ctx, "section order", chromedp.Evaluate[[]string](`[...document.querySelectorAll('main section')].map(s => s.id || s.className)`))
	if strings.Join(order, " ") != "t-totals chart top-customers t-months t-month-over-month t-customers t-subscriptions t-services t-pal-admin-roles t-incentives" {
		t.Errorf("partner page order %v", order)
	}
	// Top customers: one bar chart per currency, the customer by name, the amount for people.
	bars := get(t, ctx, "top customers", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#top-customers figure')].map(f =>
	  f.dataset.currency + ' ' + f.querySelector('.bar-label').textContent + ' ' + f.querySelector('.bar-value').textContent + ' ' + f.querySelector('.bar').style.width)`))
	if strings.Join(bars, "|") != "EUR Fabrikam EUR 90.00 100%|USD Fabrikam USD 1,234.50 100%" {
		t.Errorf("top customers = %q", bars)
	}
	shot(t, ctx, dir, "partner")
	if rows := get(t, ctx, "months table", chromedp.Evaluate[int](`document.querySelectorAll('#t-months tbody tr').length`)); rows != 7 {
		t.Fatalf("months table has %d rows, want 7 (the charts' accessible twin)", rows)
	}
	run(t, ctx, "drill down",
		chromedp.Click(chromedp.CSS(`#t-months tbody tr:nth-child(3) a`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/partners/L1"]`)))
	if path, meta := location(t, ctx), text(t, ctx, "p.meta"); !strings.Contains(path, "month=2026-02") || !strings.Contains(meta, "period: 2026-02") {
		t.Fatalf("drill-down went to %s (%q), want month 2026-02", path, meta)
	}
	if s = chart(t, ctx); s.Points != 2 || len(s.Charts) != 1 {
		t.Fatalf("February chart = %+v, want one chart (EUR) of 2 points", s)
	}
	run(t, ctx, "explain search",
		chromedp.SetValue(chromedp.CSS("#q"), "/subscriptions/"+subA1+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"),
		chromedp.Submit(chromedp.CSS("#q")),
		chromedp.WaitVisible(chromedp.CSS(`main > p > a[href="/partners/L1"]`)))
	path, body := location(t, ctx), text(t, ctx, "main")
	// The explanation itself is the engine's (tested there); the page must have run the query
	// for the report's months and shown the engine's answer.
	if !strings.HasSuffix(path, "/partners/L1/explain") || !strings.Contains(body, "Explanation") || !strings.Contains(body, "Full explanation") {
		t.Fatalf("explain page %s shows %q", path, body)
	}
	shot(t, ctx, dir, "partner-explain")
	if code := status(t, ctx, srv.URL+"/partners/L2"); code != 403 {
		t.Fatalf("partner L1 opening /partners/L2 got %d, want 403", code)
	}
	shot(t, ctx, dir, "partner-403")

	// Phone width: the page stays usable (the page itself does not scroll sideways; wide
	// tables scroll inside their own box).
	run(t, ctx, "phone width",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(srv.URL+"/partners/L1"),
		chromedp.WaitVisible(chromedp.CSS("#charts canvas")))
	if get(t, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("partner page scrolls sideways at 390 px")
	}
	shot(t, ctx, dir, "partner-phone")
	run(t, ctx, "desktop width", chromedp.EmulateViewport(1200, 900))

	// Customer admin: attached partners, link history, webhook form.
	signInBrowser(t, ctx, srv.URL, "tok-admin")
	if attached := text(t, ctx, "#t-attachments"); !strings.Contains(attached, "Contoso DE") || !strings.Contains(attached, "Ana") {
		t.Fatalf("attachments = %q", attached)
	}
	// "via" names the identity; its object ID is beside it, quieter, and on hover.
	via := get(t, ctx, "via cell", chromedp.Evaluate[map[string]string](`(() => {
	  const h = [...document.querySelectorAll('#t-attachments th')].findIndex(th => th.textContent === 'via');
	  const td = document.querySelectorAll('#t-attachments tbody tr')[0].children[h];
	  return {first: td.firstChild.textContent.trim(), id: (td.querySelector('.id') || {}).textContent || '', title: td.title};
	})()`))
	if via["first"] != "Ana" || via["id"] != userA || via["title"] != userA {
		t.Errorf("via cell = %v, want the name Ana with the ID %s beside it and on hover", via, userA)
	}
	if events := text(t, ctx, "#t-link-events"); !strings.Contains(events, "create") {
		t.Fatalf("link events = %q", events)
	}
	run(t, ctx, "add webhook",
		chromedp.SetValue(chromedp.CSS("#url"), "https://hooks.example.com/partnerlink"),
		chromedp.Click(chromedp.CSS("#webhooks form.row button")),
		chromedp.WaitVisible(chromedp.CSS("p.secret")))
	if hooks := text(t, ctx, "#webhooks"); !strings.Contains(hooks, "https://hooks.example.com/partnerlink") {
		t.Fatalf("webhook not listed: %q", hooks)
	}
	shot(t, ctx, dir, "customer")

	// Operator: directory, runs, imports, warnings; drill into a partner from the top list.
	signInBrowser(t, ctx, srv.URL, "tok-operator")
	body = text(t, ctx, "main")
	for _, want := range []string{"Partner directory", "Attribution runs", "q1.csv", "Data-quality warnings"} {
		if !strings.Contains(body, want) {
			t.Errorf("operator page lacks %q", want)
		}
	}
	// Every association side by side, one bar chart per currency.
	assoc := get(t, ctx, "association bars", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#associations-chart figure')].map(f =>
	  f.dataset.currency + ': ' + [...f.querySelectorAll('li')].map(li => li.querySelector('.bar-label').textContent + ' ' +
	    li.querySelector('.bar-value').textContent + ' ' + li.querySelector('.bar').style.width).join(', '))`))
	if strings.Join(assoc, " | ") != "USD: PAL USD 1,234.50 100% | EUR: PAL EUR 60.00 100%, CSP EUR 30.00 50%, DPOR EUR 15.00 25%" {
		t.Errorf("operator association bars = %q", assoc)
	}
	shot(t, ctx, dir, "operator")
	run(t, ctx, "operator drill-down", chromedp.Click(chromedp.CSS(`#t-top-partners tbody tr:first-child a`)), chromedp.WaitVisible(chromedp.CSS("#charts")))
	if s := chart(t, ctx); !strings.HasSuffix(location(t, ctx), "/partners/L1") || s.Points == 0 {
		t.Fatalf("operator drill-down chart %+v", s)
	}
	shot(t, ctx, dir, "partner-from-operator")
	for _, p := range []struct{ path, sel, name string }{
		{"/partners/L1/coverage?month=2026-03", "main h1", "coverage"},
		{"/customers/" + tenantA + "/partners?month=2026-03", "main h1", "customer-partners"},
		{"/customers/" + tenantA, "#t-attachments", "customer-from-operator"},
		{"/partners/O1", "#charts", "organisation"},
	} {
		run(t, ctx, "open "+p.path, chromedp.Navigate(srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		if get(t, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
			t.Errorf("%s scrolls sideways", p.path)
		}
		shot(t, ctx, dir, p.name)
	}
	t.Logf("screenshots in %s", dir)
}
