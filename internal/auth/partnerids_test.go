package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var badPartnerIDs = [][]string{{""}, {"4100401", ""}, {" 4100401"}, {"41,00"}, {"4100401\x00"}, {strings.Repeat("9", 65)}}

// An empty entry in partner_ids must never reach an authorization check: it would match every
// organisation asked about without one.
func TestTokensWithEmptyOrMalformedPartnerIDsAreRefused(t *testing.T) {
	key := testKey(t)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	v := NewVerifier(key, func() time.Time { return now })
	for _, ids := range badPartnerIDs {
		c := Claims{TenantID: "t", ObjectID: "o", IDType: "user", Roles: []string{"partner"}, PartnerIDs: ids}
		if _, err := key.Mint(c, now, time.Hour); err == nil || !strings.Contains(err.Error(), "partner") {
			t.Errorf("Mint(partner_ids=%q) = %v; want a refusal", ids, err)
		}
		// The same claims signed without Mint's check: the verifier refuses them.
		c.Issuer, c.Audience = Issuer, jwt.ClaimStrings{Audience}
		c.ExpiresAt = jwt.NewNumericDate(now.Add(time.Hour))
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = key.ID
		raw, err := key.SignRaw(tok)
		if err != nil {
			t.Fatal(err)
		}
		if id, err := authenticate(v, raw); err == nil {
			t.Errorf("partner_ids=%q verified as %+v", ids, id)
		}
	}
}

func TestOIDCTokenWithEmptyPartnerIDIsRefused(t *testing.T) {
	srv, rsaKey := fakeIssuer(t)
	now := time.Now()
	v := NewVerifier(&Key{ID: "local"}, func() time.Time { return now })
	if err := v.AddOIDC(context.Background(), OIDCIssuer{URL: srv.URL, Audience: "api://p"}); err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]string{{"4100401"}, {"4100401", ""}} {
		c := Claims{TenantID: "t", ObjectID: "o", Roles: []string{"partner"}, PartnerIDs: ids}
		c.Issuer, c.Audience = srv.URL, jwt.ClaimStrings{"api://p"}
		c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(time.Hour))
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		_, err = authenticate(v, s)
		if ok := len(ids) == 1; (err == nil) != ok {
			t.Errorf("OIDC partner_ids=%q: err = %v", ids, err)
		}
	}
}

func TestCanReadPartnerNeverMatchesEmpty(t *testing.T) {
	id := &Identity{Roles: []Role{RolePrincipal, RolePartner}, PartnerIDs: []string{"", "4100001"}}
	cases := []struct {
		loc, org string
		want     bool
	}{{"4100001", "", true}, {"", "4100001", true}, {"", "", false}, {"4200001", "", false}, {"", "4200000", false}, {"4200001", "4200000", false}}
	for _, c := range cases {
		if got := id.CanReadPartner(c.loc, c.org); got != c.want {
			t.Errorf("CanReadPartner(%q, %q) = %v, want %v", c.loc, c.org, got, c.want)
		}
	}
}
