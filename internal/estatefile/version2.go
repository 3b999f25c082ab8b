package estatefile

import (
	"fmt"
	"strings"
	"unicode"

	storetable "github.com/partnerlink/partnerlink/internal/store/table"
)

// The version 2 keys `identifiers` and `accounts` (docs/estate.md) are read and checked like
// the rest of the file, so that a file written for version 2 imports (strictly too) and its
// mistakes are found now; they are not stored yet, and the import's summary says so.

// tIdentifierValues and tResale only name the overlap groups in messages; nothing is written.
var (
	tIdentifierValues = &table{Table: &storetable.Table{Name: "identifier (scheme, value)"}}
	tResale           = &table{Table: &storetable.Table{Name: "account and reseller"}}
)

// notYetStored counts entries of a key that were checked but not stored.
func (p *plan) notYetStored(key string, n int) {
	if n == 0 {
		return
	}
	if p.notStored == nil {
		p.notStored = map[string]int{}
	}
	p.notStored[key] += n
}

func (p *plan) identifiers(list []Identifier, k *known) {
	groups := map[string][]span{}
	var order []string
	for i, id := range list {
		path := fmt.Sprintf("identifiers[%d]", i)
		ok := p.location(path+".partnerId", id.PartnerID, "identifier partner", k)
		if !validName(id.Scheme) {
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
		key := strings.ToLower(id.Scheme) + "\x00" + strings.ToLower(strings.TrimSpace(id.Value))
		if _, seen := groups[key]; !seen {
			order = append(order, key)
		}
		groups[key] = append(groups[key], span{v.from, v.to, path})
	}
	for _, key := range order {
		p.errs = append(p.errs, overlapProblems(tIdentifierValues, groups[key])...)
	}
	p.notYetStored("identifiers", len(list))
}

func (p *plan) accounts(list []Account, k *known) {
	seen := map[string]int{}
	for i, a := range list {
		path := fmt.Sprintf("accounts[%d]", i)
		provider := normaliseProvider(a.Provider)
		switch provider {
		case "":
			p.fail(path+".provider", "the account's provider is empty; give aws, google, oracle or the provider's name")
		case "microsoft":
			p.fail(path+".provider", "provider %q is Azure: Azure subscriptions go in subscriptions, accounts are other providers'", a.Provider)
		}
		if strings.TrimSpace(a.ID) == "" {
			p.fail(path+".id", "the account ID is empty")
		} else if provider != "" {
			key := provider + "\x00" + strings.ToLower(strings.TrimSpace(a.ID))
			if first, dup := seen[key]; dup {
				p.fail(path+".id", "account %s of %s is also accounts[%d]; give each account once, with all its resale windows", a.ID, provider, first)
			} else {
				seen[key] = i
			}
		}
		if a.Kind != "sub" && a.Kind != "billing" {
			p.fail(path+".kind", "kind %q is not sub (an account that usage names as its sub-account) or billing (a billing account)", a.Kind)
		}
		byLocation := map[string][]span{}
		var order []string
		for j, r := range a.Resale {
			rp := fmt.Sprintf("%s.resale[%d]", path, j)
			okL := p.location(rp+".partnerId", r.PartnerID, "reseller", k)
			v, okw := p.window(rp, r.From, r.To)
			if okL && okw {
				if _, ok := byLocation[r.PartnerID]; !ok {
					order = append(order, r.PartnerID)
				}
				byLocation[r.PartnerID] = append(byLocation[r.PartnerID], span{v.from, v.to, rp})
			}
		}
		for _, loc := range order {
			p.errs = append(p.errs, overlapProblems(tResale, byLocation[loc])...)
		}
	}
	p.notYetStored("accounts", len(list))
}

// validName: non-empty, without white space.
func validName(s string) bool {
	return s != "" && strings.IndexFunc(s, unicode.IsSpace) < 0
}

// normaliseProvider maps a provider's name as attribution's "Providers" rule does: the names
// of Microsoft, AWS, Google and Oracle to microsoft, aws, google and oracle (with or without
// a legal-entity suffix such as ", Inc."), anything else to its trimmed lower-case name.
func normaliseProvider(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	base := n
	if i := strings.IndexByte(n, ','); i >= 0 {
		base = strings.TrimSpace(n[:i])
	}
	switch base {
	case "microsoft", "azure", "microsoft azure":
		return "microsoft"
	case "aws", "amazon web services":
		return "aws"
	case "google", "google cloud", "gcp":
		return "google"
	case "oracle", "oci", "oracle cloud infrastructure":
		return "oracle"
	}
	return n
}
