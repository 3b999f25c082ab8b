package audit

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

func (a *auditor) add(rep *Report, f *Finding, amount money.Nanos, hasAmount bool) {
	if hasAmount {
		f.amount, f.Amount = amount, amount.String()
	} else {
		f.Currency = ""
	}
	rep.Findings = append(rep.Findings, f)
}

func (a *auditor) explain() *explainer {
	if a.explainer == nil {
		a.explainer = a.newExplainer()
	}
	return a.explainer
}

func (a *auditor) newExplainer() *explainer {
	return &explainer{s: a.s, sc: a.sc, period: a.q.Period, roles: a.roles, index: a.index}
}

// explained is what explain says about the audit's findings: per subscription without PAL
// credit (gapKeys, sorted), its reason; per credit that rests on one identity (riskKeys,
// sorted), the routes its identities hold their roles by.
type explained struct {
	gapKeys  []subKey
	reasons  []gapExplained
	riskKeys []riskKey
	routes   [][]Route
}

type gapExplained struct{ code, detail, loc, principal string }

// explainFindings asks explain about the gaps and the risks. Tenants are independent, and an
// explainer's index is per tenant: each tenant's questions are asked on one of a few
// goroutines, with an explainer of its own (on one core they were a tenth of the audit's time
// at the bench scale).
func (a *auditor) explainFindings() (*explained, error) {
	x := &explained{}
	for _, k := range sortedSubs(a.subs) {
		if !a.subs[k].credited {
			x.gapKeys = append(x.gapKeys, k)
		}
	}
	for k := range a.risk {
		x.riskKeys = append(x.riskKeys, k)
	}
	slices.SortFunc(x.riskKeys, func(x, y riskKey) int {
		return cmp.Or(cmp.Compare(x.subKey.tenant, y.subKey.tenant), cmp.Compare(x.sub, y.sub), cmp.Compare(x.currency, y.currency),
			cmp.Compare(x.tenant, y.tenant), cmp.Compare(x.principal, y.principal))
	})
	x.reasons, x.routes = make([]gapExplained, len(x.gapKeys)), make([][]Route, len(x.riskKeys))
	type job struct{ gaps, risks []int } // indices into gapKeys and riskKeys
	var jobs []job
	byTenant := map[string]int{}
	of := func(t string) *job {
		i, ok := byTenant[t]
		if !ok {
			i = len(jobs)
			byTenant[t] = i
			jobs = append(jobs, job{})
		}
		return &jobs[i]
	}
	for i, k := range x.gapKeys {
		if !a.subs[k].csp { // credited in full as CSP: nothing to explain
			j := of(k.tenant)
			j.gaps = append(j.gaps, i)
		}
	}
	for i, k := range x.riskKeys {
		j := of(k.subKey.tenant)
		j.risks = append(j.risks, i)
	}
	work := make(chan *job)
	exs := make([]*explainer, min(runtime.GOMAXPROCS(0), len(jobs)))
	errs := make([]error, len(exs))
	var wg sync.WaitGroup
	for w := range exs {
		exs[w] = a.newExplainer()
		ex := exs[w]
		wg.Go(func() {
			for j := range work {
				for _, i := range j.gaps {
					k := x.gapKeys[i]
					if errs[w] == nil {
						r := &x.reasons[i]
						r.code, r.detail, r.loc, r.principal, errs[w] = ex.gapReason(k.tenant, k.sub, a.subs[k].top)
					}
				}
				for _, i := range j.risks {
					k := x.riskKeys[i]
					ra := a.risk[k]
					// In the identities' order, not the records': the same whatever order records come in.
					slices.SortFunc(ra.ids, func(x, y *ident) int {
						return cmp.Or(cmp.Compare(len(x.location), len(y.location)), cmp.Compare(x.location, y.location),
							cmp.Compare(x.tenant, y.tenant), cmp.Compare(x.principal, y.principal), cmp.Compare(x.kind, y.kind))
					})
					for _, id := range ra.ids {
						if errs[w] != nil {
							break
						}
						var rs []Route
						rs, errs[w] = ex.routes(id, k.subKey.tenant, k.sub, ra.resource)
						x.routes[i] = append(x.routes[i], rs...)
					}
				}
			}
		})
	}
	for i := range jobs {
		work <- &jobs[i]
	}
	close(work)
	wg.Wait()
	all := a.explain() // later questions (hygiene) keep the explainers' indexes
	for w, ex := range exs {
		if errs[w] != nil {
			return nil, errs[w]
		}
		all.adopt(ex)
	}
	return x, nil
}

