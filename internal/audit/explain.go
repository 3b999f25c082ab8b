package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// explainer asks attribution's explain why a subscription earns no PAL credit and how a
// linked identity earns it, on the slice of the facts of one tenant with only the scope's
// links and the assignments of the principals they link (and of those principals' groups):
// explain reads nothing else for those answers. Each tenant's slice is indexed once
// (attribution.Explainer) for all the questions asked of it: building explain's index was
// most of the audit's explain time (1.7 s of 2 s at the bench scale).
type explainer struct {
	s      *facts.Snapshot
	sc     *Scope
	period timeline.Window
	roles  *roleBook
	index  *tenantIndex
	slices map[string]*facts.Snapshot
	ex     map[*facts.Snapshot]*attribution.Explainer
}

// adopt takes the tenant slices and indexes of o, an explainer of the same audit that was
// asked about other tenants.
func (e *explainer) adopt(o *explainer) {
	for t, sl := range o.slices {
		if e.slices == nil {
			e.slices = map[string]*facts.Snapshot{}
		}
		e.slices[t] = sl
	}
	for sl, x := range o.ex {
		if e.ex == nil {
			e.ex = map[*facts.Snapshot]*attribution.Explainer{}
		}
		e.ex[sl] = x
	}
}

// explain answers q on slice sl (one of e.slice's).
func (e *explainer) explain(sl *facts.Snapshot, q attribution.ExplainQuery) (*attribution.Explanation, error) {
	x := e.ex[sl]
	if x == nil {
		if e.ex == nil {
			e.ex = map[*facts.Snapshot]*attribution.Explainer{}
		}
		x = attribution.NewExplainer(sl)
		e.ex[sl] = x
	}
	return x.Explain(q, nil)
}

func (e *explainer) slice(tenant string) *facts.Snapshot {
	if sl, ok := e.slices[tenant]; ok {
		return sl
	}
	if e.index == nil {
		e.index = newTenantIndex(e.s)
	}
	sl := e.index.slice(set{tenant: true})
	links := sl.Links[:0:0]
	who := set{}
	for _, l := range sl.Links {
		if e.sc.Has(l.LocationID) {
			links = append(links, l)
			// In the tenant's terms, as explain looks the linked principal up there (links of
			// managing tenants included).
			for x := range e.roles.who(tenant, lower(l.ObjectID)) {
				who[x] = true
			}
		}
	}
	sl.Links = links
	var as = sl.Assignments[:0:0]
	for _, a := range sl.Assignments {
		if who[lower(a.PrincipalID)] {
			as = append(as, a)
		}
	}
	sl.Assignments = as
	if e.slices == nil {
		e.slices = map[string]*facts.Snapshot{}
	}
	e.slices[tenant] = sl
	return sl
}

// reasonRank orders explain's reasons by how far the chain got: an audit of an organisation
// reports the reason of the location that got furthest.
var reasonRank = map[string]int{
	attribution.ReasonInactiveLocation:  1,
	attribution.ReasonNoLink:            2,
	attribution.ReasonLinkOutsidePeriod: 3,
	attribution.ReasonNoCoveringAssign:  4,
	attribution.ReasonRolesNotEligible:  5,
	attribution.ReasonAssignOutside:     6,
	attribution.ReasonNeverActivated:    7,
	attribution.ReasonNoOverlap:         8,
	attribution.ReasonCSPPrecedence:     9,
}

