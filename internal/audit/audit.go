// Package audit answers a partner's coverage questions from the facts and the usage, through
// the attribution engine and explain (never a second set of rules):
//
//   - Compute (and Run, which loads from the database) audits an organisation or a location
//     over a period: per customer tenant where it is present, the consumption it earns no
//     PAL credit on and why (explain's reasons), the credit that rests on a single identity,
//     and hygiene problems of its links.
//   - Customer (and CustomerRun) shows a customer tenant, per attached partner, what it is
//     credited for and through which identities, and what each identity alone carries.
//   - Slice cuts the facts down to what some tenants' usage needs (the what-if uses it too).
package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Finding kinds.
const (
	KindGap     = "gap"
	KindRisk    = "risk"
	KindHygiene = "hygiene"
)

// Reason codes: the stable codes of the audit's findings (the CSV's reason column, the JSON's
// and the dashboard's). A gap's code sums up explain's reason (kept in Finding.ExplainReason,
// so that `explain` reproduces it); GapReason gives the mapping.
const (
	ReasonNoLinkedPrincipal = "no_linked_principal" // nobody in the tenant (or a tenant managing it) is linked to the partner in the period
	ReasonNoAssignment      = "no_assignment"       // linked, but no role assignment covers the subscription in the period
	ReasonNotEligible       = "not_eligible"        // the roles there do not count for recognition (Reader-type)
	ReasonNeverActivated    = "never_activated"     // the covering assignment is PIM-eligible and was never activated
	ReasonInactiveLocation  = "inactive_location"   // the location was inactive (gap: the whole period; hygiene: part of it)
	ReasonNoOverlap         = "no_overlap"          // link, access and usage never meet in time
	ReasonCSPPrecedence     = "csp_precedence"      // resold by the partner: credited in full as CSP instead (fine)
	ReasonSinglePrincipal   = "single_principal"    // the credit rests on one linked identity
	ReasonUnlinkedGuest     = "unlinked_guest"      // a guest linked in one tenant, not in another where it holds eligible roles
	ReasonNoEligibleRole    = "no_eligible_role"    // a linked identity holds no role that counts for recognition
	ReasonOrganisationID    = "organisation_id"     // a link attempt was refused: it named the organisation, not a location
)

// gapReasons maps explain's reason codes to the audit's.
var gapReasons = map[string]string{
	attribution.ReasonNoLink:            ReasonNoLinkedPrincipal,
	attribution.ReasonLinkOutsidePeriod: ReasonNoLinkedPrincipal,
	attribution.ReasonNoCoveringAssign:  ReasonNoAssignment,
	attribution.ReasonAssignOutside:     ReasonNoAssignment,
	attribution.ReasonRolesNotEligible:  ReasonNotEligible,
	attribution.ReasonNeverActivated:    ReasonNeverActivated,
	attribution.ReasonInactiveLocation:  ReasonInactiveLocation,
	attribution.ReasonNoOverlap:         ReasonNoOverlap,
	attribution.ReasonCSPPrecedence:     ReasonCSPPrecedence,
}

// GapReason is the audit's code for a gap explain gives the reason code for.
func GapReason(explainCode string) string {
	if c, ok := gapReasons[explainCode]; ok {
		return c
	}
	return explainCode
}

// Query asks for an audit.
type Query struct {
	Partner string          // location or organisation ID
	Period  timeline.Window // usage whose charge starts in it
	// Tenants, when set, limits the audit to these customer tenants (lower case): what-if
	// compares the tenants its changes touch.
	Tenants map[string]bool
	// Refusals are the link attempts refused for naming the scope's organisation ID (Run reads
	// them with link.Refusals); each principal's is a hygiene finding.
	Refusals []link.Refusal
}

// Report is an audit's answer. Amounts are exact decimal strings per currency.
type Report struct {
	Scope
	From     string     `json:"from"`
	To       string     `json:"to"`
	Tenants  []Tenant   `json:"tenants"`
	Findings []*Finding `json:"findings"`
	Totals   []Total    `json:"totals"`
}