// gaps adds, per subscription without PAL credit and currency, its consumption with explain's
// reason; a subscription the scope's organisation resold is marked csp_precedence (it is
// credited in full as CSP, which is fine).
func (a *auditor) gaps(rep *Report, x *explained) {
	for i, k := range x.gapKeys {
		acc := a.subs[k]
		r := x.reasons[i]
		fine := acc.csp
		if fine {
			r.code = attribution.ReasonCSPPrecedence // explain over the period says so too
			r.detail = fmt.Sprintf("organisation %s resold subscription %s (CSP), so it is credited in full as CSP instead of PAL: nothing is missing", a.sc.OrgID, k.sub)
		}
		for _, cur := range sortedKeys(acc.consumption) {
			a.add(rep, &Finding{Kind: KindGap, TenantID: k.tenant, SubscriptionID: k.sub, Reason: GapReason(r.code), ExplainReason: r.code, Currency: cur,
				PrincipalObjectID: r.principal, LocationID: r.loc, Detail: r.detail, fine: fine}, acc.consumption[cur], true)
		}
	}
}

// risks adds the credit that rests on one linked identity, per subscription, currency and
// identity, with the identity's link end and the routes (explain's chains) it holds its roles
// by.
func (a *auditor) risks(rep *Report, x *explained) {
	for i, k := range x.riskKeys {
		ra := a.risk[k]
		f := &Finding{Kind: KindRisk, TenantID: k.subKey.tenant, SubscriptionID: k.sub, Reason: ReasonSinglePrincipal, Currency: k.currency,
			PrincipalObjectID: k.principal, Routes: x.routes[i]}
		var locs []string
		open := false
		var last int64
		for _, id := range ra.ids { // sorted by explainFindings
			locs = append(locs, id.location)
			for _, w := range id.spans {
				if w.To > a.q.Period.From {
					open = open || w.To == timeline.Max
					last = max(last, w.To)
				}
			}
		}
		if len(locs) == 1 {
			f.LocationID = locs[0]
		}
		if !open && last > 0 {
			f.LinkEnds = timeline.Format(last)
		}
		f.Detail = riskDetail(k, locs, f)
		a.add(rep, f, ra.amount, true)
	}
}

func riskDetail(k riskKey, locs []string, f *Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "this PAL credit rests on principal %s alone", k.principal)
	if k.tenant != k.subKey.tenant {
		fmt.Fprintf(&b, " (of managing tenant %s, through Lighthouse)", k.tenant)
	}
	fmt.Fprintf(&b, ", linked to %s", strings.Join(locs, ", "))
	if f.LinkEnds != "" {
		fmt.Fprintf(&b, "; its link ends %s", f.LinkEnds)
	} else {
		b.WriteString("; its link has no end date")
	}
	for _, r := range f.Routes {
		fmt.Fprintf(&b, "; %s through assignment %s", r.Role, r.Assignment)
		if r.Group != "" {
			fmt.Fprintf(&b, " of group %s", r.Group)
		}
		if r.PIM {
			b.WriteString(" (PIM-eligible: credit only while activated)")
		}
		if r.Ends != "" {
			fmt.Fprintf(&b, ", ending %s", r.Ends)
		}
	}
	return b.String()
}

// hygiene adds the problems of the scope's links: identities that cannot earn anything,
// guests linked in one tenant but not in another where they hold eligible roles, and links
// to locations inactive in part of the period (with what that cost).
func (a *auditor) hygiene(rep *Report, ids []*ident) {
	checked := set{}
	for _, id := range ids {
		in := timeline.Union(id.spans...).Clip(a.q.Period)
		switch id.kind {
		case identLinked:
			k := id.tenant + "/" + id.principal
			if len(in) == 0 || checked[k] || a.roles.holdsEligible(id.tenant, id.principal, a.q.Period) {
				continue
			}
			checked[k] = true
			a.add(rep, &Finding{Kind: KindHygiene, TenantID: id.tenant, Reason: ReasonNoEligibleRole, PrincipalObjectID: id.principal, LocationID: id.location,
				Detail: fmt.Sprintf("principal %s is linked to %s but holds no role that counts for recognition in tenant %s (directly, through groups or through Lighthouse), so it earns nothing: give it an eligible role where it works, or remove the link", id.principal, id.location, id.tenant)}, 0, false)
		case identTwin:
			if len(in) == 0 {
				continue
			}
			detail := fmt.Sprintf("principal %s is linked to location %s, which was inactive in part of the period: the link earns nothing while it is; link to an active location of organisation %s", id.principal, id.location, a.sc.OrgID)
			a.perCurrency(rep, id, func(cur string) money.Nanos { return a.idents[identCur{id, cur}] - a.idents[identCur{id.base, cur}] },
				Finding{Kind: KindHygiene, TenantID: id.tenant, Reason: ReasonInactiveLocation, PrincipalObjectID: id.principal, LocationID: id.location, Detail: detail})
		case identGuest:
			detail := fmt.Sprintf("guest %s is linked to %s in other tenants but not in tenant %s, where it holds eligible roles; the amount is what it would be credited with if linked there (whatif --add-link %s/%s=%s shows the net change)",
				id.principal, id.location, id.tenant, id.tenant, id.principal, id.location)
			a.perCurrency(rep, id, func(cur string) money.Nanos { return a.idents[identCur{id, cur}] },
				Finding{Kind: KindHygiene, TenantID: id.tenant, Reason: ReasonUnlinkedGuest, PrincipalObjectID: id.principal, LocationID: id.location, Detail: detail})
		}
	}
}

