package attribution

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// ExplainQuery asks why a partner is (or is not) recognised on a resource, subscription or
// usage record, at an instant (At) or over a period (Period).
type ExplainQuery struct {
	Partner      string // location or organisation ID
	Resource     string
	Subscription string
	RecordKey    string
	// Account (version 2) is another provider's account (Provider names the provider): its
	// RESALE associations are explained.
	Account, Provider string
	At                int64
	Period            timeline.Window // used when not empty; else [At, At+1s)
}

// Reason codes, in order of how far the chain got.
const (
	ReasonUnknownID           = "unknown_id"
	ReasonOrganisationID      = "organisation_id"
	ReasonNotConsumption      = "not_consumption"
	ReasonUnknownSubscription = "unknown_subscription"
	ReasonInactiveLocation    = "inactive_location"
	ReasonNoLink              = "no_link_in_tenant"
	ReasonLinkOutsidePeriod   = "link_outside_period"
	ReasonNoCoveringAssign    = "no_covering_assignment"
	ReasonRolesNotEligible    = "roles_not_eligible"
	ReasonNeverActivated      = "eligible_never_activated"
	ReasonAssignOutside       = "assignment_outside_period"
	ReasonNoOverlap           = "no_overlap"
	ReasonCSPPrecedence       = "csp_precedence"
)

// Reason is one explanation of a missing association.
type Reason struct {
	Location string `json:"location,omitempty"`
	Code     string `json:"code"`
	Text     string `json:"text"`
}

// Step is one link of a chain.
type Step struct {
	Kind   string `json:"kind"` // link, principal, group, assignment, delegation, role, scope, resource
	ID     string `json:"id"`
	Window string `json:"window,omitempty"`
	Note   string `json:"note,omitempty"` // e.g. which snapshot import ended an assignment
}

// Found is one association that was produced.
type Found struct {
	Location    string   `json:"location"`
	Org         string   `json:"org"`
	Association string   `json:"association"`
	Coverage    string   `json:"coverage"`
	AdminRole   string   `json:"admin_role,omitempty"`
	Chains      [][]Step `json:"chains,omitempty"`
}

// Explanation is the answer of Explain.
type Explanation struct {
	Partner      string   `json:"partner"`
	Locations    []string `json:"locations"`
	Tenant       string   `json:"tenant,omitempty"`
	Subscription string   `json:"subscription,omitempty"`
	Resource     string   `json:"resource,omitempty"`
	From         string   `json:"from"`
	To           string   `json:"to"`
	Found        []Found  `json:"found"`
	Reasons      []Reason `json:"reasons"`
}

// Explain loads the estate (and the record, when asked by key) and explains.
func Explain(ctx context.Context, db *store.DB, q ExplainQuery) (*Explanation, error) {
	var rec *usage.Record
	if q.RecordKey != "" {
		r, err := FindRecord(ctx, db, q)
		if errors.Is(err, store.ErrNotFound) {
			return nil, store.NewError(store.ErrNotFound, fmt.Sprintf("usage record %q is not stored; check the key (record_key column of the usage export)", q.RecordKey), err)
		}
		if err != nil {
			return nil, db.Translate(err)
		}
		rec = r
	}
	var recs []*usage.Record
	if rec == nil && isOtherProviderResource(q.Resource) {
		r, err := ResourceRecords(ctx, db, q)
		if err != nil {
			return nil, err
		}
		recs = r
	}
	s, err := loadFacts(ctx, db.DB, timeline.Always())
	if err != nil {
		return nil, err
	}
	if rec == nil && isOtherProviderResource(q.Resource) {
		return ExplainResourceSnapshot(s, q, recs)
	}
	return ExplainSnapshot(s, q, rec)
}

// FindRecord returns the usage record an explain query names by key (see recordSearch).
func FindRecord(ctx context.Context, db *store.DB, q ExplainQuery) (*usage.Record, error) {
	return usage.Find(ctx, db, q.RecordKey, recordSearch(q))
}

