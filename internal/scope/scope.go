// Package scope parses Azure Resource Manager scopes and resource IDs: the tenant root "/",
// management groups, subscriptions, resource groups, resources and child resources. IDs
// compare case-insensitively through Key; Raw keeps the spelling for display.
package scope

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"
)

// Kind is the level of a scope.
type Kind int

const (
	Root Kind = iota
	ManagementGroup
	Subscription
	ResourceGroup
	Resource
)

func (k Kind) String() string {
	return [...]string{"tenant root", "management group", "subscription", "resource group", "resource"}[k]
}

// Scope is a parsed scope or resource ID.
type Scope struct {
	Raw             string // as given, trimmed
	Key             string // canonical: lower case, no trailing slash ("/" for the root)
	Kind            Kind
	ManagementGroup string // management group ID (Kind ManagementGroup)
	Subscription    string // lower-case subscription GUID
	ResourceGroup   string // as spelled
	Provider        string // resource provider namespace of a resource, e.g. Microsoft.Compute
}

// Key is the canonical form of any scope or resource ID: lower case, one leading slash, no
// trailing slash. It does not validate; use Parse for that.
func Key(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimRight(s, "/")
	if s == "" {
		return "/"
	}
	if s[0] != '/' {
		s = "/" + s
	}
	return s
}

// PrefixCovers reports whether the scope with key scopeKey covers the resource with key
// resourceKey by ARM-ID prefix on a segment boundary (a scope covers itself). The tenant root
// and management groups cover by tenant and ancestry, which only the estate knows; they are
// not handled here.
func PrefixCovers(scopeKey, resourceKey string) bool {
	return resourceKey == scopeKey ||
		len(resourceKey) > len(scopeKey) && resourceKey[len(scopeKey)] == '/' && resourceKey[:len(scopeKey)] == scopeKey
}

// Parse validates s as a scope or resource ID.
func Parse(s string) (Scope, error) {
	raw := strings.TrimSpace(s)
	sc := Scope{Raw: raw, Key: Key(raw)}
	if raw == "/" {
		return sc, nil
	}
	if raw == "" {
		return sc, fmt.Errorf("scope is empty; use / for the tenant root or an ARM ID such as /subscriptions/<GUID>")
	}
	if raw[0] != '/' {
		return sc, fmt.Errorf("scope %q must start with /, e.g. /subscriptions/<GUID>", raw)
	}
	segs := strings.Split(strings.TrimRight(raw[1:], "/"), "/")
	for i, seg := range segs {
		if seg == "" {
			return sc, fmt.Errorf("scope %q has an empty segment at position %d", raw, i+1)
		}
	}
	bad := func(why string) (Scope, error) { return sc, fmt.Errorf("scope %q: %s", raw, why) }
	switch {
	case strings.EqualFold(segs[0], "providers"):
		if len(segs) == 4 && strings.EqualFold(segs[1], "Microsoft.Management") && strings.EqualFold(segs[2], "managementGroups") {
			sc.Kind, sc.ManagementGroup = ManagementGroup, segs[3]
			return sc, nil
		}
		return bad("a tenant-level scope must be /providers/Microsoft.Management/managementGroups/<ID>")
	case strings.EqualFold(segs[0], "subscriptions"):
	default:
		return bad("must begin with /subscriptions/<GUID> or /providers/Microsoft.Management/managementGroups/<ID>")
	}
	if len(segs) < 2 || !IsGUID(segs[1]) {
		return bad("the subscription must be a GUID such as 00000000-0000-0000-0000-000000000000")
	}
	sc.Kind, sc.Subscription = Subscription, strings.ToLower(segs[1])
	rest := segs[2:]
	if len(rest) == 0 {
		return sc, nil
	}
	if strings.EqualFold(rest[0], "resourceGroups") {
		if len(rest) < 2 {
			return bad("resourceGroups must be followed by the group's name")
		}
		sc.Kind, sc.ResourceGroup = ResourceGroup, rest[1]
		rest = rest[2:]
		if len(rest) == 0 {
			return sc, nil
		}
	}
	// providers/<Namespace>/<type>/<name>[/<type>/<name>...]
	if !strings.EqualFold(rest[0], "providers") || len(rest) < 4 {
		return bad("a resource must continue with providers/<Namespace>/<type>/<name>")
	}
	if !strings.Contains(rest[1], ".") {
		return bad(fmt.Sprintf("provider namespace %q should look like Microsoft.Compute", rest[1]))
	}
	if (len(rest)-2)%2 != 0 {
		return bad("resource types and names must come in pairs (<type>/<name>)")
	}
	sc.Kind, sc.Provider = Resource, rest[1]
	return sc, nil
}

// IsGUID reports whether s is a GUID in the 8-4-4-4-12 hex form (any case).
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	// By table, without a branch per byte: usage files have a GUID on every row, and a
	// branch per byte took twice as long (BenchmarkIsGUID).
	var bad byte
	for i := range 36 {
		bad |= guidClass[s[i]] ^ guidShape[i]
	}
	return bad == 0
}

// guidClass is 1 for a hex digit (of either case), 2 for '-', 0 for every other byte;
// guidShape is the class each place of a GUID wants.
var guidClass, guidShape = func() (class [256]byte, shape [36]byte) {
	for c := range class {
		if '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			class[c] = 1
		}
	}
	class['-'] = 2
	for i := range shape {
		shape[i] = 1
	}
	shape[8], shape[13], shape[18], shape[23] = 2, 2, 2, 2
	return class, shape
}()

// LowerASCII lowers the ASCII letters of p in place and leaves every other byte as it is,
// eight bytes at a time: every usage row's resource ID goes through it for the row's key.
func LowerASCII(p []byte) {
	const (
		high = 0x8080808080808080
		low7 = 0x7f7f7f7f7f7f7f7f
		geA  = 0x3f3f3f3f3f3f3f3f // + this sets a byte's high bit when its low 7 bits are ≥ 'A'
		gtZ  = 0x2525252525252525 // + this sets it when they are > 'Z'
	)
	i := 0
	for ; i+8 <= len(p); i += 8 {
		w := binary.LittleEndian.Uint64(p[i:])
		h := w & low7 // no byte carries into the next below
		upper := (h + geA) &^ (h + gtZ) &^ w & high
		binary.LittleEndian.PutUint64(p[i:], w|upper>>2) // 0x80 >> 2 is 'a' - 'A'
	}
	for ; i < len(p); i++ {
		if c := p[i]; 'A' <= c && c <= 'Z' {
			p[i] = c + 'a' - 'A'
		}
	}
}

// Lower is strings.ToLower(strings.TrimSpace(s)), the canonical form of an ID. IDs are mostly
// lower-case ASCII already (GUIDs), which is checked eight bytes at a time: the engine and the
// audit lower every ID of the facts they index, millions at the bench scale, and
// strings.ToLower's byte loop was about 0.25 CPU s of a coverage audit there.
func Lower(s string) string {
	s = strings.TrimSpace(s)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		// Without a byte of 0x80 or more, adding 0x3f (0x80-'A') sets a byte's top bit from 'A'
		// on, and adding 0x25 (0x80-'Z'-1) from after 'Z' on, with no carry between bytes.
		if x&highBytes != 0 || (x+0x3f*lowBytes)&^(x+0x25*lowBytes)&highBytes != 0 {
			return strings.ToLower(s)
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// ASCII reports whether s is all ASCII, eight bytes at a time.
func ASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))&highBytes != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

const (
	lowBytes  = 0x0101010101010101
	highBytes = 0x8080808080808080
)
