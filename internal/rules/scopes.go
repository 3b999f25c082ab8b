package rules

import (
	"strings"

	"github.com/partnerlink/partnerlink/internal/scope"
)

// Scopes as the rules read them: an ARM-ID prefix on a segment boundary, case-insensitive
// (internal/scope), plus what needs the estate: "/" (the tenant root) and management-group
// scopes, which cover a subscription only while the group is its ancestor.

const mgPrefix = "/providers/microsoft.management/managementgroups/"

// ScopeKind is what a scope names.
type ScopeKind int

// Scope kinds.
const (
	ScopeOther ScopeKind = iota
	ScopeRoot
	ScopeMG
	ScopeSub
)

// Classify returns the kind of a scope key and, for management groups and subscription
// scopes, the group or subscription ID. The tenant root group (its ID is the tenant ID) is
// treated as "/".
func Classify(sk, tenantID string) (ScopeKind, string) {
	if sk == "/" {
		return ScopeRoot, ""
	}
	if strings.HasPrefix(sk, mgPrefix) {
		id := sk[len(mgPrefix):]
		if i := strings.IndexByte(id, '/'); i >= 0 {
			return ScopeOther, ""
		}
		if id == strings.ToLower(tenantID) {
			return ScopeRoot, ""
		}
		return ScopeMG, id
	}
	if strings.HasPrefix(sk, "/subscriptions/") {
		id := sk[len("/subscriptions/"):]
		if i := strings.IndexByte(id, '/'); i >= 0 {
			id = id[:i]
		}
		return ScopeSub, id
	}
	return ScopeOther, ""
}

// ResourceKey is the key scopes are matched against. A record without a resource ID is
// treated as subscription-level usage.
func ResourceKey(resourceID, sub string) string {
	if strings.TrimSpace(resourceID) == "" {
		return "/subscriptions/" + sub
	}
	return scope.Key(resourceID)
}

// RoleKey extracts the role definition GUID from a GUID or a full roleDefinitions ARM ID.
func RoleKey(id string) string {
	// The last segment first, then lower case: '/' is never part of a multi-byte character,
	// so this is the last segment of the lower-cased ID, and only a GUID gets lowered.
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	return strings.ToLower(id)
}

// LessLocation orders location IDs: numerically when both are all digits, else as strings.
// Within an organisation the lowest location's row is the one with duplicate_at_org = false.
func LessLocation(a, b string) bool {
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

// Day is a UTC day in nanoseconds (PEC counts whole days).
const Day = int64(86400) * 1_000_000_000

// FloorDay is the UTC midnight at or before t.
func FloorDay(t int64) int64 {
	d := t / Day * Day
	if d > t {
		d -= Day
	}
	return d
}

// PECExclusion says why a record earns no PEC, "" if it may: spot pricing, a commitment
// discount, or a publisher other than the provider (marketplace and third party).
func PECExclusion(pricing, commitment, publisher, provider string) string {
	switch {
	case strings.EqualFold(pricing, "Dynamic"):
		return "PricingCategory is Dynamic (spot)"
	case commitment != "":
		return "the record is covered by a commitment discount (reservation or savings plan)"
	case publisher != "" && !strings.EqualFold(publisher, provider):
		return "the publisher differs from the provider (marketplace or third party)"
	}
	return ""
}
