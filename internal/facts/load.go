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
	orgs, err := directory.LoadFacts(ctx, q, w)
	if err != nil {
		return nil, fmt.Errorf("loading facts: the partner directory: %w", err)
	}
	e, err := estate.LoadFacts(ctx, q, w)
	if err != nil {
		return nil, fmt.Errorf("loading facts: the estate: %w", err)
	}
	a, err := access.LoadFacts(ctx, q, w)
	if err != nil {
		return nil, fmt.Errorf("loading facts: role assignments and delegations: %w", err)
	}
	spans, err := link.LoadSpans(ctx, q, w)
	if err != nil {
		return nil, fmt.Errorf("loading facts: links: %w", err)
	}
	ids, err := directory.LoadIdentifierFacts(ctx, q, w)
	if err != nil {
		return nil, fmt.Errorf("loading facts: partner identifiers: %w", err)
	}
	accounts, err := account.LoadFacts(ctx, q, w)
	if err != nil {
		return nil, fmt.Errorf("loading facts: accounts: %w", err)
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