// recordSearch is where a record asked for by key is looked for: among the records whose
// charge starts in the query's period, when it has one, else among all.
func recordSearch(q ExplainQuery) timeline.Window {
	if !q.Period.Empty() {
		return q.Period
	}
	return timeline.Always()
}

// ExplainSnapshot is the pure explain: rec is the usage record when asked by key.
func ExplainSnapshot(s *facts.Snapshot, q ExplainQuery, rec *usage.Record) (*Explanation, error) {
	return NewExplainer(s).Explain(q, rec)
}

// Explainer answers explain queries on one snapshot, whose index it builds once: building it
// is most of an answer's work, and the coverage audit asks several questions of each
// tenant's facts. The snapshot must not change while the Explainer is used; it is not safe
// for concurrent use.
type Explainer struct {
	s  *facts.Snapshot
	ix *index
}

// NewExplainer indexes s for explain.
func NewExplainer(s *facts.Snapshot) *Explainer { return &Explainer{s: s, ix: build(s)} }

// Explain is ExplainSnapshot on the Explainer's snapshot.
func (x *Explainer) Explain(q ExplainQuery, rec *usage.Record) (*Explanation, error) {
	s, ix := x.s, x.ix
	w := q.Period
	if w.Empty() {
		w = timeline.Window{From: q.At, To: q.At + 1_000_000_000}
	}
	sub := lower(q.Subscription)
	res := q.Resource
	category := usage.CategoryUsage
	if rec == nil && q.Account != "" {
		return explainAccount(s, ix, q, w)
	}
	if rec != nil {
		w = timeline.Window{From: rec.Start, To: rec.End}
		sub, res, category = lower(rec.SubscriptionID), rec.ResourceID, rec.ChargeCategory
		if prov := rules.ProviderID(rec); !usage.IsMicrosoft(prov) {
			return explainOtherProvider(s, ix, q, rec, w)
		}
	}
	if sub == "" && res != "" {
		if k := key(res); strings.HasPrefix(k, "/subscriptions/") {
			sub = strings.SplitN(k[len("/subscriptions/"):], "/", 2)[0]
		}
	}
	if sub == "" {
		msg := "explain needs a subscription, a record key, an account with its provider, or a resource ID: " +
			"an Azure ID under /subscriptions/, an AWS ARN (arn:aws:...), a Google Cloud resource name (//compute.googleapis.com/...) or an OCI OCID (ocid1....)"
		if res != "" {
			msg += fmt.Sprintf("; resource %q is none of these", res)
		}
		return nil, store.NewError(store.ErrInvalid, msg, nil)
	}
	ex := &Explanation{Partner: q.Partner, Subscription: sub, Resource: res, From: timeline.Format(w.From), To: timeline.FormatBound(w.To)}
	// Who is asked about.
	if li := ix.locs[q.Partner]; li != nil {
		ex.Locations = []string{li.id}
	} else {
		for _, o := range s.Organisations {
			if o.ID == q.Partner {
				for _, l := range o.Locations {
					ex.Locations = append(ex.Locations, l.ID)
				}
			}
		}
		if len(ex.Locations) == 0 {
			ex.Reasons = append(ex.Reasons, Reason{Code: ReasonUnknownID, Text: fmt.Sprintf("%q is neither a known location (partner) ID nor an organisation ID", q.Partner)})
			return ex, nil
		}
		sort.Slice(ex.Locations, func(i, j int) bool { return lessLocation(ex.Locations[i], ex.Locations[j]) })
		ex.Reasons = append(ex.Reasons, Reason{Code: ReasonOrganisationID, Text: fmt.Sprintf("%s is an organisation ID; recognition is per location: %s (each is explained below)",
			q.Partner, strings.Join(ex.Locations, ", "))})
	}
	if category != usage.CategoryUsage {
		ex.Reasons = append(ex.Reasons, Reason{Code: ReasonNotConsumption, Text: fmt.Sprintf("the record's charge category is %q: only Usage is consumption; purchases, taxes, credits and refunds are never attributed", category)})
		return ex, nil
	}
	sv, ok := ix.subscriptionAt(sub, w)
	if !ok {
		ex.Reasons = append(ex.Reasons, Reason{Code: ReasonUnknownSubscription, Text: fmt.Sprintf("subscription %s is not in the estate, so its usage cannot be attributed (import the estate that holds it)", sub)})
		if rec != nil && (rec.Tags != "" || rec.Publisher != "") {
			explainVersion2(s, ix, ex, probeOf(rec)) // TAG and MARKETPLACE need no estate entry
		}
		return ex, nil
	}
	ex.Tenant = lower(sv.TenantID)
	probe := &usage.Record{Key: "explain", Start: w.From, End: w.To, SubscriptionID: sub, ResourceID: res, ChargeCategory: usage.CategoryUsage, Cost: money.Scale}
	if rec != nil {
		probe = probeOf(rec)
	}
	e := newEngine(ix, DefaultPrograms())
	var st Stats
	rows, _ := e.record(probe, &st)
	rk := resourceKey(res, sub)
	for _, loc := range ex.Locations {
		found := false
		for _, r := range rows {
			if r.LocationID != loc || r.Association == AssocTag || r.Association == AssocResale || r.Association == AssocMarketplace {
				continue // version 2's are explained by explainVersion2
			}
			found = true
			f := Found{Location: loc, Org: r.OrgID, Association: r.Association, Coverage: money.FixedString(r.Coverage), AdminRole: r.AdminRole}
			if r.Association == AssocPAL {
				f.Chains = palChains(s, ix, loc, ex.Tenant, sub, rk, w)
			}
			ex.Found = append(ex.Found, f)
		}
		if !found || !hasPAL(rows, loc) {
			ex.Reasons = append(ex.Reasons, whyNotPAL(s, ix, sv.CSPLocationID, string(sv.Offer), loc, ex.Tenant, sub, rk, w)...)
		}
	}
	if rec != nil && (rec.Tags != "" || rec.Publisher != "") {
		explainVersion2(s, ix, ex, probe)
	}
	return ex, nil
}

