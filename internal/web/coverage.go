package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/audit"
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
	v.PartnerID, v.Tables = pid, rep.Tables()
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