// gapReason explains why subscription sub of tenant earns the scope no PAL credit in the period:
// explain's furthest reason, its words, the location it concerns (when one) and the linked
// principal (when exactly one of the scope is linked in the tenant). Over the whole period
// explain may find access the usage never met (or CSP precedence for an organisation whose
// reseller location was inactive when the usage ran, so that neither PAL nor CSP credits
// it); then the subscription's costliest record is explained over its own charge period.
func (e *explainer) gapReason(tenant, sub string, top topRecord) (code, detail, location, principal string, err error) {
	sl := e.slice(tenant)
	q := attribution.ExplainQuery{Partner: e.sc.ID, Subscription: sub, Period: e.period}
	code, texts, locs, best, err := e.furthest(sl, q)
	if err != nil {
		return "", "", "", "", err
	}
	if code == "" || code == attribution.ReasonCSPPrecedence {
		q = attribution.ExplainQuery{Partner: e.sc.ID, Subscription: sub, Resource: top.resource, Period: top.window}
		if top.resource != "" {
			q.Subscription = ""
		}
		if code, texts, locs, best, err = e.furthest(sl, q); err != nil {
			return "", "", "", "", err
		}
		for i := range texts {
			texts[i] = "its costliest record, " + timeline.Format(top.window.From) + ": " + texts[i]
		}
	}
	switch code {
	case "":
		code = attribution.ReasonNoOverlap
		texts = []string{fmt.Sprintf("the partner's access to subscription %s covers part of the period, but none of the usage's charge periods; explain the records one by one (explain --record KEY)", sub)}
	case attribution.ReasonCSPPrecedence:
		texts = append(texts, "but no CSP credit either: its reseller location was inactive when the usage ran")
	}
	if len(locs) == 1 {
		location = locs[0]
	}
	if best >= reasonRank[attribution.ReasonLinkOutsidePeriod] {
		var ps []string
		for _, l := range sl.Links {
			if p := lower(l.ObjectID); (location == "" || l.LocationID == location) && !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
		if len(ps) == 1 {
			principal = ps[0]
		}
	}
	return code, strings.Join(texts, "; "), location, principal, nil
}

// furthest asks explain and keeps the reasons of the furthest code.
func (e *explainer) furthest(sl *facts.Snapshot, q attribution.ExplainQuery) (code string, texts, locs []string, best int, err error) {
	ex, err := e.explain(sl, q)
	if err != nil {
		return "", nil, nil, 0, err
	}
	for _, r := range ex.Reasons {
		rank := reasonRank[r.Code]
		if rank == 0 || rank < best {
			continue
		}
		if rank > best {
			best, code, texts, locs = rank, r.Code, nil, nil
		}
		if !slices.Contains(texts, r.Text) {
			texts = append(texts, r.Text)
		}
		if !slices.Contains(locs, r.Location) {
			locs = append(locs, r.Location)
		}
	}
	return code, texts, locs, best, nil
}

// routes lists the chains through which a linked identity earns PAL credit on a subscription
// (or, when it holds its roles below the subscription, on resource res).
func (e *explainer) routes(id *ident, tenant, sub, res string) ([]Route, error) {
	sl := e.slice(tenant)
	var out []Route
	for _, q := range []attribution.ExplainQuery{
		{Partner: id.location, Subscription: sub, Period: e.period},
		{Partner: id.location, Resource: res, Period: e.period},
	} {
		if q.Resource == "" && q.Subscription == "" {
			continue
		}
		ex, err := e.explain(sl, q)
		if err != nil {
			return nil, err
		}
		for _, f := range ex.Found {
			for _, chain := range f.Chains {
				if r, ok := e.route(sl, id, chain); ok && !slices.Contains(out, r) {
					out = append(out, r)
				}
			}
		}
		if len(out) > 0 {
			break
		}
	}
	return out, nil
}

func (e *explainer) route(sl *facts.Snapshot, id *ident, chain []attribution.Step) (Route, bool) {
	var r Route
	for _, st := range chain {
		switch st.Kind {
		case "principal":
			if lower(st.ID) != id.principal {
				return r, false
			}
		case "group":
			r.Group = st.ID
		case "assignment":
			r.Assignment = st.ID
		case "role":
			r.Role = st.ID
		}
	}
	a, d := assignmentByID(sl, r.Assignment)
	switch {
	case a != nil:
		r.PIM = a.Kind == access.Eligible
		r.Ends = ends(a.Valid)
	case d != nil:
		r.Ends = ends(d.Valid)
	}
	return r, true
}

// ends is the end of a window as RFC 3339, or "" when it is open.
func ends(w timeline.Window) string {
	if w.To == timeline.Max {
		return ""
	}
	return timeline.Format(w.To)
}
