package rules

import (
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// SubscriptionVersion is the index of the subscription version a record's period w reads: the
// one valid at its start, else the first overlapping it, else the latest. vs is not empty and
// sorted by start.
func SubscriptionVersion(vs []estate.Subscription, w timeline.Window) int {
	for i := range vs {
		if vs[i].Valid.Contains(w.From) {
			return i
		}
	}
	for i := range vs {
		if vs[i].Valid.Overlaps(w) {
			return i
		}
	}
	return len(vs) - 1
}

// TagWarning is a data-quality warning of one record: a tag that matched a rule but names no
// partner location (attribution.md association 5).
type TagWarning struct {
	Tag, Value string // the tag's key and value as the record writes them
	Reason     string
}

// Tag warning reasons (the start of TagWarning.Reason).
const (
	ReasonNoIdentifier = "matches no registered identifier"
	ReasonOrganisation = "names an organisation, not a location"
	ReasonNoLocation   = "names no location of the directory"
)

// Warnings returns the data-quality warnings of a record (tags naming no location), in key
// order. Only consumption with a non-empty period is attributed, so only it warns.
func (x *Reference) Warnings(r *usage.Record) []TagWarning {
	if r.ChargeCategory != usage.CategoryUsage || r.End <= r.Start {
		return nil
	}
	_, w := (&ref{s: x.Snapshot, progs: x.progsOrDefault()}).version2(r)
	return w
}

func (x *Reference) progsOrDefault() *Programs {
	if x.Programs == nil {
		return DefaultPrograms()
	}
	return x.Programs
}

// identifierAt is the location (scheme, value) names at t, or "".
func (x *ref) identifierAt(scheme, value string, t int64) string {
	k := directory.IdentifierKey(value)
	for _, id := range x.s.Identifiers {
		if strings.EqualFold(id.Scheme, scheme) && directory.IdentifierKey(id.Value) == k && id.Window.Contains(t) {
			return id.LocationID
		}
	}
	return ""
}

// orgLocations lists an organisation's locations ("" when id is not an organisation).
func (x *ref) orgLocations(id string) []string {
	for _, o := range x.s.Organisations {
		if o.ID == id {
			var out []string
			for _, l := range o.Locations {
				out = append(out, l.ID)
			}
			return out
		}
	}
	return nil
}

// version2 evaluates TAG, RESALE and MARKETPLACE for a consumption record of any provider.
func (x *ref) version2(r *usage.Record) ([]Row, []TagWarning) {
	prov := ProviderID(r)
	a, b := r.Start, r.End
	assoc := map[[2]string]timeline.Set{} // (association, location) -> association time
	add := func(as, loc string, w timeline.Window) {
		k := [2]string{as, loc}
		assoc[k] = append(assoc[k], w)
	}
	var warns []TagWarning
	// 5. TAG.
	if v := TagRulesAt(x.progs.TagRules, a); v != nil {
		for _, t := range MatchTags(r.Tags, v.Rules) {
			loc, why := x.tagLocation(t, a)
			if loc == "" {
				warns = append(warns, TagWarning{Tag: t.Key, Value: t.Raw, Reason: why})
				continue
			}
			add(AssocTag, loc, timeline.Always())
		}
	}
	// 6. RESALE: accounts of other providers, by sub-account and billing account.
	if !usage.IsMicrosoft(prov) {
		for _, acc := range x.s.Accounts {
			if acc.Provider != prov {
				continue
			}
			if !(acc.Kind == account.KindSub && account.Key(acc.ID) == account.Key(r.SubscriptionID) ||
				acc.Kind == account.KindBilling && account.Key(acc.ID) == account.Key(r.BillingAccountID) && r.BillingAccountID != "") {
				continue
			}
			for _, rs := range acc.Resale {
				add(AssocResale, rs.LocationID, rs.Window)
			}
		}
	}
	// 7. MARKETPLACE.
	if seller := Seller(r.Provider, prov, r.Publisher, r.HostProvider); seller != "" {
		if loc := x.identifierAt(directory.SchemePublisher, seller, a); loc != "" {
			add(AssocMarketplace, loc, timeline.Always())
		}
	}
	tenant, sub := x.recordPlace(r, prov)
	length := b - a
	var rows []Row
	for k, set := range assoc {
		org, active, ok := x.location(k[1])
		if !ok {
			continue
		}
		covered := int64(0)
		// Measured at every elementary interval: association time ∩ active time.
		pts := map[int64]bool{a: true, b: true}
		for _, w := range append(append([]timeline.Window{}, set...), active...) {
			for _, t := range []int64{w.From, w.To} {
				if t > a && t < b {
					pts[t] = true
				}
			}
		}
		var ts []int64
		for t := range pts {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		for i := 0; i+1 < len(ts); i++ {
			if anyContains(set, ts[i]) && anyContains(active, ts[i]) {
				covered += ts[i+1] - ts[i]
			}
		}
		if covered == 0 {
			continue
		}
		rows = append(rows, Row{RecordKey: r.Key, LocationID: k[1], Association: k[0], OrgID: org, Start: a, End: b,
			TenantID: tenant, SubscriptionID: sub, ResourceID: r.ResourceID, Service: r.Service, Currency: r.Currency,
			Cost: r.Cost, Coverage: money.Ratio(covered, length), Amount: money.MulDiv(r.Cost, covered, length)})
	}
	for i := range rows {
		for j := range rows {
			if i != j && rows[i].OrgID == rows[j].OrgID && rows[i].Association == rows[j].Association && LessLocation(rows[j].LocationID, rows[i].LocationID) {
				rows[i].DuplicateAtOrg = true
			}
		}
	}
	return rows, warns
}

// tagLocation is the location a matched tag names at t, or "" and why it names none.
func (x *ref) tagLocation(t TagRef, at int64) (string, string) {
	if t.Bad != "" {
		return "", ReasonNoIdentifier + ": " + t.Bad
	}
	if t.Scheme == "" {
		if _, _, ok := x.location(t.Value); ok {
			return t.Value, ""
		}
		if locs := x.orgLocations(t.Value); locs != nil {
			return "", ReasonOrganisation + " (its locations: " + strings.Join(locs, ", ") + ")"
		}
		return "", ReasonNoLocation
	}
	if loc := x.identifierAt(t.Scheme, t.Value, at); loc != "" {
		return loc, ""
	}
	if locs := x.orgLocations(t.Value); locs != nil {
		return "", ReasonOrganisation + " (its locations: " + strings.Join(locs, ", ") + ")"
	}
	return "", ReasonNoIdentifier + " (" + t.Scheme + ")"
}

// recordPlace is the tenant and sub-account a record's rows show: for microsoft records the
// subscription's tenant (when the estate knows it) and the lower-case subscription, for other
// providers no tenant and the sub-account as given.
func (x *ref) recordPlace(r *usage.Record, prov string) (string, string) {
	if !usage.IsMicrosoft(prov) {
		return "", r.SubscriptionID
	}
	sub := strings.ToLower(r.SubscriptionID)
	var vs []estate.Subscription
	for _, v := range x.s.Subscriptions {
		if strings.EqualFold(v.ID, sub) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return "", sub
	}
	sort.SliceStable(vs, func(a, b int) bool { return vs[a].Valid.From < vs[b].Valid.From })
	return strings.ToLower(vs[SubscriptionVersion(vs, timeline.Window{From: r.Start, To: r.End})].TenantID), sub
}

// finish gives every row the record's provider, adds the flat-rate programs' incentives and
// sorts both.
func (x *ref) finish(r *usage.Record, rows []Row, incs []Incentive) ([]Row, []Incentive) {
	prov := ProviderID(r)
	for i := range rows {
		rows[i].Provider = prov
	}
	for _, p := range x.progs.Flat {
		v := At(p.Versions, r.Start)
		if v == nil || p.Provider != "" && p.Provider != prov {
			continue
		}
		for _, row := range rows {
			if row.Association == p.Association && !row.DuplicateAtOrg {
				incs = append(incs, Incentive{RecordKey: r.Key, LocationID: row.LocationID, Program: p.Name, OrgID: row.OrgID,
					ProgramVersion: v.Version, Start: r.Start, Currency: r.Currency, Amount: money.MulDiv(row.Amount, int64(v.Rate), money.Scale)})
			}
		}
	}
	SortRows(rows)
	SortIncentives(incs)
	return rows, incs
}
