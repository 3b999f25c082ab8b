package rules

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// How a tag rule turns a tag value into what it names (TagRule.Resolve).
const (
	// ResolveAWSAPN is AWS Partner Revenue Measurement: "pc:<code>" is the identifier
	// (aws-product-code, <code>); "ra-" and 13 lower-case letters or digits is the identifier
	// (aws-revenue-attribution, the whole value).
	ResolveAWSAPN = "aws-apn"
	// ResolveLocation: the value is a location ID.
	ResolveLocation = "location"
	// ResolveSchemePrefix + a scheme: the value is an identifier of that scheme.
	ResolveSchemePrefix = "scheme:"
)

// TagRule says which tag keys name a partner and how their values resolve.
type TagRule struct {
	Key string // lower case, without a user-tag prefix
	// AccountSuffix: Key followed by "-" and a 12-digit AWS account ID matches too
	// (aws-apn-id-<account>: several partners can tag one resource).
	AccountSuffix bool
	Resolve       string // ResolveAWSAPN, ResolveLocation, or ResolveSchemePrefix + scheme
}

// TagRuleVersion is one version of the tag rules, in force over Window (by a record's start).
type TagRuleVersion struct {
	Version string
	Window  timeline.Window
	Rules   []TagRule
}

// DefaultTagRules are the shipped rules (attribution.md, association 5).
func DefaultTagRules() []TagRuleVersion {
	return []TagRuleVersion{{Version: "TAG-1", Window: timeline.Always(), Rules: []TagRule{
		{Key: "aws-apn-id", AccountSuffix: true, Resolve: ResolveAWSAPN},
		{Key: "goog-partner-solution", Resolve: ResolveSchemePrefix + "gcp-solution"},
		{Key: "partnerlink-partner-id", Resolve: ResolveLocation},
	}}}
}

type tagRulesJSON struct {
	Version string `json:"version"`
	From    string `json:"from"`
	To      string `json:"to"`
	Rules   []struct {
		Key           string `json:"key"`
		AccountSuffix bool   `json:"account_suffix"`
		Resolve       string `json:"resolve"`
		Disabled      bool   `json:"disabled"`
	} `json:"rules"`
}

func parseTagRules(list []tagRulesJSON, name string) ([]TagRuleVersion, error) {
	if list == nil {
		return DefaultTagRules(), nil
	}
	var out []TagRuleVersion
	for i, v := range list {
		at := fmt.Sprintf("$.tag_rules[%d]", i)
		if v.Version == "" {
			return nil, fmt.Errorf("%s: %s.version is empty", name, at)
		}
		tv := TagRuleVersion{Version: v.Version, Window: timeline.Always()}
		var err error
		if v.From != "" {
			if tv.Window.From, err = timeline.ParseDateOrTime(v.From); err != nil {
				return nil, fmt.Errorf("%s: %s.from = %q: want YYYY-MM-DD or RFC 3339", name, at, v.From)
			}
		}
		if v.To != "" {
			if tv.Window.To, err = timeline.ParseDateOrTime(v.To); err != nil {
				return nil, fmt.Errorf("%s: %s.to = %q: want YYYY-MM-DD or RFC 3339", name, at, v.To)
			}
		}
		if tv.Window.Empty() {
			return nil, fmt.Errorf("%s: %s: from %q is not before to %q", name, at, v.From, v.To)
		}
		for j, r := range v.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", at, j)
			key := TagKey(r.Key)
			if key == "" {
				return nil, fmt.Errorf("%s: %s.key is empty", name, rp)
			}
			switch {
			case r.Resolve == ResolveAWSAPN, r.Resolve == ResolveLocation:
			case strings.HasPrefix(r.Resolve, ResolveSchemePrefix) && len(r.Resolve) > len(ResolveSchemePrefix) && !strings.ContainsAny(r.Resolve, " \t"):
			default:
				return nil, fmt.Errorf("%s: %s.resolve = %q; use aws-apn, location or scheme:<identifier scheme>", name, rp, r.Resolve)
			}
			if !r.Disabled {
				tv.Rules = append(tv.Rules, TagRule{Key: key, AccountSuffix: r.AccountSuffix, Resolve: r.Resolve})
			}
		}
		out = append(out, tv)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Window.From < out[b].Window.From })
	for k := 1; k < len(out); k++ {
		if out[k].Window.From < out[k-1].Window.To {
			return nil, fmt.Errorf("%s: $.tag_rules: versions %q and %q overlap in time; close the first before the second starts", name, out[k-1].Version, out[k].Version)
		}
	}
	return out, nil
}

