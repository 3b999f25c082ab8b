package rules

import (
	"strings"
	"testing"
)

// Tag keys compare case-insensitively without user prefixes; the suffixed AWS key needs
// exactly 12 digits; values of the wrong form name nothing and say why.
func TestMatchTags(t *testing.T) {
	rules := DefaultTagRules()[0].Rules
	got := MatchTags(`{"AWS-APN-ID-123456789012":"ra-abcdefghij123","env":"prod","goog-partner-solution":" isol_1 ","resourceTags/user:aws-apn-id":"PC: code1 ",`+
		`"user:aws-apn-id-1234":"pc:x","user:partnerlink-partner-id":"4100001","aws-apn-id-000000000001":"ra-ABCDEFGHIJ123"}`, rules)
	want := []TagRef{
		{Key: "AWS-APN-ID-123456789012", Raw: "ra-abcdefghij123", Scheme: "aws-revenue-attribution", Value: "ra-abcdefghij123"},
		{Key: "aws-apn-id-000000000001", Raw: "ra-ABCDEFGHIJ123", Bad: "the value is neither pc:<product code> nor a revenue attribution ID (ra- and 13 lower-case letters or digits)"},
		{Key: "goog-partner-solution", Raw: " isol_1 ", Scheme: "gcp-solution", Value: "isol_1"},
		{Key: "resourceTags/user:aws-apn-id", Raw: "PC: code1 ", Scheme: "aws-product-code", Value: "code1"},
		{Key: "user:partnerlink-partner-id", Raw: "4100001", Value: "4100001"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if MatchTags(`not json`, rules) != nil || MatchTags("", rules) != nil {
		t.Error("no tags match nothing")
	}
}

// A marketplace seller is the publisher unless it is the provider itself, or the FOCUS 1.3
// service provider hosted on another provider.
func TestSeller(t *testing.T) {
	for _, c := range []struct{ provider, id, publisher, host, want string }{
		{"AWS", "aws", "Amazon Web Services EMEA SARL", "", ""},
		{"AWS", "aws", " Red Hat Inc. ", "", "Red Hat Inc."},
		{"Contoso Ltd", "contoso ltd", "", "Microsoft", "Contoso Ltd"},
		{"Microsoft", "microsoft", "Microsoft", "Microsoft", ""},
	} {
		if got := Seller(c.provider, c.id, c.publisher, c.host); got != c.want {
			t.Errorf("Seller(%q, %q, %q) = %q, want %q", c.provider, c.publisher, c.host, got, c.want)
		}
	}
}

// Programs files: flat-rate programs name a known association; tag rules are versioned and
// checked.
func TestProgramsVersion2(t *testing.T) {
	p, err := ParsePrograms([]byte(`{"version": "x", "programs": [{"name": "APN", "association": "TAG", "provider": "Amazon Web Services",
  "versions": [{"version": "A-1", "from": "2026-01-01", "rate": "0.03"}]}],
  "tag_rules": [{"version": "T-2", "rules": [{"key": "User:My-Key", "resolve": "scheme:mine"}, {"key": "aws-apn-id", "resolve": "aws-apn", "disabled": true}]}]}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Flat) != 1 || p.Flat[0].Provider != "aws" || len(p.TagRules) != 1 || len(p.TagRules[0].Rules) != 1 || p.TagRules[0].Rules[0].Key != "my-key" {
		t.Fatalf("%+v", p)
	}
	for body, want := range map[string]string{
		`{"version": "x", "programs": [{"name": "X", "association": "NOPE", "versions": []}]}`:           "association",
		`{"version": "x", "programs": [{"name": "PEC", "association": "TAG", "versions": []}]}`:          "shipped program",
		`{"version": "x", "tag_rules": [{"version": "t", "rules": [{"key": "k", "resolve": "magic"}]}]}`: "resolve",
	} {
		if _, err := ParsePrograms([]byte(body), "p.json"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
	if d := DefaultPrograms(); len(d.TagRules) != 1 || len(d.Flat) != 0 {
		t.Errorf("defaults: %+v", d)
	}
}
