// Package synth generates deterministic synthetic estates and FOCUS usage for tests, the demo
// and the benchmark. The same seed and scale always give byte-identical files.
//
// Every instant the generator writes (windows, activations, deployments, charge periods) lies
// on a whole UTC hour. The SQL formulation of the attribution rules (internal/sqlref) relies on
// that to measure coverage in hours instead of unions of arbitrary intervals.
package synth

import (
	"fmt"
	"sort"
	"strings"
)

// Scale sizes a dataset. Tenants counts customer tenants; partner tenants come on top.
type Scale struct {
	Name            string
	Tenants         int
	Subscriptions   int
	Resources       int
	RoleAssignments int
	Links           int
	Days            int
	UsageRows       int64
	// Months > 1: the usage spans that many calendar months ending with March 2026 (Days is
	// then derived), and the estate tells a story over them (Dataset.Story).
	Months int
	// MultiCloud adds AWS and Google Cloud accounts, partner identifiers and usage with
	// partner tags, resale and marketplace sellers (Dataset.MultiCloud).
	MultiCloud bool
}

// The presets. Bench is the size of the benchmark in bench/ (issue 6).
var (
	Tiny  = Scale{Name: "tiny", Tenants: 10, Subscriptions: 20, Resources: 80, RoleAssignments: 120, Links: 40, Days: 3, UsageRows: 600}
	Small = Scale{Name: "small", Tenants: 20, Subscriptions: 120, Resources: 1200, RoleAssignments: 1200, Links: 240, Days: 30, UsageRows: 40000}
	// Demo spans twelve months (April 2025 to March 2026) with other clouds beside Azure.
	Demo  = Scale{Name: "demo", Tenants: 40, Subscriptions: 200, Resources: 600, RoleAssignments: 2000, Links: 400, Days: 30, UsageRows: 36000, Months: 12, MultiCloud: true}
	Bench = Scale{Name: "bench", Tenants: 200, Subscriptions: 4000, Resources: 200000, RoleAssignments: 100000, Links: 20000, Days: 30, UsageRows: 10000000}
)

var presets = map[string]Scale{"tiny": Tiny, "small": Small, "demo": Demo, "bench": Bench}

// ScaleNames lists the preset names, sorted.
func ScaleNames() []string {
	var n []string
	for k := range presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// ParseScale returns a preset by name, or "bench/10" style fractions ("bench/10" = a tenth of
// every count of bench, at least one of each), or "rows=N" suffix to override the usage rows
// ("demo,rows=500000").
func ParseScale(s string) (Scale, error) {
	name, rows, _ := strings.Cut(s, ",rows=")
	base, div := name, 1
	if b, d, ok := strings.Cut(name, "/"); ok {
		if _, err := fmt.Sscanf(d, "%d", &div); err != nil || div < 1 {
			return Scale{}, fmt.Errorf("scale %q: %q after / is not a positive divisor; use e.g. bench/10", s, d)
		}
		base = b
	}
	sc, ok := presets[base]
	if !ok {
		return Scale{}, fmt.Errorf("scale %q is unknown; use one of %s (optionally /DIVISOR and ,rows=N)", s, strings.Join(ScaleNames(), ", "))
	}
	if div > 1 {
		d := func(n int) int { return max(1, n/div) }
		sc = Scale{Name: s, Tenants: max(6, sc.Tenants/div), Subscriptions: max(18, sc.Subscriptions/div), Resources: d(sc.Resources),
			RoleAssignments: d(sc.RoleAssignments), Links: d(sc.Links), Days: sc.Days, UsageRows: max(1, sc.UsageRows/int64(div)),
			Months: sc.Months, MultiCloud: sc.MultiCloud}
	}
	if rows != "" {
		if _, err := fmt.Sscanf(rows, "%d", &sc.UsageRows); err != nil || sc.UsageRows < 1 {
			return Scale{}, fmt.Errorf("scale %q: rows=%q is not a positive number", s, rows)
		}
		sc.Name = s
	}
	return sc, nil
}