// TagRulesAt returns the tag rules in force at t (none when no version is).
func TagRulesAt(vs []TagRuleVersion, t int64) *TagRuleVersion {
	for i := range vs {
		if vs[i].Window.Contains(t) {
			return &vs[i]
		}
	}
	return nil
}

// TagKey is a tag key as rules compare it: trimmed, lower case, without the `user:` or
// `resourceTags/user:` prefix exports put on user tags.
func TagKey(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	for _, p := range [...]string{"resourcetags/user:", "user:"} {
		if rest, ok := strings.CutPrefix(k, p); ok {
			return rest
		}
	}
	return k
}

// TagRef is a tag of a record that matched a rule, and what it names: an identifier (Scheme,
// Value) or, for ResolveLocation, a location ID (Scheme empty, Value the ID). Bad says why it
// names nothing when its value has the wrong form.
type TagRef struct {
	Key, Raw      string // the tag as the record writes it
	Scheme, Value string
	Bad           string
}

// MatchTags returns the tags (a canonical JSON object, usage.CanonicalTags) that match one of
// rules, in key order. A tags string that is not a JSON object of strings matches nothing.
func MatchTags(tags string, rules []TagRule) []TagRef {
	if tags == "" || len(rules) == 0 {
		return nil
	}
	var m map[string]string
	if json.Unmarshal([]byte(tags), &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []TagRef
	for _, k := range keys {
		nk := TagKey(k)
		for _, r := range rules {
			if !r.matches(nk) {
				continue
			}
			out = append(out, r.resolve(k, m[k]))
			break
		}
	}
	return out
}

func (r TagRule) matches(k string) bool {
	if k == r.Key {
		return true
	}
	if !r.AccountSuffix {
		return false
	}
	rest, ok := strings.CutPrefix(k, r.Key+"-")
	if !ok || len(rest) != 12 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

func (r TagRule) resolve(key, raw string) TagRef {
	ref := TagRef{Key: key, Raw: raw}
	v := strings.TrimSpace(raw)
	switch {
	case r.Resolve == ResolveAWSAPN:
		if len(v) >= 3 && strings.EqualFold(v[:3], "pc:") {
			ref.Scheme, ref.Value = "aws-product-code", strings.TrimSpace(v[3:])
			if ref.Value == "" {
				ref.Bad = "pc: without a product code"
			}
		} else if isRevenueAttributionID(v) {
			ref.Scheme, ref.Value = "aws-revenue-attribution", v
		} else {
			ref.Bad = "the value is neither pc:<product code> nor a revenue attribution ID (ra- and 13 lower-case letters or digits)"
		}
	case r.Resolve == ResolveLocation:
		ref.Value = v
	default:
		ref.Scheme, ref.Value = strings.TrimPrefix(r.Resolve, ResolveSchemePrefix), v
	}
	if ref.Bad == "" && ref.Value == "" {
		ref.Bad = "the value is empty"
	}
	return ref
}

func isRevenueAttributionID(v string) bool {
	if len(v) != 16 || v[:3] != "ra-" {
		return false
	}
	for i := 3; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Seller is the marketplace seller of a record (association 7), "" when it has none: the
// publisher when it is not the provider itself (nor one of its legal entities), or, in FOCUS
// 1.3, the service provider when the host provider differs from it.
func Seller(provider, providerID, publisher, host string) string {
	if p := strings.TrimSpace(publisher); p != "" && usage.NormalizeProvider(p) != providerID {
		return p
	}
	if h := strings.TrimSpace(host); h != "" && strings.TrimSpace(provider) != "" && usage.NormalizeProvider(h) != providerID {
		return strings.TrimSpace(provider)
	}
	return ""
}

func knownAssociation(a string) bool {
	for _, x := range Associations {
		if x == a {
			return true
		}
	}
	return false
}

func normaliseProvider(name string) string { return usage.NormalizeProvider(name) }

// ProviderID is a record's provider ID (records made by programs may carry only the name).
func ProviderID(r *usage.Record) string {
	if r.ProviderID != "" {
		return r.ProviderID
	}
	return usage.NormalizeProvider(r.Provider)
}