// Tenant is a customer tenant where the partner is present.
type Tenant struct {
	ID       string   `json:"tenant_id"`
	Name     string   `json:"name"`
	Presence []string `json:"presence"` // PAL, LIGHTHOUSE, CSP, DPOR, CUA
}

// Finding is one entry of the audit.
type Finding struct {
	Kind              string `json:"kind"`
	TenantID          string `json:"tenant_id"`
	SubscriptionID    string `json:"subscription_id"`
	Reason            string `json:"reason"`                   // the stable code (Reason*)
	ExplainReason     string `json:"explain_reason,omitempty"` // gaps: explain's own code, which explain --partner --subscription reproduces
	Currency          string `json:"currency"`
	Amount            string `json:"amount"` // exact; empty when the finding has no amount
	PrincipalObjectID string `json:"principal_object_id"`
	LocationID        string `json:"location_id,omitempty"`
	Detail            string `json:"detail"`
	// Risk only: when the identity's link ends (empty: open), and how it holds its roles.
	LinkEnds string  `json:"link_ends,omitempty"`
	Routes   []Route `json:"routes,omitempty"`

	amount money.Nanos
	fine   bool // a CSP-precedence entry: credited in full as CSP, not money at stake
}

// Route is one way a linked identity holds the roles that give its credit (a chain of explain).
type Route struct {
	Group      string `json:"group,omitempty"` // the group it holds them through
	Assignment string `json:"assignment"`      // role assignment, or Lighthouse delegation, ID
	Role       string `json:"role"`
	PIM        bool   `json:"pim,omitempty"`  // an eligible (PIM) assignment: credit only while activated
	Ends       string `json:"ends,omitempty"` // when the assignment (or delegation) ends; empty: open
}

