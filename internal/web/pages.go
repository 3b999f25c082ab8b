package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/report"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// ctx is what a signed-in page handler gets.
type ctx struct {
	ID   *auth.Identity
	CSRF string
}

// view is the data of every template.
type view struct {
	Title   string
	CSRF    string
	Message string
	Error   string
	ID      *auth.Identity
	Nav     []navItem
	Tables  []report.Table
	// Page-specific data.
	Partner   *report.Partner
	Chart     template.JS // JSON for the chart script (type=application/json, never executed)
	Period    string
	PartnerID string
	Tenant    string
	Customer  *report.Customer
	Webhooks  []webhookRow
	Secret    string
	Query     string
	Result    string
	Explained *explanationView
	Kind      string            // explain: "" (resource or subscription), "record" or "account"
	Provider  string            // explain: the account's provider (kind "account")
	From, To  string            // explain period (YYYY-MM-DD; To exclusive)
	Links     map[string]string // table name -> drill-down URL prefix for the first column
	Bars      []barChart        // partner page: top customers per currency
	Coverage  []coverageRow     // coverage page: per currency, this month against the previous
}

type navItem struct{ Label, URL string }

func anyRole(*auth.Identity) bool { return true }

// page wraps a handler: no valid session -> sign-in page; POST without the session's CSRF
// token -> 403. Security headers go on every page.
func (s *server) page(allow func(*auth.Identity) bool, h func(http.ResponseWriter, *http.Request, *ctx)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		id, token, ok := s.identify(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			s.fail(w, nil, http.StatusUnauthorized, "Your session has ended; sign in again.")
			return
		}
		api.Info(r.Context()).Caller = id.Kind()
		c := &ctx{ID: id, CSRF: s.csrf(token)}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !s.csrfOK(r, token) {
				s.fail(w, c, http.StatusForbidden, "The form was not sent from this dashboard (CSRF check failed); reload the page and try again.")
				return
			}
		}
		if !allow(id) {
			s.fail(w, c, http.StatusForbidden, "Your token may not open this page.")
			return
		}
		h(w, r, c)
	}
}

func secure(w http.ResponseWriter) {
	h := w.Header()
	// uPlot sizes its elements with inline styles set from script, hence 'unsafe-inline' for
	// styles only; scripts come from this server alone.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (s *server) nav(id *auth.Identity) []navItem {
	var n []navItem
	if id.IsOperator() {
		n = append(n, navItem{"Operator", "/operator"})
	}
	if id.Has(auth.RolePartner) {
		for _, p := range id.PartnerIDs {
			n = append(n, navItem{"Partner " + p, "/partners/" + url.PathEscape(p)})
			n = append(n, navItem{"Coverage " + p, "/partners/" + url.PathEscape(p) + "/coverage"})
		}
	}
	if id.Has(auth.RoleCustomerAdmin) && id.TenantID != "" {
		n = append(n, navItem{"My tenant", "/customers/" + url.PathEscape(id.TenantID)})
		n = append(n, navItem{"My partners", "/customers/" + url.PathEscape(id.TenantID) + "/partners"})
	}
	return n
}

