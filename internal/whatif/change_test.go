package whatif

import (
	"strings"
	"testing"
)

func TestParseFlag(t *testing.T) {
	ok := map[string]Change{
		"add-link t/o=4100001":              {Op: OpAddLink, Tenant: "t", Object: "o", Location: "4100001"},
		"add-link t/o=4100001@2026-03-10..": {Op: OpAddLink, Tenant: "t", Object: "o", Location: "4100001", From: "2026-03-10"},
		"remove-link t/o@..2026-03-20":      {Op: OpRemoveLink, Tenant: "t", Object: "o", To: "2026-03-20"},
		"remove-principal t/o":              {Op: OpRemovePrincipal, Tenant: "t", Object: "o"},
		"add-assignment t/o:Owner@/":        {Op: OpAddAssignment, Tenant: "t", Object: "o", Role: "Owner", Scope: "/"},
		"add-assignment t/o:Key Vault Reader@/subscriptions/s/resourceGroups/rg:eligible@2026-03-01..2026-03-02": {Op: OpAddAssignment, Tenant: "t", Object: "o",
			Role: "Key Vault Reader", Scope: "/subscriptions/s/resourceGroups/rg", Eligible: true, From: "2026-03-01", To: "2026-03-02"},
		"activate t/o:Owner@/subscriptions/s=2026-03-02T08:00:00Z..2026-03-02T16:00:00Z": {Op: OpActivate, Tenant: "t", Object: "o", Role: "Owner",
			Scope: "/subscriptions/s", From: "2026-03-02T08:00:00Z", To: "2026-03-02T16:00:00Z"},
	}
	for in, want := range ok {
		op, value, _ := strings.Cut(in, " ")
		got, err := ParseFlag(op, value)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", in, got, err, want)
			continue
		}
		// The flag syntax round-trips.
		op2, v2, _ := strings.Cut(strings.TrimPrefix(got.String(), "--"), " ")
		if again, err := ParseFlag(op2, v2); err != nil || again != got {
			t.Errorf("%s: String() %q parses as %+v, %v", in, got.String(), again, err)
		}
	}
	bad := map[string]string{
		"add-link t/o":                          "location after = is missing",
		"add-link o=1":                          "TENANT/OBJECT",
		"add-link t/o=1@2026-03-10..2026-03-01": "not before",
		"add-link t/o=1@yesterday..":            `from "yesterday" is not a date`,
		"activate t/o:Owner@/":                  "activation window",
		"activate t/o:Owner@/=2026-03-01..":     "needs both from and to",
		"add-assignment t/o:Owner":              "ROLE@SCOPE",
		"remove-link /o":                        "TENANT/OBJECT",
	}
	for in, want := range bad {
		op, value, _ := strings.Cut(in, " ")
		if _, err := ParseFlag(op, value); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "syntax: --"+op) {
			t.Errorf("%s: error %v, want one saying %q and the syntax", in, err, want)
		}
	}
}

func TestDecodeChangeSet(t *testing.T) {
	cs, err := DecodeChangeSet(strings.NewReader(`{"from": "2026-03-01", "to": "2026-04-01", "partner": "4100000", "changes": [
		{"op": "add-link", "tenant": "t", "object": "o", "location": "4100001"},
		{"op": "activate", "tenant": "t", "object": "o", "role": "Owner", "scope": "/", "from": "2026-03-02", "to": "2026-03-03"}]}`), "c.json")
	if err != nil || len(cs.Changes) != 2 || cs.Partner != "4100000" || cs.Changes[1].Role != "Owner" {
		t.Fatalf("%+v, %v", cs, err)
	}
	bad := map[string]string{
		`{"changes": [{"op": "add-link", "tenant": "t", "object": "o"}]}`:                      `c.json: changes[0]: add-link needs "location"`,
		`{"changes": [{"op": "move", "tenant": "t", "object": "o"}]}`:                          `changes[0]: op "move" is not known`,
		`{"changes": [{"op": "remove-link", "tenant": "t", "object": "o", "to": "x"}]}`:        `to "x" is not a date`,
		`{"changes": [{"op": "remove-link", "tenant": "t", "object": "o", "role": 1}]}`:        "changes.role: want a string",
		`{"changes": [], "extra": 1}`:                                                          `unknown field "extra"`,
		`{"changes": [`:                                                                        "c.json",
		`{"changes": []} {}`:                                                                   "more than one JSON value",
		`{"changes": [{"op": "remove-link", "tenant": "t", "object": "o", "eligible": true}]}`: "only add-assignment takes eligible",
	}
	for in, want := range bad {
		if _, err := DecodeChangeSet(strings.NewReader(in), "c.json"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

// The parsers never panic, and whatever they accept is a valid change.
func FuzzParseFlag(f *testing.F) {
	for _, s := range []string{"t/o=1", "t/o:Owner@/:eligible@2026-03-01..", "t/o:R@/s=2026-03-01..2026-03-02", "@..", "/=@:..", "t/o@.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, op := range Ops {
			if c, err := ParseFlag(op, s); err == nil {
				if err := c.check(); err != nil {
					t.Fatalf("--%s %q parsed as %+v, which fails its check: %v", op, s, c, err)
				}
			}
		}
	})
}

func FuzzDecodeChangeSet(f *testing.F) {
	f.Add(`{"changes": [{"op": "add-link", "tenant": "t", "object": "o", "location": "1"}]}`)
	f.Add(`{"from": "2026-03-01", "changes": [{"op": "activate", "tenant": "t", "object": "o", "role": "r", "scope": "/", "from": "2026-03-01", "to": "2026-03-02"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := DecodeChangeSet(strings.NewReader(s), "f.json")
		if err == nil {
			for _, c := range cs.Changes {
				if c.check() != nil {
					t.Fatalf("accepted an invalid change %+v", c)
				}
			}
		}
	})
}
