package rules

import (
	_ "embed"
	"encoding/json"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
)

// The shipped eligibility table (the published partner-earned-credit table). The estate
// package was meant to own this decision as access.Eligible, but that name is already the
// assignment kind constant, so the rules carry it; EligibleFunc lets a caller plug in another
// implementation.

//go:embed eligible_roles.json
var eligibleTableJSON []byte

var eligibleTable = func() map[string]bool {
	var f struct {
		Roles []struct {
			RoleName string `json:"roleName"`
			Eligible bool   `json:"eligible"`
		} `json:"roles"`
	}
	m := map[string]bool{}
	if err := json.Unmarshal(eligibleTableJSON, &f); err == nil {
		for _, r := range f.Roles {
			m[strings.ToLower(r.RoleName)] = r.Eligible
		}
	}
	return m
}()

// EligibleFunc decides whether a role definition counts for recognition and says which rule
// decided.
type EligibleFunc func(def access.RoleDefinition, overrides map[string]bool) (bool, string)

// Eligible is the rule of attribution.md: the operator's override for the role name, else the
// shipped table for built-in roles, else (custom roles and built-ins missing from the table)
// eligible iff some action, after removing notActions, is not a read. dataActions are ignored.
func Eligible(def access.RoleDefinition, overrides map[string]bool) (bool, string) {
	if v, ok := overrides[def.RoleName]; ok {
		return v, "operator override"
	}
	for name, v := range overrides {
		if strings.EqualFold(name, def.RoleName) {
			return v, "operator override"
		}
	}
	if !strings.EqualFold(def.RoleType, "CustomRole") {
		if v, ok := eligibleTable[strings.ToLower(def.RoleName)]; ok {
			return v, "eligibility table"
		}
	}
	for _, p := range def.Permissions {
		for _, a := range p.Actions {
			if strings.HasSuffix(strings.ToLower(a), "/read") {
				continue
			}
			if !excluded(a, p.NotActions) {
				return true, "write-action rule: " + a + " is not a read"
			}
		}
	}
	return false, "write-action rule: only read actions remain after notActions"
}

// excluded reports whether action a is fully removed by notActions (wildcards as ARM: "*"
// matches any characters). A wildcard action such as "*" is removed only by a notAction that
// matches the pattern itself, so "*" minus "Microsoft.Compute/*" still writes elsewhere.
func excluded(a string, notActions []string) bool {
	for _, n := range notActions {
		if wildMatch(strings.ToLower(n), strings.ToLower(a)) {
			return true
		}
	}
	return false
}

func wildMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	if pattern[0] == '*' {
		for i := 0; i <= len(s); i++ {
			if wildMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	return s != "" && pattern[0] == s[0] && wildMatch(pattern[1:], s[1:])
}
