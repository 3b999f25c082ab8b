package audit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Scope is whom an audit is about: a partner organisation (all its locations) or one location.
type Scope struct {
	ID        string   `json:"partner_id"` // as asked
	OrgID     string   `json:"org_id"`
	OrgName   string   `json:"org_name"`
	Locations []string `json:"locations"`
	locs      set
}

// ResolveScope finds id among the snapshot's locations and organisations.
func ResolveScope(s *facts.Snapshot, id string) (*Scope, error) {
	for _, o := range s.Organisations {
		sc := &Scope{ID: id, OrgID: o.ID, OrgName: o.Name, locs: set{}}
		for _, l := range o.Locations {
			if l.ID == id || o.ID == id {
				sc.Locations = append(sc.Locations, l.ID)
				sc.locs[l.ID] = true
			}
		}
		if len(sc.Locations) > 0 || o.ID == id {
			sort.Strings(sc.Locations)
			return sc, nil
		}
	}
	return nil, store.NewError(store.ErrNotFound, fmt.Sprintf("%q is neither a partner location ID nor an organisation ID in the directory", id), nil)
}

// Has reports whether location id is in the scope.
func (sc *Scope) Has(id string) bool { return sc.locs[id] }

// Presence kinds: how a partner is present in a customer tenant. TAG and RESALE (other
// providers' accounts) join this list with the multi-provider work.
const (
	PresencePAL        = "PAL"        // a principal of the tenant is linked to the partner
	PresenceLighthouse = "LIGHTHOUSE" // a linked principal of a tenant the customer delegated to
	PresenceCSP        = "CSP"        // the partner resold a subscription of the tenant
	PresenceDPOR       = "DPOR"       // the partner is digital partner of record of a subscription
	PresenceCUA        = "CUA"        // a resource of the tenant was deployed with the partner's tracking GUID
)

// presenceRules find the tenants where the scope is present in period, one rule per kind.
var presenceRules = []func(s *facts.Snapshot, sc *Scope, w timeline.Window, add func(tenant, kind string)){
	func(s *facts.Snapshot, sc *Scope, w timeline.Window, add func(tenant, kind string)) {
		linked := set{}
		for _, l := range s.Links {
			if sc.Has(l.LocationID) && l.Valid.Overlaps(w) {
				add(lower(l.TenantID), PresencePAL)
				linked[lower(l.TenantID)] = true
			}
		}
		for _, d := range s.Delegations {
			if linked[lower(d.ManagingTenantID)] && d.Valid.Overlaps(w) {
				add(lower(d.CustomerTenantID), PresenceLighthouse)
			}
		}
	},
	func(s *facts.Snapshot, sc *Scope, w timeline.Window, add func(tenant, kind string)) {
		for _, x := range s.Subscriptions {
			if x.Offer == estate.OfferCSP && sc.Has(x.CSPLocationID) && x.Valid.Overlaps(w) {
				add(lower(x.TenantID), PresenceCSP)
			}
		}
	},
	func(s *facts.Snapshot, sc *Scope, w timeline.Window, add func(tenant, kind string)) {
		st := newSubTenants(s)
		for _, d := range s.DPOR {
			if sc.Has(d.LocationID) && d.Valid.Overlaps(w) {
				add(st.at(lower(d.SubscriptionID), d.Valid.Intersect(w)), PresenceDPOR)
			}
		}
	},
	func(s *facts.Snapshot, sc *Scope, w timeline.Window, add func(tenant, kind string)) {
		guids := set{}
		for _, t := range s.TrackingIDs {
			if sc.Has(t.LocationID) {
				guids[lower(t.GUID)] = true
			}
		}
		if len(guids) == 0 {
			return
		}
		st := newSubTenants(s)
		for _, d := range s.Deployments {
			k := lower(d.ResourceID)
			if !guids[lower(d.TrackingGUID)] || d.At >= w.To || !strings.HasPrefix(k, "/subscriptions/") {
				continue
			}
			sub, _, _ := strings.Cut(k[len("/subscriptions/"):], "/")
			add(st.at(sub, timeline.Window{From: max(d.At, w.From), To: w.To}), PresenceCUA)
		}
	},
}

// presence maps each tenant where the scope is present in w to its presence kinds (in the
// order of the rules). Only tenants with subscriptions can have consumption, so only those
// are kept.
func presence(s *facts.Snapshot, sc *Scope, w timeline.Window) map[string][]string {
	hasSubs := set{}
	for _, x := range s.Subscriptions {
		hasSubs[lower(x.TenantID)] = true
	}
	out := map[string][]string{}
	for _, rule := range presenceRules {
		rule(s, sc, w, func(t, kind string) {
			if t == "" || !hasSubs[t] {
				return
			}
			for _, k := range out[t] {
				if k == kind {
					return
				}
			}
			out[t] = append(out[t], kind)
		})
	}
	return out
}