// refused adds, per principal whose attempts to link the scope's organisation ID were refused
// in the period, a hygiene finding naming the organisation's locations (the fix), unless the
// principal linked one of the scope's locations after its last refused attempt.
func (a *auditor) refused(rep *Report) {
	type who struct{ tenant, principal string }
	last := map[who]int64{}
	count := map[who]int{}
	var order []who
	for _, r := range a.q.Refusals {
		k := who{lower(r.TenantID), lower(r.ObjectID)}
		if r.PartnerID != a.sc.OrgID || (a.q.Tenants != nil && !a.q.Tenants[k.tenant]) {
			continue
		}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
		last[k] = max(last[k], r.At)
	}
	var locs []string
	for _, o := range a.s.Organisations {
		if o.ID == a.sc.OrgID {
			for _, l := range o.Locations {
				locs = append(locs, l.ID+" ("+l.Name+")")
			}
		}
	}
	for _, k := range order {
		fixed := false
		for _, l := range a.s.Links {
			if lower(l.TenantID) == k.tenant && lower(l.ObjectID) == k.principal && a.sc.Has(l.LocationID) && l.Valid.To > last[k] {
				fixed = true
			}
		}
		if fixed {
			continue
		}
		a.add(rep, &Finding{Kind: KindHygiene, TenantID: k.tenant, Reason: ReasonOrganisationID, PrincipalObjectID: k.principal,
			Detail: fmt.Sprintf("principal %s tried to link organisation ID %s (%d attempt(s), the last at %s), which the link API refuses, and has not linked one of its locations since: link one of %s",
				k.principal, a.sc.OrgID, count[k], timeline.Format(last[k]), strings.Join(locs, ", "))}, 0, false)
	}
}

// perCurrency adds f once per currency in which the identity had credit (amount(cur)), or
// once without an amount when it had none.
func (a *auditor) perCurrency(rep *Report, id *ident, amount func(cur string) money.Nanos, f Finding) {
	var curs []string
	for k := range a.idents {
		if k.id == id && !slices.Contains(curs, k.currency) {
			curs = append(curs, k.currency)
		}
	}
	slices.Sort(curs)
	for _, cur := range curs {
		g := f
		g.Currency = cur
		a.add(rep, &g, amount(cur), true)
	}
	if len(curs) == 0 {
		g := f
		a.add(rep, &g, 0, false)
	}
}

// totals adds the sums of the report (see Total) and sorts the findings by money at stake:
// gaps, risks, hygiene, each by amount (largest first; currencies are never converted, amounts
// compare as numbers), CSP-precedence entries after the real gaps.
func (a *auditor) totals(rep *Report) {
	type key struct{ total, cur string }
	sums := map[key]money.Nanos{}
	var order []key
	addSum := func(total, cur string, n money.Nanos) {
		k := key{total, cur}
		if _, ok := sums[k]; !ok {
			order = append(order, k)
		}
		sums[k] += n
	}
	for _, k := range sortedSubs(a.subs) {
		acc := a.subs[k]
		for _, cur := range sortedKeys(acc.consumption) {
			n := acc.consumption[cur]
			addSum("consumption", cur, n)
			switch {
			case acc.credited:
				addSum("pal_credited", cur, n)
			case acc.csp:
				addSum("csp_precedence", cur, n)
			default:
				addSum("gap", cur, n)
			}
		}
	}
	for _, f := range rep.Findings {
		if f.Kind != KindGap && f.Amount != "" {
			addSum(f.Kind, f.Currency, f.amount)
		}
	}
	rank := map[string]int{"consumption": 0, "pal_credited": 1, "csp_precedence": 2, "gap": 3, "risk": 4, "hygiene": 5}
	slices.SortFunc(order, func(x, y key) int {
		return cmp.Or(cmp.Compare(rank[x.total], rank[y.total]), cmp.Compare(x.cur, y.cur))
	})
	for _, k := range order {
		rep.Totals = append(rep.Totals, Total{Total: k.total, Currency: k.cur, Amount: sums[k].String()})
	}
	kind := map[string]int{KindGap: 0, KindRisk: 1, KindHygiene: 2}
	slices.SortStableFunc(rep.Findings, func(x, y *Finding) int {
		return cmp.Or(cmp.Compare(kind[x.Kind], kind[y.Kind]),
			cmp.Compare(boolInt(x.fine), boolInt(y.fine)),
			cmp.Compare(y.amount, x.amount), cmp.Compare(x.Currency, y.Currency), cmp.Compare(x.TenantID, y.TenantID),
			cmp.Compare(x.SubscriptionID, y.SubscriptionID), cmp.Compare(x.PrincipalObjectID, y.PrincipalObjectID), cmp.Compare(x.Reason, y.Reason))
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortedSubs(m map[subKey]*subAcc) []subKey {
	keys := make([]subKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y subKey) int { return cmp.Or(cmp.Compare(x.tenant, y.tenant), cmp.Compare(x.sub, y.sub)) })
	return keys
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