// Total names one sum per currency:
//
//   - consumption: every consumption record of the subscriptions of the tenants;
//   - pal_credited: of the subscriptions that earned the partner any PAL credit;
//   - csp_precedence: of the subscriptions the partner resold (credited as CSP instead);
//   - gap: of the others (consumption = pal_credited + csp_precedence + gap);
//   - risk, hygiene: the amounts of those findings.
type Total struct {
	Total    string `json:"total"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

// Run loads the facts and the stored usage of the period and audits.
func Run(ctx context.Context, db *store.DB, q Query) (*Report, error) {
	if q.Period.Empty() {
		return nil, fmt.Errorf("period %s is empty: from must be before to", q.Period)
	}
	s, err := LoadFacts(ctx, db, q.Period)
	if err != nil {
		return nil, err
	}
	sc, err := ResolveScope(s, q.Partner)
	if err != nil {
		return nil, err
	}
	if q.Refusals, err = link.Refusals(ctx, db.DB, sc.OrgID, q.Period); err != nil {
		return nil, db.Translate(err)
	}
	return compute(ctx, s, q, func(subs map[string]bool, cols []int) attribution.Usage {
		return func(yield func(*usage.Batch) error) error {
			return usage.StreamLeanColumns(ctx, db.DB, q.Period, subs, cols, yield)
		}
	})
}

// LoadFacts reads the facts a period's attribution reads (as the engine does: every version
// from the period's first UTC midnight on, since records may end after the period and PEC
// looks at whole days).
func LoadFacts(ctx context.Context, db *store.DB, period timeline.Window) (*facts.Snapshot, error) {
	w := timeline.Window{From: period.From, To: timeline.Max}
	if w.From != timeline.Min {
		w.From = floorDay(w.From)
	}
	s, err := facts.Load(ctx, db.DB, w)
	if err != nil {
		return nil, db.Translate(err)
	}
	return s, nil
}

// StoredUsage is the stored usage of a period, for the engine.
func StoredUsage(db *store.DB, period timeline.Window) attribution.Usage {
	return func(yield func(*usage.Batch) error) error {
		return usage.StreamLean(context.Background(), db.DB, period, yield)
	}
}

// storedUsageOf is the stored usage of a period of the subscriptions subs (lower case): of the
// month's segments, only those subscriptions' rows are read (usage.StreamLeanSubscriptions).
func storedUsageOf(db *store.DB, period timeline.Window, subs map[string]bool) attribution.Usage {
	return func(yield func(*usage.Batch) error) error {
		return usage.StreamLeanSubscriptions(context.Background(), db.DB, period, subs, yield)
	}
}

// subscriptionsOf is the set of the subscriptions (lower case) s places in its tenants: the
// only ones whose records the audit counts (a record of another is skipped as unknown).
func subscriptionsOf(s *facts.Snapshot) map[string]bool {
	out := map[string]bool{}
	for _, x := range s.Subscriptions {
		out[lower(x.ID)] = true
	}
	return out
}

const day = 24 * 3600 * 1_000_000_000

func floorDay(t int64) int64 {
	d := t - t%day
	if t%day < 0 {
		d -= day
	}
	return d
}

// subKey is a subscription as audited: in its tenant.
type subKey struct{ tenant, sub string }

// subAcc is what the run saw of one subscription.
type subAcc struct {
	consumption map[string]money.Nanos // per currency
	credited    bool                   // some record earned the scope PAL credit
	csp         bool                   // the scope's organisation was credited as CSP
	top         topRecord              // its costliest record (what explain is asked about when the period is too coarse)
}

// topRecord is a record's charge period and resource, and its cost.
type topRecord struct {
	window   timeline.Window
	resource string
	cost     money.Nanos
}

// riskKey is credit of one subscription, currency and identity.
type riskKey struct {
	subKey
	currency  string
	tenant    string // of the identity's link
	principal string
}

type riskAcc struct {
	amount   money.Nanos
	top      money.Nanos // the costliest credited record's cost, and its resource
	resource string
	set      bool
	ids      []*ident
}

// identCur is an identity's credit in one currency.
type identCur struct {
	id       *ident
	currency string
}

// Compute audits the snapshot s (loaded as LoadFacts does) against usage src.
func Compute(ctx context.Context, s *facts.Snapshot, q Query, src attribution.Usage) (*Report, error) {
	return compute(ctx, s, q, func(map[string]bool, []int) attribution.Usage { return src })
}

// usageSource gives the usage of the subscriptions subs (lower case), of the string columns cols
// (nil: all): it may give more records than those (they are skipped) and more columns,
// never fewer.
type usageSource func(subs map[string]bool, cols []int) attribution.Usage

// compute is Compute with the usage of the subscriptions the audit reads given by srcOf.
func compute(ctx context.Context, s *facts.Snapshot, q Query, srcOf usageSource) (*Report, error) {
	sc, err := ResolveScope(s, q.Partner)
	if err != nil {
		return nil, err
	}
	rep := &Report{Scope: *sc, From: timeline.Format(q.Period.From), To: timeline.FormatBound(q.Period.To), Tenants: []Tenant{}, Findings: []*Finding{}, Totals: []Total{}}
	pres := presence(s, sc, q.Period)
	tenants := set{}
	for t, kinds := range pres {
		if q.Tenants == nil || q.Tenants[t] {
			tenants[t] = true
			rep.Tenants = append(rep.Tenants, Tenant{ID: t, Presence: kinds})
		}
	}
	names := map[string]string{}
	for _, t := range s.Tenants {
		names[lower(t.ID)] = t.Name
	}
	for i := range rep.Tenants {
		rep.Tenants[i].Name = names[rep.Tenants[i].ID]
	}
	slices.SortFunc(rep.Tenants, func(a, b Tenant) int { return cmp.Compare(a.ID, b.ID) })

	a := &auditor{s: s, sc: sc, q: q, tenants: tenants, subs: map[subKey]*subAcc{}, risk: map[riskKey]*riskAcc{}, idents: map[identCur]money.Nanos{},
		currencies: map[string]string{}}
	// The tenant index (for the run's slice and the explanations) does not depend on the
	// identities: it is built on the other core meanwhile.
	index := make(chan *tenantIndex, 1)
	go func() { index <- newTenantIndex(s) }()
	ids := a.identities()
	a.index = <-index
	run := a.runFacts()
	if err := a.attribute(ctx, run, ids, subscriptionsOf(run), srcOf); err != nil {
		return nil, err
	}
	x, err := a.explainFindings()
	if err != nil {
		return nil, err
	}
	a.gaps(rep, x)
	a.risks(rep, x)
	a.hygiene(rep, ids)
	a.refused(rep)
	a.totals(rep)
	return rep, nil
}

type auditor struct {
	s          *facts.Snapshot
	sc         *Scope
	q          Query
	tenants    set // where the scope is present (and asked about)
	runTenants set // those and the tenants where an unlinked guest of the scope holds roles
	subs       map[subKey]*subAcc
	risk       map[riskKey]*riskAcc
	idents     map[identCur]money.Nanos // credit per followed identity
	currencies map[string]string
	roles      *roleBook
	index      *tenantIndex // of s, for the run's and the explanations' slices
	explainer  *explainer
}

// identities lists what the run follows: every link span of the scope's locations (in the
// tenants and in the tenants managing them through Lighthouse), an always-active twin of each
// link whose location was inactive in part of the period, and every guest identity of a
// linked guest in the tenants where it is not linked.
func (a *auditor) identities() []*ident {
	reach := set{}
	for t := range a.tenants {
		reach[t] = true
	}
	for _, d := range a.s.Delegations {
		if a.tenants[lower(d.CustomerTenantID)] {
			reach[lower(d.ManagingTenantID)] = true
		}
	}
	type key struct{ tenant, principal, location string }
	byKey := map[key]*ident{}
	var ids []*ident
	linkedIn := set{} // tenant/principal with any link overlapping the period
	for _, l := range a.s.Links {
		t, p := lower(l.TenantID), lower(l.ObjectID)
		if l.Valid.Overlaps(a.q.Period) {
			linkedIn[t+"/"+p] = true
		}
		if !a.sc.Has(l.LocationID) || !reach[t] {
			continue
		}
		k := key{t, p, l.LocationID}
		id := byKey[k]
		if id == nil {
			id = &ident{kind: identLinked, tenant: t, principal: p, location: l.LocationID}
			byKey[k] = id
			ids = append(ids, id)
		}
		id.spans = append(id.spans, l.Valid)
	}
	active := map[string]timeline.Set{}
	for _, o := range a.s.Organisations {
		for _, l := range o.Locations {
			active[l.ID] = timeline.Union(l.Active...)
		}
	}
	a.runTenants = set{}
	for t := range a.tenants {
		a.runTenants[t] = true
	}
	a.roles = newRoleBook(a.s)
	guests := guestIndex(a.s)
	seen := set{}
	for _, id := range slices.Clone(ids) {
		in := timeline.Union(id.spans...).Clip(a.q.Period)
		if in.Length() > in.Intersect(active[id.location]).Length() {
			ids = append(ids, &ident{kind: identTwin, tenant: id.tenant, principal: id.principal, location: id.location, spans: id.spans, base: id})
		}
		g, ok := guests.identity[id.tenant+"/"+id.principal]
		if !ok || len(in) == 0 {
			continue
		}
		for _, other := range guests.tenants[g] {
			k := other + "/" + id.principal
			if other == id.tenant || linkedIn[k] || seen[k] || !a.roles.holdsEligible(other, id.principal, a.q.Period) {
				continue
			}
			seen[k] = true
			ids = append(ids, &ident{kind: identGuest, tenant: other, principal: id.principal, location: id.location,
				spans: []timeline.Window{timeline.Always()}, base: id})
			a.runTenants[other] = true
		}
	}
	return ids
}

// guestMap maps tenant/object of every guest principal to its identity (home tenant and object
// ID, which a guest keeps across the tenants it is invited to), and each identity to the
// tenants where it is a guest (sorted).
type guestMap struct {
	identity map[string]string
	tenants  map[string][]string
}

func guestIndex(s *facts.Snapshot) guestMap {
	g := guestMap{identity: map[string]string{}, tenants: map[string][]string{}}
	for _, p := range s.Principals {
		t, home := lower(p.TenantID), lower(p.HomeTenantID)
		if home == "" || home == t || (p.Type != estate.User && p.Type != estate.ServicePrincipal) {
			continue
		}
		g.identity[t+"/"+lower(p.ObjectID)] = home + "/" + lower(p.ObjectID)
	}
	for k, id := range g.identity {
		t, _, _ := strings.Cut(k, "/")
		g.tenants[id] = append(g.tenants[id], t)
	}
	for _, ts := range g.tenants {
		sort.Strings(ts)
	}
	return g
}

// runFacts is the slice of the facts the run reads (from a.index): the run's tenants, without
// the links of other partners (the followed identities stand for the scope's own), DPOR and
// CUA (the audit is about PAL), and with only the scope's organisation as CSP reseller, so
// that the only real rows are the CSP rows that take precedence over the scope's PAL.
func (a *auditor) runFacts() *facts.Snapshot {
	run := a.index.slice(a.runTenants)
	run.Links, run.DPOR, run.TrackingIDs, run.Deployments = nil, nil, nil, nil
	orgOf := map[string]string{}
	for _, o := range a.s.Organisations {
		for _, l := range o.Locations {
			orgOf[l.ID] = o.ID
		}
	}
	subs := slices.Clone(run.Subscriptions)
	for i := range subs {
		if orgOf[subs[i].CSPLocationID] != a.sc.OrgID {
			subs[i].CSPLocationID = ""
		}
	}
	run.Subscriptions = subs
	return run
}

func (a *auditor) visit(r *record) {
	cur, ok := a.currencies[r.currency]
	if !ok {
		cur = strings.Clone(r.currency) // not the batch's dictionary, which it would keep alive
		a.currencies[cur] = cur
	}
	r.currency = cur
	for _, h := range r.hits {
		a.idents[identCur{h.id, r.currency}] += h.amount
	}
	if !a.tenants[r.tenant] {
		return // a guest's tenant: only its identity's credit counts
	}
	k := subKey{r.tenant, r.sub}
	acc := a.subs[k]
	if acc == nil {
		acc = &subAcc{consumption: map[string]money.Nanos{}}
		a.subs[k] = acc
	}
	acc.consumption[r.currency] += r.cost
	// The costliest record (of a class added up, its costliest part; see fast.go), ties going
	// to the earliest, then the first resource: the same whatever order records come in.
	topCost, topRes := r.cost, r.resource
	if r.class != nil {
		topCost, topRes = r.class.topCost, r.class.topRes
	}
	if t := acc.top; t.window.Empty() || topCost > t.cost || (topCost == t.cost && (r.window.From < t.window.From || (r.window.From == t.window.From && topRes < t.resource))) {
		acc.top = topRecord{r.window, strings.Clone(topRes), topCost}
	}
	for _, row := range r.rows {
		if row.assoc == attribution.AssocCSP {
			acc.csp = true
		}
	}
	var one *ident // the one principal of the linked identities that credit the record
	n := 0
	for _, h := range r.hits {
		if h.id.kind != identLinked {
			continue
		}
		acc.credited = true
		if one == nil || one.tenant != h.id.tenant || one.principal != h.id.principal {
			one = h.id
			n++
		}
	}
	if n != 1 {
		return
	}
	rk := riskKey{k, r.currency, one.tenant, one.principal}
	ra := a.risk[rk]
	if ra == nil {
		ra = &riskAcc{}
		a.risk[rk] = ra
	}
	var sum money.Nanos
	for _, h := range r.hits {
		if h.id.kind == identLinked {
			sum += h.amount
			if !slices.Contains(ra.ids, h.id) {
				ra.ids = append(ra.ids, h.id)
			}
		}
	}
	ra.amount += sum
	// The costliest record it credits (of a class, its costliest part: a class's records are
	// covered alike), ties going to the first resource.
	if !ra.set || topCost > ra.top || (topCost == ra.top && topRes < ra.resource) {
		ra.top, ra.resource, ra.set = topCost, strings.Clone(topRes), true
	}
}
