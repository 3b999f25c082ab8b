package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/audit"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/report"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// coverageView is the data of the Coverage page and of the customer's partners page.
type coverageView struct {
	view
	Month string // YYYY-MM shown
	Path  string // the page's own path, for the month form
	Note  string
}

// monthParam is ?month=YYYY-MM as a period, defaulting to the current month.
func (s *server) monthParam(r *http.Request) (string, timeline.Window, bool) {
	m := r.URL.Query().Get("month")
	if m == "" {
		m = s.d.Now().UTC().Format("2006-01")
	}
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m, timeline.Window{}, false
	}
	return m, timeline.Window{From: t.UnixNano(), To: t.AddDate(0, 1, 0).UnixNano()}, true
}

// coveragePage is the partner's coverage audit of a month (audit.Run, as the CLI and the API
// compute it). Role: a partner for its own ID, or an operator; another partner's is a 403.
func (s *server) coveragePage(w http.ResponseWriter, r *http.Request, c *ctx) {
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
	month, period, ok := s.monthParam(r)
	if !ok {
		s.fail(w, c, http.StatusBadRequest, "month="+month+" is not a month; use YYYY-MM.")
		return
	}
	rep, err := audit.Run(r.Context(), s.d.DB, audit.Query{Partner: pid, Period: period})
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	// The month before, for the change of coverage.
	prevFrom := time.Unix(0, period.From).UTC().AddDate(0, -1, 0).UnixNano()
	prev, err := audit.Run(r.Context(), s.d.DB, audit.Query{Partner: pid, Period: timeline.Window{From: prevFrom, To: period.From}})
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	v := coverageView{view: s.base(c, "Coverage of partner "+pid+" – "+rep.OrgName), Month: month, Path: r.URL.Path,
		Note: "Locations " + strings.Join(rep.Locations, ", ") + ". Every reason is explain's; docs/audit.md says what each finding means and what to do."}
	v.PartnerID, v.Tables = pid, s.namedFindings(r.Context(), rep.Tables())
	v.Coverage = coverageRows(rep, prev)
	v.Links = map[string]string{"tenants": "/customers/"}
	if !c.ID.IsOperator() {
		v.Links = nil // a partner may not open customer pages
	}
	s.render(w, http.StatusOK, "coverage", v)
}

// tenantPartnersPage is a customer's view of its partners over a month: what each is
// credited for and through which identities (audit.CustomerRun). Role: a customer admin of
// the tenant, or an operator.
func (s *server) tenantPartnersPage(w http.ResponseWriter, r *http.Request, c *ctx) {
	tenant := strings.ToLower(r.PathValue("tenant"))
	if !c.ID.CanReadTenant(tenant) {
		s.fail(w, c, http.StatusForbidden, "Your token may read only its own tenant.")
		return
	}
	month, period, ok := s.monthParam(r)
	if !ok {
		s.fail(w, c, http.StatusBadRequest, "month="+month+" is not a month; use YYYY-MM.")
		return
	}
	view, err := audit.CustomerRun(r.Context(), s.d.DB, tenant, period)
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	name := view.TenantName
	if name == "" {
		name = tenant
	}
	v := coverageView{view: s.base(c, "Partners of "+name), Month: month, Path: r.URL.Path,
		Note: "“Alone” is the credit no other identity of the partner earns: what the partner would lose if you removed that identity's access."}
	v.Tenant, v.Tables = tenant, view.Tables()
	s.render(w, http.StatusOK, "tenantpartners", v)
}

// namedFindings gives the coverage page's subscription, tenant and principal columns a name
// column after them (the table view shows the name with the ID beside it). Names are
// decoration: a failed read leaves the IDs.
func (s *server) namedFindings(ctx context.Context, tables []report.Table) []report.Table {
	subs, _ := estate.SubscriptionNames(ctx, s.d.DB)
	tenants := map[string]string{}
	if ts, err := estate.Tenants(ctx, s.d.DB); err == nil {
		for _, t := range ts {
			tenants[t.ID] = t.Name
		}
	}
	principals := map[string]map[string]string{} // per tenant, read once each
	principal := func(tenant, id string) string {
		m, ok := principals[tenant]
		if !ok {
			m, _ = estate.PrincipalNames(ctx, s.d.DB, tenant)
			principals[tenant] = m
		}
		return m[id]
	}
	out := make([]report.Table, len(tables))
	for i, t := range tables {
		out[i] = withNames(t, func(col string, row []string) string {
			switch col {
			case "subscription":
				return subs[cell(t.Header, row, "subscription")]
			case "tenant":
				return tenants[cell(t.Header, row, "tenant")]
			case "principal":
				return principal(cell(t.Header, row, "tenant"), cell(t.Header, row, "principal"))
			}
			return ""
		})
	}
	return out
}

// withNames inserts a "name" column after each subscription, tenant or principal column that
// has none, with name(column, row) in it.
func withNames(t report.Table, name func(col string, row []string) string) report.Table {
	var at []int
	for i, h := range t.Header {
		if (h == "subscription" || h == "tenant" || h == "principal") && (i+1 == len(t.Header) || t.Header[i+1] != "name") {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return t
	}
	insert := func(in []string, vals func(i int) string) []string {
		out := make([]string, 0, len(in)+len(at))
		k := 0
		for i, x := range in {
			out = append(out, x)
			if k < len(at) && at[k] == i {
				out = append(out, vals(i))
				k++
			}
		}
		return out
	}
	named := report.Table{Name: t.Name, Title: t.Title, Header: insert(t.Header, func(int) string { return "name" })}
	for _, r := range t.Rows {
		named.Rows = append(named.Rows, insert(r, func(i int) string {
			if i >= len(r) || r[i] == "" {
				return ""
			}
			return name(t.Header[i], r)
		}))
	}
	return named
}

// cell is row's value in column col ("" when the table has no such column).
func cell(header, row []string, col string) string {
	for i, h := range header {
		if h == col && i < len(row) {
			return row[i]
		}
	}
	return ""
}