// probeOf is rec with cost 1 (explain reports coverage, not money).
func probeOf(rec *usage.Record) *usage.Record {
	p := *rec
	p.Cost = money.Scale
	return &p
}

// explainOtherProvider explains a record of a provider other than microsoft: PAL, CSP, DPOR
// and CUA do not apply; TAG, RESALE and MARKETPLACE do.
func explainOtherProvider(s *facts.Snapshot, ix *index, q ExplainQuery, rec *usage.Record, w timeline.Window) (*Explanation, error) {
	prov := rules.ProviderID(rec)
	ex := &Explanation{Partner: q.Partner, Subscription: rec.SubscriptionID, Resource: rec.ResourceID, From: timeline.Format(w.From), To: timeline.FormatBound(w.To)}
	if !explainLocations(s, ix, ex, q.Partner) {
		return ex, nil
	}
	if rec.ChargeCategory != usage.CategoryUsage {
		ex.Reasons = append(ex.Reasons, Reason{Code: ReasonNotConsumption, Text: fmt.Sprintf("the record's charge category is %q: only Usage is consumption; purchases, taxes, credits and refunds are never attributed", rec.ChargeCategory)})
		return ex, nil
	}
	ex.Reasons = append(ex.Reasons, Reason{Code: ReasonNotMicrosoft, Text: fmt.Sprintf("the record's provider is %s, not microsoft, so PAL, CSP, DPOR and CUA do not apply (TAG, RESALE and MARKETPLACE do)", prov)})
	explainVersion2(s, ix, ex, probeOf(rec))
	return ex, nil
}

