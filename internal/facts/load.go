package facts

import (
	"context"
	"fmt"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Load reads every fact whose window overlaps w (timeline.Always() for the whole history),
// in a deterministic order, asking each owner of the facts for its part (directory, estate,
// access, link). A location with no status windows is active at all times, and is returned
// with one window covering all time, so readers need no special case.
func Load(ctx context.Context, q store.Querier, w timeline.Window) (*Snapshot, error) {
	// Access's part (role assignments, a hundred thousand at the bench scale) is most of the
	// time: from a pool it is read on a connection of its own while the others are read. Each
	// part is its own statements either way (a pool gives no snapshot across them); from a
	// transaction, whose connection is one, the parts are read in turn.
	var a access.Facts
	var accessErr error
	accessDone := make(chan struct{})
	loadAccess := func() {
		defer close(accessDone)
		a, accessErr = access.LoadFacts(ctx, q, w)
	}
	pool := store.IsPool(q)
	if pool {
		go loadAccess()
	}
	orgs, orgsErr := directory.LoadFacts(ctx, q, w)
	var e estate.Facts
	var spans []link.Span
	var ids []directory.Identifier
	var accounts []account.Account
	var estateErr, spansErr, idsErr, accountsErr error
	if orgsErr == nil {
		e, estateErr = estate.LoadFacts(ctx, q, w)
	}
	if !pool && orgsErr == nil && estateErr == nil {
		loadAccess()
	}
	// From a pool, the rest is read while access's part still is (accessErr is not looked
	// at before it is done).
	if orgsErr == nil && estateErr == nil && (pool || accessErr == nil) {
		spans, spansErr = link.LoadSpans(ctx, q, w)
	}
	if spansErr == nil {
		ids, idsErr = directory.LoadIdentifierFacts(ctx, q, w)
	}
	if spansErr == nil && idsErr == nil {
		accounts, accountsErr = account.LoadFacts(ctx, q, w)
	}
	<-accessDone
	switch {
	case orgsErr != nil:
		return nil, fmt.Errorf("loading facts: the partner directory: %w", orgsErr)
	case estateErr != nil:
		return nil, fmt.Errorf("loading facts: the estate: %w", estateErr)
	case accessErr != nil:
		return nil, fmt.Errorf("loading facts: role assignments and delegations: %w", accessErr)
	case spansErr != nil:
		return nil, fmt.Errorf("loading facts: links: %w", spansErr)
	case idsErr != nil:
		return nil, fmt.Errorf("loading facts: partner identifiers: %w", idsErr)
	case accountsErr != nil:
		return nil, fmt.Errorf("loading facts: accounts: %w", accountsErr)
	}
	return &Snapshot{
		Identifiers:          ids,
		Accounts:             accounts,
		Organisations:        orgs,
		Tenants:              e.Tenants,
		ManagementGroups:     e.ManagementGroups,
		Subscriptions:        e.Subscriptions,
		DPOR:                 e.DPOR,
		Principals:           e.Principals,
		Memberships:          e.Memberships,
		RoleDefinitions:      a.RoleDefinitions,
		Assignments:          a.Assignments,
		Delegations:          a.Delegations,
		Links:                spans,
		TrackingIDs:          e.TrackingIDs,
		Deployments:          e.Deployments,
		EligibilityOverrides: a.EligibilityOverrides,
	}, nil
}
