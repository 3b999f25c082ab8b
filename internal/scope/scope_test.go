package scope

import (
	"math/rand/v2"
	"strings"
	"testing"
)

const sub = "/subscriptions/9EC51CFD-5CA7-4D76-8101-DD0A4ABC5674"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind Kind
		key  string
	}{
		{"/", Root, "/"},
		{"/providers/Microsoft.Management/managementGroups/mg-Prod", ManagementGroup, "/providers/microsoft.management/managementgroups/mg-prod"},
		{sub, Subscription, strings.ToLower(sub)},
		{sub + "/", Subscription, strings.ToLower(sub)},
		{sub + "/resourceGroups/Web", ResourceGroup, strings.ToLower(sub) + "/resourcegroups/web"},
		{sub + "/resourceGroups/Web/providers/Microsoft.Compute/virtualMachines/vm1", Resource, strings.ToLower(sub) + "/resourcegroups/web/providers/microsoft.compute/virtualmachines/vm1"},
		{sub + "/resourceGroups/db/providers/Microsoft.Sql/servers/a/databases/b", Resource, strings.ToLower(sub) + "/resourcegroups/db/providers/microsoft.sql/servers/a/databases/b"},
		{sub + "/providers/Microsoft.Security/pricings/VirtualMachines", Resource, strings.ToLower(sub) + "/providers/microsoft.security/pricings/virtualmachines"},
	} {
		sc, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if sc.Kind != tc.kind || sc.Key != tc.key || sc.Raw != strings.TrimSpace(tc.in) {
			t.Errorf("Parse(%q) = %+v, want kind %v key %q", tc.in, sc, tc.kind, tc.key)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"subscriptions/x", "must start with /"},
		{"/subscriptions/prod", "must be a GUID"},
		{"/subscriptions//resourceGroups/a", "empty segment"},
		{"/tenants/abc", "must begin with"},
		{"/providers/Microsoft.Compute/virtualMachines/x", "managementGroups"},
		{sub + "/resourceGroups", "followed by the group's name"},
		{sub + "/resourceGroups/a/providers/Microsoft.Compute/virtualMachines", "providers/<Namespace>/<type>/<name>"},
		{sub + "/resourceGroups/a/providers/Microsoft.Sql/servers/s/databases", "pairs"},
		{sub + "/resourceGroups/a/providers/compute/vm/x", "namespace"},
	} {
		if _, err := Parse(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

func TestPrefixCovers(t *testing.T) {
	s := Key(sub + "/resourceGroups/Web")
	for res, want := range map[string]bool{
		sub + "/resourceGroups/web":                                  true,
		sub + "/resourceGroups/WEB/providers/Microsoft.Web/sites/a":  true,
		sub + "/resourceGroups/Web2/providers/Microsoft.Web/sites/a": false, // not a segment boundary
		sub + "/resourceGroups/Webx":                                 false,
		sub:                                                          false, // the parent is not covered by the child
		"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Web": false,
	} {
		if got := PrefixCovers(s, Key(res)); got != want {
			t.Errorf("PrefixCovers(%q, %q) = %v, want %v", s, res, got, want)
		}
	}
	child := Key(sub + "/resourceGroups/db/providers/Microsoft.Sql/servers/a/databases/b")
	if !PrefixCovers(Key(sub+"/resourceGroups/db/providers/Microsoft.Sql/servers/a"), child) {
		t.Error("a parent resource does not cover its child resource")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"/", sub, sub + "/resourceGroups/a/providers/Microsoft.Sql/servers/a/databases/b", "/providers/Microsoft.Management/managementGroups/x", "//", "/subscriptions/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := Parse(s)
		if err != nil {
			return
		}
		// Parsing the key again gives the same kind and key: keys are canonical.
		again, err := Parse(sc.Key)
		if err != nil || again.Kind != sc.Kind || again.Key != sc.Key {
			t.Fatalf("Parse(%q) = %+v, but its key parses as %+v, %v", s, sc, again, err)
		}
		if !PrefixCovers(sc.Key, sc.Key) {
			t.Fatalf("%q does not cover itself", sc.Key)
		}
	})
}

// LowerASCII, eight bytes at a time, lowers exactly the bytes 'A' to 'Z', whatever sits next
// to them (the letters' neighbours '@' and '[', their copies with the high bit set, UTF-8).
func TestLowerASCIIAgreesWithBytewise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	edges := []byte{'@', 'A', 'Z', '[', '`', 'a', 'z', '{', 0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xda, 0xdb, 0xff}
	for n := 0; n < 20000; n++ {
		p := make([]byte, rng.IntN(40))
		for i := range p {
			if n%2 == 0 {
				p[i] = byte(rng.IntN(256))
			} else {
				p[i] = edges[rng.IntN(len(edges))]
			}
		}
		want := append([]byte(nil), p...)
		for i, c := range want {
			if 'A' <= c && c <= 'Z' {
				want[i] = c + 'a' - 'A'
			}
		}
		got := append([]byte(nil), p...)
		LowerASCII(got)
		if string(got) != string(want) {
			t.Fatalf("LowerASCII(%q) = %q, want %q", p, got, want)
		}
	}
}