// explainAccount explains the RESALE associations of another provider's account over a period.
func explainAccount(s *facts.Snapshot, ix *index, q ExplainQuery, w timeline.Window) (*Explanation, error) {
	prov := usage.NormalizeProvider(q.Provider)
	ex := &Explanation{Partner: q.Partner, Subscription: q.Account, From: timeline.Format(w.From), To: timeline.FormatBound(w.To)}
	if usage.IsMicrosoft(prov) {
		return nil, fmt.Errorf("explain --account names another provider's account: give its provider (aws, google, ...); Azure subscriptions are explained with --subscription")
	}
	if !explainLocations(s, ix, ex, q.Partner) {
		return ex, nil
	}
	probe := &usage.Record{Key: "explain", Start: w.From, End: w.To, Provider: prov, ProviderID: prov, ChargeCategory: usage.CategoryUsage, Cost: money.Scale}
	kind := account.KindSub
	for _, a := range s.Accounts {
		if a.Provider == prov && account.Key(a.ID) == account.Key(q.Account) {
			kind = a.Kind
		}
	}
	if kind == account.KindBilling {
		probe.BillingAccountID = q.Account
	} else {
		probe.SubscriptionID = q.Account
	}
	explainVersion2(s, ix, ex, probe)
	return ex, nil
}

// explainLocations fills ex.Locations for a partner ID (a location, or an organisation's
// locations with a reason saying so); false when the ID is unknown.
func explainLocations(s *facts.Snapshot, ix *index, ex *Explanation, partner string) bool {
	if li := ix.locs[partner]; li != nil {
		ex.Locations = []string{li.id}
		return true
	}
	for _, o := range s.Organisations {
		if o.ID == partner {
			for _, l := range o.Locations {
				ex.Locations = append(ex.Locations, l.ID)
			}
		}
	}
	if len(ex.Locations) == 0 {
		ex.Reasons = append(ex.Reasons, Reason{Code: ReasonUnknownID, Text: fmt.Sprintf("%q is neither a known location (partner) ID nor an organisation ID", partner)})
		return false
	}
	sort.Slice(ex.Locations, func(i, j int) bool { return lessLocation(ex.Locations[i], ex.Locations[j]) })
	ex.Reasons = append(ex.Reasons, Reason{Code: ReasonOrganisationID, Text: fmt.Sprintf("%s is an organisation ID; recognition is per location: %s (each is explained below)",
		partner, strings.Join(ex.Locations, ", "))})
	return true
}

func hasPAL(rows []Row, loc string) bool {
	for _, r := range rows {
		if r.LocationID == loc && r.Association == AssocPAL {
			return true
		}
	}
	return false
}

func win(w timeline.Window) string {
	return "[" + timeline.FormatBound(w.From) + ", " + timeline.FormatBound(w.To) + ")"
}

func setString(s timeline.Set) string {
	var parts []string
	for _, w := range s {
		parts = append(parts, win(w))
	}
	return strings.Join(parts, " ∪ ")
}

// closedNote says which snapshot import ended the version of assignment id that ended within
// (from, to], when one did.
func closedNote(s *facts.Snapshot, id string, from, to int64) string {
	for _, a := range s.Assignments {
		if a.ID == id && a.ClosedBy != nil && from < a.Valid.To && a.Valid.To <= to {
			return closedText(a)
		}
	}
	return ""
}

func closedText(a access.RoleAssignment) string {
	c := a.ClosedBy
	return fmt.Sprintf("closed at %s by snapshot import %s (%s, file %s), whose listing no longer showed it", timeline.Format(a.Valid.To), c.ImportID, c.Source, c.File)
}

func palChains(s *facts.Snapshot, ix *index, loc, tenant, sub, rk string, w timeline.Window) [][]Step {
	var out [][]Step
	ix.covering(tenant, sub, rk, func(g *grant, set timeline.Set) {
		if g.kind != grantPAL || g.loc != loc {
			return
		}
		set = set.Clip(w)
		if len(set) == 0 {
			return
		}
		chain := []Step{{Kind: "link", ID: loc}, {Kind: "principal", ID: g.principal}}
		if g.via != "" {
			chain = append(chain, Step{Kind: "group", ID: g.via})
		}
		chain = append(chain, Step{Kind: "assignment", ID: g.assignment, Window: setString(set), Note: closedNote(s, g.assignment, w.From, w.To)}, Step{Kind: "role", ID: g.role},
			Step{Kind: "scope", ID: g.scopeKey}, Step{Kind: "resource", ID: rk})
		out = append(out, chain)
	})
	return out
}