func (s *server) render(w http.ResponseWriter, status int, name string, v any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, v); err != nil {
		s.d.Log.Error("dashboard template", "template", name, "err", err)
		http.Error(w, "internal error; the server log has the details", http.StatusInternalServerError)
		return
	}
	secure(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (s *server) fail(w http.ResponseWriter, c *ctx, status int, msg string) {
	v := view{Title: http.StatusText(status), Error: msg}
	if c != nil {
		v.ID, v.CSRF, v.Nav = c.ID, c.CSRF, s.nav(c.ID)
	}
	s.render(w, status, "error", v)
}

// storeFail answers an error with the error page, classified as on every surface
// (api.Classify): a conflict is 409, a busy or unreachable database 503 with Retry-After,
// and only faults are logged.
func (s *server) storeFail(w http.ResponseWriter, c *ctx, err error) {
	cl := api.Fail(s.d.Log, w, err)
	msg := cl.Message
	switch cl.Kind {
	case api.KindInternal:
		msg = "Something failed on the server; the server log has the details"
		if id := api.InfoOf(w).ID; id != "" {
			msg += " (request " + id + ")"
		}
		msg += "."
	case api.KindUnavailable:
		msg = "The database is busy or unavailable; try again in a moment."
	}
	s.fail(w, c, cl.Status, msg)
}

func (s *server) base(c *ctx, title string) view {
	return view{Title: title, CSRF: c.CSRF, ID: c.ID, Nav: s.nav(c.ID)}
}

// home sends each role to its first page.
func (s *server) home(w http.ResponseWriter, r *http.Request) {
	id, _, ok := s.identify(r)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	n := s.nav(id)
	if len(n) == 0 {
		s.fail(w, &ctx{ID: id}, http.StatusForbidden, "Your token holds no dashboard role (partner, customer-admin or operator); mint one with partnerlink token --role partner --partner ID (or --role customer-admin, --role operator), or sign out and paste another.")
		return
	}
	http.Redirect(w, r, n[0].URL, http.StatusSeeOther)
}

// canReadPartner: as the API, an unknown ID is a 403 for non-operators, so pages do not reveal
// which IDs exist.
func (s *server) partnerAllowed(r *http.Request, id *auth.Identity, pid string) (bool, error) {
	p, err := directory.Store{DB: s.d.DB}.Resolve(r.Context(), pid)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && !id.IsOperator() {
			return false, nil
		}
		return false, err
	}
	loc := pid
	if p.Kind == directory.KindOrganisation {
		loc = ""
	}
	return id.CanReadPartner(loc, p.OrgID), nil
}

func (s *server) partnerPage(w http.ResponseWriter, r *http.Request, c *ctx) {
	pid := r.PathValue("id")
	ok, err := s.partnerAllowed(r, c.ID, pid)
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	if !ok {
		s.fail(w, c, http.StatusForbidden, "Your token may not read partner "+pid+".")
		return
	}
	period := timeline.Always()
	label := "all time"
	if m := r.URL.Query().Get("month"); m != "" {
		t, err := time.Parse("2006-01", m)
		if err != nil {
			s.fail(w, c, http.StatusBadRequest, "month="+m+" is not a month; use YYYY-MM.")
			return
		}
		from, err1 := timeline.FromTime(t)
		to, err2 := timeline.FromTime(t.AddDate(0, 1, 0))
		if err := errors.Join(err1, err2); err != nil {
			s.fail(w, c, http.StatusBadRequest, "month="+m+": "+err.Error()+".")
			return
		}
		period = timeline.Window{From: from, To: to}
		label = m
	}
	p, err := report.PartnerReport(r.Context(), s.d.DB, report.PartnerQuery{PartnerID: pid, Period: period})
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	v := s.base(c, "Partner "+pid+" – "+p.Name)
	v.Partner, v.PartnerID, v.Period, v.Tables = p, pid, label, p.Tables()
	v.Links = map[string]string{"months": "/partners/" + url.PathEscape(pid) + "?month="}
	if p.Kind == report.KindOrganisation {
		v.Links["locations"] = "/partners/"
	}
	v.Chart = chartJSON(p)
	v.Bars = topCustomers(p, 8)
	v.From, v.To = explainPeriod(p, period, s.d.Now())
	s.render(w, http.StatusOK, "partner", v)
}

