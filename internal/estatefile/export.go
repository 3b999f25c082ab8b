package estatefile

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Export writes the whole stored estate as an estate file with explicit windows, in a
// deterministic order: importing it into an empty database and exporting again gives the
// same bytes.
func Export(ctx context.Context, db *store.DB, w io.Writer) error {
	f, err := read(ctx, db)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

func read(ctx context.Context, db *store.DB) (*File, error) {
	all := map[*table][]version{}
	keyed := map[*table]map[string][]version{} // the same, by key, in the same order
	for _, t := range versionedTables {
		byKey, err := stored(ctx, db, t)
		if err != nil {
			return nil, err
		}
		var vs []version
		for _, v := range byKey {
			vs = append(vs, v...)
		}
		sort.Slice(vs, func(i, j int) bool {
			ki, kj := t.key(vs[i].cols), t.key(vs[j].cols)
			if ki != kj {
				return ki < kj
			}
			if vs[i].from != vs[j].from {
				return vs[i].from < vs[j].from
			}
			return strings.Join(vs[i].cols, "\x00") < strings.Join(vs[j].cols, "\x00")
		})
		all[t] = vs
		keyed[t] = map[string][]version{}
		for _, v := range vs {
			k := t.key(v.cols)
			keyed[t][k] = append(keyed[t][k], v)
		}
	}
	f := &File{}
	children := func(t *table, key string) []version { return keyed[t][key] }
	// Partners.
	orgs, err := directory.Store{DB: db}.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		p := Partner{ID: o.ID, Name: o.Name, TenantIDs: o.TenantIDs}
		for _, l := range o.Locations {
			loc := Location{ID: l.ID, Name: l.Name, Country: l.Country}
			for _, v := range children(tLocationActive, l.ID) {
				loc.Active = append(loc.Active, Window{From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)})
			}
			p.Locations = append(p.Locations, loc)
		}
		f.Partners = append(f.Partners, p)
	}
	// Tenants and their management groups.
	tenants, err := estate.Tenants(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, t := range tenants {
		tn := Tenant{ID: t.ID, Name: t.Name}
		for _, v := range all[tManagementGroups] {
			if v.cols[0] != t.ID {
				continue
			}
			mg := ManagementGroup{ID: v.cols[1], From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)}
			if v.cols[2] != "" {
				parent := v.cols[2]
				mg.Parent = &parent
			}
			tn.ManagementGroups = append(tn.ManagementGroups, mg)
		}
		f.Tenants = append(f.Tenants, tn)
	}
	// Children go with the first version of their parent.
	first := map[string]bool{}
	isFirst := func(t *table, v version) bool {
		k := t.Name + "\x00" + t.key(v.cols)
		if first[k] {
			return false
		}
		first[k] = true
		return true
	}
	for _, v := range all[tSubscriptions] {
		s := Subscription{ID: v.cols[0], TenantID: v.cols[1], Name: v.cols[2], Offer: v.cols[3], ManagementGroup: v.cols[4],
			CSPPartnerID: v.cols[5], From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)}
		if isFirst(tSubscriptions, v) {
			for _, d := range children(tDPOR, v.cols[0]) {
				s.DPOR = append(s.DPOR, DPOR{PartnerID: d.cols[1], From: timeline.FormatOrNil(d.from), To: timeline.FormatOrNil(d.to)})
			}
		}
		f.Subscriptions = append(f.Subscriptions, s)
	}
	for _, v := range all[tPrincipals] {
		p := Principal{TenantID: v.cols[0], ObjectID: v.cols[1], Type: v.cols[2], DisplayName: v.cols[3], HomeTenantID: v.cols[4],
			From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)}
		if isFirst(tPrincipals, v) {
			for _, m := range children(tMemberships, v.cols[0]+"\x00"+v.cols[1]) {
				p.MemberOf = append(p.MemberOf, Membership{GroupID: m.cols[2], From: timeline.FormatOrNil(m.from), To: timeline.FormatOrNil(m.to)})
			}
		}
		f.Principals = append(f.Principals, p)
	}
	for _, v := range all[tRoleDefinitions] {
		d := RoleDefinition{ID: v.cols[0], RoleName: v.cols[1], Type: v.cols[2], From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)}
		if err := json.Unmarshal([]byte(v.cols[3]), &d.Permissions); err != nil {
			return nil, err
		}
		f.RoleDefinitions = append(f.RoleDefinitions, d)
	}
	activationsDone := map[string]bool{}
	for _, v := range all[tAssignments] {
		a := RoleAssignment{ID: v.cols[0], TenantID: v.cols[1], PrincipalID: v.cols[2], RoleDefinitionID: v.cols[3], Scope: v.cols[4],
			Kind: v.cols[6], From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)}
		if a.Kind == "eligible" && !activationsDone[a.ID] {
			activationsDone[a.ID] = true
			for _, w := range children(tActivations, a.ID) {
				a.Activations = append(a.Activations, Window{From: timeline.FormatOrNil(w.from), To: timeline.FormatOrNil(w.to)})
			}
		}
		f.RoleAssignments = append(f.RoleAssignments, a)
	}
	for _, v := range all[tDelegations] {
		d := Delegation{ID: v.cols[0], CustomerTenantID: v.cols[1], Scope: v.cols[2], ManagingTenantID: v.cols[4], From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)}
		if isFirst(tDelegations, v) {
			for _, w := range children(tAuthorizations, d.ID) {
				d.Authorizations = append(d.Authorizations, Authorization{PrincipalID: w.cols[1], RoleDefinitionID: w.cols[2], From: timeline.FormatOrNil(w.from), To: timeline.FormatOrNil(w.to)})
			}
		}
		f.Delegations = append(f.Delegations, d)
	}
	for _, v := range all[tLinkSpans] {
		f.Links = append(f.Links, Link{TenantID: v.cols[0], ObjectID: v.cols[1], PartnerID: v.cols[2], From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)})
	}
	tracking, err := estate.TrackingIDs(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, t := range tracking {
		f.TrackingIDs = append(f.TrackingIDs, TrackingID{GUID: t.GUID, PartnerID: t.LocationID})
	}
	deps, err := estate.Deployments(ctx, db, timeline.Max)
	if err != nil {
		return nil, err
	}
	for _, d := range deps {
		f.Deployments = append(f.Deployments, Deployment{ResourceID: d.ResourceID, TrackingID: d.TrackingGUID, At: timeline.Format(d.At)})
	}
	for _, v := range all[tIdentifiers] {
		f.Identifiers = append(f.Identifiers, Identifier{PartnerID: v.cols[3], Scheme: v.cols[0], Value: v.cols[2], From: timeline.FormatOrNil(v.from), To: timeline.FormatOrNil(v.to)})
	}
	accounts, err := account.Store{DB: db}.List(ctx, account.Filter{})
	for _, a := range accounts {
		x := Account{Provider: a.Provider, ID: a.ID, Kind: a.Kind, Name: a.Name, BillingAccountID: a.BillingAccountID}
		for _, r := range a.Resale {
			x.Resale = append(x.Resale, Resale{PartnerID: r.LocationID, From: timeline.FormatOrNil(r.Window.From), To: timeline.FormatOrNil(r.Window.To)})
		}
		f.Accounts = append(f.Accounts, x)
	}
	return f, err
}