// whyNotPAL lists why loc has no PAL association, in order of how far the chain got.
func whyNotPAL(s *facts.Snapshot, ix *index, cspLoc, offer, loc, tenant, sub, rk string, w timeline.Window) []Reason {
	li := ix.locs[loc]
	r := func(code, format string, a ...any) []Reason {
		return []Reason{{Location: loc, Code: code, Text: fmt.Sprintf(format, a...)}}
	}
	if len(li.active.Clip(w)) == 0 {
		return r(ReasonInactiveLocation, "location %s was inactive throughout %s and earns nothing for that time", loc, win(w))
	}
	if offer == "csp" && cspLoc != "" && len(palChains(s, ix, loc, tenant, sub, rk, w)) > 0 {
		if c := ix.locs[cspLoc]; c != nil && c.org == li.org {
			return r(ReasonCSPPrecedence, "location %s's organisation is the CSP reseller of subscription %s, so it is recognised as CSP (full amount) instead of PAL", loc, sub)
		}
	}
	var spans, inPeriod []int
	for i, sp := range s.Links {
		if sp.LocationID != loc {
			continue
		}
		if lower(sp.TenantID) == tenant || managesTenant(s, lower(sp.TenantID), tenant) {
			spans = append(spans, i)
			if sp.Valid.Overlaps(w) {
				inPeriod = append(inPeriod, i)
			}
		}
	}
	if len(spans) == 0 {
		return r(ReasonNoLink, "no principal in tenant %s (or in a tenant managing it through Lighthouse) is linked to location %s", tenant, loc)
	}
	if len(inPeriod) == 0 {
		var out []Reason
		for _, i := range spans {
			sp := s.Links[i]
			if sp.Valid.From >= w.To {
				out = append(out, r(ReasonLinkOutsidePeriod, "the link of principal %s to %s started %s, after the period %s", sp.ObjectID, loc, timeline.Format(sp.Valid.From), win(w))...)
			} else {
				out = append(out, r(ReasonLinkOutsidePeriod, "the link of principal %s to %s ended %s, before the period %s", sp.ObjectID, loc, timeline.Format(sp.Valid.To), win(w))...)
			}
		}
		return out
	}
	// Assignments of the linked principals (directly or through any group, at any time) whose
	// scope covers the resource.
	edges := map[string]map[string][]memberEdge{}
	for _, m := range s.Memberships {
		t := lower(m.TenantID)
		if edges[t] == nil {
			edges[t] = map[string][]memberEdge{}
		}
		edges[t][lower(m.MemberID)] = append(edges[t][lower(m.MemberID)], memberEdge{group: lower(m.GroupID), set: timeline.Set{timeline.Always()}})
	}
	var covering []access.RoleAssignment
	for _, i := range inPeriod {
		x := lower(s.Links[i].ObjectID)
		who := map[string]bool{x: true}
		for g := range closure(edges[tenant], x) {
			who[g] = true
		}
		for _, a := range s.Assignments {
			if lower(a.TenantID) != tenant || !who[lower(a.PrincipalID)] {
				continue
			}
			if coversEver(ix, key(a.Scope), tenant, sub, rk) {
				covering = append(covering, a)
			}
		}
	}
	if len(covering) == 0 {
		return r(ReasonNoCoveringAssign, "the principal(s) linked to %s hold no role assignment whose scope covers %s", loc, rk)
	}
	defs := map[string]access.RoleDefinition{}
	for _, d := range s.RoleDefinitions {
		defs[roleKey(d.ID)] = d
	}
	var eligible []access.RoleAssignment
	var notEligible []string
	for _, a := range covering {
		d, ok := defs[roleKey(a.RoleDefinitionID)]
		if !ok {
			notEligible = append(notEligible, a.RoleDefinitionID+" (unknown role definition)")
			continue
		}
		if ok, rule := eligibleRole(d, s.EligibilityOverrides); ok {
			eligible = append(eligible, a)
		} else {
			notEligible = append(notEligible, d.RoleName+" ("+rule+")")
		}
	}
	if len(eligible) == 0 {
		sort.Strings(notEligible)
		return r(ReasonRolesNotEligible, "the linked principal's roles covering the resource are not eligible for recognition: %s", strings.Join(notEligible, "; "))
	}
	var out []Reason
	for _, a := range eligible {
		switch {
		case a.Valid.From >= w.To:
			out = append(out, r(ReasonAssignOutside, "assignment %s started %s, after the period %s", a.ID, timeline.Format(a.Valid.From), win(w))...)
		case a.Valid.To <= w.From && a.ClosedBy != nil:
			out = append(out, r(ReasonAssignOutside, "assignment %s ended before the period %s: %s", a.ID, win(w), closedText(a))...)
		case a.Valid.To <= w.From:
			out = append(out, r(ReasonAssignOutside, "assignment %s ended %s, before the period %s", a.ID, timeline.Format(a.Valid.To), win(w))...)
		case a.Kind == access.Eligible && len(timeline.Union(a.Activations...).Clip(w)) == 0:
			out = append(out, r(ReasonNeverActivated, "assignment %s is eligible-only (PIM) and was never activated in %s", a.ID, win(w))...)
		}
	}
	if len(out) == 0 {
		out = r(ReasonNoOverlap, "the link, group memberships, assignment and location activity of %s never overlap in time within %s", loc, win(w))
		for _, a := range eligible {
			if a.ClosedBy != nil && w.From < a.Valid.To && a.Valid.To <= w.To {
				out[0].Text += fmt.Sprintf("; assignment %s was %s", a.ID, closedText(a))
			}
		}
	}
	return out
}

