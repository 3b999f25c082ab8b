package attribution

import (
	"fmt"
	"strings"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Version 2 reasons (attribution.md "Explain").
const (
	ReasonNotMicrosoft       = "provider_not_microsoft"
	ReasonTagNoIdentifier    = "tag_matches_no_identifier"
	ReasonTagOrganisation    = "tag_names_organisation"
	ReasonTagOtherLocation   = "tag_names_other_location"
	ReasonNoPartnerTag       = "no_partner_tag"
	ReasonUnknownAccount     = "unknown_account"
	ReasonNotResold          = "account_not_resold"
	ReasonSellerNotPublisher = "seller_not_registered"
)

// explainVersion2 adds the TAG, RESALE and MARKETPLACE associations of probe (a record with
// cost 1) for the asked locations, and for each location without one the reasons why, in order
// of how far the chain got: the location was inactive; the tag names nothing, an organisation
// or another location; the account was not resold by the location in the period; the seller
// is not the location's registered publisher name.
func explainVersion2(s *facts.Snapshot, ix *index, ex *Explanation, probe *usage.Record) {
	progs := DefaultPrograms()
	e := newEngine(ix, progs)
	var st Stats
	rows, _ := e.record(probe, &st)
	w := timeline.Window{From: probe.Start, To: probe.End}
	prov := rules.ProviderID(probe)
	var tags []rules.TagRef
	if v := rules.TagRulesAt(progs.TagRules, probe.Start); v != nil {
		tags = rules.MatchTags(probe.Tags, v.Rules)
	}
	seller := rules.Seller(probe.Provider, prov, probe.Publisher, probe.HostProvider)
	for _, loc := range ex.Locations {
		li := ix.locs[loc]
		for _, r := range rows {
			if r.LocationID == loc && (r.Association == AssocTag || r.Association == AssocResale || r.Association == AssocMarketplace) {
				ex.Found = append(ex.Found, Found{Location: loc, Org: r.OrgID, Association: r.Association, Coverage: money.FixedString(r.Coverage),
					Chains: [][]Step{version2Chain(s, ix, r.Association, loc, probe, tags, seller)}})
			}
		}
		r := func(code, format string, a ...any) {
			ex.Reasons = append(ex.Reasons, Reason{Location: loc, Code: code, Text: fmt.Sprintf(format, a...)})
		}
		if li == nil {
			continue
		}
		if len(li.active.Clip(w)) == 0 && (len(tags) > 0 || seller != "" || prov != usage.ProviderMicrosoft) {
			r(ReasonInactiveLocation, "location %s was inactive throughout %s and earns nothing for that time", loc, win(w))
		}
		// TAG.
		if !hasAssoc(rows, loc, AssocTag) {
			switch {
			case len(tags) == 0 && prov != usage.ProviderMicrosoft:
				r(ReasonNoPartnerTag, "the record carries no tag a tag rule reads (aws-apn-id, aws-apn-id-<account>, goog-partner-solution, partnerlink-partner-id; user: prefixes allowed), so no TAG association")
			}
			for i := range tags {
				t := &tags[i]
				named, why := e.tagLocation(t, directory.IdentifierKey(t.Value), probe.Start)
				switch {
				case named == nil && strings.HasPrefix(why, rules.ReasonOrganisation):
					r(ReasonTagOrganisation, "tag %s=%s %s: recognition is per location (register the identifier for one of them)", t.Key, t.Raw, why)
				case named == nil:
					r(ReasonTagNoIdentifier, "tag %s=%s %s: no row, a data-quality warning", t.Key, t.Raw, why)
				case named.id != loc:
					r(ReasonTagOtherLocation, "tag %s=%s names location %s at %s, not %s", t.Key, t.Raw, named.id, timeline.Format(probe.Start), loc)
				}
			}
		}
		// RESALE.
		if prov != usage.ProviderMicrosoft && !hasAssoc(rows, loc, AssocResale) {
			var decls []string
			known := false
			for _, a := range s.Accounts {
				if a.Provider != prov || !(a.Kind == account.KindSub && account.Key(a.ID) == account.Key(probe.SubscriptionID) ||
					a.Kind == account.KindBilling && probe.BillingAccountID != "" && account.Key(a.ID) == account.Key(probe.BillingAccountID)) {
					continue
				}
				known = true
				for _, rs := range a.Resale {
					if rs.LocationID == loc { // other resellers are not named (partners read explanations)
						decls = append(decls, fmt.Sprintf("%s %s %s", a.Kind, a.ID, win(rs.Window)))
					}
				}
			}
			switch {
			case !known:
				r(ReasonUnknownAccount, "no %s account %s (sub-account) or %s (billing account) is declared, so no RESALE association (an unknown account is normal, not a warning)",
					prov, probe.SubscriptionID, orDash(probe.BillingAccountID))
			default:
				r(ReasonNotResold, "the account was not resold by location %s in %s (its resale windows on it: %s)", loc, win(w), orDash(strings.Join(decls, "; ")))
			}
		}
		// MARKETPLACE.
		if seller != "" && !hasAssoc(rows, loc, AssocMarketplace) {
			r(ReasonSellerNotPublisher, "the record is sold by %q, which is not a publisher name registered for location %s at %s", seller, loc, timeline.Format(probe.Start))
		}
	}
}

func hasAssoc(rows []Row, loc, assoc string) bool {
	for _, r := range rows {
		if r.LocationID == loc && r.Association == assoc {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// version2Chain is the chain of a version 2 association: the tag or account or seller, the
// identifier or declaration, the location.
func version2Chain(s *facts.Snapshot, ix *index, assoc, loc string, probe *usage.Record, tags []rules.TagRef, seller string) []Step {
	var out []Step
	switch assoc {
	case AssocTag:
		for i := range tags {
			t := &tags[i]
			if li, _ := (&engine{ix: ix, v2: ix.v2}).tagLocation(t, directory.IdentifierKey(t.Value), probe.Start); li != nil && li.id == loc {
				out = append(out, Step{Kind: "tag", ID: t.Key + "=" + t.Raw})
				if t.Scheme != "" {
					out = append(out, Step{Kind: "identifier", ID: t.Scheme + " " + t.Value, Window: identifierWindow(s, t.Scheme, t.Value, probe.Start)})
				}
			}
		}
	case AssocResale:
		prov := rules.ProviderID(probe)
		for _, a := range s.Accounts {
			if a.Provider != prov || !(a.Kind == account.KindSub && account.Key(a.ID) == account.Key(probe.SubscriptionID) ||
				a.Kind == account.KindBilling && probe.BillingAccountID != "" && account.Key(a.ID) == account.Key(probe.BillingAccountID)) {
				continue
			}
			for _, rs := range a.Resale {
				if rs.LocationID == loc {
					out = append(out, Step{Kind: "account", ID: a.Provider + " " + a.Kind + " " + a.ID, Window: win(rs.Window), Note: "resold by " + loc})
				}
			}
		}
	case AssocMarketplace:
		out = append(out, Step{Kind: "seller", ID: seller},
			Step{Kind: "identifier", ID: directory.SchemePublisher + " " + seller, Window: identifierWindow(s, directory.SchemePublisher, seller, probe.Start)})
	}
	return append(out, Step{Kind: "location", ID: loc})
}

func identifierWindow(s *facts.Snapshot, scheme, value string, t int64) string {
	k := directory.IdentifierKey(value)
	for _, id := range s.Identifiers {
		if strings.EqualFold(id.Scheme, scheme) && directory.IdentifierKey(id.Value) == k && id.Window.Contains(t) {
			return win(id.Window)
		}
	}
	return ""
}