// explainPeriod is the explain box's default period: the drilled-down month, else the months
// the report covers, else the current month.
func explainPeriod(p *report.Partner, w timeline.Window, now time.Time) (string, string) {
	const d = "2006-01-02"
	if w.From != timeline.Min && w.To != timeline.Max {
		return time.Unix(0, w.From).UTC().Format(d), time.Unix(0, w.To).UTC().Format(d)
	}
	if len(p.Months) > 0 {
		first, _ := time.Parse("2006-01", p.Months[0].Month)
		last, _ := time.Parse("2006-01", p.Months[len(p.Months)-1].Month)
		for _, m := range p.Months {
			t, _ := time.Parse("2006-01", m.Month)
			if t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
		return first.Format(d), last.AddDate(0, 1, 0).Format(d)
	}
	m := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	return m.Format(d), m.AddDate(0, 1, 0).Format(d)
}

// chartJSON is the charts' data: one chart per currency (currencies are never added or drawn
// on one axis, and none is left out), each with its months, one series per association and
// the currency's total for the chart's heading. Amounts stay decimal strings; the script
// converts them for plotting only.
func chartJSON(p *report.Partner) template.JS {
	type series struct {
		Label  string   `json:"label"`
		Values []string `json:"values"`
	}
	type chart struct {
		Currency string   `json:"currency"`
		Total    string   `json:"total"`   // exact
		Display  string   `json:"display"` // for people: "USD 1,234.57"
		Months   []string `json:"months"`
		Series   []series `json:"series"`
	}
	out := struct {
		Charts []chart `json:"charts"`
	}{Charts: []chart{}}
	for _, t := range p.Totals {
		months, by := p.MonthSeries(t.Currency)
		c := chart{Currency: t.Currency, Total: t.Amount, Display: t.Currency + " " + money.DisplayString(t.Amount), Months: months, Series: []series{}}
		for _, a := range chartAssociations(by) {
			c.Series = append(c.Series, series{a, by[a]})
		}
		out.Charts = append(out.Charts, c)
	}
	b, _ := json.Marshal(out)
	// json.Marshal escapes <, > and & so the data cannot close its script element.
	return template.JS(b)
}

// chartAssociations lists the associations of a chart in report order, then any other
// (version 2's TAG, RESALE, MARKETPLACE) alphabetically.
func chartAssociations(by map[string][]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range report.Associations {
		if _, ok := by[a]; ok {
			out = append(out, a)
			seen[a] = true
		}
	}
	var rest []string
	for a := range by {
		if !seen[a] {
			rest = append(rest, a)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func (s *server) customerPage(w http.ResponseWriter, r *http.Request, c *ctx) {
	tenant := strings.ToLower(r.PathValue("tenant"))
	if !c.ID.CanReadTenant(tenant) {
		s.fail(w, c, http.StatusForbidden, "Your token may read only its own tenant.")
		return
	}
	s.renderCustomer(w, r, c, tenant, "", http.StatusOK, "")
}

func (s *server) renderCustomer(w http.ResponseWriter, r *http.Request, c *ctx, tenant, msg string, status int, secret string) {
	rep, err := report.CustomerReport(r.Context(), s.d.DB, tenant, s.d.Now().UnixNano())
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	hooks, err := s.listWebhooks(r, tenant)
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	name := rep.TenantName
	if name == "" {
		name = tenant
	}
	v := s.base(c, "Customer "+name)
	v.Customer, v.Tenant, v.Tables, v.Webhooks, v.Message, v.Secret = rep, tenant, rep.Tables(), hooks, msg, secret
	v.Links = map[string]string{}
	if c.ID.IsOperator() {
		v.Links["attachments"] = "/partners/"
		v.Links["consumption"] = "/partners/"
	}
	s.render(w, status, "customer", v)
}

func (s *server) operatorPage(w http.ResponseWriter, r *http.Request, c *ctx) {
	if !c.ID.IsOperator() {
		s.fail(w, c, http.StatusForbidden, "Only operators may open the operator page.")
		return
	}
	rep, err := report.OperatorReport(r.Context(), s.d.DB, report.OperatorOptions{Now: s.d.Now().UnixNano()})
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	v := s.base(c, "Operator")
	v.Tables = rep.Tables()
	// Every association type side by side, one chart per currency: PAL, CSP, DPOR and CUA
	// beside other clouds' TAG, RESALE and MARKETPLACE when attribution version 2 credits them.
	v.Bars = groupBars("Attributed consumption by association", rep.Associations)
	v.Links = map[string]string{"top-partners": "/partners/", "directory": "/partners/"}
	s.render(w, http.StatusOK, "operator", v)
}