func managesTenant(s *facts.Snapshot, managing, customer string) bool {
	for _, d := range s.Delegations {
		if lower(d.ManagingTenantID) == managing && lower(d.CustomerTenantID) == customer {
			return true
		}
	}
	return false
}

func coversEver(ix *index, sk, tenant, sub, rk string) bool {
	kind, id := classify(sk, tenant)
	switch kind {
	case scopeRoot:
		return true
	case scopeMG:
		_, ok := ix.subMG[sub][id]
		return ok
	case scopeSub:
		return prefixCovers(sk, rk)
	}
	return false
}

// Text renders the explanation for people.
func (ex *Explanation) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Partner %s", ex.Partner)
	if ex.Resource != "" {
		fmt.Fprintf(&b, " on %s", ex.Resource)
	} else if ex.Subscription != "" {
		fmt.Fprintf(&b, " on subscription %s", ex.Subscription)
	}
	fmt.Fprintf(&b, " over [%s, %s)\n", ex.From, ex.To)
	for _, f := range ex.Found {
		fmt.Fprintf(&b, "  %s: recognised as %s, coverage %s", f.Location, f.Association, f.Coverage)
		if f.AdminRole != "" {
			fmt.Fprintf(&b, ", admin role %s", f.AdminRole)
		}
		b.WriteString("\n")
		for _, c := range f.Chains {
			var parts []string
			for _, st := range c {
				p := st.Kind + " " + st.ID
				if st.Window != "" {
					p += " " + st.Window
				}
				if st.Note != "" {
					p += " (" + st.Note + ")"
				}
				parts = append(parts, p)
			}
			fmt.Fprintf(&b, "    %s\n", strings.Join(parts, " -> "))
		}
	}
	if len(ex.Found) == 0 && len(ex.Reasons) == 0 {
		b.WriteString("  no association\n")
	}
	for _, r := range ex.Reasons {
		if r.Location != "" {
			fmt.Fprintf(&b, "  %s: %s [%s]\n", r.Location, r.Text, r.Code)
		} else {
			fmt.Fprintf(&b, "  %s [%s]\n", r.Text, r.Code)
		}
	}
	return b.String()
}
