package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
)

// OIDCIssuer is an identity provider whose tokens the server accepts, e.g. Entra ID
// (https://login.microsoftonline.com/<tenant>/v2.0) with the API's application ID URI as
// the audience.
type OIDCIssuer struct {
	URL      string
	Audience string
}

// oidcAlgs are the algorithms accepted from identity providers (Entra signs with RS256).
var oidcAlgs = []string{oidc.RS256, oidc.ES256}

// AddOIDC trusts the issuer's tokens: its signing keys are found by OpenID discovery and
// fetched (and refreshed) from its JWKS endpoint.
func (v *Verifier) AddOIDC(ctx context.Context, iss OIDCIssuer) error {
	p, err := oidc.NewProvider(ctx, iss.URL)
	if err != nil {
		return fmt.Errorf("OIDC issuer %s: discovery failed: %w", iss.URL, err)
	}
	if iss.Audience == "" {
		return fmt.Errorf("OIDC issuer %s: an audience (the API's application ID URI) is required", iss.URL)
	}
	if v.oidc == nil {
		v.oidc = map[string]*oidc.IDTokenVerifier{}
	}
	v.oidc[iss.URL] = p.Verifier(&oidc.Config{ClientID: iss.Audience, SupportedSigningAlgs: oidcAlgs, Now: v.now})
	return nil
}

// verifyOIDC checks a token of a configured issuer and maps its Entra-style claims.
// It also returns when the token expires, for the cache.
func (v *Verifier) verifyOIDC(ctx context.Context, token string) (*Identity, time.Time, error) {
	var unverified jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil {
		return nil, time.Time{}, fmt.Errorf("invalid token: %w", err)
	}
	ver, ok := v.oidc[unverified.Issuer]
	if !ok {
		return nil, time.Time{}, fmt.Errorf("invalid token: issuer %q is not trusted by this server", unverified.Issuer)
	}
	t, err := ver.Verify(ctx, token)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("invalid token: %w", err)
	}
	var c Claims
	if err := t.Claims(&c); err != nil {
		return nil, time.Time{}, fmt.Errorf("invalid token: %w", err)
	}
	id, err := identityOf(c)
	return id, t.Expiry, err
}

func (v *Verifier) issuerOf(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := jwt.NewParser().DecodeSegment(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	_ = json.Unmarshal(payload, &c)
	return c.Iss
}
