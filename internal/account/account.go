// Package account holds the accounts of providers other than Azure (an AWS member or
// management account, a Google Cloud billing subaccount or project) and the locations that
// resold them over time: the facts of attribution.md version 2's RESALE association. It owns
// the tables accounts and account_resale; Store is the way in.
package account

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/table"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Kinds of account: how usage names it.
const (
	KindSub     = "sub"     // usage names it as its sub-account (SubAccountId)
	KindBilling = "billing" // usage names it as its billing account (BillingAccountId)
)

// Account is an account of a provider other than Azure, with its resale history.
type Account struct {
	Provider         string // normalised (usage.NormalizeProvider): aws, google, oracle, ...
	ID               string // as given (trimmed); compared case-insensitively (Key)
	Kind             string // KindSub or KindBilling
	Name             string
	BillingAccountID string // the billing account a sub-account is billed to, if known
	Resale           []Resale
}

// Resale is a window in which a location resold an account.
type Resale struct {
	LocationID string
	Window     timeline.Window
}

// Key is the form account IDs are compared in, within their provider: trimmed, lower case.
func Key(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// The tables, for the estate import's generic diff. An account's resale windows are versions
// of (provider, account_key, location_id): windows of one location never overlap, several
// locations may resell one account at once.
var (
	AccountsTable = &table.Table{Name: "accounts", Key: []string{"provider", "account_key"}, Values: []string{"id", "kind", "name", "billing_account_id"}}
	ResaleTable   = &table.Table{Name: "account_resale", Key: []string{"provider", "account_key", "location_id"}, Windowed: true}
)

// Store is the only code that reads or writes accounts and account_resale, apart from the
// estate import's generic loads of the tables above and LoadFacts.
type Store struct {
	DB *store.DB
}

// Check validates an account as Put would store it, returning it normalised.
func Check(a Account) (Account, error) {
	if strings.TrimSpace(a.Provider) == "" {
		return a, store.NewError(store.ErrInvalid, "the account's provider is empty; give aws, google, oracle or the provider's name", nil)
	}
	p := usage.NormalizeProvider(a.Provider)
	if p == usage.ProviderMicrosoft {
		return a, store.NewError(store.ErrInvalid, fmt.Sprintf("provider %q is Azure: Azure subscriptions go in the estate's subscriptions, accounts are other providers'", a.Provider), nil)
	}
	a.Provider = p
	a.ID = strings.TrimSpace(a.ID)
	if a.ID == "" {
		return a, store.NewError(store.ErrInvalid, "the account ID is empty", nil)
	}
	if a.Kind != KindSub && a.Kind != KindBilling {
		return a, store.NewError(store.ErrInvalid, fmt.Sprintf("account %s: kind %q is not sub (an account that usage names as its sub-account) or billing (a billing account)", a.ID, a.Kind), nil)
	}
	a.BillingAccountID = strings.TrimSpace(a.BillingAccountID)
	byLoc := map[string][]timeline.Window{}
	for i, r := range a.Resale {
		if err := directory.CheckID(r.LocationID); err != nil {
			return a, store.NewError(store.ErrInvalid, fmt.Sprintf("account %s: resale[%d]: %s", a.ID, i, err), nil)
		}
		if r.Window.Empty() {
			return a, store.NewError(store.ErrInvalid, fmt.Sprintf("account %s: resale[%d] is empty (from %s is not before to %s)", a.ID, i,
				timeline.FormatBound(r.Window.From), timeline.FormatBound(r.Window.To)), nil)
		}
		for _, w := range byLoc[r.LocationID] {
			if w.Overlaps(r.Window) {
				return a, store.NewError(store.ErrInvalid, fmt.Sprintf("account %s: resale[%d] of location %s overlaps another of its windows (%s to %s); give each location's windows once",
					a.ID, i, r.LocationID, timeline.FormatBound(w.From), timeline.FormatBound(w.To)), nil)
			}
		}
		byLoc[r.LocationID] = append(byLoc[r.LocationID], r.Window)
	}
	sortResale(a.Resale)
	return a, nil
}

func sortResale(rs []Resale) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].LocationID != rs[j].LocationID {
			return rs[i].LocationID < rs[j].LocationID
		}
		return rs[i].Window.From < rs[j].Window.From
	})
}

