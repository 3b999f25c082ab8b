package attribution

import (
	"context"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Version 2's associations (TAG, RESALE, MARKETPLACE; rules/version2.go states them). They
// depend on the record's own fields (tags, accounts, publisher), not on the resource, so the
// engine evaluates them per record after the resource's version 1 rows: a dictionary lookup
// of the record's tags (parsed once per distinct tags string and worker) and map lookups of
// identifiers and accounts prepared here.

// idVersion is one version of an identifier: the location it names over a window.
type idVersion struct {
	w  timeline.Window
	li *locInfo
}

// resaleDecl is a location's resale time on one account, within its active time.
type resaleDecl struct {
	li  *locInfo
	set timeline.Set
}

// v2index is what version 2 reads of the snapshot.
type v2index struct {
	ids      map[string][]idVersion  // scheme NUL value key -> versions by start
	resale   map[string][]resaleDecl // provider NUL kind NUL account key -> declarations by location rank
	orgLocs  map[string][]string     // organisation -> its location IDs (tag warnings)
	hasIDs   bool                    // any identifier at all
	hasSales bool                    // any resale declaration
}

func buildV2(s *facts.Snapshot, ix *index) *v2index {
	v := &v2index{ids: map[string][]idVersion{}, resale: map[string][]resaleDecl{}, orgLocs: map[string][]string{}}
	for _, o := range s.Organisations {
		for _, l := range o.Locations {
			v.orgLocs[o.ID] = append(v.orgLocs[o.ID], l.ID)
		}
	}
	for _, id := range s.Identifiers {
		li := ix.locs[id.LocationID]
		if li == nil {
			continue
		}
		k := strings.ToLower(id.Scheme) + "\x00" + directory.IdentifierKey(id.Value)
		v.ids[k] = append(v.ids[k], idVersion{id.Window, li})
		v.hasIDs = true
	}
	for k := range v.ids {
		vs := v.ids[k]
		sort.Slice(vs, func(a, b int) bool { return vs[a].w.From < vs[b].w.From })
	}
	for _, a := range s.Accounts {
		byLoc := map[*locInfo][]timeline.Window{}
		for _, r := range a.Resale {
			if li := ix.locs[r.LocationID]; li != nil {
				byLoc[li] = append(byLoc[li], r.Window)
			}
		}
		k := a.Provider + "\x00" + a.Kind + "\x00" + account.Key(a.ID)
		for li, ws := range byLoc {
			set := timeline.Union(ws...).Intersect(li.active)
			if len(set) > 0 {
				v.resale[k] = append(v.resale[k], resaleDecl{li, set})
				v.hasSales = true
			}
		}
		ds := v.resale[k]
		sort.Slice(ds, func(i, j int) bool { return ds[i].li.rank < ds[j].li.rank })
	}
	return v
}

// identifierAt is the location (scheme, value key) names at t.
func (v *v2index) identifierAt(scheme, valueKey string, t int64) *locInfo {
	for _, x := range v.ids[scheme+"\x00"+valueKey] {
		if x.w.Contains(t) {
			return x.li
		}
	}
	return nil
}

// tagInfo is a tags string's matched tags under one rules version (cached per dictionary index).
type tagInfo struct {
	ver  *rules.TagRuleVersion
	refs []rules.TagRef
	keys []string      // the identifier value keys of refs (directory.IdentifierKey)
	vers [][]idVersion // the versions of the identifier each ref names (nil: none)
}

// resaleRef is an account's declarations as cached per dictionary index of the sub-account
// or billing account (for one provider).
type resaleRef struct {
	provider string
	ds       []resaleDecl
}

// v2hit is one version 2 row of a record before it is written out.
type v2hit struct {
	li      *locInfo
	assoc   string
	covered int64
	amount  money.Nanos
	dup     bool
}

// tagWarnKey identifies a data-quality warning: a tag value naming no location, and why.
type tagWarnKey struct{ tag, value, reason string }

type tagWarnAcc struct {
	records int64
	cost    map[string]money.Nanos
}

// v2in is what version 2 reads of a record beyond rowIn.
func (wk *worker) v2hits(r *rowIn, b *usage.Batch, i int) []v2hit {
	v := wk.e.v2
	a, e := r.start, r.end
	var ti *tagInfo
	if ver := rules.TagRulesAt(wk.e.progs.TagRules, a); ver != nil && len(ver.Rules) > 0 {
		ti = wk.e.v2TagInfo(wk, b, i, ver)
	}
	// The usual Azure record: no partner tag, no seller, no resale.
	if (ti == nil || len(ti.refs) == 0) && (r.microsoft || !v.hasSales) && r.publisher == "" && r.host == "" {
		return nil
	}
	hs := wk.v2Buf[:0]
	add := func(li *locInfo, assoc string, covered int64) {
		if covered <= 0 {
			return
		}
		for k := range hs {
			if hs[k].li == li && hs[k].assoc == assoc {
				return // several tags naming one location: one row
			}
		}
		hs = append(hs, v2hit{li: li, assoc: assoc, covered: covered})
	}
	// 5. TAG.
	if ti != nil {
		for k := range ti.refs {
			t := &ti.refs[k]
			var li *locInfo
			if t.Bad == "" {
				if t.Scheme == "" {
					li = wk.e.ix.locs[t.Value]
				} else {
					for _, x := range ti.vers[k] {
						if x.w.Contains(a) {
							li = x.li
							break
						}
					}
				}
			}
			if li == nil {
				_, why := wk.e.tagLocation(t, ti.keys[k], a)
				wk.warn(t, why, r)
				continue
			}
			add(li, AssocTag, coveredIn(li.active, a, e))
		}
	}
	// 6. RESALE.
	if !r.microsoft && v.hasSales {
		ds := wk.resaleOf(&wk.subs, b, usage.ColSubscription, i, r.providerID, account.KindSub)
		var db []resaleDecl
		if b.S(usage.ColBillingAccount, i) != "" {
			db = wk.resaleOf(&wk.bills, b, usage.ColBillingAccount, i, r.providerID, account.KindBilling)
		}
		for _, d := range ds {
			set := d.set
			for _, x := range db {
				if x.li == d.li {
					set = timeline.Union(append(append([]timeline.Window{}, set...), x.set...)...)
				}
			}
			add(d.li, AssocResale, coveredIn(set, a, e))
		}
		for _, x := range db {
			add(x.li, AssocResale, coveredIn(x.set, a, e)) // a location on both was added above
		}
	}
	// 7. MARKETPLACE.
	if r.publisher != "" || r.host != "" {
		if seller := rules.Seller(r.provider, r.providerID, r.publisher, r.host); seller != "" && v.hasIDs {
			if li := v.identifierAt(directory.SchemePublisher, directory.IdentifierKey(seller), a); li != nil {
				add(li, AssocMarketplace, coveredIn(li.active, a, e))
			}
		}
	}
	if len(hs) == 0 {
		wk.v2Buf = hs
		return nil
	}
	// Sorted by location and association (insertion sort: a record has few); duplicate_at_org
	// per organisation and association.
	for x := 1; x < len(hs); x++ {
		for y := x; y > 0 && lessHit(&hs[y], &hs[y-1]); y-- {
			hs[y], hs[y-1] = hs[y-1], hs[y]
		}
	}
	length := e - a
	for k := range hs {
		h := &hs[k]
		h.amount = r.cost
		if h.covered != length {
			h.amount = money.MulDiv(r.cost, h.covered, length)
		}
		for j := 0; j < k; j++ {
			if hs[j].assoc == h.assoc && hs[j].li.org == h.li.org {
				h.dup = true // an earlier one has a lower location
				break
			}
		}
	}
	wk.v2Buf = hs
	return hs
}

func lessHit(a, b *v2hit) bool {
	if a.li.rank != b.li.rank {
		return a.li.rank < b.li.rank
	}
	return a.assoc < b.assoc
}

// resaleOf is the declarations on the account row i names in column col, cached per
// dictionary index.
func (wk *worker) resaleOf(c *dictCache[resaleRef], b *usage.Batch, col, i int, provider, kind string) []resaleDecl {
	c.use(b.Dict)
	di := b.Str[col][i]
	if x, ok := c.get(di); ok && x.provider == provider {
		return x.ds
	}
	ds := wk.e.v2.resale[provider+"\x00"+kind+"\x00"+account.Key(b.Dict[di])]
	c.set(di, resaleRef{provider: wk.strs.get(provider), ds: ds})
	return ds
}

// v2TagInfo is the matched tags of row i's tags string under ver, cached per dictionary index.
func (e *engine) v2TagInfo(wk *worker, b *usage.Batch, i int, ver *rules.TagRuleVersion) *tagInfo {
	ti := b.Str[usage.ColTags][i]
	if x, ok := wk.tags.get(ti); ok && x.ver == ver {
		return x
	}
	x := &tagInfo{ver: ver, refs: rules.MatchTags(b.Dict[ti], ver.Rules)}
	for k := range x.refs {
		// The strings are the batch's: copied, so a cache entry never keeps a batch alive.
		t := &x.refs[k]
		t.Key, t.Raw, t.Value = strings.Clone(t.Key), strings.Clone(t.Raw), strings.Clone(t.Value)
		x.keys = append(x.keys, directory.IdentifierKey(t.Value))
		var vs []idVersion
		if t.Bad == "" && t.Scheme != "" {
			vs = e.v2.ids[strings.ToLower(t.Scheme)+"\x00"+x.keys[k]]
		}
		x.vers = append(x.vers, vs)
	}
	wk.tags.set(ti, x)
	return x
}

// tagLocation is the location a matched tag names at t, or nil and why it names none (the
// reasons of rules.Reference.Warnings).
func (e *engine) tagLocation(t *rules.TagRef, valueKey string, at int64) (*locInfo, string) {
	v := e.v2
	if t.Bad != "" {
		return nil, rules.ReasonNoIdentifier + ": " + t.Bad
	}
	if t.Scheme == "" {
		if li := e.ix.locs[t.Value]; li != nil {
			return li, ""
		}
	} else if li := v.identifierAt(strings.ToLower(t.Scheme), valueKey, at); li != nil {
		return li, ""
	}
	if locs, ok := v.orgLocs[t.Value]; ok {
		return nil, rules.ReasonOrganisation + " (its locations: " + strings.Join(locs, ", ") + ")"
	}
	if t.Scheme == "" {
		return nil, rules.ReasonNoLocation
	}
	return nil, rules.ReasonNoIdentifier + " (" + t.Scheme + ")"
}

// warn counts a tag naming no location.
func (wk *worker) warn(t *rules.TagRef, why string, r *rowIn) {
	if wk.warns == nil {
		wk.warns = map[tagWarnKey]*tagWarnAcc{}
	}
	k := tagWarnKey{t.Key, t.Raw, why}
	acc := wk.warns[k]
	if acc == nil {
		acc = &tagWarnAcc{cost: map[string]money.Nanos{}}
		wk.warns[k] = acc
	}
	acc.records++
	acc.cost[wk.strs.get(r.currency)] += r.cost
}

// TagWarning is a data-quality warning of a run: a tag value, on records of the period, that
// names no partner location (attribution.md association 5), with the number of records and
// the cost at stake per currency.
type TagWarning struct {
	Tag     string            `json:"tag"`
	Value   string            `json:"value"`
	Reason  string            `json:"reason"`
	Records int64             `json:"records"`
	Cost    map[string]string `json:"cost_at_stake"`
}

// maxTagWarnings bounds the warnings a run reports (the largest cost first).
const maxTagWarnings = 50

func mergeWarnings(workers []*worker) []TagWarning {
	all := map[tagWarnKey]*tagWarnAcc{}
	for _, wk := range workers {
		for k, a := range wk.warns {
			t := all[k]
			if t == nil {
				t = &tagWarnAcc{cost: map[string]money.Nanos{}}
				all[k] = t
			}
			t.records += a.records
			for c, n := range a.cost {
				t.cost[c] += n
			}
		}
	}
	if len(all) == 0 {
		return nil
	}
	out := make([]TagWarning, 0, len(all))
	for k, a := range all {
		w := TagWarning{Tag: k.tag, Value: k.value, Reason: k.reason, Records: a.records, Cost: map[string]string{}}
		for c, n := range a.cost {
			w.Cost[c] = n.String()
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Records != out[j].Records {
			return out[i].Records > out[j].Records
		}
		if out[i].Tag != out[j].Tag {
			return out[i].Tag < out[j].Tag
		}
		if out[i].Value != out[j].Value {
			return out[i].Value < out[j].Value
		}
		return out[i].Reason < out[j].Reason
	})
	if len(out) > maxTagWarnings {
		out = out[:maxTagWarnings]
	}
	return out
}

// flatIncentives appends the flat-rate programs' rows for a record's rows (rules.FlatProgram).
func (e *engine) flatIncentives(r *rowIn, key string, rows []Row, incs []Incentive) []Incentive {
	for _, p := range e.progs.Flat {
		v := at(p.Versions, r.start)
		if v == nil || p.Provider != "" && p.Provider != r.providerID {
			continue
		}
		for k := range rows {
			row := &rows[k]
			if row.Association == p.Association && !row.DuplicateAtOrg {
				incs = append(incs, Incentive{RecordKey: key, LocationID: row.LocationID, Program: p.Name, OrgID: row.OrgID,
					ProgramVersion: v.Version, Start: r.start, Currency: r.currency, Amount: money.MulDiv(row.Amount, int64(v.Rate), money.Scale)})
			}
		}
	}
	return incs
}

// sumV2 adds a record's version 2 rows to the worker's sums.
func (wk *worker) sumV2(r *rowIn, b *usage.Batch, i int, st *Stats) {
	hs := wk.v2hits(r, b, i)
	for k := range hs {
		wk.add(sumSlot(hs[k].li, hs[k].assoc), r.currency, hs[k].amount)
	}
	st.Rows += int64(len(hs))
}

// sumRows is ComputeSums through the rows: every row and incentive computed as Compute does,
// then added up.
func (e *engine) sumRows(ctx context.Context, period timeline.Window, each Usage) (*Stats, []Sum, error) {
	type k struct{ loc, assoc, cur string }
	at := map[k]*Sum{}
	add := func(loc, assoc, cur string, n money.Nanos) {
		s := at[k{loc, assoc, cur}]
		if s == nil {
			s = &Sum{LocationID: loc, Association: assoc, Currency: cur}
			at[k{loc, assoc, cur}] = s
		}
		s.Amount += n
		s.Rows++
	}
	st, _, err := e.run(ctx, period, each, func(_ *usage.Batch, _ int, rows []Row, incs []Incentive) error {
		for _, r := range rows {
			add(r.LocationID, r.Association, r.Currency, r.Amount)
		}
		for _, x := range incs {
			add(x.LocationID, "incentive:"+x.Program, x.Currency, x.Amount)
		}
		return nil
	}, false)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Sum, 0, len(at))
	for _, s := range at {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.LocationID != b.LocationID {
			return a.LocationID < b.LocationID
		}
		if a.Association != b.Association {
			return a.Association < b.Association
		}
		return a.Currency < b.Currency
	})
	return st, out, nil
}
