package estatefile

import (
	"fmt"
	"strings"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// The version 2 keys `identifiers` and `accounts` (formats.md): checked like the rest of the
// file and stored through their owners' tables (directory.IdentifiersTable,
// account.AccountsTable and account.ResaleTable), upserts with history like everything else.
// Overlapping windows of one identifier, or of one location on one account, are found by the
// generic overlap check (tIdentifiers, tResale).

func (p *plan) identifiers(list []Identifier, k *known) {
	for i, id := range list {
		path := fmt.Sprintf("identifiers[%d]", i)
		ok := p.location(path+".partnerId", id.PartnerID, "identifier partner", k)
		if directory.CheckScheme(id.Scheme) != nil {
			p.fail(path+".scheme", "scheme %q must be a name without spaces, such as aws-product-code, aws-revenue-attribution, gcp-solution or publisher", id.Scheme)
			ok = false
		}
		if strings.TrimSpace(id.Value) == "" {
			p.fail(path+".value", "the identifier's value is empty")
			ok = false
		}
		v, okw := p.window(path, id.From, id.To)
		if !ok || !okw {
			continue
		}
		// One (scheme, value) names at most one location at any time; values compare as
		// tags and publisher names do, trimmed and case-insensitively.
		v.cols = []string{strings.ToLower(id.Scheme), directory.IdentifierKey(id.Value), strings.TrimSpace(id.Value), id.PartnerID}
		p.add(tIdentifiers, v)
	}
}

func (p *plan) accounts(list []Account, k *known) {
	seen := map[string]int{}
	for i, a := range list {
		path := fmt.Sprintf("accounts[%d]", i)
		ok := true
		provider := ""
		if strings.TrimSpace(a.Provider) == "" {
			p.fail(path+".provider", "the account's provider is empty; give aws, google, oracle or the provider's name")
			ok = false
		} else if provider = usage.NormalizeProvider(a.Provider); provider == usage.ProviderMicrosoft {
			p.fail(path+".provider", "provider %q is Azure: Azure subscriptions go in subscriptions, accounts are other providers'", a.Provider)
			ok = false
		}
		key := account.Key(a.ID)
		if key == "" {
			p.fail(path+".id", "the account ID is empty")
			ok = false
		} else if provider != "" {
			k := provider + "\x00" + key
			if first, dup := seen[k]; dup {
				p.fail(path+".id", "account %s of %s is also accounts[%d]; give each account once, with all its resale windows", a.ID, provider, first)
				ok = false
			} else {
				seen[k] = i
			}
		}
		if a.Kind != account.KindSub && a.Kind != account.KindBilling {
			p.fail(path+".kind", "kind %q is not sub (an account that usage names as its sub-account) or billing (a billing account)", a.Kind)
			ok = false
		}
		var resale []version
		for j, r := range a.Resale {
			rp := fmt.Sprintf("%s.resale[%d]", path, j)
			okL := p.location(rp+".partnerId", r.PartnerID, "reseller", k)
			v, okw := p.window(rp, r.From, r.To)
			if okL && okw {
				v.cols = []string{provider, key, r.PartnerID}
				resale = append(resale, v)
			}
		}
		// Resale windows are checked for overlaps even on an account with errors (nothing is
		// written while the file has any).
		for _, v := range resale {
			p.add(tResale, v)
		}
		if ok {
			p.accountRows = append(p.accountRows, []string{provider, key, strings.TrimSpace(a.ID), a.Kind, a.Name, strings.TrimSpace(a.BillingAccountID)})
		}
	}
}
