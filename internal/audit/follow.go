package audit

import (
	"context"
	"fmt"
	"slices"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// The audit asks the engine, not a second set of rules, which identity earns what: every
// identity it follows becomes a location of its own in the run (in the organisation of the
// location it is linked to, with that location's activity, so CSP precedence and inactivity
// apply as they do to the real location), linked over the identity's spans. The engine then
// reports per record the coverage each identity gives on its own: a record whose credit
// comes from one identity alone rests on it; an identity that earns nothing earns nothing.
// The engine measures each link span on its own, so the added spans change nothing for the
// real locations (tested: the records they credit are those the real links credit).

// identKind says why an identity is followed.
type identKind uint8

const (
	identLinked identKind = iota // a real link span of the scope, followed on its own
	identTwin                    // the same link on an always-active copy of its location: what inactivity costs
	identGuest                   // a guest not linked in this tenant, as if linked to its location there
)

// ident is one identity the run follows.
type ident struct {
	kind              identKind
	tenant, principal string // the link's tenant (a managing tenant's for Lighthouse) and object ID, lower case
	location          string // the real location it is (or would be) linked to
	spans             []timeline.Window
	base              *ident // the linked identity a twin or a guest stands for
	loc               string // its location ID in the run
}

// hit is one identity's credit on a record.
type hit struct {
	id     *ident
	amount money.Nanos
}

// realRow is an attribution row of a real location.
type realRow struct {
	location, assoc string
	amount          money.Nanos
}

// record is what a visitor sees of one consumption record of the run's tenants. It is reused
// from record to record: a visitor copies what it keeps.
type record struct {
	tenant, sub, currency, resource string
	cost                            money.Nanos
	window                          timeline.Window // the charge period
	hits                            []hit
	rows                            []realRow
	batch                           *usage.Batch // the record's batch and row
	row                             int
	class                           *class // when the record stands for a class of records added up (fast.go)
}

// follow attributes src on snap with the identities added, and calls visit for every
// consumption record (category Usage, non-empty period, starting in period) of a subscription
// of the given tenants. snap is not changed.
func follow(ctx context.Context, snap *facts.Snapshot, period timeline.Window, tenants set, ids []*ident, src attribution.Usage, visit func(*record)) error {
	run := *snap
	run.Organisations = slices.Clone(snap.Organisations)
	run.Links = slices.Clone(snap.Links)
	where := map[string][2]int{} // location -> organisation, location index
	for oi, o := range run.Organisations {
		for li, l := range o.Locations {
			where[l.ID] = [2]int{oi, li}
		}
	}
	cloned := map[int]bool{}
	byLoc := map[string]*ident{}
	for i, id := range ids {
		at, ok := where[id.location]
		if !ok {
			return fmt.Errorf("audit: location %s of a followed identity is not in the directory", id.location)
		}
		o := &run.Organisations[at[0]]
		real := o.Locations[at[1]]
		if !cloned[at[0]] {
			o.Locations = slices.Clone(o.Locations)
			cloned[at[0]] = true
		}
		id.loc = fmt.Sprintf("~audit-%d", i) // no real location ID starts with "~" (they are digits)
		active := real.Active
		if id.kind == identTwin {
			active = []timeline.Window{timeline.Always()}
		}
		o.Locations = append(o.Locations, directory.Location{ID: id.loc, OrgID: real.OrgID, Name: real.Name, Active: active})
		for _, w := range id.spans {
			run.Links = append(run.Links, link.Span{TenantID: id.tenant, ObjectID: id.principal, LocationID: id.loc, Valid: w})
		}
		byLoc[id.loc] = id
	}
	subs := newSubTenants(&run)
	// Per batch dictionary index of the subscription: the lower-case ID, "" when the
	// subscription is in none of the tenants' versions. Batches of one builder share a growing
	// dictionary; a stored segment brings its own.
	var dict []string
	var subOf []string
	var known []bool
	var rec record
	_, err := attribution.Compute(ctx, &run, nil, period, src, func(b *usage.Batch, i int, rows []attribution.Row, _ []attribution.Incentive) error {
		if len(b.Dict) > 0 && (len(dict) == 0 || &b.Dict[0] != &dict[0] || len(b.Dict) < len(dict)) {
			subOf, known = subOf[:0], known[:0]
		}
		dict = b.Dict
		for len(known) < len(dict) {
			subOf, known = append(subOf, ""), append(known, false)
		}
		si := b.Str[usage.ColSubscription][i]
		if !known[si] {
			sub := lower(dict[si])
			for _, v := range subs[sub] {
				if tenants[v.tenant] {
					subOf[si] = sub
				}
			}
			known[si] = true
		}
		sub := subOf[si]
		if sub == "" || b.End[i] <= b.Start[i] || b.S(usage.ColChargeCategory, i) != usage.CategoryUsage {
			return nil
		}
		t := subs.at(sub, timeline.Window{From: b.Start[i], To: b.End[i]})
		if !tenants[t] {
			return nil
		}
		rec = record{tenant: t, sub: sub, currency: b.S(usage.ColCurrency, i), resource: b.S(usage.ColResource, i), cost: b.Cost[i],
			window: timeline.Window{From: b.Start[i], To: b.End[i]},
			hits:   rec.hits[:0], rows: rec.rows[:0], batch: b, row: i}
		for k := range rows {
			r := &rows[k]
			if id := byLoc[r.LocationID]; id != nil {
				rec.hits = append(rec.hits, hit{id, r.Amount})
			} else {
				rec.rows = append(rec.rows, realRow{r.LocationID, r.Association, r.Amount})
			}
		}
		visit(&rec)
		return nil
	})
	return err
}