// Put creates or replaces an account with its resale windows (the list given replaces the
// stored one: the windows are the history). Every resale location must be a location; an
// organisation ID is refused with its locations listed.
func (s Store) Put(ctx context.Context, a Account) error {
	a, err := Check(a)
	if err != nil {
		return err
	}
	db := s.DB
	key := Key(a.ID)
	return db.Translate(db.Tx(ctx, func(tx *sql.Tx) error {
		for _, r := range a.Resale {
			if err := directory.MustBeLocation(ctx, tx, r.LocationID, "a resale window"); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (provider, account_key, id, kind, name, billing_account_id) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (provider, account_key) DO UPDATE SET id = excluded.id, kind = excluded.kind, name = excluded.name, billing_account_id = excluded.billing_account_id`,
			a.Provider, key, a.ID, a.Kind, a.Name, a.BillingAccountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM account_resale WHERE provider = $1 AND account_key = $2`, a.Provider, key); err != nil {
			return err
		}
		for _, r := range a.Resale {
			if _, err := tx.ExecContext(ctx, `INSERT INTO account_resale (provider, account_key, location_id, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5)`,
				a.Provider, key, r.LocationID, r.Window.From, r.Window.To); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Filter selects accounts: of a provider, resold at some time by one of Locations (nil: any).
type Filter struct {
	Provider  string
	Locations []string
}

// List returns accounts with their resale windows, ordered by provider and ID.
func (s Store) List(ctx context.Context, f Filter) ([]Account, error) {
	all, err := load(ctx, s.DB)
	if err != nil {
		return nil, s.DB.Translate(err)
	}
	if f.Provider != "" {
		f.Provider = usage.NormalizeProvider(f.Provider)
	}
	out := all[:0]
	for _, a := range all {
		if f.Provider != "" && a.Provider != f.Provider {
			continue
		}
		if f.Locations != nil && !resoldByAny(a, f.Locations) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func resoldByAny(a Account, locs []string) bool {
	for _, r := range a.Resale {
		for _, l := range locs {
			if r.LocationID == l {
				return true
			}
		}
	}
	return false
}

// Get returns one account, or store.ErrNotFound.
func (s Store) Get(ctx context.Context, provider, id string) (*Account, error) {
	list, err := s.List(ctx, Filter{Provider: provider})
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if Key(a.ID) == Key(id) {
			return &a, nil
		}
	}
	return nil, store.NewError(store.ErrNotFound, fmt.Sprintf("no %s account %s is stored", usage.NormalizeProvider(provider), id), nil)
}

// LoadFacts returns every account with the resale windows overlapping w, ordered by provider
// and ID: the accounts' part of a facts.Snapshot.
func LoadFacts(ctx context.Context, q store.Querier, w timeline.Window) ([]Account, error) {
	all, err := load(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range all {
		rs := all[i].Resale[:0]
		for _, r := range all[i].Resale {
			if r.Window.Overlaps(w) {
				rs = append(rs, r)
			}
		}
		all[i].Resale = rs
	}
	return all, nil
}

func load(ctx context.Context, q store.Querier) ([]Account, error) {
	var out []Account
	at := map[[2]string]int{}
	err := store.Each(ctx, q, `SELECT provider, account_key, id, kind, name, billing_account_id FROM accounts ORDER BY provider, account_key`, nil, func(r *sql.Rows) error {
		var a Account
		var key string
		if err := r.Scan(&a.Provider, &key, &a.ID, &a.Kind, &a.Name, &a.BillingAccountID); err != nil {
			return err
		}
		at[[2]string{a.Provider, key}] = len(out)
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = store.Each(ctx, q, `SELECT provider, account_key, location_id, valid_from, valid_to FROM account_resale ORDER BY provider, account_key, location_id, valid_from`, nil, func(r *sql.Rows) error {
		var p, key string
		var x Resale
		if err := r.Scan(&p, &key, &x.LocationID, &x.Window.From, &x.Window.To); err != nil {
			return err
		}
		if i, ok := at[[2]string{p, key}]; ok {
			out[i].Resale = append(out[i].Resale, x)
		}
		return nil
	})
	return out, err
}
