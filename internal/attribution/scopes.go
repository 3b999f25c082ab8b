package attribution

import (
	"strings"

	"github.com/partnerlink/partnerlink/internal/scope"
)

// The engine resolves scopes itself in the same way as internal/scope (ARM-ID prefix on a
// segment boundary, case-insensitive), plus what needs the estate: "/" (the tenant root) and
// management-group scopes, which cover a subscription only while the group is its ancestor.

const mgPrefix = "/providers/microsoft.management/managementgroups/"

// key and prefixCovers are internal/scope's: one notion of "the same resource" across the
// importers and the engine.
var (
	key          = scope.Key
	prefixCovers = scope.PrefixCovers
)

type scopeKind int

const (
	scopeOther scopeKind = iota
	scopeRoot
	scopeMG
	scopeSub
)

// classify returns the kind of a scope key and, for management groups and subscription
// scopes, the group or subscription ID. The tenant root group (its ID is the tenant ID) is
// treated as "/".
func classify(sk, tenantID string) (scopeKind, string) {
	if sk == "/" {
		return scopeRoot, ""
	}
	if strings.HasPrefix(sk, mgPrefix) {
		id := sk[len(mgPrefix):]
		if i := strings.IndexByte(id, '/'); i >= 0 {
			return scopeOther, ""
		}
		if id == strings.ToLower(tenantID) {
			return scopeRoot, ""
		}
		return scopeMG, id
	}
	if strings.HasPrefix(sk, "/subscriptions/") {
		id := sk[len("/subscriptions/"):]
		if i := strings.IndexByte(id, '/'); i >= 0 {
			id = id[:i]
		}
		return scopeSub, id
	}
	return scopeOther, ""
}

// resourceKey is the key the engine matches scopes against. A record without a resource ID is
// treated as subscription-level usage.
func resourceKey(resourceID, sub string) string {
	if strings.TrimSpace(resourceID) == "" {
		return "/subscriptions/" + sub
	}
	return key(resourceID)
}

// roleKey extracts the role definition GUID from a GUID or a full roleDefinitions ARM ID.
func roleKey(id string) string {
	// The last segment first, then lower case: '/' is never part of a multi-byte character,
	// so this is the last segment of the lower-cased ID, and only a GUID gets lowered.
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	return strings.ToLower(id)
}

// lessLocation orders location IDs: numerically when both are all digits, else as strings.
func lessLocation(a, b string) bool {
	if allDigits(a) && allDigits(b) {
		a2, b2 := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a2) != len(b2) {
			return len(a2) < len(b2)
		}
		if a2 != b2 {
			return a2 < b2
		}
	}
	return a < b
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

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
