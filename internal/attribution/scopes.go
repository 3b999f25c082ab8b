package attribution

import (
	"strings"

	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/scope"
)

// The engine resolves scopes itself in the same way as internal/scope (ARM-ID prefix on a
// segment boundary, case-insensitive), plus what needs the estate: "/" (the tenant root) and
// management-group scopes, which cover a subscription only while the group is its ancestor.

// key and prefixCovers are internal/scope's: one notion of "the same resource" across the
// importers and the engine.
var (
	key          = scope.Key
	prefixCovers = scope.PrefixCovers
)

type scopeKind = rules.ScopeKind

const (
	scopeOther = rules.ScopeOther
	scopeRoot  = rules.ScopeRoot
	scopeMG    = rules.ScopeMG
	scopeSub   = rules.ScopeSub
)

// The rules' helpers, under the names the engine has always used.
func classify(sk, tenantID string) (scopeKind, string) { return rules.Classify(sk, tenantID) }
func resourceKey(resourceID, sub string) string        { return rules.ResourceKey(resourceID, sub) }
func roleKey(id string) string                         { return rules.RoleKey(id) }
func lessLocation(a, b string) bool                    { return rules.LessLocation(a, b) }

// lowerFast is lower without allocating when s is already lower case and trimmed.
func lowerFast(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; ('A' <= c && c <= 'Z') || c == ' ' || c == '\t' {
			return lower(s)
		}
	}
	return s
}

// resourceRef is the resource ID as matched on the hot path: trimmed, with a leading slash and
// no trailing one, but in its original case (matching folds ASCII case, so no lower-case copy
// is made per record). A record without a resource ID is subscription-level usage.
func resourceRef(resourceID, sub string) string {
	s := strings.TrimRight(strings.TrimSpace(resourceID), "/")
	if s == "" {
		return "/subscriptions/" + sub
	}
	if s[0] != '/' {
		return "/" + s
	}
	return s
}

// prefixCoversFold is prefixCovers for a lower-case scope key and a resource reference in any
// ASCII case.
func prefixCoversFold(sk, r string) bool {
	if len(r) < len(sk) || (len(r) > len(sk) && r[len(sk)] != '/') {
		return false
	}
	for i := 0; i < len(sk); i++ {
		c := r[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != sk[i] {
			return false
		}
	}
	return true
}
